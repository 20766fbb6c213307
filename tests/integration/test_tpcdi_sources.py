"""The TPC-DI project's source contracts read every file of the slice (issue #20): pipe-delimited
and CSV files, the CustomerMgmt XML, the multi-record FINWIRE files and the incrementals'
change-data-capture rows, with nothing rejected and nothing lost. No Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from examples.tpcdi.sources import HISTORICAL, INCREMENTAL, contracts, files_of, read_source

SLICE = Path(__file__).resolve().parents[1] / "fixtures" / "tpcdi_slice"


def delivered_records(entity: str, paths: list[Path]) -> int:
    if entity == "customer_mgmt":
        return sum(p.read_text().count("<TPCDI:Action ") for p in paths)
    return sum(sum(1 for line in p.read_bytes().split(b"\n") if line.strip()) for p in paths)


@pytest.mark.parametrize("batch, entity", [(1, e) for e in HISTORICAL]
                         + [(b, e) for b in (2, 3) for e in INCREMENTAL])
def test_every_slice_file_is_read_through_its_contract(batch, entity):
    contract = contracts()[entity]
    folder = SLICE / f"Batch{batch}"
    read = read_source(contract, folder)
    assert read.files >= 1
    assert read.rejected == []
    assert read.table.num_rows == delivered_records(entity, files_of(contract, folder))


def test_finwire_records_take_the_layout_of_their_type():
    read = read_source(contracts()["finwire"], SLICE / "Batch1")
    rows = read.table.to_pylist()
    kinds = {r["rec_type"] for r in rows}
    assert kinds == {"CMP", "SEC", "FIN"}
    company = next(r for r in rows if r["rec_type"] == "CMP")
    assert company["cik"] is not None and company["symbol"] is None
    security = next(r for r in rows if r["rec_type"] == "SEC")
    assert security["symbol"] and security["co_name_or_cik"] and security["cik"] is None


def test_customer_actions_flatten_customer_and_account():
    read = read_source(contracts()["customer_mgmt"], SLICE / "Batch1")
    rows = read.table.to_pylist()
    new = next(r for r in rows if r["action_type"] == "NEW")
    assert new["c_id"] is not None and new["ca_id"] is not None and new["c_l_name"]
    assert {r["action_type"] for r in rows} >= {"NEW", "ADDACCT", "UPDCUST"}
