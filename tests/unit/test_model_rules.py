"""Quality rules of layer model tables without Spark: rules derived from a model's keys and
declared columns, rule files for model tables and their located errors."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from lakehouse.config import load_project, validate_project
from lakehouse.config import derived_rules as derived
from lakehouse.config.layer_models import LayerModel
from lakehouse.layers.model_quality import held_reason, model_rules

REPO = Path(__file__).resolve().parents[2]


def model(**changes) -> LayerModel:
    data = dict(name="pty_x", layer="integrated", description="d", load_type="snapshot",
                keys=["party_id", "day"], inputs={"cbs_customer": "current"},
                sql="SELECT party_id, day, id_number, gender, note FROM cbs_customer")
    return LayerModel(**{**data, **changes})


@pytest.fixture(scope="module")
def standards():
    return load_project(REPO / "conf").standards


@pytest.fixture
def project_dir(tmp_path, monkeypatch) -> Path:
    for name in ("LAKEHOUSE_ROOT", "LAKEHOUSE_LANDING"):
        monkeypatch.delenv(name, raising=False)
    for folder in ("conf", "quality_rules", "layers"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    return tmp_path


def write(project_dir: Path, relative: str, text: str) -> Path:
    path = project_dir / relative
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_a_model_without_declared_columns_has_its_key_rules_only(standards):
    rules = derived.model_rules(model(), standards)
    assert [(r.name, r.dimension, r.severity, r.scope, r.kind) for r in rules] == [
        ("party_id.not_null", "completeness", "fail", "new_rows", "not_null"),
        ("day.not_null", "completeness", "fail", "new_rows", "not_null"),
        ("keys.unique", "uniqueness", "fail", "new_rows", "unique")]
    assert rules[2].unique == ["party_id", "day"] and all(r.origin == "derived" for r in rules)


def test_declared_columns_give_completeness_and_domain_rules(standards):
    rules = {r.name: r for r in derived.model_rules(model(columns={
        "id_number": {"description": "ID number", "nullable": False, "standard": "DS-PTY-0003"},
        "gender": {"description": "gender", "values": ["M", "F"]},
        "note": "a described column: no rule",
    }), standards)}
    assert set(rules) == {"party_id.not_null", "day.not_null", "keys.unique", "id_number.not_null",
                          "id_number.domain", "id_number.length", "gender.domain"}
    assert (rules["id_number.not_null"].severity, rules["id_number.not_null"].dimension) == ("warn", "completeness")
    assert rules["id_number.domain"].valid.check == "gb11643"  # the standard's domain
    assert rules["id_number.length"].max_length.max == standards["DS-PTY-0003"].length
    assert (rules["gender.domain"].in_set.values, rules["gender.domain"].severity) == (["M", "F"], "warn")


def test_a_zipper_model_adds_the_whole_table_invariants(standards):
    rules = {r.name: r for r in derived.model_rules(model(load_type="zipper", keys=["party_id"]), standards)}
    assert rules["zipper.one_open_row_per_key"].scope == rules["zipper.start_before_end"].scope == "table"
    assert rules["zipper.one_open_row_per_key"].unique == ["party_id"]


def test_a_column_declares_a_standard_or_values_not_both():
    with pytest.raises(ValidationError, match="a column follows a standard or lists its values, not both"):
        model(columns={"gender": {"description": "g", "standard": "DS-PTY-0003", "values": ["M"]}})
    assert model(columns={"note": "text"}).description_of("note") == "text"


def test_the_repository_model_rules_merge_derived_and_declared():
    project = load_project(REPO / "conf")
    rules = {r.name: r for r in model_rules(project, project.models["mart_risk_warning"])}
    assert (rules["observed_not_negative"].origin, rules["observed_not_negative"].severity) == ("declared", "fail")
    assert rules["party_has_an_agreement"].reference.table == "agt_agreement"
    assert rules["warning_level.domain"].in_set.values == ["high", "medium"]
    assert rules["keys.unique"].unique == ["party_id", "indicator"]
    party = {r.name for r in model_rules(project, project.models["pty_party"])}
    assert {"id_number.domain", "gender.domain", "zipper.one_open_row_per_key"} <= party


def test_a_model_rule_file_changes_derived_rules(project_dir):
    write(project_dir, "quality_rules/pty_party.yaml", """
        table: pty_party
        derived:
          gender.domain: {severity: fail}
          mobile.length: {enabled: false}
    """)
    project = load_project(project_dir / "conf")
    rules = {r.name: r for r in model_rules(project, project.models["pty_party"])}
    assert rules["gender.domain"].severity == "fail" and "mobile.length" not in rules


def test_errors_of_a_model_rule_file_are_located_with_the_fix(project_dir):
    path = write(project_dir, "quality_rules/mart_customer_label.yaml", """
        table: mart_customer_label
        rules:
          - name: recency_known
            dimension: completeness
            not_null: recency_dayz
          - name: party_known
            dimension: consistency
            reference: {table: agt_agreement, columns: {party_id: party_id}}
        derived:
          party_id.notnull: {severity: warn}
    """)
    problems = validate_project(project_dir / "conf")
    assert all(p.file == str(path) for p in problems), [p.render() for p in problems]
    where = {(p.line, p.key): p for p in problems}
    column = where[(5, "rules[0].not_null")]
    assert column.message == "column 'recency_dayz' is not a column of mart_customer_label"
    assert "recency_days" in column.fix
    lookup = where[(8, "rules[1].reference.table")]
    assert lookup.message == "table 'agt_agreement' is not a table mart_customer_label can look up"
    assert "pty_party" in lookup.fix and "cbs_customer" in lookup.fix  # its inputs, near-source tables
    override = where[(10, "derived['party_id.notnull']")]
    assert override.message == "no derived rule 'party_id.notnull' for mart_customer_label"
    assert "(did you mean 'party_id.not_null'?)" in override.fix


def test_an_unknown_standard_on_a_model_column_is_located(project_dir):
    text = (project_dir / "layers/integrated/pty_party.yaml").read_text(encoding="utf-8")
    (project_dir / "layers/integrated/pty_party.yaml").write_text(
        text.replace("standard: DS-PTY-0003", "standard: DS-PTY-003"), encoding="utf-8")
    [problem] = validate_project(project_dir / "conf")
    assert (problem.key, problem.value) == ("columns.id_number.standard", "DS-PTY-003")
    assert problem.message == "standard 'DS-PTY-003' is not in standards.yaml"
    assert "(did you mean 'DS-PTY-0003'?)" in problem.fix


def test_the_hold_names_the_table_date_rules_and_the_fix():
    project = load_project(REPO / "conf")
    import datetime as dt

    text = held_reason(project, project.models["mart_risk_warning"], "mart.mart_risk_warning",
                       dt.date(2026, 11, 1), ["observed_not_negative"])
    assert text.startswith("mart.mart_risk_warning for 2026-11-01 held by quality rule(s) of "
                           "severity fail: observed_not_negative")
    assert text.endswith("quality_rules/mart_risk_warning.yaml")


def test_layers_run_shows_a_held_model_and_its_rules():
    import datetime as dt

    from rich.console import Console

    from lakehouse.cli.rendering import layer_table
    from lakehouse.layers.runner import ModelResult

    day = dt.date(2026, 11, 1)
    held = ModelResult("mart_risk_warning", "mart.mart_risk_warning", "mart", day, "succeeded", rows=3,
                       promotable=False, blocking_rules=["observed_not_negative"])
    fine = ModelResult("pty_party", "integrated.pty_party", "integrated", day, "succeeded", rows=9,
                       promotable=True)
    assert held.held and not fine.held
    console = Console(width=200, record=True)
    console.print(layer_table([fine, held], "layers"))
    text = console.export_text()
    assert "held: observed_not_negative" in text and "promoted" in text
