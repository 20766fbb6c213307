"""The governance tables' specs by table name, derived from their records
(:mod:`lakehouse.governance.records`): ``tables.load_log(root)`` is the ``load_log`` table of
the lakehouse at ``root``. Write and read them through :class:`GovernanceStore`."""

from __future__ import annotations

from functools import partial

from lakehouse.governance.records import RECORD_TYPES, QuarantineRecord, spec_of
from lakehouse.zones.tables import TableSpec

for _record_type in RECORD_TYPES:
    globals()[_record_type.TABLE] = partial(spec_of, _record_type)


def quarantine(root: str, table: str) -> TableSpec:
    """The quarantine table of data table ``table``."""
    return spec_of(QuarantineRecord, root, table)


def all_specs(root: str, tables: list[str] = ()) -> list[TableSpec]:
    """The governance tables; ``tables`` adds the quarantine table of each of those tables."""
    return [*(spec_of(r, root) for r in RECORD_TYPES), *(quarantine(root, t) for t in tables)]
