"""The storage areas of the lakehouse (6.2.3) and where each one keeps its data.

``<root>/raw`` holds files as delivered, ``<root>/standard/<layer>`` the modelled Delta tables
of the near-source, integrated, common and mart layers, ``<root>/realtime`` streaming
ingestion, ``<root>/history`` long-retention history, and ``<root>/governance`` the
lakehouse's own records. Every path under the root is made by :func:`zone_path`.
"""

from __future__ import annotations

from enum import Enum

from lakehouse.zones.tables import join_path


class Zone(str, Enum):
    RAW = "raw"
    STANDARD = "standard"
    REALTIME = "realtime"
    HISTORY = "history"
    GOVERNANCE = "governance"

    def __str__(self) -> str:
        return self.value


def zone_path(root: str, zone: Zone, *parts: str) -> str:
    """The storage path of ``parts`` inside ``zone`` under the lakehouse ``root``."""
    return join_path(root, Zone(zone).value, *parts)
