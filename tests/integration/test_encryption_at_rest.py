"""Encryption at rest on Spark (4.2.2.2 c): a load leaves no level-3+ value in clear in any
stored byte (raw file, Delta data files, log, governance, quarantine), reads stay transparent,
and the byte scan finds the values when encryption is off."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.security import at_rest
from lakehouse.security.leak_scan import protected_values
from lakehouse.security.stored_bytes import scan_stored
from lakehouse.zones import raw_zone

from ..conftest import ROOT, open_project
from .test_near_source_loads import D1, customer, deliver, load

NAME, MOBILE = "欧阳明华", "13912345678"


def unencrypted(project: Path, engine):
    """The project's lakehouse with encryption at rest turned off in its conf/lakehouse.yaml."""
    settings = project / "conf" / "lakehouse.yaml"
    settings.write_text(settings.read_text() + "\nencrypt_at_rest: false\n")
    return open_project(project, engine)


def load_customers(lh):
    deliver(lh, "cbs.customer", D1, [customer("C1", MOBILE, name=NAME), customer("C2")])
    load(lh, "cbs.customer", D1)
    return protected_values(lh)


@pytest.mark.slow  # a load and a scan of every stored file (the default tier's budget)
def test_a_load_stores_no_protected_value_in_clear_and_reads_stay_transparent(lakehouse):
    values = load_customers(lakehouse)
    assert {NAME, MOBILE, "11010519491231002X"} <= set(values.owner)

    found = scan_stored(values, [lakehouse.root])

    assert found.leaks == [], [leak.render() for leak in found.leaks]
    assert found.encrypted >= 3  # the raw file, the table's data file, governance files
    rows = lakehouse.engine.rows(lakehouse.table("cbs.customer"), order_by=["customer_id"])
    assert [(r["customer_name"], r["mobile"]) for r in rows] == [(NAME, MOBILE), ("张三", "13800000001")]
    [raw] = Path(lakehouse.root, "raw/cbs/customer").rglob("*.csv")
    delivered = Path(lakehouse.settings.landing).rglob(raw.name)
    assert raw_zone.delivered_bytes(str(raw), at_rest.raw_kek(lakehouse.project)) == \
        next(delivered).read_bytes()


@pytest.mark.slow  # a second project registered and loaded in clear
def test_without_encryption_the_byte_scan_finds_the_values_in_every_kind_of_file(project, engine):
    before = engine._encryption  # the shared engine is left as it was found
    lh = unencrypted(project, engine)
    try:
        lh.register(project / "conf" / "sources" / "cbs" / "customer.yaml", by="test")
        values = load_customers(lh)
        found = scan_stored(values, [lh.root])
    finally:
        engine.encrypt_at_rest(*before)
    where = {leak.where.split(f"/{ROOT}/", 1)[1].split("/")[0] for leak in found.leaks}
    assert {"raw", "standard"} <= where, where
    assert any(leak.where.endswith(".parquet") for leak in found.leaks)
    assert found.encrypted == 0
    assert all(NAME not in leak.render() and MOBILE not in leak.render() for leak in found.leaks)
    assert not any("_delta_log" in leak.where for leak in found.leaks)  # no statistics of them
