"""The services' protections: rate limits, circuit breaker and call statistics, on a fake clock."""

from __future__ import annotations

from lakehouse.services.call_stats import CallStats, percentile
from lakehouse.services.limits import CircuitBreaker, RateLimiter, retry_after


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_consumer_gets_its_burst_then_its_rate_and_others_are_not_held_back():
    clock = Clock()
    limiter = RateLimiter(clock)
    assert [limiter.take("s", "a", 2.0, 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("s", "a", 2.0, 3)
    assert wait == 0.5 and retry_after(wait) == "1"
    assert limiter.take("s", "b", 2.0, 3) == 0.0
    clock.now += 0.5
    assert limiter.take("s", "a", 2.0, 3) == 0.0
    assert limiter.take("s", "a", 2.0, 3) > 0


def test_the_breaker_opens_after_failures_in_a_row_and_closes_after_a_good_trial():
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown=10, clock=clock)
    for _ in range(2):
        breaker.failed()
    breaker.succeeded()  # not in a row
    for _ in range(3):
        assert breaker.wait() == 0
        breaker.failed()
    assert breaker.state == "open" and breaker.wait() == 10
    clock.now += 10
    assert breaker.state == "half-open" and breaker.wait() == 0
    assert breaker.wait() > 0  # one trial at a time
    breaker.failed()
    assert breaker.state == "open"
    clock.now += 10
    assert breaker.wait() == 0
    breaker.succeeded()
    assert breaker.state == "closed" and breaker.wait() == 0


def test_percentiles_and_windows_of_the_call_statistics():
    assert percentile([], 0.5) == 0 and percentile([5.0], 0.99) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50 and percentile(values, 0.99) == 99
    stats = CallStats()
    for status, ms in ((200, 1.0), (200, 3.0), (429, 0.1), (403, 0.2), (500, 9.0)):
        stats.add("customer_360", "app.customer_desk", status, ms)
    [record] = stats.close_window()
    assert (record.calls, record.errors, record.refused, record.limited) == (5, 1, 1, 1)
    assert record.p50_ms == 1.0 and record.max_ms == 9.0
    assert stats.close_window() == [] and stats.totals()[0]["calls"] == 5
