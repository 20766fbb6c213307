"""Near-source layer tables: one per source contract, prefixed with the source system code."""

from __future__ import annotations

from lakehouse.security.at_rest import stats_columns
from lakehouse.security.column_levels import source_levels
from lakehouse.zones import Zone, zone_path
from lakehouse.zones.tables import TableSpec, attribute_columns, load_layout

LAYER = "near_source"


def near_source_spec(contract, root: str) -> TableSpec:
    """The Delta table a contract loads into, with comments and governance properties."""
    columns = attribute_columns(contract, tuple(contract.keys))
    extra, partition_by, storage = load_layout(contract.load_type)
    columns += extra
    stats = stats_columns(source_levels(contract), [(c.name, c.spark_type) for c in columns], partition_by)
    return TableSpec(
        name=contract.table_name,
        zone=Zone.STANDARD.value,
        layer=LAYER,
        path=zone_path(root, Zone.STANDARD, LAYER, contract.table_name),
        columns=tuple(columns),
        partition_by=partition_by,
        load_type=contract.load_type,
        keys=tuple(contract.keys),
        comment=contract.description,
        properties={
            "lakehouse.source": contract.name,
            "lakehouse.owner": contract.owner,
            "lakehouse.security_level": str(contract.table_level),
            "lakehouse.load_type": contract.load_type,
            "lakehouse.keys": ",".join(contract.keys),
            **storage,
            **stats,
        },
    )
