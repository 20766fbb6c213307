#!/usr/bin/env bash
# Install everything the project needs into .venv (Python 3.11, locked packages, the Delta jars
# and the S3A connector for an s3a:// root; LAKEHOUSE_SKIP_S3A_JARS=1 leaves the latter out).
# Safe to run again: it does nothing when the lock file has not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
stamp=".venv/.installed-$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  if ! command -v java >/dev/null 2>&1; then
    echo "setup: Java 17+ is needed by Spark; installing openjdk-17-jdk-headless (javac builds the Parquet key service)" >&2
    apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless
  fi
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip uv
  # --compile-bytecode: every process then reads the installed packages' compiled modules instead
  # of compiling each module it imports (with PYTHONDONTWRITEBYTECODE set, nothing compiled at
  # import is ever kept: the unit tier spent about a third of its time compiling Great
  # Expectations, Airflow, Spark's Python side and pytest's plugins, in itself and its subprocesses)
  .venv/bin/uv pip install -q --python .venv/bin/python --compile-bytecode -r requirements.lock
  .venv/bin/uv pip install -q --python .venv/bin/python --no-deps -e .
  .venv/bin/python -m lakehouse.engine.jars
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# the data services' pages are tested in headless Chromium: Debian's, driven by playwright (which
# downloads no browser of its own)
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing chromium for the tests of the data services' pages" >&2
  apt-get update -qq && apt-get install -y -qq chromium
fi
# benchmarks/services.py drives the data services with hey (an HTTP load generator; without it
# the benchmark falls back to a Python client that competes with the server for the 2 cores)
if ! command -v hey >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing hey for the data services' benchmark" >&2
  apt-get install -y -qq hey || (apt-get update -qq && apt-get install -y -qq hey) || \
    echo "setup: hey not installed; benchmarks/services.py uses its Python client" >&2
fi

# the Parquet key service of encryption at rest (compiled once per machine, cached)
.venv/bin/python -c 'from lakehouse.engine.parquet_encryption import jvm_jar; print(f"Parquet key service and checkpoint encryption: {jvm_jar()}")'
# the local key provider's master key (owner-only; kept when present, never printed)
.venv/bin/python -m lakehouse.security.keys init .secrets/master.key
