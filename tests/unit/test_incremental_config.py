"""A source contract's ``incremental`` block (6.3.1.1 c, incremental collection by watermark):
declared on a zipper contract, validated with the file, line, key and fix, and refused when it
names a column that is not there or not of the right kind. No Spark."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import pytest

from lakehouse.config import load_project, validate_project
from lakehouse.config.incremental_extracts import IncrementalExtract
from lakehouse.errors import ConfigError
from lakehouse.ingestion.incremental_load import increment_plan

from .test_config import minimal_project

REPO_CONF = Path(__file__).resolve().parents[2] / "conf"

ATTRIBUTES = """
attributes:
  - {name: customer_id, type: string, nullable: false, business_name: {zh: 客户号, en: Customer ID}, security_level: 2, standard: DS-PTY-0001}
  - {name: mobile, type: string, business_name: {zh: 手机号码, en: Mobile}, security_level: 3, standard: DS-PTY-0004}
  - {name: upd_ts, type: timestamp, nullable: false, business_name: {zh: 更新时间, en: Updated at}, security_level: 1, standard: DS-EVT-0002}
  - {name: upd_day, type: date, business_name: {zh: 更新日期, en: Updated on}, security_level: 1, standard: DS-PTY-0005}
  - {name: op, type: string, business_name: {zh: 操作, en: Operation}, security_level: 1, standard: DS-AGT-0003}
  - {name: gone, type: boolean, business_name: {zh: 已删除, en: Deleted}, security_level: 1, standard: DS-AGT-0003}
"""


def contract(conf: Path, incremental: str, load_type: str = "zipper") -> Path:
    """``sources/cbs/customer.yaml`` of ``conf`` with the ``incremental`` block given (YAML)."""
    head = textwrap.dedent(f"""
        system: cbs
        entity: customer
        owner: li.na
        load_type: {load_type}
        keys: [customer_id]
        delivery: {{format: csv, path: "cbs/{{data_date}}/customer.csv"}}
    """).lstrip("\n")
    path = conf / "sources" / "cbs" / "customer.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + textwrap.dedent(incremental).lstrip("\n") + ATTRIBUTES.lstrip("\n"),
                    encoding="utf-8")
    return path


def problems(conf: Path) -> list[tuple]:
    return [(Path(p.file).name, p.line, p.key, p.message, p.fix) for p in validate_project(conf)]


def test_a_valid_block_loads_and_gives_the_engine_its_plan(tmp_path):
    conf = minimal_project(tmp_path)
    contract(conf, """
        incremental:
          updated_at: upd_ts
          deletes: {column: op, value: D}
    """)
    assert problems(conf) == []
    source = load_project(conf).sources["cbs.customer"]
    assert (source.incremental.updated_at, source.incremental.deletes.column,
            source.incremental.deletes.value) == ("upd_ts", "op", "D")
    plan = increment_plan(source)
    assert (plan.keys, plan.updated_at, plan.dated, plan.delete_column, plan.delete_value) == (
        ("customer_id",), "upd_ts", False, "op", "D")
    assert plan.attributes == ("customer_id", "mobile", "upd_ts", "upd_day", "op", "gone")


def test_a_date_updated_at_and_a_boolean_delete_flag(tmp_path):
    conf = minimal_project(tmp_path)
    path = contract(conf, """
        incremental:
          updated_at: upd_day
          deletes: {column: gone, value: true}
    """)
    path.write_text(path.read_text(encoding="utf-8").replace(
        "{name: upd_day, type: date,", "{name: upd_day, type: date, nullable: false,"),
        encoding="utf-8")
    assert problems(conf) == []
    plan = increment_plan(load_project(conf).sources["cbs.customer"])
    assert (plan.dated, plan.delete_column, plan.delete_value) == (True, "gone", "true")


def test_without_a_delete_marker_absence_is_no_deletion(tmp_path):
    conf = minimal_project(tmp_path)
    contract(conf, "incremental: {updated_at: upd_ts}\n")
    plan = increment_plan(load_project(conf).sources["cbs.customer"])
    assert (plan.delete_column, plan.delete_value) == (None, None)


@pytest.mark.parametrize(("block", "load_type", "expected"), [
    ("incremental: {updated_at: upd_tz}\n", "zipper",
     (7, "incremental.updated_at", "updated_at 'upd_tz' is not an attribute of the contract",
      "name the timestamp or date attribute holding the row's last-update time: upd_ts, "
      "upd_day (did you mean 'upd_ts'?)")),
    ("incremental: {updated_at: mobile}\n", "zipper",
     (7, "incremental.updated_at", "updated_at 'mobile' is a string, not a timestamp or date",
      "name a timestamp or date attribute: upd_ts, upd_day, or declare mobile as type: timestamp")),
    ("incremental: {updated_at: customer_id}\n", "zipper",
     (7, "incremental.updated_at", "updated_at 'customer_id' is a key: a row's update time "
      "cannot identify it", "name a non-key timestamp or date attribute: upd_ts, upd_day")),
    ("incremental: {updated_at: upd_day}\n", "zipper",
     (12, "attributes[3].nullable", "updated_at attribute 'upd_day' must have nullable: false (a "
      "row without an update time cannot be placed against the watermark)",
      "set 'nullable: false' on attribute 'upd_day'")),
    ("incremental: {updated_at: upd_ts}\n", "snapshot",
     (7, "incremental", "an incremental extract is applied to a zipper table, not a snapshot "
      "table", "set load_type: zipper, or remove incremental (a snapshot or append load takes "
      "each delivery as it is)")),
    ("incremental: {updated_at: upd_ts, deletes: {column: opp}}\n", "zipper",
     (7, "incremental.deletes.column", "delete flag column 'opp' is not an attribute of the "
      "contract", "name the attribute flagging a deleted row: mobile, op, gone (did you mean "
      "'op'?)")),
    ("incremental: {updated_at: upd_ts, deletes: {column: upd_day}}\n", "zipper",
     (7, "incremental.deletes.column", "delete flag column 'upd_day' is a date; a flag is a "
      "string, integer or boolean", "name a string, integer or boolean attribute: mobile, op, gone")),
    ("incremental: {updated_at: upd_ts, deletes: {column: gone}}\n", "zipper",
     (7, "incremental.deletes.value", "delete flag column 'gone' is a boolean, so its value "
      "cannot be 'D'", "write value: true (or false, if false marks a deleted row)")),
])
def test_a_bad_block_is_refused_with_its_file_key_and_fix(tmp_path, block, load_type, expected):
    conf = minimal_project(tmp_path)
    contract(conf, block, load_type)
    assert problems(conf) == [("customer.yaml", *expected)]
    with pytest.raises(ConfigError) as refused:  # what registering the contract meets
        load_project(conf)
    assert f"customer.yaml, line {expected[0]}" in str(refused.value)
    assert f"key: {expected[1]}" in str(refused.value)


def test_a_misspelt_key_or_a_cdc_delivery_besides_is_refused(tmp_path):
    conf = minimal_project(tmp_path)
    path = contract(conf, "incremental: {update_at: upd_ts}\n")
    found = {key: (line, message, fix) for _, line, key, message, fix in problems(conf)}
    assert found["incremental.update_at"] == (7, "unknown key 'update_at'", "remove it or use "
                                              "one of: updated_at, deletes (did you mean 'updated_at'?)")
    assert found["incremental.updated_at"][:2] == (7, "missing required key 'updated_at'")
    assert len(found) == 2
    path.write_text(path.read_text(encoding="utf-8").replace(
        'delivery: {format: csv, path: "cbs/{data_date}/customer.csv"}',
        'delivery: {format: csv, path: "cbs/{data_date}/customer.csv", cdc: '
        '{operation_column: op, sequence_column: upd_ts}}').replace(
        "update_at", "updated_at"), encoding="utf-8")
    assert [(key, message) for _, _, key, message, _ in problems(conf)] == [
        ("incremental", "a delivery is either change rows (delivery.cdc) or an incremental "
                        "extract, not both")]


def test_contracts_without_the_block_keep_their_hash():
    """Registered contracts stay registered: the new optional key is left out of the hash."""
    source = load_project(REPO_CONF).sources["cbs.customer"]
    assert source.incremental is None
    dumped = source.model_dump(mode="json")
    dumped.pop("incremental")
    dumped.pop("realtime")
    canonical = json.dumps(dumped, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert source.content_hash == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    declared = source.model_copy(update={"incremental": IncrementalExtract(updated_at="open_date")})
    assert declared.content_hash != source.content_hash
