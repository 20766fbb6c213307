"""Spark's S3A settings and jars for an s3a:// root, from the standard AWS environment."""

from __future__ import annotations

from pathlib import Path

import pyspark

from lakehouse.config.loader import load_settings
from lakehouse.engine import Engine
from lakehouse.engine import object_store

REPO = Path(__file__).resolve().parents[2]
SERVER = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_ACCESS_KEY_ID": "key-id",
          "AWS_SECRET_ACCESS_KEY": "do-not-copy-me"}


def test_the_s3a_connector_matches_sparks_own_hadoop():
    jars = [p.name for p in (Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar")]
    assert jars == [f"hadoop-client-api-{object_store.hadoop_version()}.jar"]
    assert object_store.packages_for("s3a://bank-lake/lake") == [
        f"org.apache.hadoop:hadoop-aws:{object_store.hadoop_version()}"]
    assert object_store.packages_for("/data/lake") == []
    assert object_store.packages_for("abfss://lake@bank.dfs.core.windows.net/") == []


def test_an_s3_compatible_endpoint_is_addressed_path_style_and_no_secret_reaches_spark():
    conf = object_store.s3a_conf("s3a://bank-lake/lake", SERVER)
    assert conf == {"spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:9000",
                    "spark.hadoop.fs.s3a.path.style.access": "true",
                    "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
                    "spark.hadoop.fs.s3a.endpoint.region": "us-east-1"}
    assert object_store.s3a_conf("s3a://bank-lake/lake", {"AWS_REGION": "cn-north-1"}) == {
        "spark.hadoop.fs.s3a.endpoint.region": "cn-north-1"}
    assert object_store.s3a_conf("/data/lake", SERVER) == {}


def test_the_engine_of_an_s3a_root_gets_the_connector_and_lakehouse_yaml_wins(monkeypatch, tmp_path):
    for name, value in SERVER.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LAKEHOUSE_ROOT", "s3a://bank-lake/lake")
    settings = load_settings(REPO / "conf")
    settings.spark.conf["spark.hadoop.fs.s3a.path.style.access"] = "false"
    engine = Engine.from_settings(settings)
    assert engine._packages == tuple(object_store.s3a_packages())
    assert engine._conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert engine._conf["spark.hadoop.fs.s3a.path.style.access"] == "false"
    assert "do-not-copy-me" not in repr(engine._conf)
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path))
    local = Engine.from_settings(load_settings(REPO / "conf"))
    assert local._packages == () and not any("s3a" in k for k in local._conf)
