"""The TPC-DI workload's quality rule files (issue #20): the framework's rule-file format read on
its own, a bad file refused with its file, line and key. No Spark."""

from __future__ import annotations

import pytest

from examples.tpcdi.quality import MEASURED, RULES, rule_files
from lakehouse.errors import ConfigError


def test_the_shipped_rule_files_measure_the_warehouse_tables():
    found = rule_files()
    assert set(found) == set(MEASURED) == {p.stem for p in RULES.glob("*.yaml")}
    assert {r.dimension for f in found.values() for r in f.rules} >= {
        "accuracy", "consistency", "validity"}


def test_a_rule_file_for_a_table_that_is_not_measured_is_refused(tmp_path):
    (tmp_path / "fact_holdings.yaml").write_text(
        "table: fact_holdings\nrules:\n  - {name: positive, dimension: validity, sql: Quantity > 0}\n")
    with pytest.raises(ConfigError, match="fact_holdings.*dim_customer, dim_trade"):
        rule_files(tmp_path)


def test_a_malformed_rule_is_refused_with_its_file_line_and_key(tmp_path):
    path = tmp_path / "dim_trade.yaml"
    path.write_text("table: dim_trade\nrules:\n  - name: fee_ok\n    dimension: cost\n"
                    "    sql: Fee >= 0\n")
    with pytest.raises(ConfigError) as raised:
        rule_files(tmp_path)
    problem = raised.value.problems[0]
    assert problem.file.endswith("dim_trade.yaml") and problem.line == 4
    assert "dimension" in problem.key
    assert problem.fix


def test_invalid_yaml_is_refused_with_its_line(tmp_path):
    (tmp_path / "dim_trade.yaml").write_text("table: dim_trade\nrules: [\n")
    with pytest.raises(ConfigError) as raised:
        rule_files(tmp_path)
    assert raised.value.problems[0].file.endswith("dim_trade.yaml")
    assert raised.value.problems[0].line is not None
