"""File access under the lakehouse root, local disk or object storage alike (pyarrow.fs)."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from pyarrow import fs as pafs

# Hadoop-style schemes Spark uses, and the scheme pyarrow knows them by.
_SCHEMES = {"s3a://": "s3://", "s3n://": "s3://", "gs://": "gs://", "abfss://": "abfs://"}


def s3_endpoint(environ: Mapping[str, str] = os.environ) -> str | None:
    """The S3-compatible server's URL when the environment names one (``AWS_ENDPOINT_URL_S3``
    or ``AWS_ENDPOINT_URL``, which pyarrow, boto3 and, through the engine, S3A follow)."""
    return environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL") or None


def s3_region(environ: Mapping[str, str] = os.environ) -> str | None:
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow file system and path for a local path or a URI."""
    if "://" not in uri:
        return pafs.LocalFileSystem(), str(Path(uri).absolute())
    for hadoop, arrow in _SCHEMES.items():
        if uri.startswith(hadoop):
            uri = arrow + uri[len(hadoop):]
    return pafs.FileSystem.from_uri(uri)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_at(fs: pafs.FileSystem, path: str) -> str:
    digest = hashlib.sha256()
    with fs.open_input_stream(path) as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def copy_hashed(source_fs: pafs.FileSystem, source: str, target_fs: pafs.FileSystem, target: str) -> str:
    """Copy ``source`` to ``target`` byte for byte, creating folders as needed; the SHA-256 of
    the bytes copied. ``FileNotFoundError`` when ``source`` is missing."""
    digest = hashlib.sha256()
    target_fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
    with source_fs.open_input_stream(source) as src, target_fs.open_output_stream(target) as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()


def copy_in(local: Path, fs: pafs.FileSystem, target: str) -> None:
    """Copy a local file byte for byte to ``target``, creating folders as needed."""
    fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
    with open(local, "rb") as src, fs.open_output_stream(target) as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)


def remove_dir(uri: str) -> None:
    """Remove a folder and everything in it, local or in object storage (no error if missing)."""
    fs, path = filesystem(uri)
    fs.delete_dir_contents(path, missing_dir_ok=True)
    if "://" not in uri:
        shutil.rmtree(path, ignore_errors=True)
