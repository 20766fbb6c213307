"""Configuration models and loader: typed values, located problems, environment overrides."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path

import pydantic
import pytest

from lakehouse.config import (
    Attribute,
    Delivery,
    SourceContract,
    load_project,
    validate_project,
)
from lakehouse.errors import ConfigError

REPO_CONF = Path(__file__).resolve().parents[2] / "conf"
ENV_VARS = ("LAKEHOUSE_ROOT", "LAKEHOUSE_LANDING", "LAKEHOUSE_SPARK_MASTER", "LAKEHOUSE_SPARK_REMOTE")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


SETTINGS = """
    root: ./data
    landing: ./landing
"""
SYSTEMS = """
    systems:
      - code: cbs
        name: 核心银行系统
        owner: zhang.wei
        certification:
          - {event: certified, date: 2018-06-30}
"""
REGISTRIES = ("owners.yaml", "standards.yaml", "classification.yaml", "security.yaml")


def minimal_project(tmp_path: Path) -> Path:
    conf = tmp_path / "conf"
    write(conf, "lakehouse.yaml", SETTINGS)
    write(conf, "systems.yaml", SYSTEMS)
    for name in REGISTRIES:
        shutil.copy(REPO_CONF / name, conf / name)
    return conf


# --- the repository's own conf/ ----------------------------------------------------------


def test_repository_conf_loads_with_typed_values():
    project = load_project(REPO_CONF)

    assert project.conf_dir == REPO_CONF
    assert project.project_dir == REPO_CONF.parent
    assert list(project.sources) == [
        "cbs.account", "cbs.customer", "cbs.transaction", "ccs.card", "ccs.card_txn", "lns.loan",
        "lns.repayment", "lns.repayment_schedule", "ref.branch", "ref.code", "ref.product"]
    assert set(project.systems) == {"cbs", "ccs", "lns", "ref"}
    assert project.systems["ccs"].name == "信用卡系统"

    settings = project.settings
    assert settings.root == str(REPO_CONF.parent / "lakehouse_data")
    assert settings.landing == str(REPO_CONF.parent / "landing")
    assert settings.timezone == "Asia/Shanghai"
    assert settings.spark.master == "local[*]"
    assert settings.spark.remote is None
    assert settings.spark.conf == {
        "spark.sql.shuffle.partitions": "8",
        "spark.sql.session.timeZone": "Asia/Shanghai",
    }

    customer = project.sources["cbs.customer"]
    assert (customer.name, customer.table_name) == ("cbs.customer", "cbs_customer")
    assert customer.load_type == "zipper"
    assert customer.delivery.delimiter == "|"
    assert customer.delivery.control.amount_column is None
    assert [a.name for a in customer.key_attributes] == ["customer_id"]
    assert customer.attribute("id_number").security_level == 4
    assert customer.attribute("id_number").business_name.zh == "身份证号码"
    assert customer.source_file == REPO_CONF / "sources" / "cbs" / "customer.yaml"

    account = project.sources["cbs.account"]
    assert account.load_type == "snapshot"
    assert account.delivery.control.amount_column == "balance"
    assert account.attribute("balance").spark_type == "decimal(18,2)"
    assert account.attribute("balance").decimal_precision_scale == (18, 2)
    assert account.attribute("open_date").spark_type == "date"

    transaction = project.sources["cbs.transaction"]
    assert transaction.load_type == "append"
    assert transaction.delivery.format == "json"
    assert transaction.attribute("txn_time").spark_type == "timestamp_ntz"

    card = project.sources["ccs.card"]
    assert card.delivery.format == "fixed-width"
    assert card.delivery.encoding == "gbk"
    assert [a.width for a in card.attributes] == [19, 18, 10, 12, 1, 8]
    assert card.attribute("issue_date").format == "%Y%m%d"
    assert card.attribute("card_no").nullable is False
    assert card.attribute("holder_name").nullable is True

    assert validate_project(REPO_CONF) == []


# --- every problem, located ----------------------------------------------------------------


def test_broken_project_reports_every_problem_with_its_location(tmp_path):
    conf = minimal_project(tmp_path)
    write(conf, "sources/cbs/customer.yaml", """
        system: cbs
        entity: customer
        owner: li.na
        load_type: zipper
        keys: [customer_id, cust_no]
        delivery:
          format: csv
          delimter: "|"
          path: cbs/{data_date}/customer_{data_date}.csv
        attributes:
          - name: customer_id
            type: string
            nullable: false
            business_name: {zh: 客户号, en: Customer ID}
            security_level: 2
            standard: DS-PTY-0001
          - name: balance
            type: decimal(40,2)
            business_name: {zh: 余额, en: Balance}
            security_level: 6
            standard: DS-AGT-0002
    """)
    write(conf, "sources/ccs/card.yaml", """
        system: ccs
        entity: card
        owner: wang.fang
        load_type: zipper
        keys: [card_no]
        delivery:
          format: fixed-width
          encoding: gbk
          path: ccs/{data_date}/CARD_{data_date}.dat
        attributes:
          - name: card_no
            type: string
            nullable: false
            width: 19
            business_name: {zh: 卡号, en: Card number}
            security_level: 4
            standard: DS-AGT-0101
          - name: card_status
            type: string
            business_name: {zh: 卡片状态, en: Card status}
            security_level: 1
            standard: DS-AGT-0103
    """)
    write(conf, "sources/cbs/account.yaml", """
        system: cbs
        entity: account
          owner: li.na
    """)

    with pytest.raises(ConfigError) as caught:
        load_project(conf)

    customer = str(conf / "sources/cbs/customer.yaml")
    card = str(conf / "sources/ccs/card.yaml")
    account = str(conf / "sources/cbs/account.yaml")
    error = caught.value
    assert error.summary == f"7 problems in {conf}"
    assert [(p.file, p.line, p.key, p.message) for p in error.problems] == [
        (account, 3, None, "YAML syntax error: mapping values are not allowed here"),
        (customer, 5, "keys[1]", "key 'cust_no' is not an attribute"),
        (customer, 8, "delivery.delimter", "unknown key 'delimter'"),
        (customer, 18, "attributes[1].type", "decimal precision must be between 1 and 38"),
        (customer, 20, "attributes[1].security_level", "security_level must be between 1 and 5"),
        (card, 1, "system", "system 'ccs' is not registered in systems.yaml"),
        (card, 18, "attributes[1].width", "attribute 'card_status' needs a width for fixed-width delivery"),
    ]
    problems = {(p.file, p.key): p for p in error.problems}
    assert problems[account, None].column == 8
    assert problems[customer, "delivery.delimter"].fix == (
        "remove it or use one of: format, encoding, delimiter, quote, header, path, "
        "path_date_format, date_format, timestamp_format, control, xml, records, cdc, expected_by, schedule (did you mean 'delimiter'?)"
    )
    assert problems[customer, "delivery.delimter"].value == "|"
    assert problems[customer, "keys[1]"].fix == "use one of the attribute names: customer_id, balance"
    assert problems[customer, "attributes[1].type"].value == "decimal(40,2)"
    assert problems[customer, "attributes[1].security_level"].value == 6
    assert problems[card, "system"].fix == f"register it in {conf / 'systems.yaml'} or use one of: cbs (did you mean 'cbs'?)"
    assert all(p.fix for p in error.problems)
    assert validate_project(conf) == error.problems
    assert "line 8: unknown key 'delimter'" in str(error)


def test_missing_required_key_points_at_parent_and_wrong_type_lists_allowed(tmp_path):
    conf = minimal_project(tmp_path)
    write(conf, "sources/cbs/customer.yaml", """
        system: cbs
        entity: customer
        load_type: append
        delivery:
          format: csv
          path: cbs/customer.csv
        attributes:
          - name: customer_id
            type: varchar
            business_name: {zh: 客户号}
            security_level: 1
            standard: DS-PTY-0001
            format: "%Y%m%d"
    """)

    file = str(conf / "sources/cbs/customer.yaml")
    assert [(p.file, p.line, p.key, p.message, p.fix) for p in validate_project(conf)] == [
        (file, 1, "owner", "missing required key 'owner'",
         "add 'owner: ...' (the data owner's user name, e.g. li.na)"),
        (file, 6, "delivery.path", "path must contain {data_date}",
         "put {data_date} where the data date appears, e.g. cbs/{data_date}/customer_{data_date}.csv"),
        (file, 9, "attributes[0].type",
         "type must be one of: string, integer, boolean, date, timestamp, decimal(p,s)",
         "use one of: string, integer, boolean, date, timestamp, decimal(p,s)"),
        (file, 10, "attributes[0].business_name.en", "missing required key 'en'",
         "add 'en: ...' (the English business name)"),
    ]


def test_cross_field_rules(tmp_path):
    conf = minimal_project(tmp_path)
    write(conf, "sources/cbs/account.yaml", """
        system: cbs
        entity: account
        owner: li.na
        load_type: snapshot
        delivery:
          format: csv
          path: cbs/{data_date}/account.csv
          control:
            path: cbs/account.ctl
            amount_column: status
        attributes:
          - name: status
            type: string
            width: 2
            format: "%Y%m%d"
            business_name: {zh: 状态, en: Status}
            security_level: 1
            standard: DS-AGT-0003
          - name: status
            type: integer
            business_name: {zh: 状态, en: Status}
            security_level: 1
            standard: DS-AGT-0003
    """)
    write(conf, "sources/cbs/other.yaml", """
        system: cbs
        entity: misplaced
        owner: li.na
        load_type: append
        keys: [id]
        delivery: {format: json, path: "x/{data_date}.json"}
        attributes:
          - {name: id, type: integer, nullable: false, business_name: {zh: 编号, en: ID}, security_level: 1, standard: S}
    """)

    found = [(Path(p.file).name, p.line, p.key, p.message) for p in validate_project(conf)]
    assert found == [
        ("account.yaml", 1, "keys", "a snapshot source needs at least one key"),
        ("account.yaml", 9, "delivery.control.path", "path must contain {data_date}"),
        ("account.yaml", 10, "delivery.control.amount_column",
         "amount_column 'status' must be an integer or decimal attribute, not string"),
        ("account.yaml", 14, "attributes[0].width", "width is only allowed for fixed-width delivery, not csv"),
        ("account.yaml", 15, "attributes[0].format",
         "format is only allowed on date and timestamp attributes, not on string"),
        ("account.yaml", 19, "attributes[1].name", "duplicate attribute name 'status'"),
        ("other.yaml", 2, "entity",
         "contract cbs.misplaced must be in sources/cbs/misplaced.yaml, not sources/cbs/other.yaml"),
    ]


def test_missing_and_empty_files_and_duplicate_systems(tmp_path):
    conf = tmp_path / "conf"
    write(conf, "systems.yaml", """
        systems:
          - {code: cbs, name: 核心银行系统, owner: zhang.wei, certification: [{event: certified, date: 2020-01-01}]}
          - {code: cbs, name: 重复, owner: zhang.wei, certification: [{event: certified, date: 2020-01-01}]}
    """)
    write(conf, "sources/cbs/customer.yaml", "")
    for name in ("owners.yaml", "standards.yaml"):
        shutil.copy(REPO_CONF / name, conf / name)

    found = [(p.file, p.line, p.key, p.message) for p in validate_project(conf)]
    assert found == [
        (str(conf / "lakehouse.yaml"), None, None, f"file not found: {conf / 'lakehouse.yaml'}"),
        (str(conf / "classification.yaml"), None, None, f"file not found: {conf / 'classification.yaml'}"),
        (str(conf / "systems.yaml"), 3, "systems[1].code", "duplicate system code 'cbs'"),
        (str(conf / "security.yaml"), None, None, f"file not found: {conf / 'security.yaml'}"),
        (str(conf / "sources/cbs/customer.yaml"), None, None, "file is empty"),
    ]
    assert validate_project(tmp_path / "nowhere")[0].message.startswith("configuration directory not found")


def test_settings_problems_and_uri_roots(tmp_path):
    conf = minimal_project(tmp_path)
    write(conf, "lakehouse.yaml", """
        root: s3a://bank-lake/prod
        landing: file:///mnt/landing
        timezone: Asia/Shangai
        spark: {remote: http://spark:15002}
    """)
    found = [(p.line, p.key, p.message, p.fix) for p in validate_project(conf)]
    assert found == [
        (3, "timezone", "unknown time zone 'Asia/Shangai'",
         "use an IANA time zone name such as Asia/Shanghai (did you mean 'Asia/Shanghai'?)"),
        (4, "spark.remote", "remote must be a Spark Connect URL starting with sc://", "use sc://host:15002"),
    ]

    write(conf, "lakehouse.yaml", "root: s3a://bank-lake/prod\nlanding: file:///mnt/landing\n")
    settings = load_project(conf).settings
    assert (settings.root, settings.landing) == ("s3a://bank-lake/prod", "file:///mnt/landing")
    assert settings.spark.master == "local[*]" and not settings.spark.uses_connect


# --- environment overrides -----------------------------------------------------------------


def test_environment_overrides_file_values(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("LAKEHOUSE_LANDING", str(tmp_path / "landing"))
    monkeypatch.setenv("LAKEHOUSE_SPARK_MASTER", "local[2]")

    settings = load_project(REPO_CONF).settings
    assert settings.root == str(tmp_path / "lake")
    assert settings.landing == str(tmp_path / "landing")
    assert settings.spark.master == "local[2]"

    monkeypatch.setenv("LAKEHOUSE_SPARK_REMOTE", "sc://spark:15002")
    assert load_project(REPO_CONF).settings.spark.uses_connect


def test_environment_paths_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    conf = minimal_project(tmp_path / "project")
    write(conf, "lakehouse.yaml", SETTINGS + "    spark: {remote: 'sc://cluster:15002'}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAKEHOUSE_ROOT", "elsewhere/lake")
    monkeypatch.setenv("LAKEHOUSE_SPARK_MASTER", "local[1]")

    settings = load_project(conf).settings
    assert settings.root == str(tmp_path / "elsewhere" / "lake")
    assert settings.landing == str(tmp_path / "project" / "landing")
    assert (settings.spark.master, settings.spark.remote) == ("local[1]", None)

    monkeypatch.setenv("LAKEHOUSE_SPARK_REMOTE", "http://bad")
    [problem] = validate_project(conf)
    assert problem.file is None
    assert problem.key == "spark.remote"
    assert problem.message.endswith("(set by environment variable LAKEHOUSE_SPARK_REMOTE)")
    assert problem.fix == "correct or unset LAKEHOUSE_SPARK_REMOTE"


# --- contract behaviour --------------------------------------------------------------------


def test_data_path_and_date_in_path_roundtrip():
    delivery = load_project(REPO_CONF).sources["cbs.customer"].delivery
    day = dt.date(2024, 11, 23)

    assert delivery.data_path(day) == "cbs/20241123/customer_20241123.csv"
    assert delivery.date_in_path(delivery.data_path(day)) == day
    assert delivery.date_in_path(Path("cbs/20241123/customer_20241123.csv")) == day
    assert delivery.date_in_path("cbs/20241123/customer_20241124.csv") is None
    assert delivery.date_in_path("cbs/20241399/customer_20241399.csv") is None
    assert delivery.date_in_path("cbs/20241123/account_20241123.csv") is None
    assert delivery.control.control_path(day, delivery.path_date_format) == "cbs/20241123/customer_20241123.ctl"

    dashed = delivery.model_copy(update={"path": "in/{data_date}.csv", "path_date_format": "%Y-%m-%d"})
    assert dashed.data_path(day) == "in/2024-11-23.csv"
    assert dashed.date_in_path("in/2024-11-23.csv") == day


def test_content_hash_changes_when_the_contract_changes(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(REPO_CONF, conf)
    before = load_project(conf).sources
    assert before["cbs.customer"].content_hash == load_project(REPO_CONF).sources["cbs.customer"].content_hash
    assert len(before["cbs.customer"].content_hash) == 64

    contract = conf / "sources/cbs/customer.yaml"
    contract.write_text(contract.read_text(encoding="utf-8").replace("security_level: 4", "security_level: 5"),
                        encoding="utf-8")
    after = load_project(conf).sources
    assert after["cbs.customer"].content_hash != before["cbs.customer"].content_hash
    assert after["cbs.account"].content_hash == before["cbs.account"].content_hash


def test_attribute_types():
    def attribute(type_: str, **extra) -> Attribute:
        return Attribute(name="x", type=type_, business_name={"zh": "甲", "en": "X"},
                         security_level=1, standard="S", **extra)

    assert [attribute(t).spark_type for t in ("string", "integer", "boolean", "date", "timestamp")] == [
        "string", "bigint", "boolean", "date", "timestamp_ntz"]
    assert attribute("decimal(18, 2)").type == "decimal(18,2)"
    assert attribute("decimal(38,0)").decimal_precision_scale == (38, 0)
    assert attribute("string").decimal_precision_scale is None
    assert attribute("date", format="%Y%m%d").format == "%Y%m%d"
    for bad in ("decimal(5,6)", "decimal(0,0)", "int"):
        with pytest.raises(pydantic.ValidationError):
            attribute(bad)
    with pytest.raises(pydantic.ValidationError, match="format is only allowed on date and timestamp"):
        attribute("string", format="%Y%m%d")


def test_models_built_in_code_enforce_cross_field_rules():
    contract = load_project(REPO_CONF).sources["cbs.customer"].model_dump()
    contract["keys"] = ["nobody"]
    with pytest.raises(pydantic.ValidationError, match=r"keys\[0\]: key 'nobody' is not an attribute"):
        SourceContract.model_validate(contract)
    with pytest.raises(pydantic.ValidationError, match="unknown|extra"):
        Delivery(format="csv", path="x/{data_date}.csv", delimter=";")


def test_a_yaml_text_already_read_is_not_parsed_again_but_a_changed_file_is(tmp_path):
    from lakehouse.config import yaml_source

    path = tmp_path / "owners.yaml"
    path.write_text("owners:\n  - id: li.na\n", encoding="utf-8")
    first = yaml_source.read_yaml(path)
    parsed = yaml_source._parsed.cache_info().misses
    again = yaml_source.read_yaml(path)
    assert yaml_source._parsed.cache_info().misses == parsed  # the same text: no second parse
    assert again.data() == first.data() == {"owners": [{"id": "li.na"}]} and again.line_of(["owners", 0]) == 2
    path.write_text("owners:\n  - id: wang.wei\n", encoding="utf-8")
    assert yaml_source.read_yaml(path).data() == {"owners": [{"id": "wang.wei"}]}
