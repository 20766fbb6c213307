"""Explicit overrides: a Lakehouse's paths given as arguments win over conf and environment;
an engine asking for other Spark settings than the running session's is not silently ignored."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from lakehouse.api import Lakehouse
from lakehouse.config import load_project
from lakehouse.errors import ConfigError

REPO_CONF = Path(__file__).resolve().parents[2] / "conf"
PATH_VARIABLES = ("LAKEHOUSE_ROOT", "LAKEHOUSE_LANDING", "LAKEHOUSE_REPORTS")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in PATH_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_lakehouse_paths_given_explicitly_win_over_conf_and_environment(tmp_path, monkeypatch):
    for name in PATH_VARIABLES:
        monkeypatch.setenv(name, str(tmp_path / "from-env" / name))
    lh = Lakehouse(REPO_CONF, root=tmp_path / "lake", landing=tmp_path / "drop",
                   reports_dir=tmp_path / "out")
    assert lh.root == lh.settings.root == str(tmp_path / "lake")
    assert lh.settings.landing == str(tmp_path / "drop")
    assert lh.project.reports_dir == tmp_path / "out"
    assert lh._engine is None  # no Spark for a Lakehouse that has not used its engine


def test_paths_not_given_keep_the_environment_then_the_conf_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_LANDING", str(tmp_path / "env-landing"))
    lh = Lakehouse(REPO_CONF, root=tmp_path / "lake")
    assert lh.root == str(tmp_path / "lake")
    assert lh.settings.landing == str(tmp_path / "env-landing")
    assert lh.settings.reports == str(REPO_CONF.parent / "reports")


def test_relative_explicit_paths_are_taken_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lh = Lakehouse(REPO_CONF, root="lake", reports_dir="out")
    assert lh.root == str(tmp_path / "lake")
    assert lh.settings.reports == str(tmp_path / "out")


def test_explicit_uri_root_is_kept_as_it_is():
    assert Lakehouse(REPO_CONF, root="s3a://bank/lake").root == "s3a://bank/lake"


def test_load_project_rejects_a_path_setting_it_does_not_know():
    with pytest.raises(TypeError, match="unknown path setting.*warehouse.*overridable: root, landing, reports"):
        load_project(REPO_CONF, paths={"warehouse": "/x"})


# -- build_session with a session already running (a stand-in session: no JVM) -----------------
class FakeConf:
    def __init__(self, values: dict[str, str], static: set[str]):
        self.values, self.static = dict(values), static

    def get(self, key, default=None):
        return self.values.get(key, default)

    def set(self, key, value):
        self.values[key] = value

    def isModifiable(self, key):  # noqa: N802 - Spark's name
        return key not in self.static


class FakeSession:
    def __init__(self, master: str, values: dict[str, str]):
        self.sparkContext = types.SimpleNamespace(master=master)
        self.conf = FakeConf(values, static={"spark.driver.memory", "spark.sql.warehouse.dir"})
        self.siblings: list[FakeSession] = []

    def newSession(self):  # noqa: N802 - Spark's name
        sibling = FakeSession(self.sparkContext.master, self.conf.values)
        self.siblings.append(sibling)
        return sibling


@pytest.fixture
def running(monkeypatch):
    pytest.importorskip("pyspark")
    from lakehouse.engine import session as session_module

    active = FakeSession("local[2]", {"spark.sql.shuffle.partitions": "2",
                                      "spark.sql.session.timeZone": "Asia/Shanghai",
                                      "spark.driver.memory": "2g"})
    monkeypatch.setattr(session_module.SparkSession, "getActiveSession", staticmethod(lambda: active))
    return session_module, active


def test_the_running_session_is_reused_when_the_settings_match(running):
    module, active = running
    assert module.build_session("local[2]", None, {"spark.sql.shuffle.partitions": "2"}) is active


def test_runtime_sql_settings_are_applied_to_a_sibling_session_not_the_running_one(running, caplog):
    module, active = running
    got = module.build_session("local[2]", None, {"spark.sql.shuffle.partitions": "8",
                                                  "spark.driver.memory": "4g"})
    assert got is not active and got in active.siblings
    assert got.conf.get("spark.sql.shuffle.partitions") == "8"
    assert active.conf.get("spark.sql.shuffle.partitions") == "2"  # other engines keep theirs
    assert "spark.driver.memory" in caplog.text and "only take effect when Spark starts" in caplog.text


def test_another_master_than_the_running_session_is_a_clear_error(running):
    module, _ = running
    with pytest.raises(ConfigError) as raised:
        module.build_session("spark://cluster:7077", None, {})
    [problem] = raised.value.problems
    assert problem.key == "spark.master" and problem.value == "spark://cluster:7077"
    assert "already runs master local[2]" in problem.message
    assert "engine=" in problem.fix


def test_a_remote_while_a_local_session_runs_is_a_clear_error(running):
    module, _ = running
    with pytest.raises(ConfigError, match="other settings"):
        module.build_session(None, "sc://spark:15002", {})



def test_a_package_the_running_spark_started_without_is_a_clear_error(running):
    module, active = running
    with pytest.raises(ConfigError) as raised:
        module.build_session("local[2]", None, {}, ("org.apache.hadoop:hadoop-aws:3.4.2",))
    [problem] = raised.value.problems
    assert problem.key == "root" and "hadoop-aws:3.4.2" in problem.message
    active.conf.set("spark.jars", "/ivy/jars/io.delta_delta-spark_4.1_2.13-4.4.0.jar,"
                                  "/ivy/jars/org.apache.hadoop_hadoop-aws-3.4.2.jar")
    assert module.build_session("local[2]", None, {"spark.sql.shuffle.partitions": "2"},
                                ("org.apache.hadoop:hadoop-aws:3.4.2",)) is active
