"""The order of layer models: the dependency graph helpers of :mod:`lakehouse.graph`."""

from lakehouse.graph import downstream, find_cycle, ordered

__all__ = ["downstream", "find_cycle", "ordered"]
