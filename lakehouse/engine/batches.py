"""Opaque handles for the rows quality rules run on.

The engine hands out a ``Batch`` and takes it back (lookups, failing samples, the split of
dropped rows); nothing outside the engine reads its rows. The one other module allowed to
unwrap a batch is ``lakehouse.quality.ge_adapter``, which gives the rows to Great Expectations.
"""

from __future__ import annotations


class Batch:
    """Rows prepared by the engine for quality rules; pass it back to the engine to use it."""

    __slots__ = ("_frame",)

    def __init__(self, frame) -> None:
        self._frame = frame

    def __repr__(self) -> str:
        return "Batch(<rows held by the engine>)"


def spark_frame(batch: Batch):
    """The Spark DataFrame behind ``batch`` (for the engine and the Great Expectations adapter
    only)."""
    if not isinstance(batch, Batch):
        raise TypeError(f"expected a lakehouse.engine.Batch, not {type(batch).__name__}")
    return batch._frame
