"""The demo bank's deliveries written to a landing folder, as its source systems would deliver them."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path

from lakehouse.demo.delivery_writer import sign_delivery, write_delivery
from lakehouse.demo.bank import DemoBank, Record
from lakehouse.demo.defects import LATE_ARRIVAL, DefectPlan, PlantedDefect

FIRST_ARRIVAL = timedelta(hours=1, minutes=30)  # after midnight ending the data date
ARRIVAL_STEP = timedelta(minutes=5)  # between one entity's file and the next


def first_line(contract) -> int:
    """The line of a delivered file that holds its first record."""
    delivery = contract.delivery
    return 2 if delivery.format == "csv" and delivery.header else 1


def arrival(data_date: date, index: int, tzinfo, late: bool = False) -> datetime:
    """When the ``index``-th entity's file of ``data_date`` arrives: overnight, in order, or at
    ``LATE_ARRIVAL`` (after the deadline) for a late file."""
    midnight = datetime.combine(data_date + timedelta(days=1), datetime.min.time(), tzinfo=tzinfo)
    if late:
        return midnight.replace(hour=LATE_ARRIVAL.hour, minute=LATE_ARRIVAL.minute)
    return midnight + FIRST_ARRIVAL + ARRIVAL_STEP * index


def write_demo_deliveries(
    project, landing: Path, bank: DemoBank, start: date, days: int, plan: DefectPlan | None,
    signers: dict | None = None,
) -> tuple[list[date], list[PlantedDefect], dict[date, dict[str, list[Record]]]]:
    """Write ``days`` data dates of the bank's deliveries from ``start`` into ``landing``.

    Every source of ``project`` the bank delivers gets its data and control file, dated (file
    modification time) overnight after the data date in the project's time zone; ``plan``'s
    defects are planted on the way; a system with a private key in ``signers`` signs its control
    files (sha256 and signature). Returns the data dates, the planted defects, and per date
    and source the records as delivered (defects included, malformed rows left out: they are
    what a correct reader of the files gets).
    """
    landing = Path(landing)
    tzinfo = project.settings.tzinfo
    first_lines = {name: first_line(contract) for name, contract in project.sources.items()}
    dates: list[date] = []
    defects: list[PlantedDefect] = []
    delivered: dict[date, dict[str, list[Record]]] = {}
    for ordinal, (data_date, extracts) in enumerate(bank.days(start, days)):
        if plan is None:
            records_of, late, readable = extracts, frozenset(), extracts
        else:
            planted = plan.plant(data_date, ordinal, extracts, first_lines)
            records_of, late, readable = planted.extracts, planted.late, planted.delivered()
            defects += [d for d in planted.defects if d.source in project.sources]
        delivered[data_date] = {}
        for index, (name, records) in enumerate(records_of.items()):
            if name not in project.sources:
                continue
            contract = project.sources[name]
            path = write_delivery(contract, landing, data_date, records)
            if contract.system in (signers or {}) and contract.delivery.control is not None:
                sign_delivery(contract, landing, data_date, signers[contract.system], path)
            arrived = arrival(data_date, index, tzinfo, late=name in late).timestamp()
            os.utime(path, (arrived, arrived))
            delivered[data_date][name] = list(readable[name])
        dates.append(data_date)
    return dates, defects, delivered
