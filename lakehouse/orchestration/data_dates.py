"""Which data date a DAG run works on.

A scheduled T-1 run triggered on day D+1 loads data date D (the day before its logical date, in
the lakehouse time zone); a run triggered with ``{"data_date": "YYYY-MM-DD"}`` loads that date.
Airflow gives asset-triggered runs no logical date, so every asset event the framework publishes
carries its data date as its partition key (and its dates in ``extra["data_dates"]``): a layer
DAG's run for date D has D as its partition key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from lakehouse.errors import Problem, TerminalError

EXTRA_KEY = "data_dates"


def parse(value: object, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise TerminalError(f"invalid data date {value!r}", [Problem(
            "not a date", key=where, value=value, fix='give it as YYYY-MM-DD, e.g. {"data_date": '
            '"2026-11-01"}')]) from None


def of_run(conf: Mapping | None, logical_date: datetime | None, run_after: datetime | None,
           timezone: str) -> date:
    """The data date of a T-1 run: ``conf["data_date"]``, else the day before the run's logical
    date (or, for a run without one, its run-after time) in ``timezone``."""
    if conf and conf.get("data_date"):
        return parse(conf["data_date"], "dag_run.conf.data_date")
    when = logical_date or run_after
    if when is None:
        raise TerminalError("the run has no logical date and no data date", [Problem(
            "cannot tell which data date to load", key="dag_run.conf.data_date",
            fix='trigger the DAG with conf {"data_date": "YYYY-MM-DD"}')])
    return when.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)


def deadline(data_date: date, expected_by: str | None, timezone: str) -> datetime | None:
    """When a delivery for ``data_date`` is due: ``expected_by`` on the day after, or None."""
    if not expected_by:
        return None
    due = time.fromisoformat(expected_by)
    return datetime.combine(data_date + timedelta(days=1), due, ZoneInfo(timezone))


def published(events: Mapping) -> dict[date, set[str]]:
    """Data date -> names of the assets that published it, from the triggering asset events
    (``{asset: [event, ...]}`` as Airflow hands them to a task)."""
    found: dict[date, set[str]] = {}
    for asset in events:
        for event in events[asset]:
            for value in (event.extra or {}).get(EXTRA_KEY, []):
                found.setdefault(parse(value, f"asset event extra of {event.asset.name}"),
                                 set()).add(event.asset.name)
    return found


def extra(dates: Iterable[date], **more) -> dict:
    """The ``extra`` of an asset event that publishes ``dates``."""
    return {EXTRA_KEY: sorted(d.isoformat() for d in dates), **more}
