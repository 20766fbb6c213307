"""The raw zone keeps every distinct delivery (encrypted, as delivered once decrypted); identical
re-delivery is a no-op."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from lakehouse.filters import where
from lakehouse.governance import tables as governance
from lakehouse.demo.delivery_writer import write_delivery
from lakehouse.security import at_rest
from lakehouse.zones import raw_zone

from .test_near_source_loads import account

D1 = date(2026, 11, 1)


def test_redelivery_identical_is_noop_and_changed_is_a_new_version(lakehouse):
    contract = lakehouse.contract("cbs.account")
    landing = lakehouse.settings.landing
    path = write_delivery(contract, landing, D1, [account("A1")])
    first_bytes = path.read_bytes()
    assert lakehouse.run(D1, ["cbs.account"]).ok
    assert lakehouse.run(D1, ["cbs.account"]).ok  # identical re-delivery
    write_delivery(contract, landing, D1, [account("A1", "7.00")])  # corrected re-delivery
    assert lakehouse.run(D1, ["cbs.account"]).ok

    folder = Path(lakehouse.root) / "raw/cbs/account/data_date=2026-11-01"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.csv")) == [
        "v1/account_20261101.csv", "v2/account_20261101.csv"]
    # stored encrypted (4.2.2.2 c), read back as delivered, the delivered checksum beside
    kek = at_rest.raw_kek(lakehouse.project)
    assert raw_zone.delivered_bytes(str(folder / "v1/account_20261101.csv"), kek) == first_bytes
    assert raw_zone.delivered_bytes(str(folder / "v2/account_20261101.csv"), kek) == path.read_bytes()
    assert (folder / "v1/account_20261101.csv").read_bytes() != first_bytes
    assert (folder / "v1/account_20261101.csv.sha256").read_text() == hashlib.sha256(first_bytes).hexdigest()

    manifest = lakehouse.engine.rows(governance.raw_manifest(lakehouse.root),
                                     where(role="data"), order_by=["version"])
    assert [(m["version"], m["file_name"]) for m in manifest] == [
        (1, "account_20261101.csv"), (2, "account_20261101.csv")]
    assert manifest[0]["sha256"] != manifest[1]["sha256"]
    rows = lakehouse.engine.rows(lakehouse.table("cbs.account"))
    assert [str(r["balance"]) for r in rows] == ["7.00"]


def test_cli_run_loads_and_fails_with_exit_code_for_a_missing_delivery(lakehouse, project, monkeypatch):
    from lakehouse.api import Lakehouse
    from lakehouse.cli import commands
    from lakehouse.cli.commands import app

    # the CLI's own Lakehouse for --conf, on the test run's Spark (one Spark per process)
    monkeypatch.setattr(commands, "_lakehouse", lambda conf: Lakehouse(conf, engine=lakehouse.engine))

    write_delivery(lakehouse.contract("cbs.account"), lakehouse.settings.landing, D1,
                   [account("A1"), account("A2")])
    runner = CliRunner()
    conf = str(project / "conf")
    result = runner.invoke(app, ["run", "--date", "2026-11-01", "--source", "cbs.account",
                                 "--conf", conf])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    result = runner.invoke(app, ["run", "--date", "2026-11-02", "--source", "cbs.account",
                                 "--conf", conf])
    assert result.exit_code == 1
    assert "delivery for cbs.account on 2026-11-02 is missing" in result.output
