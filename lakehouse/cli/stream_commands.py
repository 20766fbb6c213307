"""`lakehouse stream ...`: run the real-time feeds and watch them (README, Real-time zone)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from lakehouse.cli.rendering import stdout, to_json

stream_app = typer.Typer(no_args_is_help=True, help="The real-time zone: streaming feeds, "
                         "their status and reconciliation against the T-1 batch.")
CONF = typer.Option(Path("conf"), "--conf", help="configuration folder", envvar="LAKEHOUSE_CONF")


def _lakehouse(conf: Path):
    from lakehouse.api import Lakehouse

    return Lakehouse(conf)


@stream_app.command("run")
def stream_run(
    source: str = typer.Argument(..., help="SYSTEM.ENTITY of a source with a realtime feed"),
    until_idle: bool = typer.Option(False, "--until-idle", help="read what has arrived, then stop"),
    seconds: Optional[float] = typer.Option(None, "--seconds", help="stop after this many seconds "
                                            "(default: run until stopped)"),
    apps: bool = typer.Option(False, "--apps/--no-apps", help="also run the real-time applications "
                              "reading this feed (realtime/*.yaml)"),
    conf: Path = CONF,
) -> None:
    """Admit the feed and stream its events into the real-time zone, exactly once."""
    from lakehouse.realtime import apps as realtime_apps
    from lakehouse.realtime import ingestion

    lh = _lakehouse(conf)
    running = []
    if apps and not until_idle:  # the apps stream beside the feed
        running = [realtime_apps.start(lh, app) for app in realtime_apps.apps_of(lh).values()
                   if app.input == source]
    try:
        feed = ingestion.run(lh, source, available_now=until_idle, seconds=seconds)
    finally:
        for query in running:
            query.stop()
    rows = sum(max(o.rows_in, 0) for o in feed.outcomes)
    loaded = sum(max(o.loaded, 0) for o in feed.outcomes)
    if apps and until_idle:
        for result in realtime_apps.run_for_feed(lh, source):
            stdout().print(f"{result.name}: {result.rows} row(s) in {result.table}")
    stdout().print(f"{source}: {len(feed.outcomes)} batch(es), {rows} event(s) read, {loaded} admitted, "
                   f"{rows - loaded} quarantined")


@stream_app.command("status")
def stream_status(as_json: bool = typer.Option(False, "--json", help="print JSON"), conf: Path = CONF) -> None:
    """Each feed's state, lag, throughput, last batch and last error."""
    from lakehouse.realtime import status

    lh = _lakehouse(conf)
    found = [status.summary(lh, c) for c in lh.project.sources.values() if c.realtime is not None]
    if as_json:
        typer.echo(to_json(found))
        return
    grid = Table(title="real-time feeds")
    for name in ("feed", "transport", "state", "pending files", "lag s", "events/s",
                 "last batch", "last error"):
        grid.add_column(name)
    for feed in found:
        last = feed["last_batch"]
        batch = "–" if not last else (f"#{last['batch_id']}: {last['rows_in']} in, {last['loaded']} "
                                      f"admitted, {feed['last_batch_age_seconds']} s ago")
        grid.add_row(feed["feed"], feed["transport"], feed["state"],
                     "–" if feed["pending_files"] is None else str(feed["pending_files"]),
                     "–" if feed["lag_seconds"] is None else str(feed["lag_seconds"]),
                     "–" if feed["events_per_second"] is None else str(feed["events_per_second"]),
                     batch, feed["last_error"] or "")
    stdout().print(grid)
