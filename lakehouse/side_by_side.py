"""Independent pieces of work of one Spark application side by side: a bounded pool of threads.

Each thread works with its own engine session and fair-scheduler pool (``Engine.worker``), so
that the settings one piece of work changes for a while (a commit's metadata) stay its own, and
small pieces share the cores instead of queueing behind each other. A piece starts once the
pieces it waits for are done; ``done`` sees each result on the calling thread as it comes.
Used by the loads of a run (``ingestion.side_by_side``) and the models of a layer build.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from itertools import count
from typing import Any, TypeVar

T = TypeVar("T")


def side_by_side(engine, items: Sequence[T], name_of: Callable[[T], Hashable],
                 waits_for: Mapping[Hashable, Sequence[Hashable]], workers: int,
                 work: Callable[[Any, T], Any], done: Callable[[Hashable, Any], None],
                 pool: str = "work") -> None:
    """Run ``work(engine_of_the_thread, item)`` for every item, at most ``workers`` at a time;
    ``waits_for`` maps an item's name to the names of items that must be done before it starts
    (names of other items only). ``done(name, result)`` is called on the calling thread.

    With one worker, one item, or an engine that cannot make workers (Spark Connect), the items
    run one after another on the calling thread with ``engine``, in the given order (which must
    then put every item after those it waits for)."""
    if workers <= 1 or len(items) <= 1 or not engine.has_workers:
        for item in items:
            done(name_of(item), work(engine, item))
        return
    local, pools = threading.local(), count(1)

    def run(item: T):
        if not hasattr(local, "engine"):
            local.engine = engine.worker(f"{pool}-{next(pools)}")
            local.engine.enter_pool()
        return work(local.engine, item)

    finished: set[Hashable] = set()
    waiting = list(items)
    running: dict[Future, Hashable] = {}
    with ThreadPoolExecutor(workers, thread_name_prefix=pool) as executor:
        while waiting or running:
            for item in [i for i in waiting if all(w in finished for w in waits_for.get(name_of(i), ()))]:
                if len(running) == workers:
                    break
                waiting.remove(item)
                running[executor.submit(run, item)] = name_of(item)
            if not running:
                raise ValueError("side_by_side: items wait for each other: "
                                 + ", ".join(str(name_of(i)) for i in waiting))
            completed, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in completed:
                name = running.pop(future)
                done(name, future.result())
                finished.add(name)
