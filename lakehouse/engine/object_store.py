"""Spark's S3A connector for a lakehouse root on S3-compatible object storage.

Spark ships Hadoop's client but not its S3A connector: ``hadoop-aws`` of the same Hadoop
version, which brings the AWS SDK v2 bundle it is built against, is added to Spark only when
``root`` is an ``s3a://`` URI. Its settings come from the standard AWS environment variables,
the ones pyarrow (raw zone) and boto3 (table locks) read too:

- ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (``AWS_SESSION_TOKEN``): read by S3A's own
  credential chain, never copied into Spark settings (which Spark may log or show);
- ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``: an S3-compatible server (MinIO, Ceph, ...),
  addressed path-style (``http://host:9000/bucket/key``);
- ``AWS_REGION`` or ``AWS_DEFAULT_REGION``.

Any ``spark.hadoop.fs.s3a.*`` setting in conf/lakehouse.yaml's ``spark.conf`` wins over these.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from lakehouse.zones.storage import s3_endpoint, s3_region

S3A = "s3a://"

_HADOOP_CLIENT_JAR = re.compile(r"hadoop-client-api-(\d+\.\d+\.\d+)\.jar")


def is_s3a(root: str) -> bool:
    return str(root).startswith(S3A)


def hadoop_version() -> str:
    """The Hadoop version of the installed pyspark (its ``hadoop-client-api-<version>.jar``)."""
    import pyspark

    for jar in sorted((Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar")):
        if found := _HADOOP_CLIENT_JAR.fullmatch(jar.name):
            return found.group(1)
    raise RuntimeError(f"no hadoop-client-api jar in {Path(pyspark.__file__).parent / 'jars'}; "
                       "reinstall pyspark (`make setup`)")


def s3a_packages() -> list[str]:
    """Maven coordinates of the S3A connector matching Spark's Hadoop (its AWS SDK bundle
    comes with it as a dependency)."""
    return [f"org.apache.hadoop:hadoop-aws:{hadoop_version()}"]


def packages_for(root: str) -> list[str]:
    """The Maven packages, besides Delta's, that Spark needs to reach ``root``."""
    return s3a_packages() if is_s3a(root) else []


def s3a_conf(root: str, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Spark settings for S3A when ``root`` is an ``s3a://`` URI (no credentials among them)."""
    if not is_s3a(root):
        return {}
    conf: dict[str, str] = {}
    url = s3_endpoint(environ)
    if url:
        conf["spark.hadoop.fs.s3a.endpoint"] = url
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(url.startswith("https://")).lower()
    if name := s3_region(environ) or (url and "us-east-1"):  # a custom endpoint still needs a region
        conf["spark.hadoop.fs.s3a.endpoint.region"] = name
    return conf
