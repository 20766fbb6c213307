"""Where the admitted rows of a source's incremental extracts are kept (6.3.1.1 c).

An incremental extract changes the state of every later date, so a backfill of an earlier date
folds the later dates' extracts again: each date's admitted rows stay in
``<root>/standard/_increments/<table>``, partitioned by data date, beside the zipper table they
maintain (``standard.<table>_increments`` in the catalog).
"""

from __future__ import annotations

from lakehouse.security.at_rest import stats_columns
from lakehouse.security.column_levels import source_levels
from lakehouse.zones import Zone, zone_path
from lakehouse.zones.tables import Column, TableSpec, attribute_columns

TECHNICAL_COLUMNS = (
    Column("delivered_line", "bigint", "行号 / the row's line in the delivered file"),
    Column("delivered_file", "string", "文件名 / the delivered file"),
    Column("data_date", "date", "数据日期 / data date of the extract", nullable=False),
)
TECHNICAL_LEVEL = 1


def increments_name(contract) -> str:
    return f"{contract.table_name}_increments"


def increments_spec(contract, root: str) -> TableSpec:
    """The table of ``contract``'s admitted incremental extracts, one partition per data date."""
    columns = attribute_columns(contract)
    columns += TECHNICAL_COLUMNS
    levels = {**source_levels(contract), **{c.name: TECHNICAL_LEVEL for c in TECHNICAL_COLUMNS}}
    stats = stats_columns(levels, [(c.name, c.spark_type) for c in columns], ("data_date",))
    return TableSpec(
        name=increments_name(contract), zone=Zone.STANDARD.value, layer=None,
        path=zone_path(root, Zone.STANDARD, "_increments", contract.table_name),
        columns=tuple(columns), partition_by=("data_date",), load_type="append",
        comment=f"incremental extracts of {contract.name}, as admitted, by data date",
        properties={"lakehouse.source": contract.name, "lakehouse.owner": contract.owner,
                    "lakehouse.security_level": str(contract.table_level), **stats})
