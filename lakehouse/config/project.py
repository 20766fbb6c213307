"""A loaded, valid ``conf/`` directory: settings, registries and source contracts."""

from __future__ import annotations

from pathlib import Path

from .models import Settings, SourceContract, _Model
from .registries import Classification, DataStandard, Department, Owner, SourceSystem

SETTINGS_FILE = "lakehouse.yaml"
OWNERS_FILE = "owners.yaml"
SYSTEMS_FILE = "systems.yaml"
STANDARDS_FILE = "standards.yaml"
CLASSIFICATION_FILE = "classification.yaml"
SOURCES_DIR = "sources"


class Project(_Model):
    """Everything in ``conf/``, validated."""

    conf_dir: Path
    settings: Settings
    departments: dict[str, Department]
    owners: dict[str, Owner]
    systems: dict[str, SourceSystem]
    standards: dict[str, DataStandard]
    classification: Classification
    sources: dict[str, SourceContract]

    @property
    def project_dir(self) -> Path:
        return self.conf_dir.parent

    def file(self, name: str) -> Path:
        """A registry file of this project, e.g. ``project.file(OWNERS_FILE)``."""
        return self.conf_dir / name

    def source(self, name: str) -> SourceContract:
        """The contract named ``system.entity``."""
        try:
            return self.sources[name]
        except KeyError:
            raise KeyError(f"no source '{name}'; known: {', '.join(self.sources)}") from None
