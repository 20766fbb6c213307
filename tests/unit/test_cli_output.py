"""What the CLI prints for programs: full-width tables when not on a terminal, and --json
documents (dates as ISO strings). Spark-free: commands that need the engine are tested through
their rendering functions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

from lakehouse.admission.checks import CHECKS, CheckResult, Decision
from lakehouse.api import QualityReport, RunSummary
from lakehouse.cli import rendering
from lakehouse.cli.commands import app
from lakehouse.config.quality_rules import DIMENSIONS
from lakehouse.errors import Problem
from lakehouse.ingestion.t1_load import LoadResult

REPO = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 11, 1)


def invoke(*args: str, monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("COLUMNS", "40")  # a narrow terminal must not matter when piped
    done = CliRunner().invoke(app, list(args))
    assert done.exit_code == 0, done.output
    return done.output


def test_piped_tables_keep_every_column_name_and_value_whole(monkeypatch, tmp_path):
    out = invoke("tables", monkeypatch=monkeypatch, tmp_path=tmp_path)
    assert "…" not in out
    header = next(line for line in out.splitlines() if "name" in line and "load type" in line)
    assert [c.strip() for c in header.split("┃")[1:-1]] == ["name", "zone", "layer", "load type",
                                                           "keys", "path"]
    assert f"{tmp_path}/root/standard/near_source/cbs_customer" in out
    layers = invoke("layers", "list", monkeypatch=monkeypatch, tmp_path=tmp_path)
    assert "…" not in layers and "evt_transaction (history)" in layers


def test_layers_list_json_is_the_build_order(monkeypatch, tmp_path):
    models = json.loads(invoke("layers", "list", "--json", monkeypatch=monkeypatch, tmp_path=tmp_path))
    assert models[0]["model"] == "agt_agreement" and models[-1]["model"] == "mart_customer_360"
    assert set(models[0]) == {"model", "layer", "load_type", "retention_days", "keys", "inputs"}
    assert any(m["inputs"].get("evt_transaction") == "history" for m in models)


def test_scorecard_json_and_full_width_table():
    report = QualityReport(
        DAY, [{"table_name": "cbs_account", "scores": {d: 99.0 for d in DIMENSIONS}, "overall": 99.0,
               "rules_failed": 0, "rules": 12}],
        Path("/reports/quality.html"), Path("/reports/docs/index.html"), failed=[],
        statuses=[{"table_name": "cbs_account", "data_date": DAY, "promotable": True,
                   "blocking_rules": [], "decided_at": dt.datetime(2026, 11, 2, 8, 30)}])
    document = json.loads(rendering.to_json(rendering.scorecard_document(report)))
    assert document["data_date"] == "2026-11-01" and document["dimensions"] == list(DIMENSIONS)
    assert document["scorecard"][0]["scores"]["completeness"] == 99.0
    assert document["statuses"][0]["decided_at"] == "2026-11-02T08:30:00"
    assert document["html"] == "/reports/quality.html"
    console = rendering.Console(width=rendering.PIPED_WIDTH, record=True)
    console.print(rendering.scorecard_table(report))
    text = console.export_text()
    assert "…" not in text and all(d in text for d in DIMENSIONS) and "completeness" in text


def test_stdout_is_full_width_when_not_a_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "20")
    assert rendering.stdout().width == rendering.PIPED_WIDTH  # pytest captures stdout: not a tty


def test_run_and_checks_documents():
    summary = RunSummary("20261101-1", DAY, [LoadResult(
        "cbs.account", "near_source.cbs_account", DAY, "succeeded", rows_in=10, rows_loaded=9,
        rows_quarantined=1, table_version=3, loaded_at=dt.datetime(2026, 11, 2, 1, 2, 3))])
    run = json.loads(rendering.to_json(rendering.run_document(summary)))
    assert (run["run_id"], run["data_date"], run["ok"]) == ("20261101-1", "2026-11-01", True)
    assert run["results"][0]["loaded_at"] == "2026-11-02T01:02:03"
    assert run["results"][0]["rows_quarantined"] == 1
    checks = {name: CheckResult(name, "passed", {"checked_at": dt.datetime(2026, 11, 2)})
              for name in CHECKS}
    checks["owner"] = CheckResult("owner", "failed", problems=[Problem(
        "owner 'nobody' is not in the owners registry", "conf/sources/ccs/card.yaml", 5, key="owner",
        value="nobody", fix="use one of: li.na")])
    decision = Decision("ccs.card", DAY, "abc", 2, checks)
    document = json.loads(rendering.to_json(rendering.checks_document(decision)))
    assert [c["check"] for c in document["checks"]] == list(CHECKS)
    assert document["admitted"] is False and document["registration_version"] == 2
    assert document["checks"][-1]["evidence"] == {"checked_at": "2026-11-02T00:00:00"}
    owner = next(c for c in document["checks"] if c["check"] == "owner")
    assert owner["problems"] == [{"message": "owner 'nobody' is not in the owners registry",
                                  "fix": "use one of: li.na", "file": "conf/sources/ccs/card.yaml",
                                  "line": 5, "key": "owner"}]


def test_quarantine_show_prints_the_rows_as_the_principal_sees_them(monkeypatch, tmp_path):
    from lakehouse.api import Lakehouse

    asked = []
    rows = [{"line": 3, "stage": "parse", "rule": None, "reason": "column 3 (txn_time): 'x' is not "
             "a timestamp", "raw_line": "T2,622848******1234,x", "row_json": None, "sealed": False},
            {"line": 4, "stage": "parse", "rule": None, "reason": "has 8 fields, expected 7",
             "raw_line": None, "row_json": None, "sealed": True}]

    def quarantined(lh, source, data_date):
        asked.append((lh.clearance.principal.id, source, data_date))
        return rows

    monkeypatch.setattr(Lakehouse, "quarantined", quarantined)
    args = ("quarantine", "show", "--source", "ccs.card_txn", "--date", "2026-11-02", "--as", "local.dev")
    out = invoke(*args, monkeypatch=monkeypatch, tmp_path=tmp_path)
    assert asked == [("local.dev", "ccs.card_txn", dt.date(2026, 11, 2))]
    assert "T2,622848******1234,x" in out and "(sealed: withheld)" in out
    assert json.loads(invoke(*args, "--json", monkeypatch=monkeypatch, tmp_path=tmp_path)) == rows
