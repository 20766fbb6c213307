"""Real-time applications (6.2.3 c, 6.4.2.2 d, 6.4.5): the risk warnings and customer tags of
``realtime/*.yaml``, each a streaming query over its feed's events table, upserting its rows
into ``realtime.<name>`` within seconds of the events arriving."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lakehouse.config.realtime_apps import RealtimeApp, load_apps
from lakehouse.realtime.ingestion import feed_contract, stream_errors
from lakehouse.realtime.tables import events_spec
from lakehouse.security.at_rest import stats_columns
from lakehouse.security.column_levels import source_levels
from lakehouse.zones import Zone, zone_path


@dataclass
class AppResult:
    name: str
    table: str
    rows: int


def apps_of(lakehouse) -> dict[str, RealtimeApp]:
    """The project's real-time apps (``realtime/`` beside ``conf/``)."""
    return load_apps(Path(lakehouse.conf_dir).parent, lakehouse.project.sources)


def output_path(lakehouse, app: RealtimeApp) -> str:
    return zone_path(lakehouse.root, Zone.REALTIME, app.name)


def checkpoint_of(lakehouse, app: RealtimeApp) -> str:
    return zone_path(lakehouse.root, Zone.REALTIME, "_checkpoints", f"app_{app.name}")


def start(lakehouse, app: RealtimeApp, available_now: bool = False):
    """Start ``app``'s streaming query; its handle (``wait``, ``stop``, ``outcomes``)."""
    contract = feed_contract(lakehouse, app.input)
    root = lakehouse.root
    levels = source_levels(contract)

    def properties(columns: list[tuple[str, str]]) -> dict[str, str]:
        # Delta's statistics (clear, in _delta_log) only for the feed's columns below level 3
        # passed through as they are; a computed column has no level of its own: none for it
        return {"lakehouse.app": app.kind, "lakehouse.source": app.input,
                "lakehouse.security_level": str(contract.table_level),
                **stats_columns(levels, columns)}

    return lakehouse.engine.realtime.start_app(
        app.name, events_spec(contract, root), [a.name for a in contract.attributes], app.bound_sql(),
        list(app.keys), output_path(lakehouse, app),
        checkpoint_of(lakehouse, app),
        app.watermark_seconds, app.trigger_seconds, properties, available_now)


def run_for_feed(lakehouse, source: str) -> list[AppResult]:
    """Run every app reading ``source`` over the events there now, then stop it."""
    results = []
    for app in apps_of(lakehouse).values():
        if app.input != source:
            continue
        with stream_errors(f"real-time app {app.name}", f"lakehouse stream run {source} --until-idle "
                           "--apps", checkpoint_of(lakehouse, app)):
            start(lakehouse, app, available_now=True).wait()
        results.append(AppResult(app.name, f"realtime.{app.name}",
                                 len(lakehouse.engine.realtime.table_rows(output_path(lakehouse, app)))))
    return results


def rows(lakehouse, name: str) -> list[dict]:
    return lakehouse.engine.realtime.table_rows(output_path(lakehouse, apps_of(lakehouse)[name]))
