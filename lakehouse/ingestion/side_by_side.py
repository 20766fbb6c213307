"""The loads of one run side by side (``lakehouse.side_by_side``): a source starts once the
tables its reference rules read have been loaded in this run; results come back in the given
order."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

from lakehouse.ingestion.t1_load import LoadContext, LoadResult, load_source
from lakehouse.side_by_side import side_by_side


def load_all(ctx: LoadContext, contracts: Sequence, data_date: date, file: Path | None,
             waits_for: Mapping[str, Sequence[str]], workers: int,
             on_result: Callable[[LoadResult], None] | None = None) -> list[LoadResult]:
    """Load ``contracts`` for ``data_date``, at most ``workers`` at a time; ``waits_for`` maps a
    source to the sources of this run that must be loaded before it starts. ``on_result`` is
    called on the calling thread as each load ends."""
    results: dict[str, LoadResult] = {}

    def done(name: str, result: LoadResult) -> None:
        ctx.store.checkpoint()
        results[name] = result
        if on_result is not None:
            on_result(result)

    ctx.store  # noqa: B018 - made here, shared by every thread's context
    side_by_side(ctx.engine, contracts, lambda c: c.name, waits_for, workers,
                 lambda engine, contract: load_source(replace(ctx, engine=engine), contract,
                                                      data_date, file),
                 done, pool="load")
    return [results[c.name] for c in contracts]
