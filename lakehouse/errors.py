"""One exception family for the framework.

Every error says where the problem is and how to fix it. ``TerminalError`` means retrying
cannot help (bad input, rejected admission); ``TransientError`` means a retry may succeed
(storage or cluster hiccups). Orchestration decides retries from this split alone; an exception
the framework did not raise on purpose is transient only when ``transient_family`` names its
family (network, storage I/O, a lost Spark connection, a busy table), otherwise it is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One located problem: where it is, what is wrong, and how to fix it."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | str | None = None
    key: str | None = None
    value: object = None
    fix: str | None = None

    def location(self) -> str:
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        return ", ".join(parts)

    def render(self) -> str:
        head = self.location()
        text = f"{head}: {self.message}" if head else self.message
        if self.key:
            text += f"\n    key: {self.key}"
        if self.value is not None:
            text += f"\n    value: {self.value!r}"
        if self.fix:
            text += f"\n    fix: {self.fix}"
        return text


class LakehouseError(Exception):
    """Base of every error the framework raises on purpose."""

    transient = False

    def __init__(self, summary: str, problems: list[Problem] | None = None):
        self.summary = summary
        self.problems = list(problems or [])
        super().__init__(self.render())

    def render(self) -> str:
        if not self.problems:
            return self.summary
        body = "\n".join(f"  - {p.render()}".replace("\n", "\n  ") for p in self.problems)
        return f"{self.summary}\n{body}"


class TerminalError(LakehouseError):
    """Retrying will not help: the input or the configuration must change."""


class TransientError(LakehouseError):
    """A retry may succeed (storage, network or cluster trouble)."""

    transient = True


class ConfigError(TerminalError):
    """The configuration in ``conf/`` is invalid; ``problems`` lists every error found."""


class DeliveryError(TerminalError):
    """A delivered file cannot be loaded as a whole; the target table is left unchanged."""


# -- unexpected exceptions -----------------------------------------------------------------------

NETWORK = "network or connection trouble"
STORAGE = "storage or I/O trouble"
SPARK_CONNECTION = "the connection to Spark (its JVM or cluster) was lost"
TABLE_BUSY = "the table is busy (another run holds it, or a concurrent Delta commit won)"

_WRONG_PATH = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
               PermissionError)
"""I/O errors a retry cannot fix: a wrong path or missing rights."""
_SPARK_CONNECTION_LOST = {"py4j.protocol.Py4JNetworkError"}
_CONCURRENT_COMMIT_MODULE = "delta.exceptions"


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (the rest stays in the logged traceback)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def transient_family(exc: BaseException) -> str | None:
    """The known family of passing trouble ``exc`` belongs to, where a retry may succeed:
    network or connection errors, storage I/O errors, a lost Spark/JVM connection (py4j), a busy
    table (``TableBusy``, a concurrent Delta commit) or another ``TransientError``. None for
    anything else: a terminal error or an unexpected one (a bug, not worth a retry)."""
    from lakehouse.zones.locks import TableBusy  # the locks module imports this one

    if isinstance(exc, TableBusy):
        return TABLE_BUSY
    if isinstance(exc, LakehouseError):
        return f"transient {type(exc).__name__}" if exc.transient else None
    for cls in type(exc).__mro__:  # matched by name: only the engine imports Spark and py4j
        if f"{cls.__module__}.{cls.__qualname__}" in _SPARK_CONNECTION_LOST:
            return SPARK_CONNECTION
        if cls.__module__.startswith(_CONCURRENT_COMMIT_MODULE):
            return TABLE_BUSY
    if isinstance(exc, ConnectionError | TimeoutError):
        return NETWORK
    if isinstance(exc, OSError) and not isinstance(exc, _WRONG_PATH):
        return STORAGE
    return None
