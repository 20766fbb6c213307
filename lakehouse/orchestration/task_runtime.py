"""What the lakehouse operators do when Airflow runs them (imported at run time only).

Failures are split as the framework splits them: a terminal error (refused admission, a quality
rule that holds the table, a model that fails) raises ``AirflowFailException`` with the
framework's message, so the task fails at once and the message is in its log; anything
transient (the engine restarting, a busy table, storage trouble) raises an ordinary exception
and Airflow retries it.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from lakehouse.config.fields import dated_path
from lakehouse.config.loader import load_settings
from lakehouse.errors import LakehouseError, TransientError
from lakehouse.orchestration import data_dates

log = logging.getLogger("lakehouse.orchestration")


def engine_answer(conf: Path, payload: dict) -> tuple[str, dict]:
    """The engine mode of this deployment and its answer to ``payload``."""
    settings = load_settings(conf)
    mode = settings.orchestration.engine
    payload = {**payload, "conf": str(conf)}
    if mode == "service":
        from lakehouse.orchestration.engine_service import request

        return mode, request(settings.orchestration.engine_address, payload)
    from lakehouse.orchestration import operations

    return mode, operations.execute(payload)


def call_engine(conf: Path, payload: dict, task_started: float) -> dict:
    """Send ``payload`` to the engine this deployment uses and return its result."""
    mode, answer = engine_answer(conf, payload)
    timing = answer.get("timing")
    if timing:
        log.info("task start to Spark work: %.3f s (engine %s); work took %.1f s",
                 timing["work_started"] - task_started, mode, timing["finished"] - timing["work_started"])
    if not answer["ok"]:
        if answer["transient"]:
            raise TransientError(f"transient error, Airflow retries the task: {answer['error']}")
        raise AirflowFailException(answer["error"])
    return answer["result"]


def terminal(error: LakehouseError) -> Exception:
    return error if error.transient else AirflowFailException(error.render())


# -- T-1 DAGs ----------------------------------------------------------------------------------

def run_data_date(context, timezone: str) -> date:
    run = context["dag_run"]
    try:
        return data_dates.of_run(run.conf, context.get("logical_date"), getattr(run, "run_after", None),
                                 timezone)
    except LakehouseError as exc:
        raise terminal(exc) from None


def delivery_arrived(conf: Path, source: dict, timezone: str, context) -> bool:
    """True when the delivery and its control file are in landing; fails once it is overdue."""
    data_date = run_data_date(context, timezone)
    landing = Path(load_settings(conf).landing)
    fmt = source["path_date_format"]
    wanted = [landing / dated_path(source["path"], fmt, data_date)]
    if source["control"]:
        wanted.append(landing / dated_path(source["control"], fmt, data_date))
    missing = [p for p in wanted if not p.is_file()]
    if not missing:
        log.info("%s for %s delivered: %s", source["name"], data_date, ", ".join(map(str, wanted)))
        return True
    due = data_dates.deadline(data_date, source["expected_by"], timezone)
    if due is not None and datetime.now(due.tzinfo) >= due:
        raise AirflowFailException(
            f"delivery of {source['name']} for {data_date} was due by {due:%Y-%m-%d %H:%M %Z} and is "
            f"not in landing: missing {', '.join(map(str, missing))}. Ask the owner "
            f"({source['owner']}) to deliver it; when it arrives, clear this task to load it.")
    log.info("waiting for %s", ", ".join(map(str, missing)))
    return False


def table_published(table: str, timezone: str, context) -> bool:
    """True once ``table`` (the sensor's inlet) has an asset event for the run's data date."""
    data_date = run_data_date(context, timezone)
    since = datetime.combine(data_date, datetime.min.time(), ZoneInfo(timezone))
    events = context["inlet_events"][_asset(context, table, "inlets")].after(since)
    wanted = data_date.isoformat()
    for event in events:
        if event.partition_key == wanted or wanted in (event.extra or {}).get(data_dates.EXTRA_KEY, []):
            log.info("%s published %s at %s (%s)", table, wanted, event.timestamp,
                     event.source_run_id or "no run")
            return True
    log.info("waiting for %s to publish %s: the quality rules of this system's loads look it up",
             table, wanted)
    return False


def not_published_message(table: str, source: str, system: str, timezone: str, context,
                          waited_seconds: float) -> str:
    """Why a wait for another system's table failed, and how to go on."""
    day = run_data_date(context, timezone).isoformat()
    return (f"{table} has not published {day} after {waited_seconds / 3600:g} h of waiting: the loads "
            f"after this task look it up in their quality rules, and would report rows as orphans "
            f"that are not. Load {source} for {day} (`t1_{system}` with "
            f'{{"data_date": "{day}"}}, or clear its failed task), then clear this task.')


def load(conf: Path, source: dict, timezone: str, context, task_started: float) -> dict:
    """Land, admit, load and measure one source's date; publish its table's asset."""
    data_date = run_data_date(context, timezone)
    result = call_engine(conf, {"op": "load", "source": source["name"],
                                "data_date": data_date.isoformat()}, task_started)
    name = f"{source['name']} for {data_date}"
    if result["status"] != "succeeded":
        raise AirflowFailException(f"{name} failed: {result['message']}")
    log.info("%s: %s rows in, %s loaded, %s quarantined, table version %s", name, result["rows_in"],
             result["rows_loaded"], result["rows_quarantined"], result["table_version"])
    if result["promotable"] is False:
        raise AirflowFailException(
            f"{name} is loaded but held by quality rules {', '.join(result['blocking_rules'])}: not "
            "published, so no layer reads it. Correct and redeliver the file, or re-admit the "
            "quarantined rows (`lakehouse quality readmit`), then clear this task.")
    asset = source["table"]
    if result["unchanged"]:
        log.info("%s: %s", name, result["message"])
        if _published_since(context, asset, data_date, result["loaded_at"]):
            raise AirflowSkipException(f"{name} is already loaded and published: nothing to do")
    publish(context, asset, [data_date], table_version=result["table_version"], rows=result["rows_loaded"])
    return result


def publish(context, asset_name: str, dates: list[date], **extra) -> None:
    """Record the asset event of ``asset_name`` for ``dates``: one event per date, the date its
    partition key (what partitioned layer DAGs wait for), the dates also in its extra."""
    outlet = context["outlet_events"][_asset(context, asset_name, "outlets")]
    outlet.extra = data_dates.extra(dates, **extra)
    outlet.add_partitions([d.isoformat() for d in dates])


def _published_since(context, asset_name: str, data_date: date, loaded_at: str | None) -> bool:
    """Whether ``asset_name`` has an event for ``data_date`` after the load at ``loaded_at``."""
    if loaded_at is None:
        return False
    since = datetime.fromisoformat(loaded_at).astimezone()
    events = context["inlet_events"][_asset(context, asset_name, "inlets")]
    return any(event.timestamp >= since and data_date.isoformat() in
               (event.extra or {}).get(data_dates.EXTRA_KEY, []) for event in events)


def _asset(context, name: str, role: str):
    for asset in getattr(context["task"], role):
        if asset.name == name:
            return asset
    raise AirflowFailException(f"the task declares no {role} asset {name}: recompile the DAGs")


# -- layer DAGs --------------------------------------------------------------------------------

def plan_dates(context) -> dict:
    """The data date this layer run works on: ``conf["data_date"]`` (every model), or the run's
    partition key, set by the scheduler once every table the layer reads has published that
    date (with the tables whose events the run consumed)."""
    run = context["dag_run"]
    try:
        if run.conf and run.conf.get("data_date"):
            day = data_dates.parse(run.conf["data_date"], "dag_run.conf.data_date")
            return {"all": True, "dates": {day.isoformat(): []}}
        key = context.get("partition_key") or getattr(run, "partition_key", None)
        if not key:
            raise AirflowFailException(
                "this run has no data date: it has no partition key and no conf data_date. Layer "
                "runs are created per data date by the scheduler; trigger one by hand with conf "
                '{"data_date": "YYYY-MM-DD"}.')
        day = data_dates.parse(key, "dag_run.partition_key")
        tables = data_dates.published(context["triggering_asset_events"]).get(day, set())
    except LakehouseError as exc:
        raise terminal(exc) from None
    log.info("data date %s, published by %s", day, ", ".join(sorted(tables)) or "(no events)")
    return {"all": not tables, "dates": {day.isoformat(): sorted(tables)}}


def build_model(conf: Path, model: dict, context, task_started: float) -> list[str]:
    """Build ``model`` for each planned date whose inputs have all published it; publish the
    model's asset for the dates built."""
    ti = context["ti"]
    plan = ti.xcom_pull(task_ids="data_dates")
    upstream_built = set()
    for built in ti.xcom_pull(task_ids=[f"build_{name}" for name in model["after"]]) or []:
        upstream_built.update(built or [])
    built, failures, waiting = [], [], []
    for day, tables in plan["dates"].items():
        if not (plan["all"] or set(model["inputs"]) & set(tables) or day in upstream_built):
            continue  # nothing this model reads changed for the date
        result = call_engine(conf, {"op": "build", "model": model["name"], "data_date": day}, task_started)
        if result["status"] == "succeeded":
            log.info("%s for %s: %s rows, table version %s", model["name"], day, result["rows"],
                     result["table_version"])
            built.append(day)
        elif result["status"] == "current":
            log.info("%s for %s is up to date: %s", model["name"], day, result["reason"])
            if not _published_since(context, model["table"], date.fromisoformat(day), result["built_at"]):
                built.append(day)  # built, but its asset event was never recorded: publish it now
        elif result["status"] == "skipped":
            waiting.append(f"{day}: waiting for {', '.join(result['blocked_by'])} ({result['reason']})")
        else:
            failures.append(f"{day}: {result['reason']}")
    for line in waiting:
        log.info("%s not built for %s", model["name"], line)
    if failures:
        raise AirflowFailException(f"{model['name']} failed for " + "\n".join(failures))
    if not built:
        raise AirflowSkipException(f"{model['name']}: nothing to build"
                                   + (" (" + "; ".join(waiting) + ")" if waiting else ""))
    publish(context, model["table"], [date.fromisoformat(d) for d in built])
    return built


# -- backups -----------------------------------------------------------------------------------

def backup(conf: Path, task_started: float) -> dict:
    """Take a backup and verify that it restores (the engine's ``backup`` operation)."""
    result = call_engine(conf, {"op": "backup"}, task_started)
    log.info("backup %s at %s: %s tables, %s files, %s new (%s bytes); %s tables compared after "
             "a restore", result["backup_id"], result["backup_root"], result["tables"],
             result["files"], result["files_copied"], result["bytes_copied"], result["tables_compared"])
    return result


# -- retention ---------------------------------------------------------------------------------

def retention(conf: Path, task_started: float) -> dict:
    """Remove what has expired, holds respected (the engine's ``retention`` operation)."""
    result = call_engine(conf, {"op": "retention"}, task_started)
    log.info("retention %s (latest data date %s): %s rows deleted, %s tables vacuumed, %s raw "
             "folders destroyed, %s files (%s bytes) removed; %s expired dates kept by holds",
             result["run_id"], result["latest"], result["rows_deleted"], result["tables_vacuumed"],
             result["raw_folders_destroyed"], result["files_removed"], result["bytes_removed"],
             result["dates_held"])
    return result


def move_to_history(conf: Path, task_started: float) -> dict:
    """Move the data dates past each table's hot window to the history zone (the engine's
    ``history`` operation)."""
    result = call_engine(conf, {"op": "history"}, task_started)
    for move in result["moves"]:
        if move["status"] == "moved" or move["recovered"]:
            log.info("%s: %s rows of %s data dates moved to the history zone (%s)%s", move["table"],
                     move["rows"], len(move["data_dates"]), move["move_id"],
                     f"; recorded {len(move['recovered'])} unrecorded move(s)" if move["recovered"] else "")
    return result


# -- the real-time zone ------------------------------------------------------------------------

def reconcile(conf: Path, source: dict, timezone: str, context, task_started: float) -> dict:
    """Reconcile the source's real-time events of the run's data date against its loaded batch."""
    data_date = run_data_date(context, timezone)
    result = call_engine(conf, {"op": "reconcile", "source": source["name"],
                                "data_date": data_date.isoformat()}, task_started)
    log.info("%s for %s reconciled: %s (%s events, %s batch rows, %s only in events, %s only in "
             "batch, %s differing; %s retired)", source["name"], data_date, result["status"],
             result["events"], result["batch_rows"], result["only_in_events"],
             result["only_in_batch"], result["differing"], result["events_retired"])
    return result


def watch_feed(conf: Path, feed: dict) -> dict:
    """A feed's lag, last batch and last error; its stream started again when it is not running."""
    from lakehouse.realtime.supervision import watch

    summary = watch(conf, feed["name"])
    log.info("%s: %s, %s file(s) pending, lag %s s, %s events/s, last batch %s s ago%s",
             feed["name"], summary["state"], summary["pending_files"], summary["lag_seconds"],
             summary["events_per_second"], summary["last_batch_age_seconds"],
             f", restarted as process {summary['restarted_pid']}" if summary["restarted"] else "")
    return summary
