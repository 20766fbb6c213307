"""The table-date lock on S3-compatible object storage: one object written with a conditional PUT.

The lock is the object ``<root>/_locks/<table>/<data date>.lock``. It is created with
``If-None-Match: *``, so of two runs exactly one creates it; the store answers the other
``412 Precondition Failed`` and that run stops with ``TableBusy``. The holder renews the lock
while it works (a lease, rewritten with ``If-Match: <etag>``); a lock whose lease has run out
(its holder crashed) is taken over with ``If-Match`` on the etag read, so of two runs taking
it over only one succeeds. The lease is measured on the store's clock (the lock's
Last-Modified against the Date of the store's answer), so hosts' clocks do not matter. A run
releases its lock with a conditional DELETE, never removing a lock another run took over.

The store must honour conditional writes (AWS S3 since 2024, MinIO, Ceph RGW 18+, moto 5);
a store that ignores them is found out by a probe on first use and refused with ``ConfigError``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime

from lakehouse.errors import ConfigError, LakehouseError, Problem, TransientError
from lakehouse.zones.storage import s3_endpoint, s3_region

log = logging.getLogger(__name__)

SCHEMES = ("s3a://", "s3://")
LEASE = timedelta(minutes=10)
"""How long a lock holds without renewal; the holder renews it every third of that."""
LEASE_VARIABLE = "LAKEHOUSE_LOCK_LEASE_SECONDS"


def is_object_store(root: str) -> bool:
    return str(root).startswith(SCHEMES)


def lease() -> timedelta:
    """The lease: ``$LAKEHOUSE_LOCK_LEASE_SECONDS`` or ten minutes."""
    value = os.environ.get(LEASE_VARIABLE)
    if value is None:
        return LEASE
    try:
        seconds = float(value)
        if seconds <= 0:
            raise ValueError
    except ValueError:
        raise ConfigError("the table lock's lease is not a positive number of seconds", [Problem(
            f"{LEASE_VARIABLE} is {value!r}", key=LEASE_VARIABLE, value=value,
            fix=f"set {LEASE_VARIABLE} to a number of seconds, e.g. 600, or unset it")]) from None
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class LockObject:
    """Where one table-date lock lives in the store."""

    bucket: str
    key: str
    folder: str  # <root>/_locks, where the probe of conditional writes goes too

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def lock_object(root: str, table: str, data_date: date) -> LockObject:
    rest = next(root[len(s):] for s in SCHEMES if root.startswith(s))
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ConfigError("the lakehouse root names no bucket", [Problem(
            f"root {root!r} has no bucket after the scheme", key="root", value=root,
            fix="set root to s3a://<bucket>/<folder> in conf/lakehouse.yaml or $LAKEHOUSE_ROOT")])
    folder = "/".join([p for p in prefix.strip("/").split("/") if p] + ["_locks"])
    return LockObject(bucket, f"{folder}/{table}/{data_date.isoformat()}.lock", folder)


class ObjectLock:
    """One table-date lock in an S3-compatible store, taken by ``holder`` for ``lease``."""

    def __init__(self, client, where: LockObject, table: str, data_date: date, holder: str,
                 lease: timedelta):
        self.client, self.where, self.holder, self.lease = client, where, holder, lease
        self.table, self.data_date = table, data_date
        self.etag: str | None = None
        self._body = json.dumps({
            "holder": holder, "host": socket.gethostname(), "pid": os.getpid(),
            "since": datetime.now().isoformat(timespec="seconds"),
            "lease_seconds": lease.total_seconds(), "token": uuid.uuid4().hex}).encode()

    def acquire(self) -> None:
        """Take the lock, or raise ``TableBusy`` naming its holder."""
        with _store_errors(self.where):
            if self._put(IfNoneMatch="*"):
                return
            held, etag, age = self._read()
            if held is None:  # released between our PUT and our read: one more try
                if self._put(IfNoneMatch="*"):
                    return
                held, etag, age = self._read()
            if held is not None and age > _lease_of(held, self.lease):
                if self._put(IfMatch=etag):
                    log.warning("took over the lock %s of %s, whose lease ran out %s ago",
                                self.where.uri, held.get("holder", "?"), age)
                    return
                held, _, _ = self._read()
        raise _busy(self.table, self.data_date, self.where, held or {})

    def renew(self) -> bool:
        """Rewrite the lock (a new Last-Modified); False when it is no longer ours."""
        with _store_errors(self.where):
            return self._put(IfMatch=self.etag)

    def release(self) -> None:
        """Remove the lock if it is still ours."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.where.bucket, Key=self.where.key, IfMatch=self.etag)
        except ClientError as exc:
            if _code(exc) not in ("PreconditionFailed", "NoSuchKey", "404"):
                log.warning("could not release the lock %s (%s); it is free again once its lease "
                            "has run out", self.where.uri, _code(exc))
        except BotoCoreError as exc:
            log.warning("could not release the lock %s (%s); it is free again once its lease "
                        "has run out", self.where.uri, type(exc).__name__)

    def _put(self, **condition) -> bool:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.put_object(Bucket=self.where.bucket, Key=self.where.key,
                                            Body=self._body, ContentType="application/json",
                                            **condition)
        except ClientError as exc:
            if _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "404"):
                return False
            raise
        self.etag = answer["ETag"]
        return True

    def _read(self) -> tuple[dict | None, str | None, timedelta]:
        """The lock's content, its etag and its age on the store's clock (None if absent)."""
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.where.bucket, Key=self.where.key)
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None, None, timedelta(0)
            raise
        now = parsedate_to_datetime(answer["ResponseMetadata"]["HTTPHeaders"]["date"])
        try:
            held = json.loads(answer["Body"].read())
        except ValueError:
            held = {}
        return held if isinstance(held, dict) else {}, answer["ETag"], now - answer["LastModified"]


def _lease_of(held: dict, default: timedelta) -> timedelta:
    """The lease its holder wrote into a lock (``default`` when unreadable)."""
    try:
        return timedelta(seconds=float(held["lease_seconds"]))
    except (KeyError, TypeError, ValueError):
        return default


@contextmanager
def held(root: str, table: str, data_date: date, holder: str,
         lease_for: timedelta | None = None) -> Iterator[ObjectLock]:
    """Hold ``table`` for ``data_date`` in the object store under ``root`` while the block runs,
    renewing the lease in the background."""
    client = s3_client()
    where = lock_object(root, table, data_date)
    _check_conditional_writes(client, where)
    lock = ObjectLock(client, where, table, data_date, holder, lease_for or lease())
    lock.acquire()
    stop = threading.Event()
    renewer = threading.Thread(target=_renew_until, args=(lock, stop), daemon=True,
                               name=f"lock-renewal {table} {data_date}")
    renewer.start()
    try:
        yield lock
    finally:
        stop.set()
        renewer.join()
        lock.release()


def _renew_until(lock: ObjectLock, stop: threading.Event) -> None:
    while not stop.wait(lock.lease.total_seconds() / 3):
        try:
            if not lock.renew():
                log.error("lost the lock %s: its lease ran out and another run took it over",
                          lock.where.uri)
                return
        except LakehouseError as exc:  # the next renewal may get through
            log.warning("could not renew the lock %s: %s", lock.where.uri, exc.summary)


def s3_client():
    """A boto3 S3 client from the standard AWS environment (an S3-compatible server's endpoint
    from ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``, addressed path-style)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ConfigError("table locks on object storage need boto3", [Problem(
            "root is an s3a:// URI and boto3 is not installed", key="root",
            fix="pip install 'bank-lakehouse[s3]' (or boto3)")]) from None
    url = s3_endpoint()
    config = Config(s3={"addressing_style": "path"} if url else {},
                    retries={"max_attempts": 3, "mode": "standard"})
    return boto3.client("s3", endpoint_url=url, region_name=s3_region() or ("us-east-1" if url else None),
                        config=config)


_honours_conditions: set[tuple[str, str]] = set()
_probing = threading.Lock()


def _check_conditional_writes(client, where: LockObject) -> None:
    """Refuse a store that ignores ``If-None-Match`` (two runs would both get the lock);
    probed once per endpoint and bucket in a process."""
    with _probing:  # loads of a date run side by side: one probe for all of them
        _probe_conditional_writes(client, where)


def _probe_conditional_writes(client, where: LockObject) -> None:
    from botocore.exceptions import ClientError

    endpoint = (client.meta.endpoint_url, where.bucket)
    if endpoint in _honours_conditions:
        return
    probe = f"{where.folder}/.probe-{uuid.uuid4().hex}"
    with _store_errors(where):
        client.put_object(Bucket=where.bucket, Key=probe, Body=b"1", IfNoneMatch="*")
        try:
            client.put_object(Bucket=where.bucket, Key=probe, Body=b"2", IfNoneMatch="*")
            honoured = False
        except ClientError as exc:
            if _code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise
            honoured = True
        finally:
            client.delete_object(Bucket=where.bucket, Key=probe)
    if not honoured:
        raise ConfigError("the object store ignores conditional writes, so table locks cannot hold",
                          [Problem(f"a PUT with If-None-Match: * overwrote {probe} in bucket "
                                   f"{where.bucket} at {client.meta.endpoint_url}", key="root",
                                   fix="use a store that honours If-None-Match (AWS S3, MinIO "
                                       "2024+, Ceph RGW 18+) or a local-disk root")])
    _honours_conditions.add(endpoint)


def _busy(table: str, data_date: date, where: LockObject, held: dict):
    from lakehouse.zones.locks import TableBusy

    return TableBusy(f"{table} for {data_date} is being written by another run", [Problem(
        f"held by {held.get('holder', '?')} (host {held.get('host', '?')}, pid "
        f"{held.get('pid', '?')}) since {held.get('since', '?')}, lease "
        f"{held.get('lease_seconds', '?')} s", where.uri,
        fix="wait for that run to finish (a retry will find its result); a lock whose holder "
            "crashed is taken over once its lease has run out")])


@contextmanager
def _store_errors(where: LockObject) -> Iterator[None]:
    """The store's refusals as errors that say what to fix; network trouble as transient."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except NoCredentialsError:
        raise ConfigError("no credentials for the object store", [Problem(
            f"boto3 found no credentials to write {where.uri}",
            key="AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY",
            fix="export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or use an instance role)")]) from None
    except ClientError as exc:
        code = _code(exc)
        if code == "NoSuchBucket":
            raise ConfigError("the lakehouse root's bucket does not exist", [Problem(
                f"bucket {where.bucket} not found", key="root", value=where.bucket,
                fix="create the bucket, or set root to an existing one")]) from None
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise ConfigError("the object store refused the table lock", [Problem(
                f"{code} writing {where.uri}", key="AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY",
                fix="use credentials allowed to put, get and delete objects under <root>/_locks/")]) from None
        raise TransientError("the object store did not answer the table lock", [Problem(
            f"{code} on {where.uri}", fix="retry; check the store's endpoint (AWS_ENDPOINT_URL)")]) from exc
    except BotoCoreError as exc:
        raise TransientError("the object store could not be reached for the table lock", [Problem(
            f"{type(exc).__name__} on {where.uri}",
            fix="retry; check the store's endpoint (AWS_ENDPOINT_URL) and network")]) from exc


def _code(exc) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
