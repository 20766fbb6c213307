"""Call statistics of the data services (6.3.1.3): per service and consumer, the calls, errors,
refusals, limited calls and latency percentiles; kept in memory per window and written to
``governance.service_calls`` when the window closes."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone

from lakehouse.governance.records import ServiceCallsRecord

REFUSED = (401, 403, 404, 410)
KEPT_LATENCIES = 10_000
"""The totals since the server started keep the latencies of the last calls only."""


def percentile(sorted_values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of ascending values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-int(share * 1000) * len(sorted_values) // 1000))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class _Counts:
    calls: int = 0
    errors: int = 0
    refused: int = 0
    limited: int = 0
    latencies: list[float] | deque = field(default_factory=list)

    def add(self, status: int, milliseconds: float) -> None:
        self.calls += 1
        self.errors += status >= 500
        self.refused += status in REFUSED
        self.limited += status == 429
        self.latencies.append(milliseconds)

    def summary(self) -> dict:
        ordered = sorted(self.latencies)
        return {"calls": self.calls, "errors": self.errors, "refused": self.refused,
                "limited": self.limited, "p50_ms": round(percentile(ordered, 0.50), 3),
                "p99_ms": round(percentile(ordered, 0.99), 3),
                "max_ms": round(ordered[-1], 3) if ordered else 0.0}


class CallStats:
    """The statistics of the window being counted, and the totals since the server started."""

    def __init__(self):
        self._lock = threading.Lock()
        self._window: dict[tuple[str, str], _Counts] = {}
        self._total: dict[tuple[str, str], _Counts] = {}
        self._since = datetime.now(timezone.utc)

    def add(self, service: str, consumer: str, status: int, milliseconds: float) -> None:
        with self._lock:
            self._window.setdefault((service, consumer), _Counts()).add(status, milliseconds)
            self._total.setdefault((service, consumer), _Counts(latencies=deque(maxlen=KEPT_LATENCIES))
                                   ).add(status, milliseconds)

    def totals(self) -> list[dict]:
        """Per (service, consumer) since the server started (latencies of the last 10,000 calls),
        for the statistics page."""
        with self._lock:
            found = {k: v.summary() for k, v in self._total.items()}
        return [{"service": s, "consumer": c, **v} for (s, c), v in sorted(found.items())]

    def close_window(self) -> list[ServiceCallsRecord]:
        """The records of the window counted so far; a new window starts."""
        now = datetime.now(timezone.utc)
        with self._lock:
            window, since = self._window, self._since
            self._window, self._since = {}, now
        return [ServiceCallsRecord(service=s, consumer=c, window_start=since, window_end=now,
                                   **counts.summary()) for (s, c), counts in sorted(window.items())]
