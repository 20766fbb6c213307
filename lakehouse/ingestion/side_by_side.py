"""The loads of one run side by side: a bounded pool of threads in one Spark application.

Each thread loads with its own engine session and fair-scheduler pool (``Engine.worker``), so
that one load's session settings never reach another's commit, and small loads share the cores
instead of queueing behind each other. A source starts once the tables its reference rules
read have been loaded in this run; results come back in the given order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import date
from itertools import count
from pathlib import Path

from lakehouse.ingestion.t1_load import LoadContext, LoadResult, load_source


def load_all(ctx: LoadContext, contracts: Sequence, data_date: date, file: Path | None,
             waits_for: Mapping[str, Sequence[str]], workers: int,
             on_result: Callable[[LoadResult], None] | None = None) -> list[LoadResult]:
    """Load ``contracts`` for ``data_date``, at most ``workers`` at a time; ``waits_for`` maps a
    source to the sources of this run that must be loaded before it starts. ``on_result`` is
    called on the calling thread as each load ends."""
    def done(result: LoadResult) -> LoadResult:
        ctx.store.checkpoint()
        if on_result is not None:
            on_result(result)
        return result

    if workers <= 1 or len(contracts) <= 1 or not ctx.engine.has_workers:
        return [done(load_source(ctx, contract, data_date, file)) for contract in contracts]
    ctx.store  # noqa: B018 - made here, shared by every thread's context
    local, pools = threading.local(), count(1)

    def load(contract) -> LoadResult:
        if not hasattr(local, "ctx"):
            local.ctx = replace(ctx, engine=ctx.engine.worker(f"load-{next(pools)}"))
            local.ctx.engine.enter_pool()
        return load_source(local.ctx, contract, data_date, file)

    results: dict[str, LoadResult] = {}
    waiting = list(contracts)
    running: dict[Future, str] = {}
    with ThreadPoolExecutor(workers, thread_name_prefix="load") as pool:
        while waiting or running:
            for contract in [c for c in waiting if all(w in results for w in waits_for.get(c.name, ()))]:
                if len(running) == workers:
                    break
                waiting.remove(contract)
                running[pool.submit(load, contract)] = contract.name
            if not running:
                raise ValueError("side_by_side.load_all: sources wait for each other: "
                                 + ", ".join(c.name for c in waiting))
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                results[name] = done(future.result())
    return [results[c.name] for c in contracts]
