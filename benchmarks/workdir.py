"""The work folder every benchmark writes its tables to: ``--workdir`` or a removed temp dir."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def add_workdir_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--workdir", help="empty or new directory, kept (default: a temp dir, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the default temp dir")


@contextlib.contextmanager
def workdir(ap: argparse.ArgumentParser, args, prefix: str) -> Iterator[Path]:
    """``--workdir`` (must be empty or new; kept) or a new temp dir, removed unless ``--keep``."""
    if args.workdir:
        work = Path(args.workdir).resolve()
        if work.exists() and any(work.iterdir()):
            ap.error(f"--workdir {work} is not empty")
        work.mkdir(parents=True, exist_ok=True)
        cleanup = False
    else:
        work = Path(tempfile.mkdtemp(prefix=prefix))
        cleanup = not args.keep
    try:
        yield work
    finally:
        if cleanup:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"workdir kept: {work}")
