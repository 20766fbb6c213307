"""Parquet modular encryption for every Parquet file Spark writes (4.2.2.2 c), transparent to
every Spark reader, and encrypted Structured Streaming checkpoints.

Each file gets its own data keys; Parquet wraps them with a key-encryption key, which our key
service (``jvm/LakehouseKms.java``) wraps with the lakehouse's Parquet master key (AES-256-GCM).
The master key comes from the key provider at run time and is put into the Hadoop settings of
the running Spark only (never into Spark's settings, plans or logs; ``spark.redaction.regex``
hides it should a tool list the Hadoop settings).

A streaming query's checkpoint is not Parquet: its state store keeps the grouping keys and
aggregates of a stateful query (a real-time app's card numbers and sums) in Spark's own files.
``jvm/EncryptedCheckpointFileManager.java``, Spark's checkpoint file manager, seals each
state-store file with AES-256-GCM under a key derived from the Parquet master key.

The same jar carries ``jvm/GuardedKafkaSource.java``: Spark's Kafka source with the one guard a
feed restarted after a crash needs on Spark 4.1.1 (see ``engine.streams``).

The classes are compiled once per machine from their sources into one jar in
``~/.cache/lakehouse`` (``javac`` 17, Spark's jars on the class path).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

from lakehouse.errors import ConfigError, Problem

log = logging.getLogger(__name__)

JVM_SOURCES = Path(__file__).parent / "jvm"
KMS_CLASS = "lakehouse.parquet.LakehouseKms"
CHECKPOINT_MANAGER_SETTING = "spark.sql.streaming.checkpointFileManagerClass"
CHECKPOINT_MANAGER_CLASS = "lakehouse.checkpoint.EncryptedCheckpointFileManager"
CHECKPOINT_SECRET_SETTING = "lakehouse.checkpoint.secret"
CHECKPOINT_WRITE_SETTING = "lakehouse.checkpoint.encrypt"
MASTER_KEYS_SETTING = "lakehouse.parquet.master.keys"
MASTER_KEY_ID = "lakehouse_parquet_v1"
TOKEN_SETTING = "parquet.encryption.key.access.token"
WRITE_SETTING = "parquet.encryption.uniform.key"
"""Without it Parquet writes in clear and still decrypts what it reads."""
REDACTION = "(?i)secret|password|token|access[.]?key|master[.]keys"
"""Spark's default redaction pattern plus our master-key setting."""

HADOOP_SETTINGS = {
    "parquet.crypto.factory.class": "org.apache.parquet.crypto.keytools.PropertiesDrivenCryptoFactory",
    "parquet.encryption.kms.client.class": KMS_CLASS,
    # every column and the footer with one master key: a Parquet file holds no value in clear
    "parquet.encryption.uniform.key": MASTER_KEY_ID,
}


_BUILD_PROBLEM: list[ConfigError] = []  # why the classes could not be built, if they could not


def jvm_jar() -> Path:
    """The jar of the key service and the checkpoint file manager, compiled from their sources
    on first use (cached by content); ``ConfigError`` when they cannot be compiled."""
    sources = sorted(JVM_SOURCES.glob("*.java"))
    digest = hashlib.sha256(b"".join(source.read_bytes() for source in sources)).hexdigest()[:16]
    jar = Path.home() / ".cache" / "lakehouse" / f"lakehouse-jvm-{digest}.jar"
    if jar.is_file():
        return jar
    import pyspark

    spark_jars = Path(pyspark.__file__).parent / "jars"
    with tempfile.TemporaryDirectory() as build:
        try:
            done = subprocess.run(["javac", "--release", "17", "-d", build, "-cp", f"{spark_jars}/*",
                                   *map(str, sources)], capture_output=True, text=True)
            failure = done.stderr.strip()[-1500:] if done.returncode else None
        except OSError as exc:  # no javac
            failure = str(exc)
        if failure is not None:
            raise ConfigError("could not compile the Parquet key service", [Problem(
                failure or "javac failed", str(JVM_SOURCES),
                fix="install a JDK 17 (javac; `make setup` does), or set encrypt_at_rest: false "
                    "in conf/lakehouse.yaml")])
        jar.parent.mkdir(parents=True, exist_ok=True)
        partial = jar.with_suffix(f".{os.getpid()}.part")
        with zipfile.ZipFile(partial, "w") as out:
            for built in sorted(Path(build).rglob("*.class")):
                out.write(built, built.relative_to(build).as_posix())
        partial.replace(jar)
    return jar


def session_conf(jars: str | None = None) -> dict[str, str]:
    """Settings a local or cluster Spark starts with besides ``jars`` (its ``spark.jars``): the
    key service's jar, so that encryption can be turned on at any time, and the redaction of
    its key setting. Without a JDK the jar is left out and ``enable`` says why."""
    try:
        jar = str(jvm_jar())
    except ConfigError as problem:
        _BUILD_PROBLEM[:] = [problem]
        log.warning("Parquet encryption is unavailable: %s", problem.render())
        return {"spark.redaction.regex": REDACTION}
    return {"spark.jars": ",".join(filter(None, [jars, jar])), "spark.redaction.regex": REDACTION}


def jvm_classes_available() -> bool:
    """Whether this process's Spark sessions start with the lakehouse's JVM jar."""
    return not _BUILD_PROBLEM


def enable(spark, master_key: bytes, write: bool = True) -> None:
    """Decrypt the Parquet and checkpoint files ``spark`` reads and, with ``write``, encrypt
    every one it writes from now on (without: new files in clear, the encrypted ones still
    readable)."""
    if _BUILD_PROBLEM:
        raise _BUILD_PROBLEM[0]
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in HADOOP_SETTINGS.items():
        if key != WRITE_SETTING or write:
            hadoop.set(key, value)
        else:
            hadoop.unset(key)
    hadoop.set(MASTER_KEYS_SETTING, f"{MASTER_KEY_ID}:{base64.b64encode(master_key).decode('ascii')}")
    # Parquet caches key services and wrapped keys per access token: one token per master key,
    # so that a process that changes key (another lakehouse, a test) never uses a stale one
    hadoop.set(TOKEN_SETTING, hmac.new(master_key, b"lakehouse parquet token", hashlib.sha256).hexdigest()[:32])
    # kept after ``disable``: the manager reads clear checkpoints as they are
    hadoop.set(CHECKPOINT_MANAGER_SETTING, CHECKPOINT_MANAGER_CLASS)
    checkpoint_key = hmac.new(master_key, b"lakehouse checkpoint", hashlib.sha256).digest()
    hadoop.set(CHECKPOINT_SECRET_SETTING, base64.b64encode(checkpoint_key).decode("ascii"))
    hadoop.set(CHECKPOINT_WRITE_SETTING, "true" if write else "false")


def disable(spark) -> None:
    """Write Parquet files in clear again (benchmarks' baseline; the tests' unencrypted run)."""
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key in (*HADOOP_SETTINGS, MASTER_KEYS_SETTING, TOKEN_SETTING, CHECKPOINT_SECRET_SETTING,
                CHECKPOINT_WRITE_SETTING):
        hadoop.unset(key)
