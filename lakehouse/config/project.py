"""A loaded, valid ``conf/`` directory: settings, registries and source contracts."""

from __future__ import annotations

from pathlib import Path

from .models import Settings, SourceContract, _Model
from .deidentify_rules import DeidentifyRules
from .history_registry import HistoryRegistry
from .layer_models import LayerModel
from .lifecycle import HoldRegistry, RetentionPolicy
from .quality_rules import RuleFile
from .registries import Classification, DataStandard, Department, Owner, SourceSystem
from .security_registry import SecurityRegistry
from .service_contracts import ServiceContract

SETTINGS_FILE = "lakehouse.yaml"
OWNERS_FILE = "owners.yaml"
SYSTEMS_FILE = "systems.yaml"
STANDARDS_FILE = "standards.yaml"
CLASSIFICATION_FILE = "classification.yaml"
SECURITY_FILE = "security.yaml"
DEIDENTIFY_FILE = "deidentify.yaml"
SERVICES_FILE = "services.yaml"
"""Optional: the data services over the lakehouse (6.2.4.3, 6.3.1.3)."""
HISTORY_FILE = "history.yaml"
"""Optional: the hot windows of the tables that move to the history zone."""
SOURCES_DIR = "sources"
RULES_DIR = "quality_rules"
"""Beside conf/: one YAML of quality rules per table."""
LAYERS_DIR = "layers"
"""Beside conf/: ``<layer>/<name>.yaml``, one model per table of the modelled layers."""


class Project(_Model):
    """Everything in ``conf/``, validated."""

    conf_dir: Path
    settings: Settings
    departments: dict[str, Department]
    owners: dict[str, Owner]
    systems: dict[str, SourceSystem]
    standards: dict[str, DataStandard]
    classification: Classification
    security: SecurityRegistry
    deidentify: DeidentifyRules = DeidentifyRules()
    sources: dict[str, SourceContract]
    quality_rules: dict[str, RuleFile] = {}
    models: dict[str, LayerModel] = {}
    services: dict[str, ServiceContract] = {}
    retention: RetentionPolicy = RetentionPolicy()
    holds: HoldRegistry = HoldRegistry()
    history: HistoryRegistry = HistoryRegistry()

    @property
    def project_dir(self) -> Path:
        return self.conf_dir.parent

    def file(self, name: str) -> Path:
        """A registry file of this project, e.g. ``project.file(OWNERS_FILE)``."""
        return self.conf_dir / name

    @property
    def reports_dir(self) -> Path:
        """Where quality reports and Data Docs are written (settings ``reports``)."""
        return Path(self.settings.reports)

    @property
    def rules_dir(self) -> Path:
        return self.project_dir / RULES_DIR

    @property
    def layers_dir(self) -> Path:
        return self.project_dir / LAYERS_DIR

    def source(self, name: str) -> SourceContract:
        """The contract named ``system.entity``."""
        try:
            return self.sources[name]
        except KeyError:
            raise KeyError(f"no source '{name}'; known: {', '.join(self.sources)}") from None
