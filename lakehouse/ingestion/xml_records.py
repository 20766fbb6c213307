"""XML deliveries: one row per element at the contract's record path, each attribute read at its
path inside that element (a child element's text or an ``@attribute``), nested levels flattened.

The document is streamed through expat, so a record keeps its line and its bytes as delivered.
A record in which a field's path occurs more than once is rejected with the reason (one row
cannot hold two values); a document that is not well-formed is a ``DeliveryError`` naming the
line and column.
"""

from __future__ import annotations

from collections.abc import Iterator
from xml.parsers import expat

from lakehouse.errors import DeliveryError, Problem


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def _steps(path: str) -> tuple[str, ...]:
    return tuple(_local(step) for step in path.split("/") if step)


def xml_records(data: bytes, contract, file: str) -> Iterator[tuple[int, int, str, dict | str]]:
    """(line, record number, raw record, {attribute: text} or a rejection reason) per record."""
    spec = contract.delivery.xml
    record_path = _steps(spec.record_path)
    elements: dict[tuple[str, ...], str] = {}  # element path inside the record -> attribute
    attributes: dict[tuple[tuple[str, ...], str], str] = {}
    for name, path in spec.fields.items():
        steps = _steps(path)
        if steps and steps[-1].startswith("@"):
            attributes[(steps[:-1], steps[-1][1:])] = name
        else:
            elements[steps] = name
    depth = len(record_path)
    stack: list[str] = []
    state: dict = {}
    done: list[tuple[int, int, str, dict | str]] = []
    parser = expat.ParserCreate()
    parser.buffer_text = True

    def start(tag: str, attrs: dict) -> None:
        stack.append(_local(tag))
        if len(stack) == depth and tuple(stack) == record_path:
            state.update(line=parser.CurrentLineNumber, at=parser.CurrentByteIndex,
                         values={}, seen={}, text=None)
        if not state or len(stack) < depth:
            return
        inner = tuple(stack[depth:])
        for attr, value in attrs.items():
            name = attributes.get((inner, _local(attr)))
            if name is not None:
                _put(state, name, value, inner, attr)
        if inner in elements:
            state["text"] = (elements[inner], inner, [])

    def text(data: str) -> None:
        if state and state.get("text") is not None:
            state["text"][2].append(data)

    def end(tag: str) -> None:
        if state and len(stack) > depth and state.get("text") and state["text"][1] == tuple(stack[depth:]):
            name, inner, parts = state["text"]
            _put(state, name, "".join(parts).strip() or None, inner, None)
            state["text"] = None
        if state and len(stack) == depth and tuple(stack) == record_path:
            stop = parser.CurrentByteIndex + len(f"</{tag}>".encode())
            raw = data_bytes[state["at"]:stop].decode("utf-8", errors="replace")
            number = len(done) + 1
            repeated = [n for n, count in state["seen"].items() if count > 1]
            if repeated:
                reason = (f"field {repeated[0]!r} ({spec.fields[repeated[0]]}) occurs "
                          f"{state['seen'][repeated[0]]} times in one record; one row holds one value")
                done.append((state["line"], number, raw, reason))
            else:
                done.append((state["line"], number, raw, state["values"]))
            state.clear()
        stack.pop()

    data_bytes = data
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    chunk, count = 1 << 20, 0
    try:
        for offset in range(0, len(data), chunk):
            parser.Parse(data[offset:offset + chunk], False)
            count += len(done)
            yield from done
            done.clear()
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise DeliveryError(f"delivery {file} is not well-formed XML", [Problem(
            expat.ErrorString(exc.code), file, exc.lineno, column=exc.offset + 1,
            fix="ask the source system to redeliver the document; records before this point "
            "are not loaded from a broken document")]) from None
    count += len(done)
    yield from done
    if not count:
        source = str(getattr(contract, "source_file", None) or "the contract")
        raise DeliveryError(f"delivery {file} has no element at {spec.record_path}", [Problem(
            f"no record at record_path {spec.record_path!r}", file,
            fix=f"correct delivery.xml.record_path in {source} or redeliver the document")])


def _put(state: dict, name: str, value: str | None, inner, attr) -> None:
    state["seen"][name] = state["seen"].get(name, 0) + 1
    state["values"][name] = value
