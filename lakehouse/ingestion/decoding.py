"""Delivered bytes as text: the declared encoding, byte-order marks, bytes that do not decode.

A data file and a control file are decoded the same way. Encoding problems are named in words
("a UTF-8 byte-order mark"), never as a Python escape such as ``'\\ufeff'``.
"""

from __future__ import annotations

from lakehouse.errors import DeliveryError, Problem

MAX_LISTED = 20
BOM = "\ufeff"
UTF8_BOM = b"\xef\xbb\xbf"
UTF8_BOM_WORDS = "a UTF-8 byte-order mark"
_OTHER_BOMS = {  # the marks of encodings a contract cannot declare
    b"\xff\xfe": "a UTF-16 (little-endian) byte-order mark",
    b"\xfe\xff": "a UTF-16 (big-endian) byte-order mark",
}


def decode(data: bytes, encoding: str, file: str, what: str = "delivery") -> str:
    """``data`` as text in ``encoding``, without a leading UTF-8 byte-order mark (see
    ``without_bom``); undecodable bytes are refused with their line and byte column."""
    body = without_bom(data, encoding, file, what)
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _undecodable(body, encoding, file, what, len(data) - len(body)) from exc


def without_bom(data: bytes, encoding: str, file: str, what: str = "delivery") -> bytes:
    """``data`` without a leading UTF-8 byte-order mark when the encoding is utf-8. Any other
    mark says the file is in another encoding than the contract declares: refused, named."""
    if data.startswith(UTF8_BOM):
        if encoding == "utf-8":
            return data[len(UTF8_BOM):]
        found, actual = UTF8_BOM_WORDS, "UTF-8"
        fix = (f"deliver the file in {encoding} (without the mark), or declare the encoding it "
               "really has in the contract (delivery.encoding: utf-8)")
    else:
        mark = next((m for m in _OTHER_BOMS if data.startswith(m)), None)
        if mark is None:
            return data
        found, actual = _OTHER_BOMS[mark], "UTF-16"
        fix = f"deliver the file in {encoding}; a contract declares utf-8 or gbk, not UTF-16"
    raise DeliveryError(
        f"{what} {file} starts with {found}: it is {actual}, the contract declares {encoding}",
        [Problem(f"the file starts with {found}, so it is written in {actual}", file, line=1,
                 column=1, fix=fix)])


def shown(text: str) -> str:
    """``text`` quoted for a message, a byte-order mark in it named in words."""
    if BOM not in text:
        return repr(text)
    return f"{text.replace(BOM, '')!r} (with {UTF8_BOM_WORDS} in it)"


def _undecodable(data: bytes, encoding: str, file: str, what: str, skipped: int) -> DeliveryError:
    bad_lines = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode(encoding)
        except UnicodeDecodeError as exc:
            bad_lines.append((number, exc))
    problems = [
        Problem(
            f"bytes {raw_bytes(e)} are not valid {encoding}", file, line=number,
            column=e.start + 1 + (skipped if number == 1 else 0),
            fix=f"deliver the file in {encoding}, or declare the encoding it really has "
            "(delivery.encoding: utf-8 or gbk) in the contract",
        )
        for number, e in bad_lines[:MAX_LISTED]
    ]
    more = len(bad_lines) - len(problems)
    summary = f"{what} {file} is not valid {encoding} ({len(bad_lines)} lines affected"
    summary += f", first {MAX_LISTED} listed)" if more > 0 else ")"
    return DeliveryError(summary, problems)


def raw_bytes(exc: UnicodeDecodeError) -> str:
    return " ".join(f"0x{b:02X}" for b in exc.object[exc.start : exc.end])
