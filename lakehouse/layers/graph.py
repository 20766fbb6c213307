"""The order of layer models: every model after the models it reads."""

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


def ordered(inputs: Mapping[str, Iterable[str]], rank: Mapping[str, int] | None = None) -> list[str]:
    """The models in dependency order: of the models whose inputs are done, always the one of
    lowest ``rank`` (then name) next, so lower layers come first wherever dependencies allow.

    The graph must be acyclic (``find_cycle``); inputs that are not models are ignored.
    """
    import heapq

    rank = rank or {}
    pending = {name: {i for i in ups if i in inputs} for name, ups in inputs.items()}
    readers: dict[str, list[str]] = {name: [] for name in inputs}
    for name, ups in pending.items():
        for upstream in ups:
            readers[upstream].append(name)
    ready = [(rank.get(n, 0), n) for n, ups in pending.items() if not ups]
    heapq.heapify(ready)
    result: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        result.append(name)
        for reader in readers[name]:
            pending[reader].discard(name)
            if not pending[reader]:
                heapq.heappush(ready, (rank.get(reader, 0), reader))
    if len(result) != len(inputs):
        raise ValueError(f"dependency cycle among {sorted(set(inputs) - set(result))}")
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
