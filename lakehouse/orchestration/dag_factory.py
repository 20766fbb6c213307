"""Airflow DAGs built from the DAG manifest: one T-1 DAG per source system, one per layer, and
the backup, retention and history DAGs.

* ``t1_<system>``: on the system's schedule; per source, ``wait_<entity>`` (the file and its
  control file, until the contract's expected-by time) then ``load_<entity>`` (land raw, six
  admission checks, near-source load, quality), which publishes the table's asset with the data
  date as the event's partition key. A source whose quality rules look up another table of the
  system loads after it; one whose rules look up a table of another system loads after
  ``wait_for_<table>``, which waits for that table's event of the same data date. Runs of a DAG
  go one at a time, so a backfill loads its dates in order.
* ``layer_<layer>``: partitioned by data date: the scheduler creates one run for date D once
  every table the layer reads has published D (``PartitionedAssetTimetable`` over ``AssetAll``);
  the run's partition key is D. ``data_dates`` plans D, then ``build_<model>`` builds it and
  publishes the model's asset for D in turn.
* A source with a real-time feed gets ``reconcile_<entity>`` after its load: its events of D
  reconciled against the batch (``governance.reconciliation``), the events it covers retired.
  A source known only by its feed has no ``wait_<entity>`` and no reconciliation: its
  ``load_<entity>`` keeps the near-source table from the events of D the zone holds.
* ``lakehouse_realtime``: every 5 minutes, ``watch_<system>_<entity>`` per real-time feed: lag,
  last batch, last error; a stream that is down is started again from its checkpoint.
* ``lakehouse_backup``: on ``orchestration.backup_schedule``; takes an incremental backup and
  verifies that it restores as taken.
* ``lakehouse_retention``: on ``schedule`` of ``conf/retention.yaml``; removes expired data
  (holds respected) and vacuums past the declared window.
* ``lakehouse_history``: on ``history.yaml``'s ``schedule``; moves the data dates past each
  table's hot window to the history zone.

Only the standard library and ``airflow.sdk`` are imported here: parsing stays cheap.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from airflow.sdk import (DAG, Asset, AssetAll, BaseOperator, BaseSensorOperator, CronTriggerTimetable,
                         PartitionedAssetTimetable)

from lakehouse.orchestration.manifest import conf_dir

START = datetime(2020, 1, 1)


def table_asset(table: str) -> Asset:
    """The asset of a lakehouse table (``near_source.cbs_customer``)."""
    return Asset(name=table, uri=f"lakehouse://{table.replace('.', '/')}", group="lakehouse")


class _LakehouseTask:
    """Where the project lives, for the task's run time (``$LAKEHOUSE_CONF`` wins)."""

    def _conf(self) -> Path:
        return conf_dir(self.manifest, self.manifest_path)


class DeliverySensor(_LakehouseTask, BaseSensorOperator):
    ui_color = "#f5e6c8"

    def __init__(self, *, source: dict, manifest: dict, manifest_path: str, **kwargs):
        super().__init__(**kwargs)
        self.source, self.manifest, self.manifest_path = source, manifest, manifest_path

    def poke(self, context) -> bool:
        from lakehouse.orchestration import task_runtime

        return task_runtime.delivery_arrived(self._conf(), self.source, self.manifest["timezone"], context)


class PublishedSensor(BaseSensorOperator):
    """Waits for ``table`` (of another system) to publish the run's data date."""

    ui_color = "#f5d5c8"

    def __init__(self, *, table: str, source: str, system: str, manifest: dict, **kwargs):
        super().__init__(inlets=[table_asset(table)], **kwargs)
        self.table, self.source, self.system, self.manifest = table, source, system, manifest

    def poke(self, context) -> bool:
        from lakehouse.orchestration import task_runtime

        return task_runtime.table_published(self.table, self.manifest["timezone"], context)

    def execute(self, context):
        from airflow.sdk.exceptions import AirflowSensorTimeout

        try:
            return super().execute(context)
        except AirflowSensorTimeout:
            from lakehouse.orchestration import task_runtime

            raise AirflowSensorTimeout(task_runtime.not_published_message(
                self.table, self.source, self.system, self.manifest["timezone"], context,
                self.timeout)) from None


class LoadOperator(_LakehouseTask, BaseOperator):
    ui_color = "#c8e6f5"

    def __init__(self, *, source: dict, manifest: dict, manifest_path: str, **kwargs):
        super().__init__(**kwargs)
        self.source, self.manifest, self.manifest_path = source, manifest, manifest_path

    def execute(self, context):
        began = time.time()
        from lakehouse.orchestration import task_runtime

        return task_runtime.load(self._conf(), self.source, self.manifest["timezone"], context, began)


class DataDatesOperator(BaseOperator):
    ui_color = "#e6e6e6"

    def execute(self, context):
        from lakehouse.orchestration import task_runtime

        return task_runtime.plan_dates(context)


class BuildModelOperator(_LakehouseTask, BaseOperator):
    ui_color = "#d5f5c8"

    def __init__(self, *, model: dict, manifest: dict, manifest_path: str, **kwargs):
        super().__init__(**kwargs)
        self.model, self.manifest, self.manifest_path = model, manifest, manifest_path

    def execute(self, context):
        began = time.time()
        from lakehouse.orchestration import task_runtime

        return task_runtime.build_model(self._conf(), self.model, context, began)


class HousekeepingOperator(_LakehouseTask, BaseOperator):
    """Runs one housekeeping job of ``task_runtime`` (``backup``, ``retention``,
    ``move_to_history``) through the engine."""

    ui_color = "#e6d5f5"

    def __init__(self, *, job: str, manifest: dict, manifest_path: str, **kwargs):
        super().__init__(**kwargs)
        self.job, self.manifest, self.manifest_path = job, manifest, manifest_path

    def execute(self, context):
        began = time.time()
        from lakehouse.orchestration import task_runtime

        return getattr(task_runtime, self.job)(self._conf(), began)


class ReconcileOperator(_LakehouseTask, BaseOperator):
    """Reconciles a source's real-time events of the run's data date against its batch."""

    ui_color = "#c8f5e6"

    def __init__(self, *, source: dict, manifest: dict, manifest_path: str, **kwargs):
        super().__init__(**kwargs)
        self.source, self.manifest, self.manifest_path = source, manifest, manifest_path

    def execute(self, context):
        began = time.time()
        from lakehouse.orchestration import task_runtime

        return task_runtime.reconcile(self._conf(), self.source, self.manifest["timezone"], context, began)


class StreamWatchOperator(_LakehouseTask, BaseOperator):
    """Reads a real-time feed's lag and last batch; starts its stream again when it is down."""

    ui_color = "#f5c8e6"

    def __init__(self, *, feed: dict, manifest: dict, manifest_path: str, **kwargs):
        super().__init__(**kwargs)
        self.feed, self.manifest, self.manifest_path = feed, manifest, manifest_path

    def execute(self, context):
        from lakehouse.orchestration import task_runtime

        return task_runtime.watch_feed(self._conf(), self.feed)


REALTIME_WATCH_CRON = "*/5 * * * *"


def _realtime_dag(manifest: dict, path: str, tz, defaults: dict) -> DAG | None:
    """``lakehouse_realtime``: every 5 minutes, one watch task per real-time feed."""
    feeds = manifest.get("realtime_feeds") or []
    if not feeds:
        return None
    dag = DAG(
        dag_id="lakehouse_realtime", description="start and watch the real-time feeds' streams",
        schedule=CronTriggerTimetable(REALTIME_WATCH_CRON, timezone=manifest["timezone"]),
        start_date=START.replace(tzinfo=tz), catchup=False, max_active_runs=1,
        is_paused_upon_creation=True,  # it starts long-running processes: a deployment opts in
        default_args=defaults, tags=["lakehouse", "realtime"],
        doc_md="Every 5 minutes, per real-time feed: its lag (files not read yet, age of the "
        "oldest), throughput, last micro-batch and last error (`lakehouse stream status`); a "
        "stream that is not running (never started, failed, its process gone) is started again "
        "(`lakehouse stream run SOURCE --apps`), from its checkpoint: no event is lost or doubled. "
        "Paused when first deployed: unpause it to have Airflow run the streams.")
    with dag:
        for feed in feeds:
            StreamWatchOperator(task_id=f"watch_{feed['name'].replace('.', '_')}", feed=feed,
                                manifest=manifest, manifest_path=path, owner=feed["owner"], retries=0)
    return dag


HOUSEKEEPING = (
    # DAG id, manifest key of its cron, job, task id, description, documentation
    ("lakehouse_backup", "backup_cron", "backup", "backup_and_verify",
     "back up the lakehouse, then verify it restores",
     "An incremental backup of the zones, governance and project files to the `backups` root, "
     "restored into a scratch folder and compared table by table with the original (`lakehouse "
     "backup`, `lakehouse backup verify`); fails when it does not restore as taken."),
    ("lakehouse_retention", "retention_cron", "retention", "expire_and_vacuum",
     "remove expired data, holds respected",
     "Deletes the data every zone keeps no longer (`conf/retention.yaml`), except what a legal or "
     "regulatory hold pins (`conf/holds.yaml`), vacuums the tables whose deletions passed the "
     "declared window, destroys expired raw files, and records every removal in "
     "`governance.retention_log` (`lakehouse retention run`)."),
    ("lakehouse_history", "history_cron", "move_to_history", "move_to_history",
     "move data dates past their hot window to the history zone",
     "Moves each snapshot and append table's data dates older than its hot window "
     "(`conf/history.yaml`) to its history table, recorded in `governance.history_log` "
     "(`lakehouse history move`); queries read the tables across both zones."),
)


def build_dags(manifest: dict, manifest_path: str | Path) -> dict[str, DAG]:
    """Every DAG of the manifest, by DAG id."""
    path = str(manifest_path)
    tz = ZoneInfo(manifest["timezone"])
    defaults = {"owner": "lakehouse", "retries": manifest["retries"],
                "retry_delay": timedelta(minutes=manifest["retry_delay_minutes"])}
    dags = {}
    for code, system in manifest["systems"].items():
        dag = DAG(
            dag_id=f"t1_{code}", description=f"T-1 batch of {system['name']} ({code})",
            schedule=CronTriggerTimetable(system["cron"], timezone=manifest["timezone"]),
            start_date=START.replace(tzinfo=tz), catchup=False, max_active_runs=1,
            default_args={**defaults, "owner": system["owner"]}, tags=["lakehouse", "t1", code],
            doc_md=f"T-1 loads of `{code}` ({system['schedule']}: `{system['cron']}`). "
            'Trigger with `{"data_date": "YYYY-MM-DD"}` for a given date.')
        loads, published = {}, {}
        with dag:
            for source in system["sources"]:
                asset = table_asset(source["table"])
                if source.get("feed_only"):
                    loads[source["name"]] = LoadOperator(
                        task_id=f"load_{source['entity']}", source=source, manifest=manifest,
                        manifest_path=path, outlets=[asset], inlets=[asset], owner=source["owner"],
                        doc_md="Keeps the near-source table from the real-time feed's events of "
                        "the data date (no T-1 extract): change events folded into the state at "
                        "the end of D, business events of D as its partition.")
                    continue
                wait = DeliverySensor(task_id=f"wait_{source['entity']}", source=source,
                                      manifest=manifest, manifest_path=path, mode="reschedule",
                                      poke_interval=300, timeout=36 * 3600, retries=0,
                                      owner=source["owner"])
                loads[source["name"]] = LoadOperator(
                    task_id=f"load_{source['entity']}", source=source, manifest=manifest,
                    manifest_path=path, outlets=[asset], inlets=[asset], owner=source["owner"])
                wait >> loads[source["name"]]
            for source in system["sources"]:
                if source.get("realtime") and not source.get("feed_only"):
                    loads[source["name"]] >> ReconcileOperator(
                        task_id=f"reconcile_{source['entity']}", source=source, manifest=manifest,
                        manifest_path=path, owner=source["owner"],
                        doc_md="Reconciles the day's real-time events against the batch just "
                        "loaded (key sets, counts, amount totals) into `governance.reconciliation`, "
                        "and retires the events it covers.")
            for source in system["sources"]:
                for first in source["after"]:
                    loads[first] >> loads[source["name"]]
                for other in source["waits_for"]:
                    if other["table"] not in published:
                        published[other["table"]] = PublishedSensor(
                            task_id=f"wait_for_{other['table'].rpartition('.')[2]}", table=other["table"],
                            source=other["source"], system=other["system"], manifest=manifest,
                            mode="reschedule", poke_interval=120,
                            timeout=manifest["cross_system_wait_hours"] * 3600, retries=0,
                            owner=source["owner"],
                            doc_md=f"Waits for `{other['table']}` (`t1_{other['system']}`) to publish "
                            "this run's data date: the quality rules of the loads after it look it up.")
                    published[other["table"]] >> loads[source["name"]]
        dags[dag.dag_id] = dag
    for layer, models in manifest["layers"].items():
        own = {m["table"] for m in models}
        reads = sorted({t for m in models for t in m["inputs"] if t not in own})
        dag = DAG(
            dag_id=f"layer_{layer}", description=f"the {layer} layer, one run per data date its "
            "inputs have all published",
            schedule=PartitionedAssetTimetable(assets=AssetAll(*[table_asset(t) for t in reads])),
            start_date=START.replace(tzinfo=tz),
            catchup=False, max_active_runs=1, default_args=defaults,
            tags=["lakehouse", "layer", layer],
            doc_md=f"Builds the {layer} models for data date D once all of {', '.join(reads)} have "
            "published D (one run per date, partition key D). Trigger with "
            '`{"data_date": "YYYY-MM-DD"}` to build the layer for a date again, e.g. after a '
            "corrected delivery.")
        with dag:
            plan = DataDatesOperator(task_id="data_dates", retries=0)
            tasks = {m["name"]: BuildModelOperator(
                task_id=f"build_{m['name']}", model=m, manifest=manifest, manifest_path=path,
                outlets=[table_asset(m["table"])], inlets=[table_asset(m["table"])],
                trigger_rule="none_failed", owner=m["owner"])
                for m in models}
            for m in models:
                plan >> tasks[m["name"]]
                for first in m["after"]:
                    tasks[first] >> tasks[m["name"]]
        dags[dag.dag_id] = dag
    realtime = _realtime_dag(manifest, path, tz, defaults)
    if realtime is not None:
        dags[realtime.dag_id] = realtime
    for dag_id, cron, job, task_id, description, doc in HOUSEKEEPING:
        if not manifest.get(cron):
            continue
        dag = DAG(
            dag_id=dag_id, description=description,
            schedule=CronTriggerTimetable(manifest[cron], timezone=manifest["timezone"]),
            start_date=START.replace(tzinfo=tz), catchup=False, max_active_runs=1,
            default_args=defaults, tags=["lakehouse", job], doc_md=doc)
        with dag:
            HousekeepingOperator(task_id=task_id, job=job, manifest=manifest, manifest_path=path)
        dags[dag.dag_id] = dag
    return dags
