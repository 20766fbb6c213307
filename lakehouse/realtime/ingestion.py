"""Streaming ingestion of a source's real-time feed into the real-time zone (6.2.3 c, 6.3.1.1).

A feed is admitted like a delivery before its query starts (owner, standard, certified source,
classification, metadata: the static checks of the contract), and its quality is measured per
micro-batch: every event that is malformed (validity, completeness), a duplicate (uniqueness)
or late (timeliness) goes to the feed's quarantine with its reason, level-3+ values masked
and the line as it arrived kept sealed, never dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lakehouse.admission import checks as admission
from lakehouse.engine.streams import REASON, VALUE, BatchOutcome, FeedPlan, FeedQuery
from lakehouse.errors import ConfigError, LakehouseError, Problem, TerminalError, first_line
from lakehouse.governance.records import QuarantineRecord
from lakehouse.realtime import status as feed_status
from lakehouse.realtime.tables import checkpoint_path, events_spec, quarantine_spec
from lakehouse.security.keys import for_project
from lakehouse.security.masking import mask_row, masked_attributes
from lakehouse.security.sealing import QUARANTINE_LINE, seal
from lakehouse.zones.tables import join_path

DIMENSIONS = {"malformed": "validity", "duplicate": "uniqueness", "late": "timeliness"}


def feed_contract(lakehouse, name: str):
    """The contract ``name`` (system.entity), which must declare a real-time feed."""
    contract = lakehouse.contract(name)
    if contract.realtime is None:
        with_feeds = [c.name for c in lakehouse.project.sources.values() if c.realtime is not None]
        raise ConfigError(f"{name} has no real-time feed", [Problem(
            "its contract declares no `realtime` section", file=contract.source_file, key="realtime",
            fix=f"declare one (README, Real-time zone) or use a source with a feed: "
                f"{', '.join(with_feeds) or 'none yet'}")])
    return contract


def feed_plan(lakehouse, contract, checks: bool = True) -> FeedPlan:
    """What the engine needs to run ``contract``'s feed in ``lakehouse``."""
    feed, root = contract.realtime, lakehouse.root
    required = set(contract.keys) | {a.name for a in contract.attributes if not a.nullable}
    event_id = feed.event_id or (contract.keys[0] if len(contract.keys) == 1 else None)
    kafka = {}
    if feed.transport == "kafka":
        kafka = {"kafka.bootstrap.servers": feed.kafka.bootstrap_servers, "subscribe": feed.kafka.topic,
                 "startingOffsets": feed.kafka.starting_offsets,
                 "maxOffsetsPerTrigger": str(feed.max_files_per_batch * 1000)}
    return FeedPlan(
        name=contract.name, kind=feed.kind, transport=feed.transport,
        attributes=tuple((a.name, a.spark_type, a.name in required, a.type) for a in contract.attributes),
        events=events_spec(contract, root), quarantine=quarantine_spec(contract, root),
        checkpoint=checkpoint_path(contract, root, "" if checks else "_unchecked"),
        source_path=join_path(lakehouse.settings.landing, feed.path) if feed.path else None,
        kafka=kafka, event_id=event_id if feed.kind == "business_events" else None,
        event_time=feed.event_time, watermark_seconds=feed.watermark_seconds,
        trigger_seconds=feed.trigger_seconds, max_files_per_batch=feed.max_files_per_batch,
        checks=checks)


def admit_feed(lakehouse, contract) -> admission.Decision:
    """The static admission checks of the feed's contract today; raises ``AdmissionRejected``
    when one fails (the feed does not start)."""
    from lakehouse.admission.registration import latest_registrations

    registered = latest_registrations(lakehouse.engine, lakehouse.root).get(contract.name)
    decision = feed_decision(lakehouse.project, contract, lakehouse.today(), registered,
                             admission.CheckResult("quality", admission.NOT_RUN, {
                                 "note": "measured per micro-batch: malformed, duplicate and late "
                                         "events are quarantined"}))
    if decision.failed:
        raise decision.rejection(f"real-time feed of {contract.name}")
    return decision


def feed_decision(project, contract, day, registered, quality: admission.CheckResult
                  ) -> admission.Decision:
    """The admission decision on ``contract``'s feed at ``day``: the static checks against its
    registration ``registered`` (None when unregistered), and ``quality`` as the quality check."""
    checks = admission.static_checks(project, contract, day, registered)
    checks["quality"] = quality
    return admission.Decision(contract.name, day, contract.content_hash,
                              registered.version if registered else None, checks)


@dataclass
class Quarantiner:
    """Turns a batch's rejected events into quarantine records: the event's values as JSON with
    level-3+ attributes masked (none when it could not be parsed), and the line as it arrived,
    sealed, so that nothing is lost and nothing of level 3+ is kept in clear."""

    lakehouse: object
    contract: object

    def __call__(self, rejected: list[dict], batch_id: int) -> list[dict]:
        contract, project = self.contract, self.lakehouse.project
        masked = masked_attributes(project, contract.attributes)
        keys, now = for_project(project), datetime.now()
        table = quarantine_spec(contract, self.lakehouse.root).qualified_name
        names = [a.name for a in contract.attributes]
        rows = []
        for event in rejected:
            reason = event[REASON]
            stage = reason.split(":")[0] if reason.startswith(("late", "duplicate")) else "malformed"
            parsed = stage != "malformed" or any(event.get(n) is not None for n in names)
            values = {n: event.get(n) for n in names}
            rows.append(QuarantineRecord(
                source=contract.name, table_name=table, data_date=event.get("data_date"),
                run_id=f"batch {batch_id}", file_name=event.get("source_file"), line=None,
                stage=stage, rule=None, dimension=DIMENSIONS[stage], reason=reason, raw_line=None,
                sealed_line=seal(keys, QUARANTINE_LINE, event[VALUE] or "", table),
                row_json=json.dumps({"event_id": event.get("event_id"), **mask_row(values, masked)},
                                    default=str, ensure_ascii=False) if parsed else None,
                key_hash=None, quarantined_at=now, readmitted_run=None).as_row())
        return rows


def start(lakehouse, name: str, available_now: bool = False, checks: bool = True) -> FeedQuery:
    """Admit the feed of source ``name`` and start its streaming query; its status file is kept
    up to date after every batch (``lakehouse stream status``)."""
    contract = feed_contract(lakehouse, name)
    if checks:
        admit_feed(lakehouse, contract)
    plan = feed_plan(lakehouse, contract, checks)
    if plan.source_path and "://" not in plan.source_path:
        Path(plan.source_path).mkdir(parents=True, exist_ok=True)
    status = feed_status.StatusFile(contract, lakehouse.root)
    status.started(plan)

    def on_batch(outcome: BatchOutcome) -> None:
        status.batch(outcome)

    try:
        feed = lakehouse.engine.realtime.start_feed(plan, Quarantiner(lakehouse, contract), on_batch,
                                                    available_now)
    except Exception as error:
        status.failed(error)
        raise
    feed.status = status
    return feed


def run(lakehouse, name: str, available_now: bool = True, seconds: float | None = None) -> FeedQuery:
    """Run the feed until it has read everything there (``available_now``) or for ``seconds``;
    records an error in the feed's status before raising it."""
    # Spark's Kafka source cannot restart an available-now query whose last batch was not
    # committed (it fails on the offsets it planned): a Kafka feed is drained with the feed's
    # own trigger instead, and stopped when a micro-batch finds nothing new
    contract = feed_contract(lakehouse, name)
    drain = available_now and contract.realtime.transport == "kafka"
    checkpoint = checkpoint_path(contract, lakehouse.root)
    with stream_errors(f"feed {name}", f"lakehouse stream run {name}", checkpoint):
        feed = start(lakehouse, name, available_now=available_now and not drain)
    with stream_errors(f"feed {name}", f"lakehouse stream run {name}", checkpoint, feed.status):
        if drain:
            _drain(feed)
        elif available_now:
            feed.wait()
        else:
            feed.wait(seconds)
            feed.stop()
    feed.status.stopped()
    return feed


@contextmanager
def stream_errors(what: str, rerun: str, checkpoint: str, status=None) -> Iterator[None]:
    """A streaming query's failure inside (Spark's ``StreamingQueryException``, a failed
    micro-batch) recorded in ``status`` and raised as a located error with its fix; the
    framework's own errors pass as they are."""
    try:
        yield
    except Exception as error:
        if status is not None:
            status.failed(error)
        if isinstance(error, LakehouseError):
            raise
        raise TerminalError(f"{what} stopped on an error", [Problem(
            first_line(error), checkpoint,
            fix=f"see `lakehouse stream status` and the log; once the cause is fixed, `{rerun}` "
                "resumes from the checkpoint (each event once); --debug shows the traceback")]
        ) from error


def _drain(feed: FeedQuery, poll_seconds: float = 0.5) -> None:
    """Wait until the query reports a trigger that read no input, then stop it."""
    while feed.active:
        progress = feed.query.recentProgress
        if progress and progress[-1].get("numInputRows", 0) == 0:
            feed.stop()
            break
        feed.wait(poll_seconds)
    error = feed.query.exception()
    if error is not None:
        raise error
