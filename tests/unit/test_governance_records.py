"""Governance records: every field typed and required, specs derived from the records."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from lakehouse.errors import Problem
from lakehouse.governance import tables
from lakehouse.governance.records import (
    PROBLEMS_TYPE, RECORD_TYPES, AdmissionLogRecord, LoadLogRecord, ModelRunsRecord, ProblemRecord,
    QuarantineRecord, check_fields, newest_per_key, spec_of)
from lakehouse.governance.store import GovernanceStore

NOW = datetime(2026, 11, 2, 8, 30)


def load_log(**changes):
    values = dict(run_id="r1", source="cbs.customer", table_name="near_source.cbs_customer",
                  data_date=date(2026, 11, 1), load_type="zipper", file_name="f.csv", sha256="ab",
                  rows_in=3, rows_loaded=3, rows_quarantined=0, status="succeeded", message=None,
                  table_version=1, started_at=NOW, finished_at=NOW, operation="delivery", rows_refused=0)
    values.update(changes)
    return values


def test_a_misspelt_field_is_rejected_naming_it_and_the_record():
    values = load_log()
    values["rows_louded"] = values.pop("rows_loaded")
    with pytest.raises(TypeError, match="rows_louded"):
        LoadLogRecord(**values)
    with pytest.raises(ValueError) as caught:
        LoadLogRecord.of(**values)
    message = str(caught.value)
    assert "LoadLogRecord" in message and "governance.load_log" in message
    assert "unknown field 'rows_louded'" in message and "missing field 'rows_loaded'" in message


def test_a_missing_field_is_rejected_naming_it():
    values = load_log()
    del values["message"]
    with pytest.raises(TypeError, match="message"):
        LoadLogRecord(**values)
    with pytest.raises(ValueError, match="missing field 'message'"):
        check_fields(LoadLogRecord, values)


class _NoEngine:
    def __getattr__(self, name):
        raise AssertionError(f"the engine must not be called ({name})")


def test_the_store_appends_only_records_of_one_table():
    store = GovernanceStore(_NoEngine(), "/lake")
    with pytest.raises(TypeError, match="dict is not a governance record"):
        store.append([load_log()])
    record = LoadLogRecord(**load_log())
    other = ModelRunsRecord(run_id="r", model="m", table_name="t", layer="mart", data_date=NOW.date(),
                            status="succeeded", reason="", blocked_by=[], rows=1, table_version=1,
                            sql_hash="h", started_at=NOW, finished_at=NOW, input_versions={})
    with pytest.raises(TypeError, match="LoadLogRecord and ModelRunsRecord"):
        store.append([record, other])
    store.append([])  # nothing to write: no commit, no engine call


def test_specs_come_from_the_records_with_names_types_and_order_kept():
    spec = tables.load_log("/lake")
    assert spec.qualified_name == "governance.load_log" and spec.path == "/lake/governance/load_log"
    assert spec.column_names == LoadLogRecord.field_names()
    assert spec.column_types["rows_loaded"] == "bigint" and spec.column_types["finished_at"] == "timestamp"
    quarantine = spec_of(QuarantineRecord, "/lake", "cbs_account")
    assert quarantine.qualified_name == "governance.quarantine_cbs_account"
    assert quarantine.path == "/lake/governance/quarantine/cbs_account"
    assert quarantine.partition_by == ("data_date",)
    assert quarantine.comment == "Quarantined rows of cbs_account, with the rule and reason"
    runs = tables.model_runs("/lake")
    assert runs.column_names[-3:] == ["started_at", "finished_at", "input_versions"]
    assert runs.column_types["input_versions"] == "map<string,bigint>"
    assert tables.admission_log("/lake").column_types["problems"] == PROBLEMS_TYPE
    assert {s.name for s in tables.all_specs("/lake")} == {r.TABLE for r in RECORD_TYPES}


def test_newest_per_key_takes_the_greatest_order_the_last_on_a_tie():
    rows = [{"k": "a", "t": 1, "n": 1}, {"k": "b", "t": 5, "n": 2}, {"k": "a", "t": 3, "n": 3},
            {"k": "a", "t": 3, "n": 4}, {"k": "b", "t": 2, "n": 5}]
    found = newest_per_key(rows, ["k"], "t")
    assert {k: r["n"] for k, r in found.items()} == {("a",): 4, ("b",): 2}
    records = [LoadLogRecord(**load_log(source=s, finished_at=datetime(2026, 11, 2, h)))
               for s, h in (("x", 1), ("y", 3), ("x", 2))]
    assert [r.finished_at.hour for r in newest_per_key(records, ["source"], "finished_at").values()] == [2, 3]


def test_problems_are_stored_structured_with_sensitive_values_masked():
    problems = [Problem("duplicate key", "c.csv", 7, column="id_number", value="110105194912310021",
                        fix="redeliver"),
                Problem("control total differs", "c.ctl", key="amount_total", value="12.50")]
    stored = [ProblemRecord.of(p, masked={"id_number"}) for p in problems]
    assert stored[0] == ProblemRecord(message="duplicate key", file="c.csv", line=7, key="id_number",
                                      value="110***********0021", fix="redeliver")
    assert stored[1].value == "12.50" and stored[1].key == "amount_total"
    record = AdmissionLogRecord(run_id="r", source="s", data_date=NOW.date(), file_name="c.csv",
                                contract_hash="h", registration_version=1, decision="rejected",
                                check_order=5, check_name="quality", status="failed", evidence="{}",
                                problems=stored, decided_at=NOW)
    row = record.as_row()
    assert row["problems"][0] == {"message": "duplicate key", "file": "c.csv", "line": 7,
                                  "key": "id_number", "value": "110***********0021", "fix": "redeliver"}
    assert AdmissionLogRecord.from_row(row) == record


class _RecordingEngine:
    """Just enough of an engine for the store: tables exist, appends are recorded."""

    def __init__(self):
        self.batches = []

    def prepare_table(self, spec, bring_to_spec):
        bring_to_spec()

    def table_layout(self, spec):
        return None

    def ensure_table(self, spec):
        pass

    def append_many(self, batches):
        self.batches.append([(spec.name, rows) for spec, rows in batches])


def test_append_each_writes_one_batch_per_table_side_by_side():
    engine = _RecordingEngine()
    store = GovernanceStore(engine, "/lake")
    record = LoadLogRecord(**load_log())
    run = ModelRunsRecord(run_id="r", model="m", table_name="t", layer="mart", data_date=NOW.date(),
                          status="succeeded", reason="", blocked_by=[], rows=1, table_version=1,
                          sql_hash="h", started_at=NOW, finished_at=NOW, input_versions={})
    store.append_each([record], [], [run])
    [written] = engine.batches
    assert [(name, len(rows)) for name, rows in written] == [("load_log", 1), ("model_runs", 1)]
    assert written[0][1][0]["rows_loaded"] == 3
    with pytest.raises(ValueError, match="one batch per table"):
        store.append_each([record], [record])
    with pytest.raises(TypeError, match="dict is not a governance record"):
        store.append_each([load_log()])
