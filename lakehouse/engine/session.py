"""SparkSession creation for the embedded engine, a cluster or a Spark Connect endpoint."""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.engine import parquet_encryption
from lakehouse.errors import ConfigError, Problem, TransientError

log = logging.getLogger(__name__)

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

NON_UTC_COMMIT_CHECK = "spark.databricks.delta.allFilesInCrc.verificationMode.forceOnNonUTC.enabled"
DELTA_LOG_CACHE_SIZE = "spark.databricks.delta.delta.log.cacheSize"
"""How many tables' Delta logs (each with its latest snapshot and that snapshot's query plans)
the driver keeps in memory; Delta's own default is 10,000 for an hour."""

# Quiet, small-machine friendly defaults; every one can be overridden in conf/lakehouse.yaml.
EMBEDDED_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.memory": "4g",
    "spark.sql.session.timeZone": "Asia/Shanghai",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    # loads of one run share the application (Engine.worker): each gets its share of the cores
    "spark.scheduler.mode": "FAIR",
    # Delta 4.4 keeps a small table's file list in its checksum and, in a session whose time zone
    # is not UTC, verifies it after every commit by rebuilding the table state (two Spark jobs,
    # about half of a governance append). The check guards timestamp partition values; our
    # tables partition by dates only (TableSpec refuses a timestamp partition column).
    NON_UTC_COMMIT_CHECK: "false",
    # A cached Delta log holds 2-4 MB of query plans (its snapshot's state and file-list
    # plans). Under Delta's default of 10,000 logs kept for an hour, an engine that touches a
    # few thousand tables in an hour (a night of sources, each with its near-source, quarantine
    # and history tables) fills a 4 GB driver and then spends its time in garbage collection.
    # A run touches a few tables at a time, and the governance tables every time, so the
    # least recently used beyond 100 are re-read from their log when needed again
    # (benchmarks/delta_log_cache.py).
    DELTA_LOG_CACHE_SIZE: "100",
}

_lock = threading.Lock()


def delta_packages() -> list[str]:
    """Maven coordinates of the Delta jars matching the installed delta-spark and pyspark."""
    import importlib.metadata

    import pyspark

    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    delta_version = importlib.metadata.version("delta-spark")
    return [f"io.delta:delta-spark_{spark_minor}_2.13:{delta_version}"]


RESOLVING_JARS = "LAKEHOUSE_RESOLVING_JARS"
"""Set while setup records the jars Spark's resolver found: the session then lists only those in
``spark.jars`` (not the Parquet key service's, which every other session adds)."""


def resolved_jars_file(packages: list[str] | None = None) -> Path:
    """Where setup records the jar files Spark's resolver found for ``packages`` (by default
    ``delta_packages()``; Delta's plus the S3A connector's for an ``s3a://`` root)."""
    key = "-".join(p.replace(":", "_") for p in packages or delta_packages())
    return Path.home() / ".cache" / "lakehouse" / f"{key}.jars"


def _resolved_jars(packages: list[str]) -> str | None:
    """The recorded jar files, when all of them are still there and each package's own jar is
    among them (no resolver run, no noise)."""
    try:
        jars = resolved_jars_file(packages).read_text().split(",")
    except OSError:
        return None
    names = {Path(j).name for j in jars}
    own = [f"{artifact}-{version}.jar" for _, artifact, version in (p.split(":") for p in packages)]
    if not jars or not all(Path(j).is_file() for j in jars) or not all(
            any(name.endswith(jar) for name in names) for jar in own):
        return None
    return ",".join(jars)


def build_session(master: str | None, remote: str | None, conf: dict[str, str],
                  packages: tuple[str, ...] = ()) -> SparkSession:
    """A session with ``conf`` on the process's Spark, started on first use, with the Delta jars
    and those of the Maven ``packages`` (such as the S3A connector for an ``s3a://`` root).

    When a session is already active (one JVM per process), the requested master or remote
    must be the active one's (``ConfigError`` otherwise); the runtime SQL settings of ``conf``
    that differ from the active session's are applied to a new session sharing its Spark
    context, and settings that only take effect at start (``spark.driver.memory``, ...) and
    differ are logged as not applied."""
    with _lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            return _reuse(active, master, remote, conf, packages)
        builder = SparkSession.builder.appName("lakehouse")
        if remote:
            builder = builder.remote(remote)
            settings = dict(conf)
        else:
            builder = builder.master(master or "local[*]")
            settings = {**EMBEDDED_DEFAULTS, **DELTA_CONF, **conf}
            if (master or "local").startswith("local"):
                os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # embedded: loopback only
                # Python UDFs (de-identified copies) run in this interpreter, which has lakehouse
                os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            extra = os.environ.get("LAKEHOUSE_EXTRA_PACKAGES", "")
            needed = delta_packages() + list(packages)
            jars = _resolved_jars(needed)
            if jars and not extra and "spark.jars.packages" not in settings:
                # local jars asked for (the Parquet key service) come besides Delta's
                settings["spark.jars"] = ",".join(filter(None, [jars, settings.get("spark.jars")]))
            else:
                needed += [p for p in extra.split(",") if p]
                settings.setdefault("spark.jars.packages", ",".join(needed))
        if not remote and not os.environ.get(RESOLVING_JARS):  # encryption can be turned on later
            settings.update(parquet_encryption.session_conf(settings.get("spark.jars")))
        for key, value in settings.items():
            builder = builder.config(key, value)
        try:
            session = builder.getOrCreate()
        except Exception as exc:  # the JVM or the cluster did not come up
            raise TransientError(
                "could not start Spark: "
                f"{exc}. Check `spark` in conf/lakehouse.yaml; on a new machine run `make setup` "
                "once so the Delta (and S3A) jars are in the local Maven/Ivy cache."
            ) from exc
        if not remote:
            session.sparkContext.setLogLevel("ERROR")
        log.info("spark session started (%s)", remote or master)
        return session


def _reuse(active: SparkSession, master: str | None, remote: str | None,
           conf: dict[str, str], packages: tuple[str, ...] = ()) -> SparkSession:
    """The active session if it already has ``conf``, else a sibling session with ``conf`` applied."""
    _check_same_spark(active, master, remote)
    if not remote:
        _check_has_packages(active, packages)
    differing = {k: v for k, v in conf.items() if _current(active, k) != str(v)}
    if not differing:
        return active
    runtime = {k: v for k, v in differing.items() if active.conf.isModifiable(k)}
    fixed = sorted(set(differing) - set(runtime))
    if fixed:
        log.warning("spark settings %s only take effect when Spark starts and Spark already runs "
                    "in this process; they keep their current values", ", ".join(fixed))
    if not runtime:
        return active
    session = active.newSession()
    for key, value in runtime.items():
        session.conf.set(key, value)
    return session


def _check_same_spark(active: SparkSession, master: str | None, remote: str | None) -> None:
    """Raise ``ConfigError`` when the requested master or remote is not the active session's."""
    is_connect = _is_connect(active)
    if remote:
        if not is_connect:
            raise _mismatch("spark.remote", remote, f"a local/cluster session on {active.sparkContext.master}")
        return
    if is_connect:
        raise _mismatch("spark.master", master or "local[*]", "a Spark Connect session")
    running = active.sparkContext.master
    if (master or "local[*]") != running:
        raise _mismatch("spark.master", master or "local[*]", f"master {running}")


def _check_has_packages(active: SparkSession, packages: tuple[str, ...]) -> None:
    """Raise ``ConfigError`` when the running Spark lacks the jars of ``packages`` (they can
    only be added when Spark starts)."""
    loaded = f"{_current(active, 'spark.jars') or ''},{_current(active, 'spark.jars.packages') or ''}"
    for coordinate in packages:
        _, artifact, version = coordinate.split(":")
        if coordinate not in loaded and f"{artifact}-{version}.jar" not in loaded:
            raise ConfigError("Spark already runs in this process without a package it needs", [Problem(
                f"{coordinate} was requested (an s3a:// root needs it), but this process's Spark "
                "started without it (one Spark per process; jars are added only at start)",
                key="root", value=coordinate,
                fix="use one root per process, or start the process with the s3a:// root's "
                    "engine first")])


def _is_connect(session: SparkSession) -> bool:
    return type(session).__module__.startswith("pyspark.sql.connect")


def _current(session: SparkSession, key: str) -> str | None:
    try:
        return session.conf.get(key, None)
    except Exception:  # noqa: BLE001 - a key Spark does not know has no current value
        return None


def _mismatch(key: str, requested: str, running: str) -> ConfigError:
    return ConfigError("Spark already runs in this process with other settings", [Problem(
        f"{key} {requested} was requested, but this process already runs {running} "
        "(one Spark per process)", key=key, value=requested,
        fix="use the same spark settings for every engine in a process, or pass the running "
            "Engine to Lakehouse(conf, engine=...)")])
