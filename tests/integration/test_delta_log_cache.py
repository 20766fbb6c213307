"""The engine bounds the Delta logs its driver keeps in memory (each holds megabytes of query
plans; under Delta's own default a long-running engine fills its heap, see
benchmarks/delta_log_cache.py)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from lakehouse.engine.session import DELTA_LOG_CACHE_SIZE, EMBEDDED_DEFAULTS

pytestmark = pytest.mark.slow  # reads more tables than the bound: about 20 s

SCHEMA = {"type": "struct", "fields": [{"name": "id", "type": "long", "nullable": True, "metadata": {}}]}


def empty_delta_table(path: Path) -> None:
    """A Delta table without rows, written as its first commit file (no Spark job)."""
    (path / "_delta_log").mkdir(parents=True)
    actions = [{"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
               {"metaData": {"id": str(uuid.uuid4()), "format": {"provider": "parquet", "options": {}},
                             "schemaString": json.dumps(SCHEMA), "partitionColumns": [],
                             "configuration": {}, "createdTime": 0}}]
    (path / "_delta_log" / f"{0:020d}.json").write_text("\n".join(map(json.dumps, actions)) + "\n")


def cached_delta_logs(spark) -> int:
    module = getattr(spark._jvm.org.apache.spark.sql.delta, "DeltaLog$")
    return module.__getattr__("MODULE$").cacheSize()


def test_the_driver_keeps_at_most_the_bound_of_delta_logs(engine, tmp_path):
    spark = engine.spark
    bound = int(spark.conf.get(DELTA_LOG_CACHE_SIZE))
    assert bound == int(EMBEDDED_DEFAULTS[DELTA_LOG_CACHE_SIZE]) < 1000
    for index in range(bound + 10):
        empty_delta_table(tmp_path / f"t{index}")
        assert spark.read.format("delta").load(str(tmp_path / f"t{index}")).columns == ["id"]
    assert 0 < cached_delta_logs(spark) <= bound
