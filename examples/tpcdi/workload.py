"""Run the TPC-DI historical load and incremental batches over a data directory (Batch1/,
Batch2/, Batch3/ as the generator writes them) into a warehouse of Delta tables, each batch then
measured by the rules of ``quality_rules/`` into the framework's governance tables."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from examples.tpcdi.quality import measure, rule_files
from examples.tpcdi.sources import HISTORICAL, INCREMENTAL, contracts, read_source
from examples.tpcdi.warehouse import Warehouse, run_batch, validation
from lakehouse.governance.store import GovernanceStore


@dataclass
class BatchRun:
    batch: int
    batch_date: date
    rows_in: int
    rows_rejected: int
    parse_seconds: float
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows_in / self.seconds if self.seconds else 0.0


def batch_date(data_dir: Path, batch: int) -> date:
    return date.fromisoformat((Path(data_dir) / f"Batch{batch}" / "BatchDate.txt").read_text().strip())


def run(engine, data_dir: Path, root: Path, batches: int = 3) -> list[BatchRun]:
    """The batches on ``engine`` (a ``lakehouse.engine.Engine``) into a fresh warehouse at
    ``root``; its quality records go to ``root``/governance."""
    found, rules = contracts(), rule_files()
    shutil.rmtree(root, ignore_errors=True)  # a fresh warehouse: the historical load starts it
    wh = Warehouse(engine.spark, root)
    store = GovernanceStore(engine, str(root))
    validation(wh, 0)  # the empty warehouse's figures, before the historical load
    runs = []
    for batch in range(1, batches + 1):
        started = time.perf_counter()
        folder = Path(data_dir) / f"Batch{batch}"
        reads = {}
        for entity in (HISTORICAL if batch == 1 else INCREMENTAL):
            with timed(f"batch {batch} parse {entity}"):
                reads[entity] = read_source(found[entity], folder)
        parsed = time.perf_counter() - started
        when = batch_date(data_dir, batch)
        run_batch(wh, batch, when, reads)
        with timed(f"batch {batch} quality"):
            measure(engine, store, wh, batch, when, rules)
        runs.append(BatchRun(batch, when, sum(r.rows_in for r in reads.values()),
                             sum(len(r.rejected) for r in reads.values()), parsed,
                             time.perf_counter() - started))
    return runs


def timed(label: str):
    """Print how long a step takes (TPCDI_TRACE=1)."""
    import contextlib
    import os

    @contextlib.contextmanager
    def clock():
        started = time.perf_counter()
        yield
        if os.environ.get("TPCDI_TRACE"):
            print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)
    return clock()
