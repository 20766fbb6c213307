"""Where the real-time zone keeps a feed's data: its events table, its quarantine, its
checkpoint and its status, all under ``<root>/realtime``."""

from __future__ import annotations

from lakehouse.governance import tables as governance
from lakehouse.security.at_rest import stats_columns
from lakehouse.security.column_levels import source_levels
from lakehouse.zones import Zone, zone_path
from lakehouse.zones.tables import Column, TableSpec, attribute_columns

EVENT_COLUMNS = (
    Column("event_id", "string", "事件标识 / event id (business: the event's id; change: the log position)",
           nullable=False),
    Column("event_time", "timestamp_ntz", "事件时间 / when the event happened at the source (wall clock, lakehouse time zone)"),
    Column("op", "string", "变更类型 / create, update, delete or snapshot (change events; business: create)"),
    Column("log_file", "string", "日志文件 / source log file or partition (change events)"),
    Column("log_pos", "bigint", "日志位置 / position in the source log (change events)"),
    Column("source_file", "string", "来源 / the landing file, or kafka topic/partition@offset"),
    Column("ingest_batch", "bigint", "微批次 / the micro-batch that ingested the event", nullable=False),
    Column("ingested_at", "timestamp", "入湖时间 / when the event became visible in the zone"),
    Column("data_date", "date", "数据日期 / the event's date in the lakehouse time zone", nullable=False),
)
TECHNICAL_LEVEL = 1


def events_name(contract) -> str:
    return f"{contract.table_name}_events"


def events_spec(contract, root: str) -> TableSpec:
    """The feed's events table: every admitted event once, partitioned by its data date."""
    columns = attribute_columns(contract)
    columns += EVENT_COLUMNS
    levels = {**source_levels(contract), **{c.name: TECHNICAL_LEVEL for c in EVENT_COLUMNS}}
    stats = stats_columns(levels, [(c.name, c.spark_type) for c in columns], ("data_date",))
    return TableSpec(
        name=events_name(contract), zone=Zone.REALTIME.value, layer=None,
        path=zone_path(root, Zone.REALTIME, events_name(contract)),
        columns=tuple(columns), partition_by=("data_date",), load_type="append",
        keys=("event_id",), comment=f"real-time {contract.realtime.kind.replace('_', ' ')} of {contract.name}",
        properties={"lakehouse.source": contract.name, "lakehouse.owner": contract.owner,
                    "lakehouse.security_level": str(contract.table_level),
                    "lakehouse.feed": contract.realtime.kind, **stats})


def quarantine_spec(contract, root: str) -> TableSpec:
    """The governance quarantine of the feed (``governance.quarantine_<system>_<entity>_events``)."""
    return governance.quarantine(root, events_name(contract))


def checkpoint_path(contract, root: str, suffix: str = "") -> str:
    return zone_path(root, Zone.REALTIME, "_checkpoints", events_name(contract) + suffix)


def status_path(contract, root: str) -> str:
    return zone_path(root, Zone.REALTIME, "_status", f"{contract.name}.json")
