"""conf/history.yaml: the hot windows of the tables that move to the history zone, checked
against the project with every error located."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lakehouse.config import load_project
from lakehouse.config.history_registry import HistoryRegistry
from lakehouse.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def repo_project():
    return load_project(REPO / "conf")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for folder in ("conf", "layers", "quality_rules"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    return tmp_path / "conf"


def test_repository_history_declares_hot_windows_by_layer_and_table(repo_project):
    history = repo_project.history
    assert history.hot_days("near_source.cbs_transaction", "near_source", "append") == 180
    assert history.hot_days("near_source.cbs_account", "near_source", "snapshot") == 400
    assert history.hot_days("near_source.cbs_customer", "near_source", "zipper") is None
    assert history.hot_days("common.com_party_balance_daily", "common", "snapshot") is None


def test_without_history_yaml_nothing_moves(project):
    (project / "history.yaml").unlink()
    assert load_project(project).history == HistoryRegistry()


def test_every_mistake_is_reported_with_file_line_key_and_fix(project):
    path = project / "history.yaml"
    path.write_text(
        "schedule: daily\n"
        "layers:\n"
        "  near_sauce: 30\n"                        # line 3
        "  common: 60\n"                            # line 4: above common's retention 31
        "tables:\n"
        "  near_source.cbs_customer: 90\n"          # line 6: a zipper table
        "  near_source.cbs_acount: 90\n"            # line 7: misspelt
        "  near_source.cbs_account: 0\n"            # line 8: not a window
        "  mart.mart_customer_360: ninety\n"        # line 9
        "hot_days: 3\n", encoding="utf-8")          # line 10: unknown key
    with pytest.raises(ConfigError) as raised:
        load_project(project)
    problems = {(p.line, p.key): p for p in raised.value.problems}  # (both common tables: one)
    assert all(p.file == str(path) for p in problems.values())
    assert "unknown layer 'near_sauce' (did you mean 'near_source'?)" in problems[3, "layers.near_sauce"].message
    common = problems[4, "layers.common"]
    assert "not below the retention_days 31" in common.message and "tables:" in common.fix
    zipper = problems[6, "tables['near_source.cbs_customer']"]
    assert "zipper tables are history already" in zipper.message
    assert "remove it from history.yaml" in zipper.fix
    assert "did you mean 'near_source.cbs_account'" in problems[7, "tables['near_source.cbs_acount']"].message
    assert "greater than or equal to 1" in problems[8, "tables['near_source.cbs_account']"].message
    assert problems[9, "tables['mart.mart_customer_360']"].value == "ninety"
    assert 10 in {line for line, _ in problems}
    common_tables = {p.fix.split()[1] for p in raised.value.problems if p.key == "layers.common"}
    assert common_tables == {"common.com_party_balance_daily", "common.com_party_txn_monthly"}
    assert len(raised.value.problems) == 8


def test_the_tables_that_move_are_the_snapshot_and_append_tables_with_a_hot_window(repo_project):
    from lakehouse.lifecycle.history import movable_tables

    moving = {m.spec.qualified_name: m.hot_days for m in movable_tables(repo_project, "/lake")}
    assert moving == {
        "near_source.cbs_account": 400, "near_source.cbs_transaction": 180,
        "near_source.ccs_card_txn": 180, "near_source.lns_loan": 400,
        "near_source.lns_repayment": 400, "near_source.lns_repayment_schedule": 400,
        "integrated.evt_transaction": 400, "mart.mart_customer_360": 400,
        "mart.mart_customer_label": 400, "mart.mart_risk_warning": 400}


def test_history_paths_follow_the_hot_table_and_zipper_tables_have_none(repo_project):
    from lakehouse.zones.history import history_path, history_spec
    from lakehouse.zones.near_source import near_source_spec

    spec = near_source_spec(repo_project.sources["cbs.transaction"], "/lake")
    history = history_spec(spec)
    assert (history.path, history.qualified_name, history.partition_by) == (
        "/lake/history/near_source/cbs_transaction", "history.near_source__cbs_transaction",
        ("data_month",))
    assert history.column_names == ["data_month", "data_date", *spec.column_names[:-1]]
    assert history_path(near_source_spec(repo_project.sources["cbs.customer"], "/lake")) is None

