"""A real Apache Kafka broker for the tests, in KRaft mode on loopback, from its Maven Central
jars (fetched once with Maven into ``~/.cache/lakehouse/kafka-broker-<version>``)."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

VERSION = "3.9.1"
CACHE = Path.home() / ".cache" / "lakehouse" / f"kafka-broker-{VERSION}"
SPARK_KAFKA = "org.apache.spark:spark-sql-kafka-0-10_2.13:4.1.1"
"""Spark's Kafka source, resolved by Spark from Maven Central (``LAKEHOUSE_EXTRA_PACKAGES``)."""
POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>lakehouse</groupId><artifactId>kafka-test-broker</artifactId><version>1</version>
<dependencies>
<dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{VERSION}</version></dependency>
<dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>1.7.36</version></dependency>
</dependencies></project>"""


def broker_jars() -> Path | None:
    """The folder of the broker's jars (None when Maven is not installed to fetch them)."""
    if (CACHE / f"kafka_2.13-{VERSION}.jar").exists():
        return CACHE
    if shutil.which("mvn") is None:
        return None
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "pom.xml").write_text(POM)
        subprocess.run(["mvn", "-q", "-B", "dependency:copy-dependencies",
                        f"-DoutputDirectory={CACHE}"], cwd=work, check=True, timeout=900)
    return CACHE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """One broker and controller (KRaft) on 127.0.0.1, its data in ``folder``."""

    def __init__(self, jars: Path, folder: Path):
        self.jars, self.folder = jars, folder
        self.port, self.controller = free_port(), free_port()
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _java(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["java", "-Xmx256m", "-cp", f"{self.jars}/*", *args], **kwargs)

    def start(self) -> None:
        config = self.folder / "server.properties"
        config.write_text("\n".join([
            "process.roles=broker,controller", "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={self.folder / 'data'}", "num.partitions=1",
            "offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1", "auto.create.topics.enable=true", ""]))
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        self._java("kafka.tools.StorageTool", "format", "-t", cluster, "-c", str(config),
                   check=True, capture_output=True, timeout=120)
        with open(self.folder / "broker.log", "wb") as log:
            self.process = subprocess.Popen(
                ["java", "-Xmx256m", "-cp", f"{self.jars}/*", "kafka.Kafka", str(config)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"the Kafka broker did not start: see {self.folder / 'broker.log'}")

    def produce(self, topic: str, lines: list[str]) -> None:
        """Publish ``lines`` to ``topic``, in order (the console producer of the broker's jars)."""
        self._java("kafka.tools.ConsoleProducer", "--bootstrap-server", self.bootstrap, "--topic", topic,
                   input="".join(line + "\n" for line in lines).encode("utf-8"), check=True,
                   capture_output=True, timeout=180)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
