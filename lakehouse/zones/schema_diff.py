"""How an existing table's columns differ from the columns a spec wants."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SchemaDiff:
    """Columns to add (in the wanted order), and removed or retyped columns (in the existing
    order; ``retyped`` maps a column to its existing and its wanted type)."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    retyped: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def incompatible(self) -> bool:
        """Existing rows cannot follow: a column would be removed or change type."""
        return bool(self.removed or self.retyped)


def schema_diff(existing: Mapping[str, str], wanted: Mapping[str, str]) -> SchemaDiff:
    """The difference between ``existing`` and ``wanted`` columns (name -> Spark SQL type)."""
    return SchemaDiff(
        added=[name for name in wanted if name not in existing],
        removed=[name for name in existing if name not in wanted],
        retyped={name: (kind, wanted[name]) for name, kind in existing.items()
                 if name in wanted and wanted[name] != kind})
