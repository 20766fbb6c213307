"""services.yaml: service contracts validated against the project, every error located."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lakehouse.config import load_project, validate_project
from lakehouse.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    for folder in ("conf", "layers", "quality_rules"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    return tmp_path / "conf"


def test_the_demo_services_load_with_their_contracts(conf):
    services = load_project(conf).services
    assert set(services) == {"customer_360", "risk_warning"}
    c360 = services["customer_360"]
    assert c360.table == "mart.mart_customer_360" and c360.owner == "li.na"
    assert [p.name for p in c360.query.parameters] == ["party_id"]
    assert "app.customer_desk" in c360.consumers and c360.limits.latency_p99_ms == 20
    assert c360.source_file == (conf / "services.yaml").resolve()


def test_a_project_without_services_yaml_has_no_services(conf):
    (conf / "services.yaml").unlink()
    assert load_project(conf).services == {}


def test_every_wrong_reference_is_reported_with_its_line_and_fix(conf):
    text = (conf / "services.yaml").read_text()
    text = (text.replace("owner: li.na", "owner: li.nna")
                .replace("consumers: [app.customer_desk, chen.jie, li.na]",
                         "consumers: [app.customer_dsk, chen.jie, li.na]")
                .replace("table: mart.mart_risk_warning", "table: near_source.cbs_customer")
                .replace("output: [party_id, party_name,", "output: [party_id, party_nam,")
                .replace("grade: important", "grade: urgent\n    colour: red"))
    (conf / "services.yaml").write_text(text)
    problems = validate_project(conf)
    lines = text.splitlines()
    by_key = {p.key: p for p in problems}
    assert set(by_key) == {"services[0].owner", "services[0].consumers[0]",
                           "services[0].query.output[1]", "services[1].query.table",
                           "services[1].grade", "services[1].colour"}, [p.render() for p in problems]
    assert all(p.file.endswith("services.yaml") for p in problems)
    owner = by_key["services[0].owner"]
    assert "li.nna" in lines[owner.line - 1] and "did you mean 'li.na'" in owner.message
    consumer = by_key["services[0].consumers[0]"]
    assert "not a principal of security.yaml" in consumer.message and "app.customer_desk" in consumer.message
    output = by_key["services[0].query.output[1]"]
    assert "has no column 'party_nam'" in output.message and "party_name" in output.fix
    table = by_key["services[1].query.table"]
    assert "not a table of the integrated, common or mart layer" in table.message
    assert "mart.mart_risk_warning" in table.fix
    assert "urgent" in lines[by_key["services[1].grade"].line - 1]
    with pytest.raises(ConfigError, match="problems in"):
        load_project(conf)


def test_a_repeated_service_and_parameter_column_are_refused(conf):
    text = (conf / "services.yaml").read_text()
    text = text.replace("name: risk_warning", "name: customer_360").replace(
        "{name: party_id, type: string, description: 当事人编号 / the party id}\n      output: [party_id, indicator",
        "{name: party, type: string, description: x}\n      output: [party_id, indicator")
    (conf / "services.yaml").write_text(text)
    messages = {p.key: p.message for p in validate_project(conf)}
    assert "declared twice" in messages["services[1].name"]
    assert "has no column 'party'" in messages["services[1].query.parameters[0].name"]
