"""The real-time zone's Spark and Delta work, behind ``Engine.realtime``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from pyspark.sql import functions as F

from lakehouse.engine import streams
from lakehouse.engine.delta_tables import DeltaTables
from lakehouse.zones.tables import TableSpec


class RealtimeOps:
    """Streaming feeds, change events, current-state views and reconciliation on one session."""

    def __init__(self, spark, delta: DeltaTables):
        self.spark, self.delta = spark, delta

    # -- streaming ingestion -----------------------------------------------------------------
    def start_feed(self, plan: streams.FeedPlan, on_rejected: Callable[[list[dict], int], list[dict]],
                   on_batch: Callable[[streams.BatchOutcome], None], available_now: bool = False
                   ) -> streams.FeedQuery:
        """Start the feed's streaming query into its events table (created when missing)."""
        self.delta.ensure(plan.events)
        self.delta.ensure(plan.quarantine)
        return streams.start_feed(self.spark, plan, on_rejected, on_batch, available_now)

    def batch_commits(self, spec: TableSpec, limit: int = 20) -> list[dict[str, Any]]:
        """The newest ``limit`` commits of an events table that recorded a micro-batch: the
        batch's counts with the commit's time, newest first."""
        from delta.tables import DeltaTable
        import json

        if not self.delta.exists(spec.path):
            return []
        history = DeltaTable.forPath(self.spark, spec.path).history(limit)
        found = []
        for row in history.select("version", "timestamp", "userMetadata").collect():
            try:
                meta = json.loads(row["userMetadata"] or "{}").get("lakehouse") or {}
            except ValueError:
                continue
            if "batch_id" in meta:
                found.append({**meta, "version": int(row["version"]), "committed_at": row["timestamp"]})
        return found

    def event_counts(self, spec: TableSpec, where: str | None = None) -> tuple[int, int]:
        """Rows and an order-independent checksum of the events' ids and attribute values."""
        frame = self.delta.read(spec.path)
        if where:
            frame = frame.filter(where)
        columns = [c for c in spec.column_names if c not in ("ingest_batch", "ingested_at", "source_file")]
        row = frame.select(F.count(F.lit(1)), F.sum(F.xxhash64(*columns).cast("decimal(38,0)"))).first()
        return int(row[0]), int(row[1] or 0)

    def dates_of(self, spec: TableSpec) -> list[date]:
        if not self.delta.exists(spec.path):
            return []
        return sorted(r[0] for r in self.delta.read(spec.path).select("data_date").distinct().collect())
