"""An S3-compatible server on loopback for the object-storage tests: moto's standalone server
(in memory), started on a free port and stopped afterwards, with a bucket and the standard AWS
environment variables pointing at it (dummy credentials: the server accepts any)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BUCKET = "bank-lake"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    log: Path

    def environment(self) -> dict[str, str]:
        """What a process needs to reach the server (S3A, pyarrow and boto3 all read these)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "test-key",
                "AWS_SECRET_ACCESS_KEY": "test-secret", "AWS_REGION": "us-east-1"}

    def client(self):
        import boto3

        env = self.environment()
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=env["AWS_REGION"],
                            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])

    def keys(self, prefix: str = "", bucket: str = BUCKET) -> list[str]:
        """Every object key under ``prefix`` in ``bucket``, listed through the server."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def s3_server(folder: Path, bucket: str = BUCKET) -> Iterator[S3Server]:
    """A moto server on 127.0.0.1 with ``bucket`` created; its log in ``folder``."""
    port, log = free_port(), folder / "s3-server.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                    "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        server = S3Server(f"http://127.0.0.1:{port}", log)
        deadline = time.time() + 60
        while True:
            try:
                server.client().create_bucket(Bucket=bucket)
                break
            except Exception:  # noqa: BLE001 - not listening yet
                if time.time() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the S3 server did not start; see {log}") from None
                time.sleep(0.3)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)
