"""SparkSession creation for the embedded engine, a cluster or a Spark Connect endpoint."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.errors import TransientError

log = logging.getLogger(__name__)

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

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
}

_lock = threading.Lock()


def delta_packages() -> list[str]:
    """Maven coordinates of the Delta jars matching the installed delta-spark and pyspark."""
    import importlib.metadata

    import pyspark

    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    delta_version = importlib.metadata.version("delta-spark")
    return [f"io.delta:delta-spark_{spark_minor}_2.13:{delta_version}"]


def resolved_jars_file() -> Path:
    """Where setup records the jar files Spark's resolver found for ``delta_packages()``."""
    key = "-".join(p.replace(":", "_") for p in delta_packages())
    return Path.home() / ".cache" / "lakehouse" / f"{key}.jars"


def _resolved_jars() -> str | None:
    """The recorded jar files, when all of them are still there (no resolver run, no noise)."""
    try:
        jars = resolved_jars_file().read_text().split(",")
    except OSError:
        return None
    return ",".join(jars) if jars and all(Path(j).is_file() for j in jars) else None


def build_session(master: str | None, remote: str | None, conf: dict[str, str]) -> SparkSession:
    """Return the process-wide session, creating it on first use."""
    with _lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        builder = SparkSession.builder.appName("lakehouse")
        if remote:
            builder = builder.remote(remote)
            settings = dict(conf)
        else:
            builder = builder.master(master or "local[*]")
            settings = {**EMBEDDED_DEFAULTS, **DELTA_CONF, **conf}
            if (master or "local").startswith("local"):
                os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # embedded: loopback only
            extra = os.environ.get("LAKEHOUSE_EXTRA_PACKAGES", "")
            jars = _resolved_jars()
            if jars and not extra and "spark.jars.packages" not in settings:
                settings.setdefault("spark.jars", jars)
            else:
                packages = delta_packages() + [p for p in extra.split(",") if p]
                settings.setdefault("spark.jars.packages", ",".join(packages))
        for key, value in settings.items():
            builder = builder.config(key, value)
        try:
            session = builder.getOrCreate()
        except Exception as exc:  # the JVM or the cluster did not come up
            raise TransientError(
                "could not start Spark: "
                f"{exc}. Check `spark` in conf/lakehouse.yaml; on a new machine run `make setup` "
                "once so the Delta jars are in the local Maven/Ivy cache."
            ) from exc
        if not remote:
            session.sparkContext.setLogLevel("ERROR")
        log.info("spark session started (%s)", remote or master)
        return session
