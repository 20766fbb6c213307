"""The Kafka transport end to end against a real broker (KRaft, loopback): a feed switched to
Kafka by configuration, its stream killed with SIGKILL in the middle of a micro-batch and
restarted, every event exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from lakehouse.realtime.tables import checkpoint_path, events_spec, quarantine_spec
from tests.conftest import open_project
from tests.kafka_broker import SPARK_KAFKA, Broker, broker_jars
from tests.realtime_events import as_lines, card_txn, checksum

pytestmark = pytest.mark.slow
FEED, TOPIC = "ccs.card_txn", "ccs.card_txn"
START = datetime(2026, 11, 3, 9, 0, 0)


@pytest.fixture
def broker(tmp_path):
    jars = broker_jars()
    if jars is None:
        pytest.skip("Maven (mvn) is needed once to fetch the Kafka broker's jars")
    running = Broker(jars, tmp_path / "kafka")
    (tmp_path / "kafka").mkdir()
    running.start()
    yield running
    running.stop()


def _stream(project: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "LAKEHOUSE_EXTRA_PACKAGES": SPARK_KAFKA}
    log = open(project / f"stream_{len(list(project.glob('stream_*.log')))}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "lakehouse.cli", "stream", "run", FEED, *args],
                            cwd=project, env=env, start_new_session=True, stdout=log,
                            stderr=subprocess.STDOUT)


def _tail(project: Path) -> str:
    logs = sorted(project.glob("stream_*.log"))
    return logs[-1].read_text(errors="replace")[-3000:] if logs else ""


def _switch_to_kafka(project: Path, engine, broker):
    """The project's card-transaction feed switched to the broker's topic, registered again."""
    contract_file = project / "conf" / "sources" / "ccs" / "card_txn.yaml"
    text = contract_file.read_text().replace(
        "  transport: files ", f"  transport: kafka\n  kafka: {{bootstrap_servers: '{broker.bootstrap}', "
        f"topic: {TOPIC}}}\n  max_files_per_batch: 1  # 1,000 offsets a micro-batch\n ")
    contract_file.write_text(text)
    lh = open_project(project, engine)
    lh.register(contract_file, by="test", reason="kafka transport")
    return lh


def test_kafka_feed_killed_mid_batch_and_restarted_yields_every_event_exactly_once(
        broker, project, engine, registered_root):
    import shutil

    shutil.copytree(registered_root, project / "lakehouse_data")
    lh = _switch_to_kafka(project, engine, broker)
    written = [card_txn(i, START + timedelta(seconds=i)) for i in range(6000)]
    resent = [written[1500], written[4200]]  # an at-least-once publisher sends them again
    broker.produce(TOPIC, as_lines(written[:3000] + resent[:1] + written[3000:] + resent[1:]))

    contract = lh.contract(FEED)
    checkpoint = Path(checkpoint_path(contract, lh.root))
    runner = _stream(project, "--seconds", "900")
    killed_in, deadline = None, time.time() + 600
    try:
        while time.time() < deadline and killed_in is None and runner.poll() is None:
            offsets = {int(p.name) for p in (checkpoint / "offsets").glob("[0-9]*")} if checkpoint.exists() else set()
            commits = {int(p.name) for p in (checkpoint / "commits").glob("[0-9]*")} if checkpoint.exists() else set()
            started = sorted(offsets - commits)
            if started and started[-1] >= 2:
                os.killpg(runner.pid, signal.SIGKILL)
                killed_in = started[-1]
            time.sleep(0.05)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
        runner.wait()
    assert killed_in is not None, "the stream never got to a third micro-batch"

    restart = _stream(project, "--until-idle")
    assert restart.wait(600) == 0, _tail(project)
    admitted = engine.rows(events_spec(contract, lh.root))
    assert checksum(admitted) == checksum(written)
    assert all(e["source_file"].startswith(f"{TOPIC}/0@") for e in admitted)
    duplicates = [q for q in engine.rows(quarantine_spec(contract, lh.root)) if q["stage"] == "duplicate"]
    assert len(duplicates) == 2


def test_kafka_feed_streams_every_event_once_with_duplicates_quarantined(
        broker, project, engine, registered_root):
    import shutil

    shutil.copytree(registered_root, project / "lakehouse_data")
    lh = _switch_to_kafka(project, engine, broker)
    written = [card_txn(i, START + timedelta(seconds=i)) for i in range(3000)]
    broker.produce(TOPIC, as_lines(written[:1500] + [written[700]] + written[1500:] + ["{broken"]))
    run = _stream(project, "--until-idle")
    assert run.wait(600) == 0, _tail(project)
    contract = lh.contract(FEED)
    admitted = engine.rows(events_spec(contract, lh.root))
    assert checksum(admitted) == checksum(written)
    stages = sorted(q["stage"] for q in engine.rows(quarantine_spec(contract, lh.root)))
    assert stages == ["duplicate", "malformed"]
