"""Legal and regulatory holds (4.2.2.5): is a table's data date pinned, and by which hold.

Data under a hold is never removed or moved away: retention and the history move ask
``Holds.pinning(table, data_date)`` before touching a data date.
"""

from __future__ import annotations

from datetime import date

from lakehouse.config.lifecycle import Hold


class Holds:
    """The holds in force among ``holds`` (those of ``holds.yaml``): a hold released on or
    before ``today`` pins nothing."""

    def __init__(self, holds: list[Hold], today: date | None = None):
        today = today or date.today()
        self._by_table: dict[str, list[Hold]] = {}
        for hold in holds:
            if hold.released_on is None or hold.released_on > today:
                for table in hold.tables:
                    self._by_table.setdefault(table, []).append(hold)

    @classmethod
    def of(cls, project, today: date | None = None) -> Holds:
        return cls(project.holds.holds, today)

    def pinning(self, table: str, data_date: date) -> Hold | None:
        """The hold pinning ``table``'s data of ``data_date`` (the first placed), or None.
        ``table`` is a near-source table or model name (``cbs_customer``)."""
        found = [h for h in self._by_table.get(table, []) if data_date in h.data_dates]
        return min(found, key=lambda h: h.placed_on) if found else None

    def overlapping(self, table: str, first: date, last: date) -> list[Hold]:
        """The holds on ``table`` pinning any data date from ``first`` to ``last`` (inclusive):
        for a zipper row valid over that span."""
        return [h for h in self._by_table.get(table, [])
                if h.data_dates.start <= last and h.data_dates.end >= first]

    def on(self, table: str) -> list[Hold]:
        """Every hold in force on ``table``."""
        return list(self._by_table.get(table, []))
