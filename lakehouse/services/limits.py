"""Protection of the services and their backend: per-consumer rate limits (token buckets) and a
circuit breaker that stops calling a failing backend for a while."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Token buckets per (service, consumer): ``burst`` calls at once, refilled at ``rate`` per
    second. ``take`` answers 0 when the call may go ahead, else the seconds to wait."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # tokens, at
        self._lock = threading.Lock()

    def take(self, service: str, consumer: str, rate: float, burst: int) -> float:
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get((service, consumer), (float(burst), now))
            tokens = min(float(burst), tokens + (now - at) * rate)
            if tokens >= 1:
                self._buckets[(service, consumer)] = (tokens - 1, now)
                return 0.0
            self._buckets[(service, consumer)] = (tokens, now)
            return (1 - tokens) / rate


def retry_after(seconds: float) -> str:
    """The Retry-After header's value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


class CircuitBreaker:
    """Closed while the backend answers; open for ``cooldown`` seconds after ``threshold``
    failures in a row (calls are refused at once); then half-open: one trial call closes it again
    when it succeeds, or opens it for another cooldown when it fails."""

    def __init__(self, threshold: int = 5, cooldown: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.threshold, self.cooldown, self._clock = threshold, cooldown, clock
        self._failures, self._opened_at = 0, None
        self._trial = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "open" if self._clock() - self._opened_at < self.cooldown else "half-open"

    def wait(self) -> float:
        """0 when a call may go to the backend, else the seconds until the breaker lets one try."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            left = self.cooldown - (self._clock() - self._opened_at)
            if left > 0:
                return left
            if self._trial:  # one trial at a time while half-open
                return 1.0
            self._trial = True
            return 0.0

    def succeeded(self) -> None:
        with self._lock:
            self._failures, self._opened_at, self._trial = 0, None, False

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial = False
            if self._opened_at is not None or self._failures >= self.threshold:
                self._opened_at = self._clock()
