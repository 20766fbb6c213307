"""The resident engine: one process holds the SparkSession, Airflow tasks send it work.

A JVM with Delta Lake takes seconds to start; a task that started its own would pay that every
time. ``lakehouse engine serve`` starts Spark once (embedded ``local[*]``, or a cluster: the
``spark`` settings of ``conf/lakehouse.yaml`` decide) and answers requests on
``orchestration.engine_address``; a task connects, sends ``{"op": "load", ...}`` and waits.

The connection is authenticated (HMAC, ``multiprocessing.connection``) with the key in
``$LAKEHOUSE_ENGINE_KEY`` or ``~/.config/lakehouse/engine.key`` (made on first serve, mode 600).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from multiprocessing.connection import Client, Listener
from pathlib import Path

from lakehouse.errors import Problem, TransientError

log = logging.getLogger(__name__)
KEY_FILE = Path.home() / ".config" / "lakehouse" / "engine.key"


def parse_address(address: str) -> tuple[str, int] | str:
    """``host:port`` for TCP, anything with a ``/`` for a Unix socket path."""
    if "/" in address:
        return address
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def engine_key(create: bool = False) -> bytes:
    if os.environ.get("LAKEHOUSE_ENGINE_KEY"):
        return os.environ["LAKEHOUSE_ENGINE_KEY"].encode()
    if not KEY_FILE.is_file() and create:
        KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(KEY_FILE, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    try:
        return KEY_FILE.read_text().strip().encode()
    except OSError:
        raise TransientError("no key for the engine service", [Problem(
            "the engine key is missing", str(KEY_FILE),
            fix="start `lakehouse engine serve` (it creates the key) or set LAKEHOUSE_ENGINE_KEY")]) from None


class EngineServer:
    """Accepts connections and answers each on its own thread; the work itself runs one
    request at a time (``operations.execute`` holds the engine's lock)."""

    def __init__(self, address: str):
        self.address = address
        self._listener = Listener(parse_address(address), authkey=engine_key(create=True))
        self._stopped = threading.Event()

    def serve_forever(self) -> None:
        log.info("lakehouse engine serving on %s (pid %s)", self.address, os.getpid())
        while not self._stopped.is_set():
            try:
                conn = self._listener.accept()
            except OSError:
                if self._stopped.is_set():
                    break
                continue
            except Exception as exc:  # noqa: BLE001 - a client with a wrong key: keep serving
                log.warning("refused a connection: %s", exc)
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn) -> None:
        from lakehouse.orchestration import operations

        with conn:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                return
            conn.send(operations.execute(request))

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, daemon=True, name="lakehouse-engine")
        thread.start()
        return thread

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()


def request(address: str, payload: dict, connect_timeout: float = 10.0) -> dict:
    """Send ``payload`` to the engine at ``address`` and wait for the answer. A missing or
    restarting engine is a transient error (Airflow retries)."""
    deadline = time.monotonic() + connect_timeout
    while True:
        try:
            conn = Client(parse_address(address), authkey=engine_key())
            break
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            if time.monotonic() > deadline:
                raise TransientError(f"the lakehouse engine at {address} does not answer", [Problem(
                    str(exc), key="orchestration.engine_address", value=address,
                    fix="start it with `lakehouse engine serve` (see the README), or set "
                        "orchestration.engine: in_process")]) from None
            time.sleep(0.2)
    with conn:
        conn.send(payload)
        try:
            return conn.recv()
        except EOFError:
            raise TransientError(f"the lakehouse engine at {address} closed the connection", [Problem(
                "the engine stopped while working", key="orchestration.engine_address", value=address,
                fix="check the engine's log; the task is retried")]) from None
