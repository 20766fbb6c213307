"""Dependency graphs given as ``name -> the names it reads``: their cycles and their order
(layer models after the models they read, sources after the tables their rules look up)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def find_cycle(inputs: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A dependency cycle among the models (``model -> its inputs``) as a path, or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, path: list[str]) -> list[str] | None:
        if state.get(name) == 2 or name not in inputs:
            return None
        if state.get(name) == 1:
            return path[path.index(name):] + [name]
        state[name] = 1
        for upstream in inputs[name]:
            found = visit(upstream, [*path, name])
            if found:
                return found
        state[name] = 2
        return None

    for name in inputs:
        found = visit(name, [])
        if found:
            return found
    return None


def ordered(inputs: Mapping[str, Iterable[str]], rank: Mapping[str, int] | None = None, *,
            break_cycles: bool = False) -> list[str]:
    """The names in dependency order: of the names whose inputs are done, always the one of
    lowest ``rank`` (then name) next, so lower layers come first wherever dependencies allow.

    Inputs that are not names of the graph are ignored. A cycle raises ``ValueError``; with
    ``break_cycles``, the lowest-ranked name still waiting goes next instead.
    """
    import heapq

    rank = rank or {}

    def key(name: str) -> tuple[int, str]:
        return rank.get(name, 0), name

    pending = {name: {i for i in ups if i in inputs} for name, ups in inputs.items()}
    readers: dict[str, list[str]] = {name: [] for name in inputs}
    for name, ups in pending.items():
        for upstream in ups:
            readers[upstream].append(name)
    ready = [key(n) for n, ups in pending.items() if not ups]
    heapq.heapify(ready)
    result: list[str] = []
    while len(result) < len(inputs):
        if not ready:
            waiting = sorted(set(inputs) - set(result))
            if not break_cycles:
                raise ValueError(f"dependency cycle among {waiting}")
            forced = min(waiting, key=key)
            pending[forced].clear()
            heapq.heappush(ready, key(forced))
        _, name = heapq.heappop(ready)
        result.append(name)
        for reader in readers[name]:
            if name in pending[reader]:
                pending[reader].discard(name)
                if not pending[reader]:
                    heapq.heappush(ready, key(reader))
    return result


def downstream(inputs: Mapping[str, Iterable[str]], tables: Iterable[str]) -> set[str]:
    """The models that read any of ``tables``, directly or through other models."""
    found: set[str] = set()
    frontier = set(tables)
    while frontier:
        nxt = {name for name, ups in inputs.items() if name not in found and frontier & set(ups)}
        found |= nxt
        frontier = nxt
    return found
