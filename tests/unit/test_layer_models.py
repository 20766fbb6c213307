"""Layer models without Spark: the typed model, the checks of model files against the project
(located, fixable problems), the SQL lineage helpers, the build graph and the model tables."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlglot
from pydantic import ValidationError

from lakehouse.config import load_project, validate_project
from lakehouse.config.layer_checks import cycle_findings, layer_file_findings
from lakehouse.config.layer_models import LAYERS, SUBJECT_AREAS, LayerModel
from lakehouse.errors import ConfigError
from lakehouse import graph
from lakehouse import sql_parsing
from lakehouse.layers import sql_lineage
from lakehouse.layers.model_tables import model_hash, model_spec, owners, security_levels
from lakehouse.layers.runner import build_order
from lakehouse.layers.sql_lineage import ColumnSource
from lakehouse.sql_parsing import SqlProblem

MODELS = {
    "integrated": ["agt_agreement", "evt_transaction", "prd_product", "pty_party"],
    "common": ["com_party_balance_daily", "com_party_txn_monthly"],
    "mart": ["mart_customer_360", "mart_customer_label", "mart_risk_warning"],
}
PRD = "integrated/prd_product.yaml"  # the smallest model: line 2 name ... 8 inputs, 9 ref_product, 10 sql


# --- helpers -------------------------------------------------------------------------------------

def edit(project: Path, relative: str, old: str, new: str) -> Path:
    """Replace the one occurrence of ``old`` in ``layers/<relative>``."""
    path = project / "layers" / relative
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {relative}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def problems_of(project: Path) -> list:
    return validate_project(project / "conf")


def located(problem) -> tuple:
    return (problem.file, problem.line, problem.key, problem.value, problem.message, problem.fix)


def only(problems: list):
    assert len(problems) == 1, [p.render() for p in problems]
    return problems[0]


def model(**changes) -> LayerModel:
    data = dict(name="prd_x", layer="integrated", description="d", load_type="snapshot",
                keys=["a"], inputs={"ref_product": "current"}, sql="SELECT a FROM ref_product")
    return LayerModel(**{**data, **changes})


@pytest.fixture
def loaded(project: Path):
    return load_project(project / "conf")


# --- the repository's models ---------------------------------------------------------------------

def test_repository_layers_validate_cleanly_and_load_typed(project):
    assert problems_of(project) == []
    models = load_project(project / "conf").models
    assert {layer: sorted(n for n, m in models.items() if m.layer == layer) for layer in LAYERS} == MODELS
    label = models["mart_customer_label"]
    assert (label.load_type, label.keys, label.params["window_days"], label.retention_days) == (
        "snapshot", ["party_id"], 90, None)
    assert models["mart_risk_warning"].params["outflow_share"] == 0.5
    assert models["com_party_txn_monthly"].inputs == {"evt_transaction": "history"}
    assert models["com_party_balance_daily"].retention_days == 31
    assert [models[n].layer_rank for n in ("pty_party", "com_party_txn_monthly", "mart_customer_360")] == [0, 1, 2]


def test_build_order_is_by_layer_and_respects_inputs(loaded):
    order = build_order(loaded)
    assert order == ["agt_agreement", "evt_transaction", "prd_product", "pty_party",
                     "com_party_balance_daily",
                     "com_party_txn_monthly", "mart_customer_label", "mart_risk_warning",
                     "mart_customer_360"]
    ranks = [loaded.models[n].layer_rank for n in order]
    assert ranks == sorted(ranks)  # integrated, then common, then mart
    for name, m in loaded.models.items():
        for upstream in m.inputs:
            if upstream in loaded.models:
                assert order.index(upstream) < order.index(name), (upstream, name)
    assert order.index("agt_agreement") < order.index("evt_transaction")
    assert order[-1] == "mart_customer_360"


# --- LayerModel ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,layer", [
    *[(f"{prefix}_thing", "integrated") for prefix in SUBJECT_AREAS],
    ("com_thing", "common"), ("mart_thing", "mart"),
])
def test_names_with_the_prefix_of_their_layer_are_valid(name, layer):
    assert model(name=name, layer=layer).name == name


@pytest.mark.parametrize("name,layer,message,fix", [
    ("party", "integrated", "integrated table 'party' does not start with a subject-area prefix",
     "rename it with one of: pty_ (party), agt_ (agreement), evt_ (event), prd_ (product), "
     "org_ (organisation), chn_ (channel), ast_ (asset), loc_ (location)"),
    ("pty", "integrated", "integrated table 'pty' does not start with a subject-area prefix", None),
    ("com_party", "integrated", "integrated table 'com_party' does not start with a subject-area prefix", None),
    ("pty_party", "common", "common table 'pty_party' must start with 'com_'", "rename it to com_pty_party"),
    ("com_party", "mart", "mart table 'com_party' must start with 'mart_'", "rename it to mart_com_party"),
])
def test_a_name_without_the_prefix_of_its_layer_is_refused(name, layer, message, fix):
    with pytest.raises(ValidationError) as caught:
        model(name=name, layer=layer)
    (error,) = caught.value.errors()
    assert error["msg"] == message
    if fix:
        assert error["ctx"]["fix"] == fix


def test_retention_only_on_snapshots_and_positive():
    assert model(load_type="snapshot", retention_days=31).retention_days == 31
    with pytest.raises(ValidationError) as caught:
        model(load_type="zipper", retention_days=31)
    (error,) = caught.value.errors()
    assert (error["msg"], error["ctx"]["fix"]) == (
        "retention_days applies to snapshot tables only", "remove retention_days, or use load_type snapshot")
    with pytest.raises(ValidationError, match="greater than 0"):
        model(retention_days=0)


@pytest.mark.parametrize("bad", ["Window", "1st", "data_date", "with-dash", "a b"])
def test_parameter_names_are_lowercase_identifiers_and_not_data_date(bad):
    assert model(params={"window_days": 90, "share": 0.5, "code": "CNY"}).params["share"] == 0.5
    with pytest.raises(ValidationError) as caught:
        model(params={"fine": 1, bad: 2})
    (error,) = caught.value.errors()
    assert error["msg"] == f"parameter name '{bad}' is not allowed"
    assert error["ctx"]["fix"] == "use lowercase letters, digits and underscores; data_date is given"


def test_a_model_cannot_read_itself():
    with pytest.raises(ValidationError) as caught:
        model(inputs={"ref_product": "current", "prd_x": "history"})
    (error,) = caught.value.errors()
    assert error["msg"] == "model 'prd_x' lists itself as an input"
    assert "history input of another model" in error["ctx"]["fix"]


def test_inputs_keys_and_mode_are_required():
    with pytest.raises(ValidationError):
        model(inputs={})
    with pytest.raises(ValidationError):
        model(keys=[])
    with pytest.raises(ValidationError):
        model(inputs={"ref_product": "latest"})


# --- model files checked against the project (located problems) ---------------------------------

def test_unknown_input_suggests_the_closest_table(project):
    path = edit(project, "integrated/evt_transaction.yaml", "agt_agreement: current", "pty_partyy: current")
    found = {(p.key, p.message): p for p in problems_of(project)}
    assert all(p.file == str(path) for p in found.values())
    unknown = found["inputs.pty_partyy", "input 'pty_partyy' is not a table of this project"]
    assert (unknown.line, unknown.value) == (11, "pty_partyy")
    assert unknown.fix == ("use a near-source table (system_entity) or a model name "
                           "(did you mean 'pty_party'?)")
    unread = found["inputs.pty_partyy", "input 'pty_partyy' is declared but the query does not read it"]
    assert (unread.line, unread.fix) == (11, "remove it from inputs")
    undeclared = found["sql", "the query reads 'agt_agreement', which is not a declared input"]
    assert (undeclared.line, undeclared.value) == (15, "agt_agreement")
    assert undeclared.fix == "add 'agt_agreement: current' (or history) under inputs"
    assert len(found) == 3
    rendered = unknown.render()
    assert rendered.startswith(f"{path}, line 11: input 'pty_partyy' is not a table of this project")
    assert "key: inputs.pty_partyy" in rendered and "value: 'pty_partyy'" in rendered
    assert "fix: use a near-source table" in rendered


def test_query_reading_a_table_that_is_not_an_input(project):
    path = edit(project, PRD, "FROM ref_product", "FROM ref_product JOIN ref_branch ON 1 = 1")
    assert located(only(problems_of(project))) == (
        str(path), 10, "sql", "ref_branch", "the query reads 'ref_branch', which is not a declared input",
        "add 'ref_branch: current' (or history) under inputs")


def test_input_declared_but_not_read(project):
    path = edit(project, PRD, "  ref_product: current", "  ref_product: current\n  ref_branch: history")
    assert located(only(problems_of(project))) == (
        str(path), 10, "inputs.ref_branch", "ref_branch",
        "input 'ref_branch' is declared but the query does not read it", "remove it from inputs")


def test_undeclared_parameter(project):
    path = edit(project, PRD, "currency FROM ref_product",
                "currency FROM ref_product WHERE product_type <> :excluded_type AND ':quoted' <> ''")
    assert located(only(problems_of(project))) == (
        str(path), 10, "sql", "excluded_type",
        "the query uses :excluded_type, which is not a declared parameter",
        "add 'excluded_type: <value>' under params")
    edit(project, PRD, "load_type: zipper", "load_type: zipper\nparams: {excluded_type: X}")
    assert problems_of(project) == []


def test_key_the_query_does_not_return(project):
    path = edit(project, PRD, "keys: [product_code]", "keys: [product_code, product_nam]")
    assert located(only(problems_of(project))) == (
        str(path), 7, "keys[1]", "product_nam", "key 'product_nam' is not a column the query returns",
        "use one of: product_code, product_name, product_type, currency (did you mean 'product_name'?)")


def test_described_column_the_query_does_not_return(project):
    path = edit(project, PRD, "inputs:", "columns:\n  product_nme: 产品名称 / product name\ninputs:")
    assert located(only(problems_of(project))) == (
        str(path), 9, "columns.product_nme", "product_nme",
        "column 'product_nme' is not returned by the query",
        "use one of: product_code, product_name, product_type, currency")


@pytest.mark.parametrize("column", ["data_date", "row_hash", "start_dt", "end_dt"])
def test_reserved_column_returned_by_the_query(project, column):
    path = edit(project, PRD, "SELECT product_code,", f"SELECT product_code, current_date() AS {column},")
    assert located(only(problems_of(project))) == (
        str(path), 10, "sql", column, f"the query returns '{column}', which the framework adds itself",
        f"drop or rename '{column}' in the query")


def test_select_star_skips_the_column_checks(project):
    edit(project, PRD, "SELECT product_code, product_name, product_type, currency FROM ref_product",
         "SELECT * FROM ref_product")
    assert problems_of(project) == []


def test_model_in_the_wrong_folder(project):
    (project / "layers" / PRD).rename(project / "layers" / "common" / "prd_product.yaml")
    problem = only(problems_of(project))
    assert (problem.file, problem.line, problem.key, problem.value, problem.fix) == (
        str(project / "layers" / "common" / "prd_product.yaml"), 3, "layer", "integrated",
        "move the file to layers/integrated/")
    assert problem.message.endswith("integrated model belongs in layers/integrated/, not layers/common/")


def test_file_name_must_match_the_model_name(project):
    path = project / "layers" / "integrated" / "product.yaml"
    (project / "layers" / PRD).rename(path)
    assert located(only(problems_of(project))) == (
        str(path), 2, "name", "prd_product", "model prd_product must be in prd_product.yaml, not product.yaml",
        "rename the file to prd_product.yaml")


def test_a_lower_layer_cannot_read_a_mart(project):
    path = edit(project, PRD, "  ref_product: current", "  ref_product: current\n  mart_customer_360: current")
    edit(project, PRD, "FROM ref_product", "FROM ref_product CROSS JOIN mart_customer_360")
    problem = only(problems_of(project))
    assert (problem.file, problem.line, problem.key, problem.value, problem.fix) == (
        str(path), 10, "inputs.mart_customer_360", "mart_customer_360",
        "read only tables of a lower or the same layer")
    assert problem.message.endswith("integrated model cannot read the mart table 'mart_customer_360'")


def test_common_cannot_read_a_mart_but_reads_integrated_and_common(project):
    rel = "common/com_party_txn_monthly.yaml"
    path = edit(project, rel, "  evt_transaction: history",
                "  evt_transaction: history\n  mart_customer_label: current\n  com_party_balance_daily: current")
    edit(project, rel, "FROM evt_transaction",
         "FROM evt_transaction JOIN mart_customer_label USING (party_id) "
         "JOIN com_party_balance_daily USING (party_id)")
    problem = only(problems_of(project))
    assert (problem.file, problem.key, problem.value) == (str(path), "inputs.mart_customer_label",
                                                          "mart_customer_label")
    assert problem.message.endswith("common model cannot read the mart table 'mart_customer_label'")


@pytest.mark.parametrize("reader", LAYERS)
@pytest.mark.parametrize("read", ["near_source", *LAYERS])
def test_layer_file_findings_allow_only_lower_or_same_layers(reader, read):
    tables = {"src_t": "near_source", "pty_t": "integrated", "com_t": "common", "mart_t": "mart"}
    table = {"near_source": "src_t", "integrated": "pty_t", "common": "com_t", "mart": "mart_t"}[read]
    name = {"integrated": "pty_m", "common": "com_m", "mart": "mart_m"}[reader]
    data = {"name": name, "layer": reader, "keys": ["a"], "inputs": {table: "current"},
            "sql": f"SELECT a FROM {table}"}
    findings = layer_file_findings(data, Path("layers", reader, f"{name}.yaml"), tables)
    refused = LAYERS.index(reader) < (LAYERS.index(read) if read in LAYERS else -1)
    assert [f.loc for f in findings] == ([("inputs", table)] if refused else [])
    if refused:
        assert findings[0].message.endswith(f"{reader} model cannot read the {read} table '{table}'")


def test_cycle_between_two_models(project):
    path = edit(project, "integrated/agt_agreement.yaml", "  lns_loan: current",
                "  lns_loan: current\n  pty_party: current")
    edit(project, "integrated/agt_agreement.yaml", "FROM ccs_card k",
         "FROM ccs_card k LEFT JOIN pty_party q ON q.party_id = k.card_no")
    edit(project, "integrated/pty_party.yaml", "  ccs_card: current", "  ccs_card: current\n  agt_agreement: current")
    edit(project, "integrated/pty_party.yaml", "FROM people", "FROM people CROSS JOIN agt_agreement")
    assert located(only(problems_of(project))) == (
        str(path), 8, "inputs", "agt_agreement",
        "the models read each other in a cycle: agt_agreement -> pty_party -> agt_agreement",
        "break the cycle: a model can read only what is computed before it")


def test_cycle_findings():
    assert cycle_findings({"a": ["src"], "b": ["a"]}) == []
    (finding,) = cycle_findings({"a": ["b"], "b": ["c"], "c": ["a", "src"]})
    assert (finding.loc, finding.value, finding.message) == (
        ("inputs",), "a", "the models read each other in a cycle: a -> b -> c -> a")


def test_two_models_with_the_same_name(project):
    copy = project / "layers" / "integrated" / "prd_product_v2.yaml"
    shutil.copy(project / "layers" / PRD, copy)
    assert located(only(problems_of(project))) == (
        str(copy), 2, "name", "prd_product",
        f"table name 'prd_product' is already taken by {project / 'layers' / PRD}", "give the model its own name")


def test_a_model_cannot_take_a_near_source_tables_name(project):
    path = edit(project, PRD, "name: prd_product", "name: ref_product")
    assert located(only(problems_of(project))) == (
        str(path), 2, "name", "ref_product", "table name 'ref_product' is already taken by a near-source table",
        "give the model its own name")


def test_invalid_yaml_is_located(project):
    path = edit(project, PRD, "keys: [product_code]", "keys: [product_code")
    problem = only(problems_of(project))
    assert (problem.file, problem.line, problem.column) == (str(path), 8, 7)
    assert problem.message.startswith("YAML syntax error: expected ',' or ']'")
    assert "flow sequence that starts on line 7" in problem.message
    assert problem.fix == "correct the YAML syntax at this spot (indentation, colons, quotes, brackets)"


def test_sql_syntax_error_names_the_query_line_and_column(project):
    path = edit(project, PRD, "  SELECT product_code, product_name, product_type, currency FROM ref_product",
                "  SELECT product_code, product_name,\n"
                "         product_type, currency\n"
                "  FROM ref_product WHERE (product_type = 'L'")
    problem = only(problems_of(project))
    # query line 3 is "FROM ref_product WHERE (product_type = 'L'": the error is at its end (42)
    assert located(problem) == (str(path), 10, "sql", None,
                                "the query does not parse at query line 3, column 42: Expecting )",
                                "correct the Spark SQL")


def test_sql_must_be_a_query(project):
    edit(project, PRD, "  SELECT product_code, product_name, product_type, currency FROM ref_product",
         "  INSERT INTO prd_product SELECT product_code FROM ref_product")
    problem = only(problems_of(project))
    assert problem.message == ("the query does not parse: a model's sql must be a query (SELECT ...), "
                               "not INSERT")


def test_every_broken_file_is_reported_and_load_project_raises(project):
    edit(project, PRD, "keys: [product_code]", "keys: [product_cod]")
    edit(project, "mart/mart_risk_warning.yaml", "  outflow_min: 10000", "  outflow_mn: 10000")
    edit(project, "integrated/evt_transaction.yaml", "load_type: snapshot", "load_type: snapshots")
    with pytest.raises(ConfigError) as caught:
        load_project(project / "conf")
    error = caught.value
    assert error.summary == f"3 problems in {project / 'conf'}"
    by_file = {Path(p.file).name: p for p in error.problems}
    assert by_file["prd_product.yaml"].key == "keys[0]"
    assert by_file["mart_risk_warning.yaml"].message == (
        "the query uses :outflow_min, which is not a declared parameter")
    assert (by_file["evt_transaction.yaml"].key, by_file["evt_transaction.yaml"].value) == (
        "load_type", "snapshots")
    assert by_file["evt_transaction.yaml"].fix == "use one of: zipper, snapshot (did you mean 'snapshot'?)"
    assert all(p.line and p.fix for p in error.problems)


def test_model_level_rules_are_reported_through_the_loader(project):
    path = edit(project, PRD, "load_type: zipper", "load_type: zipper\nretention_days: 7")
    problem = only(problems_of(project))
    assert (problem.file, problem.line, problem.message, problem.fix) == (
        str(path), 7, "retention_days applies to snapshot tables only",
        "remove retention_days, or use load_type snapshot")


# --- sql_lineage ---------------------------------------------------------------------------------

def test_parse_error_has_the_query_line_and_column():
    with pytest.raises(SqlProblem) as caught:
        sql_parsing.parse("SELECT a\nFROM t WHERE (b = 1")
    assert (str(caught.value), caught.value.line, caught.value.column) == ("Expecting )", 2, 19)
    with pytest.raises(SqlProblem, match=r"must be a query \(SELECT \.\.\.\), not INSERT") as caught:
        sql_parsing.tables_read("INSERT INTO x SELECT 1")
    assert caught.value.line is None
    with pytest.raises(SqlProblem, match="must be a query"):
        sql_parsing.tables_read("SELECT a FROM t; DROP TABLE u")


def test_tables_read_excludes_common_table_expressions():
    sql = """
        WITH recent AS (SELECT * FROM evt_transaction WHERE data_date = :data_date),
             big AS (SELECT * FROM recent WHERE amount > :min_amount)
        SELECT b.party_id, p.party_name FROM big b
        JOIN pty_party p ON p.party_id = b.party_id
        WHERE b.agreement_id IN (SELECT agreement_id FROM agt_agreement)
        UNION ALL SELECT party_id, name FROM standard.other_table
    """
    assert sql_parsing.tables_read(sql) == {"evt_transaction", "pty_party", "agt_agreement", "other_table"}
    assert sql_parsing.tables_read("SELECT 1 AS a") == set()


def test_output_columns():
    assert sql_parsing.output_columns("SELECT a, t.b, c + 1 AS d, :p AS e FROM t") == ["a", "b", "d", "e"]
    assert sql_parsing.output_columns("SELECT a AS x FROM t UNION ALL SELECT b FROM u") == ["x"]
    assert sql_parsing.output_columns("WITH w AS (SELECT a, b FROM t) SELECT b AS k FROM w") == ["k"]
    assert sql_parsing.output_columns("SELECT * FROM t") is None
    assert sql_parsing.output_columns("SELECT t.*, a FROM t") is None


def test_parameters_skip_literals_quoted_names_comments_and_casts():
    sql = """SELECT ':in_string', "double :quoted", `:back_quoted`, 'it''s :also_string',
                    x::int AS cast_col, :used AS u  -- :in_comment
             /* :in_block
                :comment */
             FROM t WHERE d = :data_date AND n > :used AND a:b = 1"""
    assert sql_parsing.parameters(sql) == {"used", "data_date"}


def test_bind_replaces_markers_outside_quotes_only():
    sql = "SELECT ':name' AS q, `:name` AS r, :name AS s, :other AS t -- :name\nFROM x WHERE d = :data_date"
    bound = sql_parsing.bind(sql, {"name": "it's", "data_date": dt.date(2024, 1, 31)})
    assert bound == ("SELECT ':name' AS q, `:name` AS r, 'it\\'s' AS s, :other AS t -- :name\n"
                     "FROM x WHERE d = DATE'2024-01-31'")
    assert sql_parsing.bind("SELECT :a + :ab AS c", {"a": 1, "ab": 2.5}) == "SELECT 1 + 2.5 AS c"


@pytest.mark.parametrize("value,text", [
    (dt.date(2024, 1, 31), "DATE'2024-01-31'"),
    (90, "90"),
    (-3, "(-3)"),
    (0.5, "0.5"),
    (True, "true"),
    ("CNY", "'CNY'"),
    ("it's", "'it\\'s'"),
    ("a\\b", "'a\\\\b'"),
])
def test_literal(value, text):
    from lakehouse import sql

    assert sql.literal(value) == text


def test_repository_queries_bind_to_parseable_sql(loaded):
    for name, m in loaded.models.items():
        bound = sql_parsing.bind(m.sql, {**m.params, "data_date": dt.date(2024, 1, 31)})
        assert sql_parsing.parameters(bound) == set(), name
        assert sqlglot.parse_one(bound, dialect="spark") is not None
    label = loaded.models["mart_customer_label"]
    bound = sql_parsing.bind(label.sql, {**label.params, "data_date": dt.date(2024, 1, 31)})
    assert "date_sub(DATE'2024-01-31', 90)" in bound


def test_column_sources_traces_through_ctes_and_joins():
    sql = """WITH x AS (SELECT a.id, a.bal FROM acct a WHERE a.d = :data_date)
             SELECT x.id AS account_id, x.bal * c.rate AS bal_cny, c.name AS customer,
                    'k' AS constant, :n AS param
             FROM x JOIN cust c ON c.id = x.id"""
    schemas = {"acct": {"id": "string", "bal": "decimal(18,2)", "d": "date"},
               "cust": {"id": "string", "rate": "double", "name": "string"}}
    found = sql_lineage.column_sources(sql, ["account_id", "bal_cny", "customer", "constant", "param",
                                             "not_there"], schemas)
    assert sorted(found, key=str) == sorted([
        ColumnSource("account_id", "acct", "id"), ColumnSource("bal_cny", "acct", "bal"),
        ColumnSource("bal_cny", "cust", "rate"), ColumnSource("customer", "cust", "name")], key=str)
    union = sql_lineage.column_sources("SELECT a FROM t UNION ALL SELECT b FROM u", ["a"],
                                       {"t": {"a": "int"}, "u": {"b": "int"}})
    assert union == [ColumnSource("a", "t", "a"), ColumnSource("a", "u", "b")]


# --- graph ---------------------------------------------------------------------------------------

def test_ordered_puts_every_model_after_its_inputs_then_rank_then_name():
    inputs = {"d": ["b", "c"], "c": ["a", "src"], "b": ["a"], "a": ["src"], "z": ["src"]}
    assert graph.ordered(inputs) == ["a", "b", "c", "d", "z"]
    assert graph.ordered(inputs, {"a": 1, "z": 0, "b": 2, "c": 1, "d": 2}) == ["z", "a", "c", "b", "d"]
    with pytest.raises(ValueError, match=r"dependency cycle among \['a', 'b'\]"):
        graph.ordered({"a": ["b"], "b": ["a"], "c": []})


def test_find_cycle():
    assert graph.find_cycle({"a": ["src"], "b": ["a", "src"], "c": ["a", "b"]}) is None
    assert graph.find_cycle({"a": ["b"], "b": ["a"]}) == ["a", "b", "a"]
    assert graph.find_cycle({"a": ["src"], "b": ["c"], "c": ["d"], "d": ["b"]}) == ["b", "c", "d", "b"]
    assert graph.find_cycle({"a": ["a"]}) == ["a", "a"]
    assert graph.find_cycle({"a": ["b"]}) is None  # b is not a model


def test_downstream(loaded):
    inputs = {"b": ["a"], "c": ["b"], "d": ["src"], "e": ["c", "d"]}
    assert graph.downstream(inputs, ["a"]) == {"b", "c", "e"}
    assert graph.downstream(inputs, ["src"]) == {"d", "e"}
    assert graph.downstream(inputs, ["nothing"]) == set()
    repo = {n: list(m.inputs) for n, m in loaded.models.items()}
    assert graph.downstream(repo, ["ccs_card_txn"]) == {
        "evt_transaction", "com_party_txn_monthly", "mart_customer_label", "mart_risk_warning",
        "mart_customer_360"}
    assert graph.downstream(repo, ["ref_product"]) == {"prd_product"}


# --- model tables --------------------------------------------------------------------------------

def test_model_hash_follows_what_the_model_computes(loaded):
    label = loaded.models["mart_customer_label"]
    base = model_hash(label)
    assert len(base) == 64 and base == model_hash(load_project(loaded.conf_dir).models[label.name])
    for unchanged in ({"description": "other"}, {"business_name": {"en": "Other"}},
                      {"columns": {}}, {"owner": "li.na"},
                      {"params": dict(reversed(label.params.items()))},
                      {"inputs": dict(reversed(label.inputs.items()))}):
        assert model_hash(label.model_copy(update=unchanged)) == base, unchanged
    for changed in ({"sql": label.sql + " "}, {"params": {**label.params, "window_days": 60}},
                    {"keys": ["party_id", "rfm_code"]}, {"inputs": {**label.inputs, "pty_party": "history"}},
                    {"retention_days": 7}, {"load_type": "zipper"}):
        assert model_hash(label.model_copy(update=changed)) != base, changed


def test_security_levels_are_the_highest_level_read_through_models(loaded):
    levels = security_levels(loaded)
    assert {n: levels[n] for n in loaded.models} == {n: (1 if n == "prd_product" else 4) for n in loaded.models}
    assert levels["ref_product"] == 1 and levels["cbs_account"] == 3
    fake = SimpleNamespace(
        sources={"s.a": SimpleNamespace(table_name="s_a", table_level=2),
                 "s.b": SimpleNamespace(table_name="s_b", table_level=3),
                 "s.c": SimpleNamespace(table_name="s_c", table_level=1)},
        models={"m1": SimpleNamespace(inputs={"s_a": "current"}),
                "m2": SimpleNamespace(inputs={"m1": "current", "s_c": "current"}),
                "m3": SimpleNamespace(inputs={"m2": "history", "s_b": "current"}),
                "m4": SimpleNamespace(inputs={"s_c": "current"})})
    assert security_levels(fake) == {"s_a": 2, "s_b": 3, "s_c": 1, "m1": 2, "m2": 2, "m3": 3, "m4": 1}


def test_owners_are_the_models_or_those_of_the_sources_it_reads(loaded):
    assert owners(loaded, loaded.models["prd_product"]) == "liu.yang"
    assert owners(loaded, loaded.models["pty_party"]) == "li.na,wang.fang"
    assert owners(loaded, loaded.models["agt_agreement"]) == "chen.jie,li.na,wang.fang"
    assert owners(loaded, loaded.models["mart_customer_360"]) == "chen.jie,li.na,liu.yang,wang.fang"
    owned = loaded.models["prd_product"].model_copy(update={"owner": "zhao.lei"})
    assert owners(loaded, owned) == "zhao.lei"
    # an upstream model with an owner stands for its own inputs
    models = {**loaded.models, "evt_transaction": loaded.models["evt_transaction"].model_copy(
        update={"owner": "zhao.lei"})}
    project = loaded.model_copy(update={"models": models})
    assert owners(project, models["com_party_txn_monthly"]) == "zhao.lei"


def test_model_spec_of_a_zipper_model(loaded, project):
    party = loaded.models["pty_party"]
    spec = model_spec(loaded, party, [("party_id", "string"), ("party_name", "string")])
    assert spec.path == f"{project / 'lakehouse_data'}/standard/integrated/pty_party"
    assert (spec.name, spec.zone, spec.layer, spec.qualified_name) == (
        "pty_party", "standard", "integrated", "integrated.pty_party")
    assert spec.column_names == ["party_id", "party_name", "row_hash", "start_dt", "end_dt"]
    first = spec.columns[0]
    # each column's comment carries its level: declared (party_id, a keyed pseudonym of the
    # level-4 ID number, is declassified to 2) or derived from what it reads
    assert (first.nullable, first.comment) == (False, party.columns["party_id"].description + " [level 2]")
    assert (spec.columns[1].nullable, spec.columns[1].comment) == (True, "[level 3]")
    assert (spec.partition_by, spec.load_type, spec.keys, spec.comment) == (
        ("end_dt",), "zipper", ("party_id",), party.description)
    assert spec.properties == {  # the table's level: its highest column's (party_name's 3)
        "lakehouse.model": "pty_party", "lakehouse.inputs": "cbs_customer,ccs_card",
        "lakehouse.owner": "li.na,wang.fang", "lakehouse.security_level": "3",
        "lakehouse.load_type": "zipper", "lakehouse.keys": "party_id",
        "delta.enableDeletionVectors": "true",
        # Delta's per-file min/max statistics (in _delta_log, in clear): below level 3 only
        "delta.dataSkippingStatsColumns": "party_id,row_hash,start_dt"}


def test_model_spec_of_a_snapshot_model(loaded, project):
    balance = loaded.models["com_party_balance_daily"]
    spec = model_spec(loaded, balance, [("party_id", "string"), ("total_assets_cny", "decimal(20,2)")])
    assert spec.path == f"{project / 'lakehouse_data'}/standard/common/com_party_balance_daily"
    assert spec.column_names == ["party_id", "total_assets_cny", "data_date"]
    assert spec.column_types["data_date"] == "date" and not spec.columns[-1].nullable
    assert spec.columns[1].comment == balance.columns["total_assets_cny"].description + " [level 3]"
    assert spec.partition_by == ("data_date",)
    assert spec.properties["lakehouse.retention_days"] == "31"
    assert "delta.enableDeletionVectors" not in spec.properties
    assert spec.properties["lakehouse.inputs"] == "agt_agreement,cbs_account,lns_loan"
    assert model_spec(loaded, balance).columns == ()  # enough of the spec to read the table
    product = model_spec(loaded, loaded.models["prd_product"])
    assert (product.properties["lakehouse.security_level"], product.properties["lakehouse.owner"]) == (
        "1", "liu.yang")
    assert "lakehouse.retention_days" not in product.properties


# --- bugs found while writing these tests, fixed since ------------------------------------------


def test_bug_model_file_without_name_is_reported(project):
    edit(project, PRD, "name: prd_product\n", "")
    assert [p.message for p in problems_of(project)] == ["missing required key 'name'"]



def test_bug_name_that_is_a_list_is_reported_not_a_crash(project):
    edit(project, PRD, "name: prd_product", "name: [prd_product]")
    assert problems_of(project)



def test_bug_misspelt_layer_of_an_input_model_is_reported_not_a_crash(project):
    edit(project, "integrated/agt_agreement.yaml", "layer: integrated", "layer: integratd")
    assert any(p.key == "layer" for p in problems_of(project))



def test_bug_model_level_problems_name_the_key_and_the_bad_value(project):
    edit(project, PRD, "load_type: zipper", "load_type: zipper\nretention_days: 7")
    problem = only(problems_of(project))
    assert (problem.key, problem.value, problem.line) == ("retention_days", 7, 7)



def test_bug_parse_error_column_ignores_parameter_placeholders():
    sql = "SELECT a FROM t WHERE d = :data_date AND (b = 1"
    with pytest.raises(SqlProblem) as caught:
        sql_parsing.parse(sql)
    assert caught.value.column == len(sql)  # reported len(sql) + 6: DATE'1970-01-01' is 6 longer



def test_bug_bind_negative_value_after_minus_stays_an_expression():
    bound = sql_parsing.bind("SELECT amount -:adjust AS x, y FROM t", {"adjust": -1})
    assert sqlglot.parse_one(bound, dialect="spark").sql(dialect="spark") == "SELECT amount - (-1) AS x, y FROM t"



def test_bug_ordered_builds_lower_layers_first():
    inputs = {"agt_a": ["src"], "evt_e": ["agt_a"], "mart_m": ["src"]}
    assert graph.ordered(inputs, {"agt_a": 0, "evt_e": 0, "mart_m": 2}) == ["agt_a", "evt_e", "mart_m"]



def test_bug_cte_named_like_its_input_still_reads_the_input():
    assert sql_parsing.tables_read(
        "WITH cbs_account AS (SELECT * FROM cbs_account WHERE status = 'A') SELECT * FROM cbs_account"
    ) == {"cbs_account"}



def test_bug_date_parameter_gives_one_fixable_problem(project):
    edit(project, PRD, "load_type: zipper", "load_type: zipper\nparams: {since: 2024-01-01}")
    problem = only(problems_of(project))
    assert problem.key == "params.since"


def test_an_unforeseen_error_fails_its_model_in_one_line_and_logs_the_traceback(loaded, monkeypatch, caplog):
    from lakehouse.layers.runner import LayerBuild

    build = LayerBuild(None, loaded, "run-1", dt.date(2026, 11, 1))
    monkeypatch.setattr(build, "_blocked", lambda model: [])
    monkeypatch.setattr(build, "_input_versions", lambda model: {})

    def broken(model, staged, result):
        raise RuntimeError("Spark said no\n\tat org.apache.spark.sql.Dataset.collect")

    monkeypatch.setattr(build, "_write", broken)
    with caplog.at_level("ERROR", logger="lakehouse.layers.runner"):
        result = build._build(loaded.models["prd_product"])
    assert result.status == "failed"
    assert result.reason.endswith("prd_product.yaml: RuntimeError: Spark said no")
    [record] = caplog.records
    assert "prd_product" in record.getMessage() and "2026-11-01" in record.getMessage()
    assert record.exc_info[0] is RuntimeError and "org.apache.spark.sql.Dataset.collect" in caplog.text


def test_ordered_can_break_cycles_in_rank_order():
    # the load order of sources: referenced tables first, otherwise (and in a cycle) as given
    rank = {"x": 0, "a": 1, "b": 2, "c": 3}
    assert graph.ordered({"x": ["c"], "a": ["b"], "b": ["a"], "c": []}, rank,
                         break_cycles=True) == ["c", "x", "a", "b"]
    assert graph.ordered({"a": ["a"]}, break_cycles=True) == ["a"]
