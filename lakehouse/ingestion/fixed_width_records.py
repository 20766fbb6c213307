"""Multi-record fixed-width deliveries: the record-type field at a fixed position decides which
layout (field order and widths) a record has. A layout's last field may take the rest of the
record, so a variable-length tail is read as delivered.

Attributes a record's layout does not carry are null in its row. A record whose type has no
layout is rejected with the reason, unless the contract lists the type among
``other_record_types`` (loaded by another contract from the same file): those are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator


def multi_record_fixed_width(data: bytes, contract, file: str
                             ) -> Iterator[tuple[int, int, str, list | str]]:
    """(line, record number, raw record, values in attribute order or a rejection reason)."""
    spec = contract.delivery.records
    encoding = contract.delivery.encoding
    names = [a.name for a in contract.attributes]
    index = {name: i for i, name in enumerate(names)}
    first, last = spec.record_type.start - 1, spec.record_type.start - 1 + spec.record_type.width
    layouts = {kind.encode(encoding): [(index[name], width) for name, width in layout.items()]
               for kind, layout in spec.layouts.items()}
    sizes = {kind: (sum(w or 0 for _, w in layout), layout[-1][1] is None)
             for kind, layout in layouts.items()}
    skipped = {kind.encode(encoding) for kind in spec.other_record_types}
    known = ", ".join(sorted(spec.layouts))
    for number, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        kind = raw[first:last].strip()
        if kind in skipped:
            continue
        layout = layouts.get(kind)
        if layout is None:
            yield number, number, raw.decode(encoding, errors="replace"), (
                f"record type {kind.decode(encoding, errors='replace')!r} at bytes "
                f"{first + 1}-{last} has no layout (known: {known})")
            continue
        size, open_tail = sizes[kind]
        if (len(raw) < size) if open_tail else (len(raw) != size):
            expected = f"at least {size}" if open_tail else str(size)
            yield number, number, raw.decode(encoding, errors="replace"), (
                f"{kind.decode(encoding)} record is {len(raw)} bytes, expected {expected}")
            continue
        values: list[str | None] = [None] * len(names)
        start = 0
        try:
            for position, width in layout:
                end = len(raw) if width is None else start + width
                values[position] = raw[start:end].decode(encoding).strip()
                start = end
        except UnicodeDecodeError:
            yield number, number, raw.decode(encoding, errors="replace"), (
                f"a multi-byte character is split at byte {start + 1}: misaligned")
            continue
        yield number, number, raw.decode(encoding), values
