"""YAML files read with the 1-based line of every key and list item kept."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from ..errors import Problem


@dataclass
class YamlSource:
    """One YAML file: its round-trip tree (None if unreadable) and the problems reading it."""

    path: Path
    display: str
    tree: Any = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def data(self) -> Any:
        """The content as plain dicts, lists and scalars."""
        return to_plain(self.tree)

    def line_of(self, loc: Iterable[str | int]) -> int | None:
        """Line of the deepest existing key or item on ``loc`` (the parent's line if one is missing)."""
        node = self.tree
        line = node.lc.line + 1 if isinstance(node, CommentedMap | CommentedSeq) else None
        for part in loc:
            if isinstance(node, CommentedMap) and part in node:
                line = node.lc.key(part)[0] + 1
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                line = node.lc.item(part)[0] + 1
            else:
                break
            node = node[part]
        return line


def read_yaml(path: Path, display: str | None = None) -> YamlSource:
    """Read ``path``; an absent, empty, malformed or non-mapping file yields a located problem."""
    source = YamlSource(path, display or str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _fail(source, f"file not found: {source.display}", fix=f"create {source.display}")
    except (OSError, UnicodeDecodeError) as exc:
        return _fail(source, f"cannot read file: {exc}", fix="save it as a readable UTF-8 text file")
    try:
        source.tree = _parsed(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return _fail(
            source,
            f"YAML syntax error: {_describe(exc)}",
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            fix="correct the YAML syntax at this spot (indentation, colons, quotes, brackets)",
        )
    except YAMLError as exc:
        return _fail(source, f"YAML syntax error: {exc}", fix="correct the YAML syntax")
    if source.tree is None:
        return _fail(source, "file is empty", fix="add the configuration keys, or delete the file")
    if not isinstance(source.tree, CommentedMap):
        return _fail(
            source,
            "the file must be a mapping of keys to values",
            line=1,
            fix="write 'key: value' lines at the top level",
        )
    return source


@lru_cache(maxsize=512)
def _parsed(text: str) -> Any:
    """The round-trip tree of ``text``. Files are read each time, but a text already seen is not
    parsed again (ruamel's parser is most of a project load); trees are only read, never
    changed (``YamlSource.data`` copies)."""
    return YAML(typ="rt").load(text)


def to_plain(node: Any) -> Any:
    """A copy of a ruamel tree made of plain dict, list, str, int, float and bool."""
    if isinstance(node, dict):
        return {to_plain(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, ScalarBoolean):
        return bool(node)
    for plain in (bool, int, float, str):
        if isinstance(node, plain):
            return plain(node)
    return node


def _describe(exc: MarkedYAMLError) -> str:
    text = str(exc.problem or exc.context or "invalid YAML")
    if exc.context and exc.problem:
        started = exc.context_mark
        where = f" that starts on line {started.line + 1}" if started and started.line != exc.problem_mark.line else ""
        text += f" ({exc.context}{where})"
    return text


def _fail(source: YamlSource, message: str, *, fix: str, line: int | None = None, column: int | None = None) -> YamlSource:
    source.problems.append(Problem(message, file=source.display, line=line, column=column, fix=fix))
    return source
