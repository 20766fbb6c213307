"""Shared fixtures: one local Spark + Delta session for the whole test run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


SMALL_DATA = {
    # test tables hold tens of rows: one partition per shuffle and per Delta state
    # reconstruction, and no whole-stage code generation (compiling Java for every small query
    # costs more CPU than running it; the results are the same)
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.databricks.delta.snapshotPartitions": "1",
    "spark.sql.codegen.wholeStage": "false",
}
"""Session settings for the tests' small data (the engine's defaults suit production sizes)."""


def pytest_configure(config):
    """The tests' own master key (a fresh one per run, owner-only), for every process the tests
    start: keyed pseudonyms never depend on the developer's key."""
    import tempfile

    from lakehouse.security.keys import KEY_FILE_VARIABLE, create_key_file

    if not os.environ.get(KEY_FILE_VARIABLE, "").startswith(tempfile.gettempdir()):
        key = Path(tempfile.mkdtemp(prefix="lakehouse-test-key-")) / "master.key"
        create_key_file(key)
        os.environ[KEY_FILE_VARIABLE] = str(key)


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    """The engine every integration test shares (one JVM, one SparkSession)."""
    from lakehouse.engine import Engine

    warehouse = str(tmp_path_factory.mktemp("catalog"))
    eng = Engine("local[2]", conf={"spark.sql.warehouse.dir": warehouse,
                                    "spark.driver.memory": "2g", **SMALL_DATA})
    assert eng.spark is not None  # start it once, up front
    yield eng
    eng.spark.stop()


PROJECT_FOLDERS = ("conf", "quality_rules", "layers", "realtime")
PATH_VARIABLES = ("LAKEHOUSE_ROOT", "LAKEHOUSE_LANDING", "LAKEHOUSE_REPORTS", "LAKEHOUSE_CONF")
ROOT = "lakehouse_data"
"""The lakehouse root of a test project: conf/lakehouse.yaml's ``./lakehouse_data``."""


def copy_project(target: Path) -> Path:
    """``target`` with a copy of the repo's conf/, quality_rules/ and layers/."""
    for folder in PROJECT_FOLDERS:
        shutil.copytree(REPO / folder, target / folder)
    return target


def open_project(folder: Path, engine=None):
    """The Lakehouse of a test project whose root, landing and reports are inside ``folder``."""
    from lakehouse.api import Lakehouse

    return Lakehouse(folder / "conf", engine=engine, root=folder / ROOT,
                     landing=folder / "landing", reports_dir=folder / "reports")


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    """A copy of the repo's conf/, quality_rules/ and layers/ whose root, landing and reports
    lie in ``tmp_path`` (the copied conf's relative paths; LAKEHOUSE_* path variables of the
    calling shell are cleared so that nothing redirects them)."""
    for name in PATH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return copy_project(tmp_path)


@pytest.fixture
def unregistered(project: Path, engine):
    """The project's lakehouse before any source contract is registered."""
    return open_project(project, engine)


@pytest.fixture(scope="session")
def registered_root(tmp_path_factory, engine) -> Path:
    """A lakehouse root with every source contract of the repo registered, made once per run."""
    template = copy_project(tmp_path_factory.mktemp("registered"))
    results = open_project(template, engine).register(template / "conf" / "sources", by="test")
    assert all(r.status == "registered" for r in results), [r.error for r in results]
    return template / ROOT


@pytest.fixture
def lakehouse(project: Path, engine, registered_root: Path):
    """The project's lakehouse with every source contract registered (deliveries can be admitted):
    a private copy of a root registered once per run (Delta tables are plain files)."""
    shutil.copytree(registered_root, project / ROOT)
    return open_project(project, engine)


def java_root_cause(error: BaseException) -> str | None:
    """The innermost ``Caused by:`` of a JVM error anywhere in ``error``'s chain (a Py4J error's
    text holds the whole Java trace, whose root cause sits in its middle)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        causes = [line.strip() for line in str(error).splitlines()
                  if line.strip().startswith("Caused by:")]
        if causes:
            return causes[-1]
        error = error.__cause__ or error.__context__
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failure's Java root cause as a section of its own, printed after the traceback: a CI
    log that keeps only the head and tail of a long Java trace still says what went wrong."""
    report = (yield).get_result()
    if call.excinfo is not None and report.failed:
        cause = java_root_cause(call.excinfo.value)
        if cause:
            report.sections.append((f"Java root cause ({call.when})", cause))


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.spark)


os.environ.setdefault("PYSPARK_PYTHON", str(Path(os.sys.executable)))
