"""Shared fixtures: one local Spark + Delta session for the whole test run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    """The engine every integration test shares (one JVM, one SparkSession)."""
    from lakehouse.engine import Engine

    warehouse = str(tmp_path_factory.mktemp("catalog"))
    eng = Engine("local[2]", conf={"spark.sql.shuffle.partitions": "2",
                                    "spark.sql.warehouse.dir": warehouse,
                                    "spark.default.parallelism": "2",
                                    "spark.driver.memory": "2g"})
    assert eng.spark is not None  # start it once, up front
    yield eng
    eng.spark.stop()


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    """A copy of the repo's conf/, quality_rules/ and layers/ whose root, landing and reports
    point into ``tmp_path``."""
    for folder in ("conf", "quality_rules", "layers"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lakehouse"))
    monkeypatch.setenv("LAKEHOUSE_LANDING", str(tmp_path / "landing"))
    return tmp_path


@pytest.fixture
def unregistered(project: Path, engine):
    """The project's lakehouse before any source contract is registered."""
    from lakehouse.api import Lakehouse

    return Lakehouse(project / "conf", engine=engine)


@pytest.fixture
def lakehouse(unregistered, project: Path):
    """The project's lakehouse with every source contract registered (deliveries can be admitted)."""
    results = unregistered.register(project / "conf" / "sources", by="test")
    assert all(r.status == "registered" for r in results), [r.error for r in results]
    return unregistered


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.spark)


os.environ.setdefault("PYSPARK_PYTHON", str(Path(os.sys.executable)))
