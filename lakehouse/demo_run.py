"""`lakehouse demo`: the demo bank's deliveries run through the T-1 batch, date by date."""

from __future__ import annotations

import os
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from lakehouse.config.project import SOURCES_DIR
from lakehouse.delivery_writer import write_delivery
from lakehouse.demo import DemoBank
from lakehouse.views import scorecard_table


def generate(lh, customers: int, days: int, start: date, seed: int) -> list[date]:
    """Write ``days`` data dates of demo deliveries into the landing folder."""
    bank = DemoBank(customers, seed=seed, start=start)
    landing = Path(lh.settings.landing)
    dates = []
    for data_date, extracts in bank.days(start, days):
        for index, (name, records) in enumerate(extracts.items()):
            if name in lh.project.sources:
                path = write_delivery(lh.project.sources[name], landing, data_date, records)
                # delivered overnight, as the source systems would (timeliness is measured on it)
                arrived = datetime.combine(data_date + timedelta(days=1), clock(1, 30 + 5 * index),
                                           tzinfo=lh.settings.tzinfo).timestamp()
                os.utime(path, (arrived, arrived))
        dates.append(data_date)
    return dates


def run_demo(lh, customers: int, days: int, start: date, seed: int, console: Console) -> bool:
    began = time.perf_counter()
    console.print(f"demo bank: {customers} customers, {days} data dates from {start}, seed {seed}")
    dates = generate(lh, customers, days, start, seed)
    registered = lh.register(lh.project.file(SOURCES_DIR), by="demo")
    refused = [r for r in registered if r.error is not None]
    for r in refused:
        console.print(r.error.render(), markup=False, highlight=False)
    console.print(f"registered {len(registered) - len(refused)} of {len(registered)} source contracts")
    generated = time.perf_counter()
    summaries = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("T-1 batches", total=len(dates))
        for data_date in dates:
            progress.update(task, description=f"data date {data_date}")
            summaries.append(lh.run(data_date))
            progress.advance(task)
    table = Table(title="demo run")
    for column in ("data date", "source", "status", "rows in", "loaded", "quarantined", "promotion"):
        table.add_column(column)
    for summary in summaries:
        for r in summary.results:
            colour = "green" if r.status == "succeeded" else "red"
            promotion = "-" if r.promotable is None else "promoted" if r.promotable else \
                "[red]held: " + ", ".join(r.blocking_rules) + "[/red]"
            table.add_row(str(r.data_date), r.source, f"[{colour}]{r.status}[/{colour}]",
                          str(r.rows_in), str(r.rows_loaded), str(r.rows_quarantined), promotion)
    console.print(table)
    rows = Table(title="near-source tables after the last date")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    rows.add_column("open / current rows", justify="right")
    last = dates[-1]
    for name in lh.project.sources:
        spec = lh.table(name)
        if not lh.engine.table_exists(spec):
            continue
        current = ("end_dt = DATE'9999-12-31'" if spec.load_type == "zipper"
                   else f"data_date = DATE'{last.isoformat()}'")
        rows.add_row(spec.qualified_name, str(lh.engine.count(spec)),
                     str(lh.engine.count(spec, current)))
    console.print(rows)
    finished = time.perf_counter()
    report = lh.quality_report(last)
    console.print(scorecard_table(report))
    console.print(f"generated deliveries and registered sources in {generated - began:.1f}s, loaded in "
                  f"{finished - generated:.1f}s; lakehouse root: {lh.root}")
    console.print(f"quality report: {report.html}\nGreat Expectations Data Docs: {report.data_docs}")
    console.print("next: `lakehouse quality report --date D`, `lakehouse tables`, or query the "
                  "Delta tables under the root with Spark")
    return all(s.ok for s in summaries)
