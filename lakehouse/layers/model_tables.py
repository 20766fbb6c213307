"""Where a layer model's table lives and what it looks like."""

from __future__ import annotations

import hashlib
import json

from lakehouse.security.at_rest import stats_columns
from lakehouse.security.column_levels import TECHNICAL_LEVEL
from lakehouse.zones import Zone, zone_path
from lakehouse.zones.tables import Column, TableSpec, load_layout


def model_hash(model) -> str:
    """SHA-256 of everything in a model's definition that changes what it computes."""
    text = json.dumps(model.model_dump(mode="json", exclude={"description", "business_name",
                                                              "columns", "column_levels", "owner"}), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def security_levels(project) -> dict[str, int]:
    """Table name -> table-level security level: a source's level, or the highest level a model
    reads (for a spec read without its columns; a written model table has column levels)."""
    levels = {c.table_name: c.table_level for c in project.sources.values()}

    def level(name: str) -> int:
        if name not in levels:
            levels[name] = max((level(i) for i in project.models[name].inputs), default=1)
        return levels[name]

    for name in project.models:
        level(name)
    return levels


def owners(project, model) -> str:
    """The model's owner, or the owners of the source contracts it reads (through its inputs)."""
    if model.owner:
        return model.owner
    by_table = {c.table_name: c.owner for c in project.sources.values()}
    found: set[str] = set()
    pending = list(model.inputs)
    while pending:
        name = pending.pop()
        if name in by_table:
            found.add(by_table[name])
        elif name in project.models:
            upstream = project.models[name]
            found.add(upstream.owner) if upstream.owner else pending.extend(upstream.inputs)
    return ",".join(sorted(found))


def model_spec(project, model, columns: list[tuple[str, str]] = ()) -> TableSpec:
    """The Delta table of ``model`` with the query's ``columns`` (name, Spark SQL type), each
    commented with its security level (derived through the layers); without columns, enough of
    the spec to read the table."""
    if columns:
        from lakehouse.security.column_levels import model_levels, table_level

        levels = model_levels(project)[model.name]
        level = table_level({name: levels.get(name, 1) for name, _ in columns})
    else:
        levels, level = {}, security_levels(project)[model.name]
    cols = [Column(name, spark_type, _comment(model.description_of(name) or "", levels.get(name)),
                   nullable=name not in model.keys)
            for name, spark_type in columns]
    extra, partition_by, storage = load_layout(model.load_type)
    cols += extra
    stats = stats_columns({**{c.name: TECHNICAL_LEVEL for c in extra}, **levels},
                          [(c.name, c.spark_type) for c in cols], partition_by) if columns else {}
    root = project.settings.root
    return TableSpec(
        name=model.name, zone=Zone.STANDARD.value, layer=model.layer,
        path=zone_path(root, Zone.STANDARD, model.layer, model.name),
        columns=tuple(cols) if columns else (),
        partition_by=partition_by, load_type=model.load_type, keys=tuple(model.keys),
        comment=model.description,
        properties={
            "lakehouse.model": model.name,
            "lakehouse.inputs": ",".join(model.inputs),
            "lakehouse.owner": owners(project, model),
            "lakehouse.security_level": str(level),
            "lakehouse.load_type": model.load_type,
            "lakehouse.keys": ",".join(model.keys),
            **({"lakehouse.retention_days": str(model.retention_days)} if model.retention_days else {}),
            **storage,
            **stats,
        },
    )


def _comment(description: str, level: int | None) -> str:
    if level is None:
        return description
    return f"{description} [level {level}]" if description else f"[level {level}]"
