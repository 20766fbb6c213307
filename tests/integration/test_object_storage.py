"""The lakehouse with its root on S3-compatible object storage: one demo-bank data date through
the T-1 path (landing, admission, load, quality) and the layers, against an S3 server on
loopback, with Spark's S3A connector and nothing but configuration changed.

`lakehouse` runs in a separate process (Spark starts there with the S3A jars), with
LAKEHOUSE_ROOT set to ``s3a://<bucket>/lake`` and the standard AWS variables pointing at the
server; the test copies Delta tables out of the bucket, reads them with its own engine and the
project's keys (the files are encrypted at rest), and lists the bucket itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import REPO, SMALL_DATA, copy_project
from tests.s3_server import BUCKET, s3_server

from .test_layers_demo import parties_on, party_id

pytestmark = pytest.mark.slow

D1 = date(2026, 11, 1)
ROOT = f"s3a://{BUCKET}/lake"
CUSTOMERS = 40

RUN_ONE_DATE = """
import json, sys
from datetime import date
from lakehouse.api import Lakehouse
from lakehouse.demo.run import run_batches

lh = Lakehouse(sys.argv[1])
outcome = run_batches(lh, customers=int(sys.argv[2]), days=1, start=date.fromisoformat(sys.argv[3]),
                      seed=5, defect_rate=0)
print(json.dumps({
    "root": lh.root,
    "spark_packages": lh.engine.spark.conf.get("spark.jars", ""),
    "loads": {r.source: r.status for s in outcome.loads for r in s.results},
    "models": {r.model: r.status for s in outcome.layers for r in s.results},
    "delivered": outcome.delivered[date.fromisoformat(sys.argv[3])],
}, default=str))
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One demo data date run by `lakehouse`'s API in its own process, root in the bucket."""
    base = copy_project(tmp_path_factory.mktemp("s3-project"))
    settings_file = base / "conf" / "lakehouse.yaml"
    yaml = YAML()
    settings = yaml.load(settings_file)
    settings["spark"]["master"] = "local[2]"
    settings["spark"]["conf"].update({**SMALL_DATA, "spark.driver.memory": "1g"})
    yaml.dump(settings, settings_file)
    with s3_server(base) as server:
        env = {**os.environ, **server.environment(), "LAKEHOUSE_ROOT": ROOT,
               "LAKEHOUSE_LANDING": str(base / "landing"), "LAKEHOUSE_REPORTS": str(base / "reports"),
               "PYSPARK_PYTHON": sys.executable}
        for name in ("PYSPARK_SUBMIT_ARGS", "LAKEHOUSE_CONF", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
            env.pop(name, None)
        done = subprocess.run([sys.executable, "-c", RUN_ONE_DATE, str(base / "conf"),
                               str(CUSTOMERS), D1.isoformat()],
                              env=env, capture_output=True, text=True, timeout=1500, cwd=base)
        assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
        yield server, json.loads(done.stdout.strip().splitlines()[-1])


def read_table(server, engine, copy_to: Path, path: str, sql: str) -> list[dict]:
    """``sql`` over table ``t``, the Delta table at ``path`` under the root: its objects are
    copied out of the bucket and read by the local engine with the project's keys (Spark wrote
    the files encrypted; a zipper table's deletion vectors are beyond delta-rs's pyarrow reader)."""
    from lakehouse.api import Lakehouse

    client, prefix = server.client(), f"lake/{path}/"
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            target = copy_to / path / item["Key"][len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(BUCKET, item["Key"], str(target))
    local = Lakehouse(REPO / "conf", engine=engine, root=copy_to)
    return local.engine.sql(sql.replace("FROM t", f"FROM delta.`{copy_to / path}`"))


def test_every_source_loads_and_every_model_builds_with_the_root_in_the_bucket(run):
    server, outcome = run
    assert outcome["root"] == ROOT
    assert "hadoop-aws-3.4.2" in outcome["spark_packages"].replace("_", "-")
    assert outcome["loads"] and set(outcome["loads"].values()) == {"succeeded"}, outcome["loads"]
    assert outcome["models"] and set(outcome["models"].values()) == {"succeeded"}, outcome["models"]


def test_the_raw_zone_and_the_delta_tables_are_objects_in_the_bucket(run):
    server, outcome = run
    keys = server.keys("lake/")
    raw = [k for k in keys if k.startswith("lake/raw/cbs/customer/data_date=2026-11-01/")]
    assert raw, "the delivered customer extract is not in the raw zone"
    for layer, table in (("near_source", "cbs_customer"), ("integrated", "pty_party"),
                         ("common", "com_party_balance_daily"), ("mart", "mart_customer_360")):
        prefix = f"lake/standard/{layer}/{table}/"
        assert f"{prefix}_delta_log/00000000000000000000.json" in keys, prefix
        assert any(k.startswith(prefix) and k.endswith(".parquet") for k in keys), prefix
    assert any(k.startswith("lake/governance/") and "_delta_log" in k for k in keys)
    assert not [k for k in keys if k.startswith("lake/_locks/")]  # every lock released
    # and the locks were taken there: conditional PUTs of each table's lock for the date
    requests = server.log.read_text()
    for table in ("near_source.cbs_customer", "mart.mart_customer_360"):
        assert f"PUT /{BUCKET}/lake/_locks/{table}/2026-11-01.lock" in requests, table


def test_the_tables_in_the_bucket_hold_the_delivered_rows(run, engine, tmp_path):
    server, outcome = run
    delivered = outcome["delivered"]
    customers = read_table(server, engine, tmp_path, "standard/near_source/cbs_customer",
                           "SELECT customer_id, CAST(end_dt AS STRING) AS end_dt FROM t")
    assert sorted(r["customer_id"] for r in customers) == \
        sorted(c["customer_id"] for c in delivered["cbs.customer"])
    assert {r["end_dt"] for r in customers} == {"9999-12-31"}
    assert len(delivered["cbs.customer"]) == CUSTOMERS
    parties = read_table(server, engine, tmp_path, "standard/mart/mart_customer_360",
                         f"SELECT party_id FROM t WHERE data_date = DATE'{D1}'")
    assert sorted(r["party_id"] for r in parties) == sorted(parties_on(delivered))
    assert all(party_id(c["id_number"]) in {r["party_id"] for r in parties}
               for c in delivered["cbs.customer"])
