"""Retention without Spark: which rule applies, which dates a hold pins, what expires (rows, zipper
versions, raw folders, staging), that a dry run changes nothing, and located configuration errors."""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from lakehouse.config.lifecycle import DateRange, Hold
from lakehouse.config.loader import load_project, validate_project
from lakehouse.lifecycle import retention
from lakehouse.lifecycle.holds import Holds
from lakehouse.lifecycle.retention_rules import Keep, RetentionRules
from lakehouse.lifecycle.retention_targets import RawTarget, TableTarget
from lakehouse.zones.tables import TableSpec

REPO = Path(__file__).resolve().parents[2]
D = [date(2026, 11, day) for day in range(1, 8)]  # D[0] = 2026-11-01 ...


def hold(name="court_17", tables=("cbs_transaction",), start=D[1], end=D[1], released_on=None) -> Hold:
    return Hold(name=name, tables=list(tables), data_dates=DateRange(start=start, end=end),
                authority="a court", placed_by="li.na", placed_on=D[0], reason="case 17",
                released_on=released_on)


@pytest.fixture(scope="module")
def project():
    return load_project(REPO / "conf")


def test_the_most_specific_rule_wins_and_is_named(project):
    rules = RetentionRules(project)
    assert rules.keep("ref_code", "raw") == Keep(90, "retention.yaml tables[ref_code]", "table")
    assert rules.keep("cbs_transaction", "near_source").rule == "retention.yaml standards[DS-EVT-0003]"
    assert rules.keep("ref_branch", "raw") == Keep(400, "retention.yaml levels[1]", "level")
    assert rules.keep("cbs_customer", "raw") == Keep(1830, "retention.yaml default", "default")
    assert rules.keep("com_party_balance_daily", "model_snapshots").rule == \
        "layers/common/com_party_balance_daily.yaml retention_days"
    assert rules.keep(None, "staging").days == 3
    assert Keep(2, "x").cutoff(D[3]) == D[2]  # two data dates kept: D[2] and D[3]


def test_a_hold_pins_its_tables_and_dates_until_released():
    holds = Holds([hold(), hold("old", released_on=D[2])], today=D[5])
    assert holds.pinning("cbs_transaction", D[1]).name == "court_17"
    assert holds.pinning("cbs_transaction", D[2]) is None
    assert holds.pinning("cbs_account", D[1]) is None
    assert [h.name for h in holds.overlapping("cbs_transaction", D[0], D[3])] == ["court_17"]
    assert Holds([hold(released_on=D[6])], today=D[5]).pinning("cbs_transaction", D[1]) is not None


def target(dated_by="data_date", rows_of=None, days=2) -> TableTarget:
    spec = TableSpec(name="cbs_transaction", zone="standard", layer="near_source", path="/lake/t", columns=())
    return TableTarget("near_source", "cbs_transaction", spec, Keep(days, "rule"), dated_by, rows_of)


def test_expired_dates_are_deleted_except_the_held_one():
    predicate, removals = retention.expired(
        target(), [((D[0],), 5), ((D[1],), 6), ((D[2],), 7), ((D[4],), 1)], Holds([hold()]), latest=D[4])
    assert predicate == "data_date IN (DATE'2026-11-01', DATE'2026-11-03')"
    assert [(r.action, r.data_date, r.rows, r.held_by) for r in removals] == [
        ("deleted", D[0], 5, None), ("held", D[1], 6, "court_17"), ("deleted", D[2], 7, None)]


def test_zipper_versions_expire_once_closed_before_the_cutoff_unless_a_hold_overlaps():
    counts = [((D[0], D[1]), 3),   # valid on D[0] only: expired
              ((D[0], D[2]), 2),   # valid on D[0] and D[1]: the hold on D[1] keeps it
              ((D[2], D[3]), 4),   # closed on D[3] = the cutoff: expired
              ((D[3], D[5]), 9)]   # valid on the kept D[3], D[4]: not counted
    predicate, removals = retention.expired(target("end_dt", ("table_name", "near_source.x")), counts,
                                            Holds([hold()]), latest=D[4])
    assert [(r.action, r.data_date, r.rows) for r in removals] == [
        ("deleted", D[1], 3), ("held", D[2], 2), ("deleted", D[3], 4)]
    assert predicate == ("`table_name` = 'near_source.x' AND end_dt <= DATE'2026-11-04' AND NOT "
                         "(start_dt <= DATE'2026-11-02' AND end_dt > DATE'2026-11-02')")


def raw_folders(tmp_path: Path) -> Path:
    base = tmp_path / "raw" / "cbs" / "transaction"
    for day in D[:4]:
        folder = base / f"data_date={day}" / "v1"
        folder.mkdir(parents=True)
        (folder / "t.jsonl").write_text("{}\n")
        (folder / "t.ctl").write_text("row_count=1\nsha256=ab\nsignature=cd\n")
    return base


def test_expired_raw_folders_are_destroyed_with_every_file_held_ones_kept(tmp_path):
    base = raw_folders(tmp_path)
    raw = RawTarget("cbs.transaction", "cbs_transaction", str(base), Keep(2, "rule"))
    planned = retention.expire_raw(raw, Holds([hold()]), latest=D[3], dry_run=True)
    assert sorted(p.name for p in base.iterdir()) == [f"data_date={d}" for d in D[:4]]  # dry run
    done = retention.expire_raw(raw, Holds([hold()]), latest=D[3])
    assert [(r.action, r.data_date, r.files, r.bytes, r.held_by) for r in done] == \
        [(r.action, r.data_date, r.files, r.bytes, r.held_by) for r in planned] == [
            ("destroyed", D[0], 2, 3 + 35, None), ("held", D[1], 2, 38, "court_17")]
    assert sorted(p.name for p in base.iterdir()) == [f"data_date={d}" for d in D[1:4]]


def test_only_stale_staging_folders_are_removed(tmp_path):
    for run, age_days in (("dead", 5), ("running", 0)):
        folder = tmp_path / "_staging" / run
        folder.mkdir(parents=True)
        (folder / "x.parquet").write_bytes(b"12345")
        moment = time.time() - age_days * 86400
        os.utime(folder / "x.parquet", (moment, moment))
        os.utime(folder, (moment, moment))
    done = retention.expire_staging(str(tmp_path), Keep(3, "rule"), datetime.now())
    assert [(r.table, r.files, r.bytes) for r in done] == [("dead", 1, 5)]
    assert sorted(p.name for p in (tmp_path / "_staging").iterdir()) == ["running"]


class FakeEngine:
    """Counts rows of one table and records what would change it."""

    def __init__(self, path: str, counts):
        self.path, self.counts, self.changes = path, counts, []

    def table_exists(self, spec):
        return spec.path == self.path

    def row_counts(self, spec, columns, predicate):
        return self.counts

    def delete_rows(self, spec, predicate, metadata):
        self.changes.append(("delete", predicate))
        return 7

    def vacuum(self, spec, hours):
        self.changes.append(("vacuum", hours))


class FakeStore:
    def __init__(self):
        self.appended = []

    @contextmanager
    def holding(self):
        yield self

    def exists(self, record_type):
        return False

    def append(self, records):
        self.appended += records


def test_a_dry_run_plans_and_touches_nothing_a_run_deletes_and_records(project, tmp_path):
    lake = project.model_copy(update={"settings": project.settings.model_copy(
        update={"root": str(tmp_path)}), "models": {}})
    path = str(tmp_path / "standard" / "near_source" / "cbs_account")
    engine, store = FakeEngine(path, [((D[4],), 4), ((D[6],), 4)]), FakeStore()
    latest = D[6] + timedelta(days=1830)  # cbs_account keeps 1830 data dates: D[4] and D[6] expire
    planned = retention.run(engine, store, lake, latest, dry_run=True, vacuum_window_hours=0)
    assert [(r.zone, r.action, r.data_date) for r in planned.removals] == [
        ("near_source", "deleted", D[4]), ("near_source", "deleted", D[6]), ("near_source", "vacuumed", None)]
    assert engine.changes == [] and store.appended == []
    done = retention.run(engine, store, lake, latest, vacuum_window_hours=0)
    assert engine.changes == [("delete", "(data_date IN (DATE'2026-11-05', DATE'2026-11-07'))"), ("vacuum", 0)]
    assert [(r.action, r.data_date, r.rows, r.table_version, r.rule, r.run_id) for r in store.appended] == [
        ("deleted", D[4], 4, 7, "retention.yaml default", done.run_id),
        ("deleted", D[6], 4, 7, "retention.yaml default", done.run_id),
        ("vacuumed", None, None, None, "vacuum_window_hours 0", done.run_id)]


def test_a_bad_retention_or_holds_file_gives_located_errors(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(REPO / "conf", conf)
    (conf / "retention.yaml").write_text(
        "vacuum_window_hours: 168\ndefault:\n  raw: 0\n  nearsource: 30\n"
        "tables:\n  - table: cbs_transactoin\n    keep: {raw: 10}\n  - table: ref_code\n    keep: {staging: 2}\n")
    (conf / "holds.yaml").write_text(
        "holds:\n  - name: h1\n    tables: [cbs_customer]\n    data_dates: {from: 2026-11-05, to: 2026-11-01}\n"
        "    authority: a court\n    placed_by: li.na\n    placed_on: 2026-11-20\n    reason: r\n")
    found = {(Path(p.file).name, p.line, p.key): p for p in validate_project(conf)}
    assert set(found) == {("retention.yaml", 3, "default.raw"), ("retention.yaml", 4, "default.nearsource"),
                          ("retention.yaml", 6, "tables[0].table"), ("retention.yaml", 9, "tables[1].keep"),
                          ("holds.yaml", 4, "holds[0].data_dates")}
    assert "did you mean 'near_source'" in found[("retention.yaml", 4, "default.nearsource")].fix
    assert "did you mean 'cbs_transaction'" in found[("retention.yaml", 6, "tables[0].table")].message
    assert found[("retention.yaml", 9, "tables[1].keep")].fix == "move staging to the default rule"
    assert "before 'from'" in found[("holds.yaml", 4, "holds[0].data_dates")].message


def test_the_report_shows_rules_and_holds_as_written():
    from rich.console import Console

    from lakehouse.cli.rendering import retention_table

    result = retention.RetentionResult("run-1", D[3], True, 168, [
        retention.Removal("raw", "destroyed", "near_source.ref_code", "/lake/raw/ref/code/data_date=2026-11-01",
                          "retention.yaml tables[ref_code]", 90, D[0], None, 2, 38),
        retention.Removal("near_source", "held", "near_source.cbs_account", "/lake/t", "retention.yaml default",
                          1830, D[1], 4, held_by="aml_inquiry_2026_017")])
    console = Console(width=250, record=True)
    console.print(retention_table(result))
    text = console.export_text()
    assert "would remove 1, kept by holds 1" in text
    assert "would be destroyed" in text and "retention.yaml tables[ref_code]" in text
    assert "held (aml_inquiry_2026_017)" in text
