"""Where every table lives and what it looks like: the one naming scheme for zones and layers."""

from __future__ import annotations

from dataclasses import dataclass, field

OPEN_END_DATE = "9999-12-31"
ZIPPER_COLUMNS = ("row_hash", "start_dt", "end_dt")


@dataclass(frozen=True)
class Column:
    name: str
    spark_type: str
    comment: str = ""
    nullable: bool = True


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

    @property
    def schema_name(self) -> str:
        return self.layer or self.zone

    @property
    def qualified_name(self) -> str:
        return f"{self.schema_name}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

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


def join_path(root: str, *parts: str) -> str:
    """Join storage path parts for local paths and URIs alike."""
    return "/".join([root.rstrip("/"), *[p.strip("/") for p in parts]])
