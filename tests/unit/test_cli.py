"""The CLI as a user calls it: exit codes and messages (no Spark session needed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


_session: dict = {}


@pytest.fixture(autouse=True)
def _in_process_cli(capsys, monkeypatch):
    """What ``lakehouse(...)`` needs to run the CLI in this process (no interpreter start)."""
    _session.update(capsys=capsys, monkeypatch=monkeypatch)
    yield
    _session.clear()


def lakehouse(*args, cwd=REPO, env=None, process=False):
    """The CLI's exit code, stdout and stderr for ``args``: run by ``main()`` in this process,
    or with ``process`` as a user runs it (``python -m lakehouse.cli``)."""
    if process:
        return subprocess.run([sys.executable, "-m", "lakehouse.cli", *args], cwd=cwd,
                              capture_output=True, text=True, env={**os.environ, **(env or {})})
    from lakehouse.cli import commands

    capsys, monkeypatch = _session["capsys"], _session["monkeypatch"]
    with monkeypatch.context() as patch:
        patch.chdir(cwd)
        patch.setattr(sys, "argv", ["lakehouse", *args])
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        capsys.readouterr()
        try:
            commands.main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def test_validate_accepts_the_repository_conf():
    done = lakehouse("validate", process=True)
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "ok: 6 owners, 4 systems, 48 data standards, 11 source contracts in conf, 9 layer models" in out


def test_validate_reports_every_error_with_file_line_key_and_fix(tmp_path):
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    customer = tmp_path / "conf/sources/cbs/customer.yaml"
    text = customer.read_text(encoding="utf-8")
    text = text.replace("    security_level: 4\n", "    security_level: 7\n", 1)
    text = text.replace("  delimiter: \"|\"", "  delimter: \"|\"")
    customer.write_text(text, encoding="utf-8")
    card = tmp_path / "conf/sources/ccs/card.yaml"
    card.write_text(card.read_text(encoding="utf-8").replace("load_type: zipper",
                                                             "load_type: zip"), encoding="utf-8")
    done = lakehouse("validate", "--conf", str(tmp_path / "conf"))
    assert done.returncode == 2
    err = " ".join(done.stderr.split())
    assert "3 problem(s)" in err
    assert "customer.yaml, line 11: unknown key 'delimter'" in err
    assert "did you mean 'delimiter'?" in err
    assert "customer.yaml, line 32: security_level must be between 1 and 5" in err
    assert "key: attributes[2].security_level" in err
    assert "card.yaml, line 6" in err and "load_type" in err


def test_validate_reports_contracts_that_admission_would_refuse(tmp_path):
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    card = tmp_path / "conf/sources/ccs/card.yaml"
    card.write_text(card.read_text(encoding="utf-8").replace("owner: wang.fang", "owner: nobody"),
                    encoding="utf-8")
    done = lakehouse("validate", "--conf", str(tmp_path / "conf"))
    assert done.returncode == 2
    err = " ".join(done.stderr.split())
    assert "contract ccs.card was refused admission: owner check failed" in err
    assert f"{card}, line 5: owner 'nobody' is not in the owners registry" in err


def test_tables_json_lists_layer_zone_load_type_keys_and_path(tmp_path):
    done = lakehouse("tables", "--json", env={"LAKEHOUSE_ROOT": str(tmp_path / "root")})
    assert done.returncode == 0, done.stderr
    tables = {t["name"]: t for t in json.loads(done.stdout)}
    customer = tables["near_source.cbs_customer"]
    assert customer == {
        "name": "near_source.cbs_customer", "zone": "standard", "layer": "near_source",
        "load_type": "zipper", "keys": ["customer_id"], "partition_by": ["end_dt"],
        "path": f"{tmp_path}/root/standard/near_source/cbs_customer",
        "properties": customer["properties"],
    }
    assert customer["properties"]["lakehouse.owner"] == "li.na"
    assert {"governance.load_log", "governance.raw_manifest", "governance.quarantine_cbs_account",
            "governance.quality_results", "governance.quality_scorecard", "governance.model_runs",
            "governance.lineage", "governance.retention_log"} <= set(tables)
    mart = tables["mart.mart_customer_360"]
    assert (mart["zone"], mart["layer"], mart["load_type"], mart["partition_by"], mart["path"]) == (
        "standard", "mart", "snapshot", ["data_date"], f"{tmp_path}/root/standard/mart/mart_customer_360")
    assert mart["properties"]["lakehouse.security_level"] == "4"


def test_layers_list_shows_the_build_order_and_inputs():
    done = lakehouse("layers", "list")
    assert done.returncode == 0, done.stderr
    rows = [line.split("│")[1].strip() for line in done.stdout.splitlines() if "│" in line]
    assert rows[0] == "agt_agreement" and rows[-1] == "mart_customer_360" and len(rows) == 9
    assert "evt_transaction (history)" in done.stdout and "31 days" in done.stdout


def test_layers_run_refuses_an_unknown_model_without_starting_spark():
    done = lakehouse("layers", "run", "--date", "2026-11-01", "--model", "mart_customer_361",
                     process=True)
    assert done.returncode == 2
    err = " ".join(done.stderr.split())
    assert "unknown model 'mart_customer_361'" in err and "use one of:" in err


def test_run_rejects_a_bad_date_and_an_unknown_source():
    done = lakehouse("run", "--date", "2026-13-01")
    assert done.returncode == 2
    assert "'2026-13-01' is not a date; use YYYY-MM-DD" in done.stderr
    done = lakehouse("run", "--date", "2026-11-01", "--source", "cbs.custmer")
    assert done.returncode == 2
    assert "unknown source 'cbs.custmer'" in done.stderr
    assert "use one of: cbs.account, cbs.customer, cbs.transaction, ccs.card" in done.stderr


def test_default_data_date_is_yesterday_in_shanghai(monkeypatch):
    from datetime import date, datetime, timezone

    from lakehouse import api
    from lakehouse.api import Lakehouse

    class Clock(datetime):
        """16:30 UTC on 30 Nov 2026: already 1 Dec, 00:30, in Shanghai."""

        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 11, 30, 16, 30, tzinfo=timezone.utc).astimezone(tz)

    monkeypatch.setattr(api, "datetime", Clock)
    assert Lakehouse(REPO / "conf").yesterday() == date(2026, 11, 30)


FAILING_COMMAND = (  # through the console script (the `lakehouse` executable)
    "import atexit, sys\n"
    "from lakehouse.cli import commands\n"
    "atexit.register(lambda: print('exit handlers ran'))\n"
    "@commands.app.command('explode')\n"
    "def explode():\n"
    "    raise ValueError('the bug in one line\\nand a second line')\n"
    "sys.argv = ['lakehouse', *sys.argv[1:]]\n"
    "commands.console_script()\n")


def failing(*args, env=None):
    return subprocess.run([sys.executable, "-c", FAILING_COMMAND, *args], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def test_an_unexpected_error_is_one_line_with_the_way_to_its_traceback():
    done = failing("explode", env={"LAKEHOUSE_DEBUG": "0"})
    assert done.returncode == 1 and done.stdout == "exit handlers ran\n"  # its exit code, flushed
    assert done.stderr.strip().splitlines() == [
        "unexpected error: ValueError: the bug in one line",
        "run with --debug (or LAKEHOUSE_DEBUG=1) for the traceback"]


def test_debug_shows_the_traceback_of_an_unexpected_error():
    for done in (failing("--debug", "explode"), failing("explode", env={"LAKEHOUSE_DEBUG": "1"})):
        assert done.returncode == 1
        assert "Traceback (most recent call last)" in done.stderr
        assert "in explode" in done.stderr and "and a second line" in done.stderr
        assert "run with --debug" not in done.stderr


def test_restore_rebuilds_a_lakehouse_from_a_backup_and_refuses_a_used_folder(tmp_path):
    from lakehouse.lifecycle import backup

    project = tmp_path / "project"
    shutil.copytree(REPO / "conf", project / "conf")
    root = project / "lakehouse_data"
    (root / "raw" / "ref").mkdir(parents=True)
    (root / "raw" / "ref" / "product_20261101.csv").write_text("DEP001,活期存款\n")
    taken = backup.take(str(root), project, str(project / "backups"))
    result = lakehouse("restore", "--to", str(tmp_path / "restored"), cwd=project)
    assert result.returncode == 0, result.stderr
    assert f"restored backup {taken.manifest.backup_id}" in result.stdout
    assert (tmp_path / "restored" / "raw" / "ref" / "product_20261101.csv").read_text() == "DEP001,活期存款\n"
    again = lakehouse("restore", "--to", str(tmp_path / "restored"), cwd=project)
    assert again.returncode == 2 and "is not empty" in again.stderr and "--to" in again.stderr


def test_history_move_refuses_a_table_without_a_hot_window_before_spark_starts():
    done = lakehouse("history", "move", "--table", "cbs.customer", "--dry-run")
    assert done.returncode == 2
    err = " ".join(done.stderr.split())
    assert "near_source.cbs_customer does not move to the history zone" in err
    assert "zipper tables are history already" in err and "history.yaml" in err


def test_keys_rotate_replaces_the_master_key_keeps_the_secrets_and_prints_no_key(tmp_path):
    from lakehouse.security.keys import KeyFile, create_key_file

    key = tmp_path / "master.key"
    create_key_file(key)
    before, pseudonym = key.read_bytes(), KeyFile(key).secret("pseudonym")
    done = lakehouse("keys", "rotate", env={"LAKEHOUSE_KEY_FILE": str(key)})
    assert done.returncode == 0, done.stderr
    assert "master key rotated" in done.stdout and "no data file rewritten" in done.stdout
    assert key.read_bytes() != before and KeyFile(key).secret("pseudonym") == pseudonym
    assert before.hex() not in done.stdout and key.read_bytes().hex() not in done.stdout
