"""The serving copy of a service: whole data dates switched in at once (delta-rs, no Spark)."""

from __future__ import annotations

import threading
import time
from datetime import date

from lakehouse.engine import delta_rs
from lakehouse.services.serving_copy import ServingCopy
from lakehouse.zones.tables import Column, TableSpec


def _table(path: str) -> TableSpec:
    return TableSpec(name="t", zone="standard", layer="mart", path=path, partition_by=("data_date",),
                     columns=(Column("party_id", "string"), Column("stage", "string"),
                              Column("data_date", "date")))


def _rows(day: date, parties: int = 50, per_party: int = 4) -> list[dict]:
    return [{"party_id": f"P{i}", "stage": f"{day}#{n}", "data_date": day}
            for i in range(parties) for n in range(per_party)]


def test_the_serving_copy_switches_whole_data_dates_only(tmp_path):
    spec = _table(str(tmp_path / "t"))
    copy = ServingCopy(spec.path, ["party_id"], ["party_id", "stage", "data_date"])
    assert copy.refresh() is False and copy.lookup(("P1",)) == (None, [])
    first, second = date(2026, 11, 1), date(2026, 11, 2)
    delta_rs.append(spec, _rows(first))
    assert copy.refresh() is True and copy.refresh() is False
    snapshot, rows = copy.lookup(("P1",))
    assert snapshot.data_date == first and [r["stage"] for r in rows] == [f"{first}#{n}" for n in range(4)]
    mixed, stop = [], threading.Event()

    def read():
        while not stop.is_set():
            snapshot, rows = copy.lookup(("P7",))
            if {r["data_date"] for r in rows} != {snapshot.data_date.isoformat()} or len(rows) != 4:
                mixed.append(rows)
            time.sleep(0.0005)  # let the refresh run beside it

    reader = threading.Thread(target=read)
    reader.start()
    delta_rs.append(spec, _rows(second))
    assert copy.refresh() is True
    stop.set()
    reader.join()
    assert mixed == [] and copy.snapshot.data_date == second and copy.snapshot.rows == 200
