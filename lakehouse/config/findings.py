"""A problem found in one configuration file, located by its key path inside that file."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic_core import PydanticCustomError

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Finding:
    """What is wrong at ``loc`` (a key path such as ``("attributes", 2, "type")``)."""

    loc: Loc
    message: str
    value: object = None
    fix: str | None = None

    def under(self, *prefix: str | int) -> Finding:
        """The same finding, located below ``prefix``."""
        return Finding((*prefix, *self.loc), self.message, self.value, self.fix)


def key_path(loc: Iterable[str | int]) -> str:
    """``("attributes", 2, "type")`` -> ``"attributes[2].type"``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "." in part or not part:
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else part
    return text


def invalid(message: str, fix: str) -> PydanticCustomError:
    """A validation error that carries its own fix (read back by ``messages``)."""
    return PydanticCustomError("lakehouse_invalid", message, {"fix": fix})


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    if not isinstance(word, str):
        return ""
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean '{lowered[match[0]]}'?)" if match else ""


def one_of(choices: Iterable[str]) -> str:
    return ", ".join(choices)
