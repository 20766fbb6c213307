"""Load and validate a ``conf/`` directory, reporting every problem in every file at once."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from lakehouse.zones.tables import ZIPPER_COLUMNS

from ..errors import ConfigError, Problem
from . import checks, derived_rules, registry_checks
from .fields import URI_SCHEME
from .findings import Finding, key_path
from .history_registry import HistoryRegistry, history_findings
from .layer_checks import cycle_findings, layer_file_findings
from .deidentify_rules import DeidentifyRules, deidentify_findings
from .layer_models import LayerModel
from .lifecycle import (HOLDS_FILE, RETENTION_FILE, HoldRegistry, RetentionPolicy, hold_findings,
                        known_tables, retention_findings)
from .messages import findings_from
from .models import DEFER_CHECKS, Settings, SourceContract
from .project import (
    CLASSIFICATION_FILE,
    DEIDENTIFY_FILE,
    HISTORY_FILE,
    LAYERS_DIR,
    OWNERS_FILE,
    RULES_DIR,
    SECURITY_FILE,
    SERVICES_FILE,
    SETTINGS_FILE,
    SOURCES_DIR,
    STANDARDS_FILE,
    SYSTEMS_FILE,
    Project,
)
from .quality_rule_checks import rule_file_findings
from .quality_rules import RuleFile
from .registries import Classification, OwnerRegistry, StandardRegistry, SystemRegistry
from .security_registry import SecurityRegistry
from . import service_contracts
from .service_contracts import ServiceContract, ServiceRegistry
from .yaml_source import YamlSource, read_yaml

ENV_OVERRIDES = {
    ("root",): "LAKEHOUSE_ROOT",
    ("landing",): "LAKEHOUSE_LANDING",
    ("reports",): "LAKEHOUSE_REPORTS",
    ("spark", "master"): "LAKEHOUSE_SPARK_MASTER",
    ("spark", "remote"): "LAKEHOUSE_SPARK_REMOTE",
    ("orchestration", "engine"): "LAKEHOUSE_ENGINE",
    ("orchestration", "engine_address"): "LAKEHOUSE_ENGINE_ADDRESS",
    ("key_file",): "LAKEHOUSE_KEY_FILE",
    ("backups",): "LAKEHOUSE_BACKUPS",
}

M = TypeVar("M", bound=BaseModel)
Overrides = dict[tuple[str, ...], str]


PATH_SETTINGS = ("root", "landing", "reports")
"""The settings a caller may override explicitly (``load_project(conf, paths={...})``)."""


def load_project(conf_dir: str | Path, paths: Mapping[str, str | Path | None] | None = None) -> Project:
    """The validated project in ``conf_dir``; raises ``ConfigError`` listing every problem.

    ``paths`` overrides the settings ``root``, ``landing`` and ``reports`` (a None value keeps
    the configured one); an explicit path wins over the conf file and the LAKEHOUSE_* variables
    and is taken relative to the working directory."""
    project, problems = _load(Path(conf_dir), _explicit_paths(paths))
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        raise ConfigError(f"{len(problems)} {noun} in {conf_dir}", problems=problems)
    assert project is not None
    return project


def load_settings(conf_dir: str | Path) -> Settings:
    """Only ``lakehouse.yaml`` (with the LAKEHOUSE_* overrides): what a task needs before work."""
    conf = Path(os.path.abspath(conf_dir))
    settings, problems = _load_settings(conf, conf.parent)
    if settings is None:
        raise ConfigError(f"invalid settings in {conf / SETTINGS_FILE}", problems)
    return settings


def validate_project(conf_dir: str | Path) -> list[Problem]:
    """Every problem in ``conf_dir`` (empty when the configuration is valid)."""
    return _load(Path(conf_dir))[1]


def _explicit_paths(paths: Mapping[str, str | Path | None] | None) -> dict[str, str]:
    """The non-None ``paths`` as strings; a key that is not a path setting is a caller error."""
    unknown = sorted(set(paths or {}) - set(PATH_SETTINGS))
    if unknown:
        raise TypeError(f"unknown path setting(s) {', '.join(unknown)}; "
                        f"overridable: {', '.join(PATH_SETTINGS)}")
    return {key: str(value) for key, value in (paths or {}).items() if value is not None}


def _load(conf: Path, paths: dict[str, str] | None = None) -> tuple[Project | None, list[Problem]]:
    if not conf.is_dir():
        return None, [
            Problem(
                f"configuration directory not found: {conf}",
                file=str(conf),
                fix="pass the project's conf/ directory",
            )
        ]
    conf_dir = Path(os.path.abspath(conf))
    settings, problems = _load_settings(conf, conf_dir.parent, paths or {})

    classification, data, found = _load_registry(conf / CLASSIFICATION_FILE, Classification,
                                                 registry_checks.classification_findings)
    problems += found
    categories = registry_checks.category_levels(data)
    owners, data, found = _load_registry(conf / OWNERS_FILE, OwnerRegistry, registry_checks.owners_findings)
    problems += found
    owner_ids = registry_checks.names(data, "owners", "id")
    systems, data, found = _load_registry(conf / SYSTEMS_FILE, SystemRegistry,
                                          lambda d: registry_checks.systems_findings(d, owner_ids))
    problems += found
    standards, standards_data, found = _load_registry(
        conf / STANDARDS_FILE, StandardRegistry,
        lambda d: registry_checks.standards_findings(d, owner_ids, categories))
    problems += found
    security, _, found = _load_registry(conf / SECURITY_FILE, SecurityRegistry,
                                        registry_checks.security_findings)
    problems += found
    deidentify, found = _load_optional_registry(
        conf / DEIDENTIFY_FILE, DeidentifyRules,
        lambda d: deidentify_findings(d, registry_checks.names(standards_data, "standards", "id")))
    problems += found
    sources, found = _load_sources(conf, registry_checks.names(data, "systems", "code"))
    problems += found + _schedule_problems(sources)
    if problems or None in (settings, classification, owners, systems, standards, security,
                            deidentify):
        return None, problems
    standards_by_id = {s.id: s for s in standards.standards}
    models, problems = _load_layers(conf_dir.parent / LAYERS_DIR, sources, set(standards_by_id))
    if problems:
        return None, problems
    quality_rules, problems = _load_quality_rules(conf_dir.parent / RULES_DIR, sources, standards_by_id,
                                                  models)
    if problems:
        return None, problems
    retention, holds, problems = _load_lifecycle(conf, known_tables(sources.values(), models),
                                                 set(standards_by_id))
    if problems:
        return None, problems
    history, problems = _load_history(conf / HISTORY_FILE, sources, models)
    if problems:
        return None, problems
    project = Project(
        conf_dir=conf_dir, settings=settings, classification=classification, security=security,
        deidentify=deidentify,
        departments={d.code: d for d in owners.departments},
        owners={o.id: o for o in owners.owners},
        systems={s.code: s for s in systems.systems},
        standards=standards_by_id,
        sources=sources,
        quality_rules=quality_rules,
        models=models,
        retention=retention,
        holds=holds,
        history=history,
    )
    services, problems = _load_services(conf / SERVICES_FILE, project)
    if problems:
        return None, problems
    return project.model_copy(update={"services": services}), []


def _load_services(path: Path, project: Project) -> tuple[dict[str, ServiceContract], list[Problem]]:
    """``services.yaml`` (optional), checked against the project's owners, principals and models."""
    if not path.exists():
        return {}, []
    source = read_yaml(path)
    if not source.ok:
        return {}, source.problems
    data = source.data()
    registry, problems = _validate(ServiceRegistry, source, data,
                                   extra=service_contracts.reference_findings(data, project))
    if registry is None:
        return {}, problems
    located = Path(os.path.abspath(path))
    return {s.name: s.model_copy(update={"source_file": located}) for s in registry.services}, []


def _load_lifecycle(conf: Path, tables: set[str], standards: set[str]
                    ) -> tuple[RetentionPolicy, HoldRegistry, list[Problem]]:
    """``retention.yaml`` and ``holds.yaml``, each optional (absent: nothing expires but the
    models' own ``retention_days``; nothing is held), checked against the project's tables."""
    retention, holds, problems = RetentionPolicy(), HoldRegistry(), []
    if (conf / RETENTION_FILE).exists():
        retention, _, found = _load_registry(conf / RETENTION_FILE, RetentionPolicy,
                                             lambda d: retention_findings(d, tables, standards))
        problems += found
    if (conf / HOLDS_FILE).exists():
        holds, _, found = _load_registry(conf / HOLDS_FILE, HoldRegistry,
                                         lambda d: hold_findings(d, tables))
        problems += found
    return retention, holds, problems


def _load_history(path: Path, sources: dict[str, SourceContract], models: dict[str, LayerModel]
                  ) -> tuple[HistoryRegistry, list[Problem]]:
    """``history.yaml`` checked against the project's tables; none moves when it is absent."""
    if not path.exists():
        return HistoryRegistry(), []
    tables = {f"near_source.{c.table_name}": (c.load_type, None) for c in sources.values()}
    tables.update({f"{m.layer}.{m.name}": (m.load_type, m.retention_days) for m in models.values()})
    registry, _, problems = _load_registry(path, HistoryRegistry, lambda d: history_findings(d, tables))
    return registry or HistoryRegistry(), problems


def _load_settings(conf: Path, project_dir: Path, paths: dict[str, str] | None = None
                   ) -> tuple[Settings | None, list[Problem]]:
    source = read_yaml(conf / SETTINGS_FILE)
    if not source.ok:
        return None, source.problems
    data = source.data()
    overrides = _apply_environment(data)
    settings, problems = _validate(Settings, source, data, overrides=overrides)
    if settings is None:
        return None, problems

    def resolved(key: str) -> str:
        if key in (paths or {}):
            return _resolve(paths[key], Path.cwd())
        base = Path.cwd() if (key,) in overrides else project_dir
        return _resolve(getattr(settings, key), base)

    return settings.model_copy(update={key: resolved(key) for key in (*PATH_SETTINGS, "key_file", "backups")}), []


def _load_registry(path: Path, model: type[M], integrity: Callable[[dict], list[Finding]]
                   ) -> tuple[M | None, dict, list[Problem]]:
    """A registry file as ``model``, its plain data ({} if unreadable) and every problem."""
    source = read_yaml(path)
    if not source.ok:
        return None, {}, source.problems
    data = source.data()
    registry, problems = _validate(model, source, data, extra=integrity(data))
    return registry, data, problems


def _load_optional_registry(path: Path, model: type[M], integrity: Callable[[dict], list[Finding]]
                            ) -> tuple[M | None, list[Problem]]:
    """A registry file a project may leave out: its model's defaults when absent."""
    if not path.exists():
        return model(), []
    registry, _, problems = _load_registry(path, model, integrity)
    return registry, problems


def _load_sources(conf: Path, registered: set[str] | None) -> tuple[dict[str, SourceContract], list[Problem]]:
    root = conf / SOURCES_DIR
    files = sorted(p for p in root.rglob("*.y*ml") if p.suffix in (".yaml", ".yml") and p.is_file()) if root.is_dir() else []
    sources: dict[str, SourceContract] = {}
    problems: list[Problem] = []
    for path in files:
        source = read_yaml(path)
        if not source.ok:
            problems += source.problems
            continue
        data = source.data()
        extra = checks.all_contract_findings(data) + checks.placement_findings(
            data, path.relative_to(root), registered, str(conf / SYSTEMS_FILE)
        )
        contract, found = _validate(SourceContract, source, data, extra=extra, context={DEFER_CHECKS: True})
        problems += found
        if contract is not None:
            contract.locate(Path(os.path.abspath(path)), source.line_of)
            sources[contract.name] = contract
    return dict(sorted(sources.items())), problems


def _schedule_problems(sources: dict[str, SourceContract]) -> list[Problem]:
    """A source system's T-1 DAG runs on one schedule, so its contracts must agree on it: the
    contracts that differ from the schedule most of the system's contracts declare are wrong."""
    from collections import Counter

    by_system: dict[str, list[SourceContract]] = {}
    for contract in sources.values():
        if contract.delivery is not None:  # a feed-only source follows its system's schedule
            by_system.setdefault(contract.system, []).append(contract)
    problems = []
    for system, contracts in by_system.items():
        usual = Counter(c.delivery.schedule for c in contracts).most_common(1)[0][0]
        example = next(c for c in contracts if c.delivery.schedule == usual)
        for contract in contracts:
            schedule = contract.delivery.schedule
            if schedule != usual:
                problems.append(Problem(
                    f"source system {system} has one T-1 DAG, scheduled {usual!r} by its other "
                    f"contracts, but {contract.name} is scheduled {schedule!r}",
                    file=str(contract.source_file), line=contract.line_of("delivery", "schedule"),
                    key="delivery.schedule", value=schedule,
                    fix=f"use schedule {usual!r} as in {example.source_file}, or deliver this "
                        "entity under a system of its own"))
    return problems


def _load_quality_rules(folder: Path, sources: dict[str, SourceContract], standards: dict,
                        models: dict[str, LayerModel] | None = None
                        ) -> tuple[dict[str, RuleFile], list[Problem]]:
    """``quality_rules/<table>.yaml`` of every table that has one (near-source or model),
    checked against the project."""
    from lakehouse.sql_parsing import output_columns

    new_rows, whole, derived_names, referable = {}, {}, {}, {}
    near_source = {c.table_name for c in sources.values()}
    for contract in sources.values():
        referable[contract.table_name] = near_source
        columns = {a.name for a in contract.attributes}
        if contract.load_type == "zipper":
            new_rows[contract.table_name] = columns | {"data_date"}
            whole[contract.table_name] = columns | set(ZIPPER_COLUMNS)
        else:
            new_rows[contract.table_name] = whole[contract.table_name] = columns | {"data_date"}
        derived_names[contract.table_name] = {r.name for r in derived_rules.contract_rules(contract, standards)}
    for model in (models or {}).values():
        returned = output_columns(model.sql)
        columns = None if returned is None else set(returned) | {"data_date"}
        new_rows[model.name] = columns
        whole[model.name] = columns if model.load_type == "snapshot" or columns is None \
            else (columns - {"data_date"}) | set(ZIPPER_COLUMNS)
        derived_names[model.name] = {r.name for r in derived_rules.model_rules(model, standards)}
        referable[model.name] = near_source | set(model.inputs)
    return _read_rule_files(folder, lambda data, path: rule_file_findings(
        data, path, new_rows, derived_names, whole, referable) if isinstance(data, dict) else [])


def _read_rule_files(folder: Path, findings=None) -> tuple[dict[str, RuleFile], list[Problem]]:
    """Every ``*.yaml`` rule file of ``folder`` by its table, and every located problem (with
    ``findings(data, path)``: the project's own checks of a file)."""
    files = sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yaml", ".yml")) if folder.is_dir() else []
    found: dict[str, RuleFile] = {}
    problems: list[Problem] = []
    for path in files:
        source = read_yaml(path)
        if not source.ok:
            problems += source.problems
            continue
        data = source.data()
        rules, errors = _validate(RuleFile, source, data,
                                  extra=findings(data, path) if findings else ())
        problems += errors
        if rules is not None:
            found[rules.table] = rules
    return found, problems


def load_rule_files(folder: Path) -> dict[str, RuleFile]:
    """``folder``'s rule files read on their own, without a project to check their columns
    against (a workload outside the lakehouse's tables, such as TPC-DI's warehouse); a bad one
    is refused with its file, line and key."""
    found, problems = _read_rule_files(Path(folder))
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in the rule files of {folder}", problems)
    return found


def _load_layers(folder: Path, sources: dict[str, SourceContract], standards: set[str] | None = None
                 ) -> tuple[dict[str, LayerModel], list[Problem]]:
    """``layers/<layer>/<name>.yaml``: every model, checked against the project and each other."""
    files = sorted(p for p in folder.glob("*/*.y*ml") if p.suffix in (".yaml", ".yml")) \
        if folder.is_dir() else []
    read = [(path, read_yaml(path)) for path in files]
    tables = {c.table_name: "near_source" for c in sources.values()}
    problems: list[Problem] = []
    named: dict[str, Path] = {}
    for path, source in read:
        data = source.data() if source.ok else None
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            name = data["name"]
            clash = named.get(name) or (name in tables and tables[name] == "near_source")
            if clash:
                where = f"{clash}" if isinstance(clash, Path) else "a near-source table"
                problems.append(_locate(Finding(("name",), f"table name '{name}' is already "
                                                f"taken by {where}", name, "give the model its own name"),
                                        source, {}))
                continue
            named[name] = path
            tables[name] = data.get("layer") if isinstance(data.get("layer"), str) else "mart"
    models: dict[str, LayerModel] = {}
    sources_of: dict[str, YamlSource] = {}
    for path, source in read:
        if not source.ok:
            problems += source.problems
            continue
        data = source.data()
        if isinstance(data, dict) and isinstance(data.get("name"), str) and named.get(data["name"]) != path:
            continue  # a name clash, reported above
        extra = layer_file_findings(data, path, tables, standards) if isinstance(data, dict) else []
        model, errors = _validate(LayerModel, source, data, extra=extra)
        problems += errors
        if model is not None:
            models[model.name] = model
            sources_of[model.name] = source
    if not problems:
        for finding in cycle_findings({n: list(m.inputs) for n, m in models.items()}):
            problems.append(_locate(finding, sources_of[finding.value], {}))
    return dict(sorted(models.items())), problems


def _validate(
    model: type[M],
    source: YamlSource,
    data: Any,
    *,
    extra: Iterable[Finding] = (),
    context: dict | None = None,
    overrides: Overrides | None = None,
) -> tuple[M | None, list[Problem]]:
    """``data`` as ``model`` (None if anything is wrong) and every located problem."""
    try:
        result: M | None = model.model_validate(data, context=context)
        findings = list(extra)
    except ValidationError as error:
        result, findings = None, findings_from(error, model) + list(extra)
    problems = [_locate(f, source, overrides or {}) for f in findings]
    problems.sort(key=lambda p: p.line or 0)
    return (None if problems else result), problems


def _locate(finding: Finding, source: YamlSource, overrides: Overrides) -> Problem:
    for loc, variable in overrides.items():
        if finding.loc[: len(loc)] == loc:
            return Problem(
                f"{finding.message} (set by environment variable {variable})",
                key=key_path(finding.loc),
                value=finding.value,
                fix=f"correct or unset {variable}",
            )
    return Problem(
        finding.message,
        file=source.display,
        line=source.line_of(finding.loc),
        key=key_path(finding.loc) or None,
        value=finding.value,
        fix=finding.fix,
    )


def _apply_environment(data: dict) -> Overrides:
    """Replace file values by the LAKEHOUSE_* environment variables that are set."""
    overrides: Overrides = {}
    for loc, variable in ENV_OVERRIDES.items():
        value = os.environ.get(variable)
        if not value:
            continue
        *parents, key = loc
        target = data
        for part in parents:
            if target.get(part) is None:
                target[part] = {}
            target = target[part]
            if not isinstance(target, dict):
                break
        else:
            target[key] = value
            overrides[loc] = variable
    # An explicit master in the environment must not be silently ignored for a remote in the file.
    spark = data.get("spark")
    if ("spark", "master") in overrides and ("spark", "remote") not in overrides and isinstance(spark, dict):
        spark.pop("remote", None)
    return overrides


def _resolve(location: str, base: Path) -> str:
    """A URI as it is; a local path made absolute against ``base``."""
    if URI_SCHEME.match(location):
        return location
    path = Path(location).expanduser()
    return os.path.normpath(path if path.is_absolute() else base / path)
