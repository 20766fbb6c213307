"""Where every table lives and what it looks like: the one naming scheme for zones and layers."""

from __future__ import annotations

from dataclasses import dataclass, field

OPEN_END_DATE = "9999-12-31"
ZIPPER_COLUMNS = ("row_hash", "start_dt", "end_dt")
ZIPPER_PARTITION_BY = ("end_dt",)
# daily loads close ~1% of the open rows: mark them deleted instead of rewriting their files
ZIPPER_PROPERTIES = {"delta.enableDeletionVectors": "true"}


@dataclass(frozen=True)
class Column:
    name: str
    spark_type: str
    comment: str = ""
    nullable: bool = True


def attribute_columns(contract, required: tuple[str, ...] = ()) -> list[Column]:
    """A source contract's attributes as table columns, each commented with its business
    names, security level and data standard; ``required`` columns are not nullable."""
    return [Column(a.name, a.spark_type,
                   f"{a.business_name.zh} / {a.business_name.en} [level {a.security_level}, "
                   f"standard {a.standard}]", nullable=a.name not in required)
            for a in contract.attributes]


@dataclass(frozen=True)
class TableSpec:
    """A Delta table the framework writes: identity, storage and physical layout."""

    name: str
    zone: str
    layer: str | None
    path: str
    columns: tuple[Column, ...]
    partition_by: tuple[str, ...] = ()
    load_type: str | None = None
    keys: tuple[str, ...] = ()
    comment: str = ""
    properties: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        types = self.column_types
        for column in self.partition_by:
            if types.get(column, "").startswith("timestamp"):
                raise ValueError(
                    f"{self.qualified_name}: partition column {column!r} is a {types[column]}; "
                    "fix: partition by a date (the engine turns off Delta's commit check for "
                    "timestamp partition values in non-UTC sessions, see engine/session.py)")

    @property
    def schema_name(self) -> str:
        return self.layer or self.zone

    @property
    def qualified_name(self) -> str:
        return f"{self.schema_name}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def column_types(self) -> dict[str, str]:
        """Column name -> Spark SQL type."""
        return {c.name: c.spark_type for c in self.columns}

    def describe(self) -> dict:
        return {
            "name": self.qualified_name,
            "zone": self.zone,
            "layer": self.layer,
            "load_type": self.load_type,
            "keys": list(self.keys),
            "partition_by": list(self.partition_by),
            "path": self.path,
            "properties": dict(self.properties),
        }


def zipper_columns() -> list[Column]:
    """The columns every zipper table has after its attributes."""
    return [
        Column("row_hash", "bigint", "行哈希 / row hash of the attribute values"),
        Column("start_dt", "date", "开链日期 / version valid from (inclusive)", nullable=False),
        Column("end_dt", "date", "闭链日期 / version valid until (exclusive), open rows 9999-12-31",
               nullable=False),
    ]


def load_layout(load_type: str | None) -> tuple[list[Column], tuple[str, ...], dict[str, str]]:
    """What a table's load type adds after its own columns: the extra columns, the partitioning
    and the storage properties (zipper: versions partitioned by end_dt; else: data_date)."""
    if load_type == "zipper":
        return zipper_columns(), ZIPPER_PARTITION_BY, dict(ZIPPER_PROPERTIES)
    return [Column("data_date", "date", "数据日期 / data date", nullable=False)], ("data_date",), {}


def join_path(root: str, *parts: str) -> str:
    """Join storage path parts for local paths and URIs alike."""
    return "/".join([root.rstrip("/"), *[p.strip("/") for p in parts]])
