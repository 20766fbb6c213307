"""Streaming ingestion of a real-time feed: every event once, bad events quarantined with their
reason, exactly once across a SIGKILL in the middle of a micro-batch."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from lakehouse.errors import TerminalError
from lakehouse.realtime import ingestion
from lakehouse.realtime import status as feed_status
from lakehouse.realtime.tables import checkpoint_path, events_spec, quarantine_spec
from tests.realtime_events import as_lines, card_txn, checksum, drop_file

FEED = "ccs.card_txn"
START = datetime(2026, 11, 3, 9, 0, 0)


def _landing(lakehouse) -> Path:
    return Path(lakehouse.settings.landing) / lakehouse.contract(FEED).realtime.path


def _admitted(lakehouse) -> list[dict]:
    return lakehouse.engine.rows(events_spec(lakehouse.contract(FEED), lakehouse.root))


def _quarantined(lakehouse) -> list[dict]:
    return lakehouse.engine.rows(quarantine_spec(lakehouse.contract(FEED), lakehouse.root))


def test_bad_events_are_quarantined_with_reasons_and_level3_masked(lakehouse):
    landing = _landing(lakehouse)
    good = [card_txn(i, START + timedelta(seconds=i)) for i in range(8)]
    drop_file(landing, "a.jsonl", [*as_lines(good), "{broken json", *as_lines([
        good[2], card_txn(100, START, amount="12,50"), card_txn(101, START, txn_time="yesterday")])])
    ingestion.run(lakehouse, FEED)
    late = card_txn(102, START - timedelta(hours=1))
    drop_file(landing, "b.jsonl", as_lines([card_txn(8, START + timedelta(seconds=8)), good[5], late]))
    ingestion.run(lakehouse, FEED)

    admitted = _admitted(lakehouse)
    assert checksum(admitted) == checksum([*good, card_txn(8, START + timedelta(seconds=8))])
    reasons = sorted((q["stage"], q["reason"].split(" (")[0]) for q in _quarantined(lakehouse))
    assert reasons == [
        ("duplicate", "duplicate: an event of this id was admitted by an earlier batch"),
        ("duplicate", "duplicate: its event id came twice in one batch"),
        ("late", "late: its event time is before the watermark 2026-11-03 08:50:07"),
        ("malformed", "amount is not a decimal(18,2)"),
        ("malformed", "not a JSON object"),
        ("malformed", "txn_time is not a timestamp"),
    ]
    quarantined = _quarantined(lakehouse)
    text = " ".join(str(q["row_json"]) for q in quarantined)
    assert "6228480000000000018" not in text and "622848*********0018" in text  # level 4 masked
    broken = [q for q in quarantined if q["reason"] == "not a JSON object"]
    assert broken[0]["row_json"] is None  # unparseable: kept sealed only
    assert all(q["sealed_line"].startswith("v1:") and q["raw_line"] is None for q in quarantined)

    # a checkpoint Spark cannot read: a located error with its fix, and the feed's status says so
    checkpoint = Path(checkpoint_path(lakehouse.contract(FEED), lakehouse.root))
    newest = max((checkpoint / "offsets").glob("[0-9]*"), key=lambda p: int(p.name))
    newest.write_text("v1\nnot an offset\n")
    drop_file(landing, "c.jsonl", as_lines([card_txn(9, START + timedelta(seconds=9))]))
    with pytest.raises(TerminalError) as caught:
        ingestion.run(lakehouse, FEED)
    [problem] = caught.value.problems
    assert (caught.value.summary, problem.file) == (f"feed {FEED} stopped on an error", str(checkpoint))
    assert f"`lakehouse stream run {FEED}` resumes from the checkpoint" in problem.fix
    summary = feed_status.summary(lakehouse, lakehouse.contract(FEED))
    assert summary["state"] == "failed" and summary["last_error"], summary


def _mid_batch(checkpoint: Path) -> int | None:
    """The batch whose offsets are logged but not yet committed (None: between batches)."""
    offsets = {int(p.name) for p in (checkpoint / "offsets").glob("[0-9]*")}
    commits = {int(p.name) for p in (checkpoint / "commits").glob("[0-9]*")}
    started = sorted(offsets - commits)
    return started[-1] if started and commits else None


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart_yields_every_event_exactly_once(lakehouse, project):
    landing = _landing(lakehouse)
    written: list[dict] = []
    files, per_file = 40, 100
    status = Path(lakehouse.root) / "realtime" / "_status" / f"{FEED}.json"

    def source_system():
        """Drops a file a second once the stream runs, at least ``files`` and until the stream is
        killed, so that it takes several micro-batches however slow the machine."""
        while not status.exists() and time.time() < deadline:
            time.sleep(0.2)
        n = 0
        while (n < files or not killed.is_set()) and time.time() < deadline:
            events = [card_txn(n * per_file + i, START + timedelta(seconds=n * per_file + i))
                      for i in range(per_file)]
            written.extend(events)
            # a resent event of the previous file, as at-least-once publishers do
            resent = [written[-per_file - 10]] if n else []
            drop_file(landing, f"txn_{n:03d}.jsonl", as_lines(events + resent))
            n += 1
            time.sleep(1.0)
        sent.append(n)

    killed, sent = threading.Event(), []
    deadline = time.time() + 600
    writer = threading.Thread(target=source_system)
    writer.start()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    runner = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "stream", "run", FEED, "--seconds", "600"],
        cwd=project, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    checkpoint = Path(checkpoint_path(lakehouse.contract(FEED), lakehouse.root))
    killed_in = None
    try:
        while time.time() < deadline and killed_in is None:
            batch = _mid_batch(checkpoint) if checkpoint.exists() else None
            if batch is not None and batch >= 2:
                time.sleep(random.uniform(0, 1.5))  # somewhere inside the batch
                if (checkpoint / "commits" / str(batch)).exists():
                    continue  # it finished meanwhile: wait for the next one
                os.killpg(runner.pid, signal.SIGKILL)
                killed_in = batch
                killed.set()
                events_log = Path(events_spec(lakehouse.contract(FEED), lakehouse.root).path) / "_delta_log"
                written_before_kill = any(re.search(rf"batch_id\W+{batch}\b", p.read_text())
                                          for p in events_log.glob("*.json"))
                print(f"killed in batch {batch}, its events commit {'done' if written_before_kill else 'not yet'}")
            time.sleep(0.02)
    finally:
        if killed_in is None:
            os.killpg(runner.pid, signal.SIGKILL)
        killed.set()
        runner.wait()
        writer.join()
    assert killed_in is not None, "the stream never got to a third micro-batch"
    assert not (checkpoint / "commits" / str(killed_in)).exists()

    feed = ingestion.run(lakehouse, FEED)  # restart from the checkpoint, read what is left
    assert feed.outcomes[0].batch_id == killed_in  # the killed batch is replayed first
    admitted = _admitted(lakehouse)
    assert checksum(admitted) == checksum(written)
    assert len({e["txn_id"] for e in admitted}) == len(written) == sent[0] * per_file
    duplicates = [q for q in _quarantined(lakehouse) if q["stage"] == "duplicate"]
    assert len(duplicates) == sent[0] - 1  # each resent event quarantined exactly once


@pytest.mark.slow
def test_a_batch_replayed_after_its_commit_writes_nothing_twice_and_classifies_alike(lakehouse):
    """The crash the SIGKILL test cannot aim at: after a batch's Delta commits, before the
    checkpoint records it. The restarted query runs the same batch id on the same input."""
    import json as _json

    from lakehouse.engine.streams import FeedBatches
    from lakehouse.realtime.ingestion import Quarantiner, feed_plan

    contract = lakehouse.contract(FEED)
    plan = feed_plan(lakehouse, contract)
    Path(plan.checkpoint).mkdir(parents=True)
    (Path(plan.checkpoint) / "metadata").write_text(_json.dumps({"id": "query-1"}) + "\n")
    for spec in (plan.events, plan.quarantine):
        lakehouse.engine.ensure_table(spec)
    events = [card_txn(i, START + timedelta(seconds=i)) for i in range(5)]
    lines = as_lines(events) + ["{broken", as_lines(events[:1])[0]]
    spark = lakehouse.engine.spark
    batch = spark.createDataFrame([(line, "a.jsonl") for line in lines], "value string, source_file string")

    def process(batch_frame, batch_id):
        FeedBatches(plan, Quarantiner(lakehouse, contract), lambda outcome: None)(batch_frame, batch_id)

    process(batch, 0)
    first = (lakehouse.engine.realtime.event_counts(plan.events), len(_quarantined(lakehouse)))
    process(batch, 0)  # the replay, by a fresh process
    assert (lakehouse.engine.realtime.event_counts(plan.events), len(_quarantined(lakehouse))) == first
    assert first[0][0] == 5 and first[1] == 2
    process(spark.createDataFrame([(as_lines(events[2:3])[0], "b.jsonl")], "value string, source_file string"), 1)
    assert lakehouse.engine.realtime.event_counts(plan.events) == first[0]
    assert [q["stage"] for q in _quarantined(lakehouse)].count("duplicate") == 2
