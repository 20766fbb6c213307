"""`lakehouse demo`: the demo bank's deliveries run through the T-1 batch and every layer, date
by date, with a summary of what happened and where to look next."""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lakehouse.filters import where
from lakehouse.governance import tables as governance
from lakehouse.zones import Zone
from lakehouse.zones.tables import OPEN_END_DATE
from lakehouse.config.project import SOURCES_DIR
from lakehouse.demo import DemoBank
from lakehouse.demo.defects import DefectPlan, PlantedDefect
from lakehouse.demo.deliveries import write_demo_deliveries
from lakehouse.demo.services import publish_demo_services
from lakehouse.demo.signing import demo_signers
from lakehouse.cli.rendering import scorecard_table

log = logging.getLogger(__name__)

SCAN_AS = "sun.li"
"""The auditor who scans the demo's records, reports and log for protected values in clear."""
LOG_FILE = "demo.log"
"""The demo's log (every logged record of the run), in the reports folder the scan reads."""
SAMPLE_360_AS = "chen.jie"
"""The principal of the sample: a risk analyst sees balances and warnings in clear, identity masked."""
SAME_ROW_AS = ("li.na", "app.customer_desk")
"""A data steward and the customer service desk, shown the same customer 360 row."""
SAME_ROW = ("SELECT party_id, party_name, mobile, gender, age, branch_name, total_assets_cny, rfm_segment "
            "FROM mart.mart_customer_360 WHERE data_date = DATE'{d}' AND cbs_customer_id = '{c}'")
SAMPLE_360 = ("SELECT party_id, age, branch_name, deposit_accounts AS deposits, credit_cards AS cards, "
              "loans, total_assets_cny, total_liabilities_cny, mtd_inflow, rfm_segment, "
              "lifecycle_stage, risk_warnings FROM mart.mart_customer_360 WHERE data_date = DATE'{d}' "
              "ORDER BY size(risk_warnings) DESC, total_assets_cny DESC LIMIT 5")


@dataclass
class DemoOutcome:
    """What a demo run did: the data dates, planted defects, runs and timings."""

    dates: list[date]
    planted: list[PlantedDefect]
    delivered: dict  # data date -> source -> records as delivered (an independent oracle)
    loads: list = field(default_factory=list)  # RunSummary per date
    layers: list = field(default_factory=list)  # LayerSummary per date
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def ok(self) -> bool:
        """Every model ran or was skipped for a reason; nothing failed unexpectedly."""
        return not any(r.status == "failed" for s in self.layers for r in s.results)


def generate(lh, customers: int, days: int, start: date, seed: int, defect_rate: float):
    """Write ``days`` data dates of demo deliveries (with planted defects) into the landing
    folder, those of the demo's signing system signed (``lakehouse.demo.signing``)."""
    bank = DemoBank(customers, seed=seed, start=start)
    plan = DefectPlan(rate=defect_rate, seed=seed) if defect_rate > 0 else None
    return write_demo_deliveries(lh.project, Path(lh.settings.landing), bank, start, days, plan,
                                 demo_signers(lh.project))


def deliver(lh, customers: int, days: int, start: date, seed: int, defect_rate: float) -> list[date]:
    """Write the deliveries and register the sources, for an orchestrator to load them."""
    dates, _, _ = generate(lh, customers, days, start, seed, defect_rate)
    for r in lh.register(lh.project.file(SOURCES_DIR), by="demo"):
        if r.error is not None:
            raise r.error
    return dates


def run_batches(lh, customers: int, days: int, start: date, seed: int, defect_rate: float = 0.001,
                console: Console | None = None) -> DemoOutcome:
    """Generate, register and run every data date through admission, loads, quality and layers."""
    console = console or Console(quiet=True)
    began = time.perf_counter()
    dates, planted, delivered = generate(lh, customers, days, start, seed, defect_rate)
    outcome = DemoOutcome(dates, planted, delivered)
    outcome.seconds["generate deliveries"] = time.perf_counter() - began
    began = time.perf_counter()
    registered = lh.register(lh.project.file(SOURCES_DIR), by="demo")
    for r in registered:
        if r.error is not None:
            console.print(r.error.render(), markup=False, highlight=False)
    outcome.seconds["register sources"] = time.perf_counter() - began
    steps = len(lh.project.sources) + len(lh.project.models)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[step]}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        for data_date in dates:
            task = progress.add_task(f"data date {data_date}", total=steps, step="")

            def advance(result, _task=task):
                name = getattr(result, "source", None) or result.model
                progress.update(_task, advance=1, step=f"{name} {result.status}")
                said = getattr(result, "message", None) or getattr(result, "reason", None)
                log.info("%s %s %s%s", data_date, name, result.status, f": {said}" if said else "")

            began = time.perf_counter()
            outcome.loads.append(lh.run(data_date, on_result=advance))
            outcome.seconds["admission, near-source loads, quality"] += time.perf_counter() - began
            began = time.perf_counter()
            outcome.layers.append(lh.build_layers(data_date, on_result=advance))
            outcome.seconds["integrated, common and mart layers"] += time.perf_counter() - began
            progress.update(task, step="done")
    return outcome


def caught(lh, planted: list[PlantedDefect]) -> list[tuple[PlantedDefect, str | None]]:
    """Each planted defect with where the lakehouse recorded it (None if nowhere)."""
    root, found = lh.root, []
    for defect in planted:
        contract = lh.contract(defect.source)
        table = f"near_source.{contract.table_name}"
        day = where(data_date=defect.data_date)
        caught_at = None
        if defect.kind == "duplicate_key":
            if lh.engine.has_rows(governance.admission_log(root), day & where(
                    source=defect.source, check_name="quality", status="failed")):
                caught_at = "admission log: quality check failed, delivery rejected"
        elif defect.kind == "malformed_row":
            if lh.engine.has_rows(governance.quarantine(root, contract.table_name),
                                  day & where(stage="parse", line=defect.line)):
                caught_at = f"quarantine_{contract.table_name}: line {defect.line} unreadable"
        else:
            rule = _rule_for(lh.project, contract, defect)
            if rule and lh.engine.has_rows(governance.quality_results(root),
                                           day & where(table_name=table, rule=rule, success=False)):
                caught_at = f"quality result: {rule} failed"
                if defect.kind == "null" and lh.engine.has_rows(
                        governance.quarantine(root, contract.table_name), day & where(rule=rule)):
                    caught_at += ", rows quarantined"
        found.append((defect, caught_at))
    return found


def _rule_for(project, contract, defect: PlantedDefect) -> str | None:
    """The quality rule meant to catch a row-level or late-file defect."""
    if defect.kind == "null":
        return f"{defect.column}.not_null"
    if defect.kind == "invalid_id":
        return f"{defect.column}.domain"
    if defect.kind == "late_file":
        return "delivery.on_time"
    if defect.kind == "orphan_key":
        rules = project.quality_rules.get(contract.table_name)
        for rule in rules.rules if rules else []:
            if rule.reference is not None and defect.column in rule.reference.columns:
                return rule.name
    return None


def run_demo(lh, customers: int, days: int, start: date, seed: int, console: Console,
             defect_rate: float = 0.001) -> bool:
    began = time.perf_counter()
    console.print(f"demo bank: {customers:,} customers, {days} data dates from {start}, seed {seed}, "
                  f"defects planted at rate {defect_rate}; {len(lh.project.sources)} sources, "
                  f"{len(lh.project.models)} layer models")
    with demo_log(lh.project.reports_dir / LOG_FILE):
        outcome = run_batches(lh, customers, days, start, seed, defect_rate, console)
    console.print(_loads_table(outcome))
    console.print(_layers_table(outcome))
    for summary in outcome.layers:
        for r in summary.not_built:
            console.print(f"  {summary.data_date} {r.model} {r.status}: {r.reason.splitlines()[0]}",
                          markup=False, highlight=False)
    last = outcome.dates[-1]
    console.print(_rows_table(lh, last))
    report_began = time.perf_counter()
    report = lh.quality_report(last)
    outcome.seconds["quality report and Data Docs"] = time.perf_counter() - report_began
    console.print(scorecard_table(report))
    console.print(_defects_table(caught(lh, outcome.planted)))
    console.print(_sample_360(lh, last))
    console.print(_same_row(lh, last))
    feed_began = time.perf_counter()
    from lakehouse.demo.realtime_feed import run_feed_demo

    run_feed_demo(lh, last, console)  # before the backup and scan: its checkpoints are stored bytes
    outcome.seconds["real-time feed, reconciliation, apps"] = time.perf_counter() - feed_began
    backup_began = time.perf_counter()
    taken = lh.backup()  # the scan below reads the backup root too (4.2.2.2 c, d)
    outcome.seconds["backup"] = time.perf_counter() - backup_began
    console.print(f"backup {taken.manifest.backup_id}: {taken.files_copied:,} files copied "
                  f"({taken.bytes_copied / 2**20:,.1f} MiB) to {taken.backup_root}", highlight=False)
    scan_began = time.perf_counter()
    scanned = lh.as_principal(SCAN_AS).scan_for_leaks()
    outcome.seconds["leak scan"] = time.perf_counter() - scan_began
    for leak in scanned.leaks:
        console.print(f"[red]{leak.render()}[/red]", highlight=False)
    console.print(f"{scanned.summary()} (as {SCAN_AS})", highlight=False)
    services_began = time.perf_counter()
    publish_demo_services(lh, console)
    outcome.seconds["data services published"] = time.perf_counter() - services_began
    timing = Table(title="elapsed time per stage")
    timing.add_column("stage")
    timing.add_column("seconds", justify="right")
    for stage, seconds in outcome.seconds.items():
        timing.add_row(stage, f"{seconds:.1f}")
    timing.add_row("[bold]total[/bold]", f"[bold]{time.perf_counter() - began:.1f}[/bold]")
    console.print(timing)
    console.print(f"lakehouse root: {lh.root}\nquality report: {report.html}\n"
                  f"Great Expectations Data Docs: {report.data_docs}\nnext:\n"
                  f"  lakehouse query --as {SAMPLE_360_AS} \"{SAMPLE_360.format(d=last)}\"\n"
                  f"  lakehouse quality report --date {last}\n"
                  "  lakehouse layers list    lakehouse tables    lakehouse catalog search 客户\n"
                  "  lakehouse service key --consumer app.customer_desk --as zhang.wei; lakehouse serve "
                  "(then http://127.0.0.1:8080/)")
    return outcome.ok and scanned.clean


@contextmanager
def demo_log(path: Path):
    """Every record logged (INFO and above) while inside, written to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


def _loads_table(outcome: DemoOutcome) -> Table:
    table = Table(title="admission and near-source loads (rows loaded, quarantined)")
    table.add_column("source")
    for d in outcome.dates:
        table.add_column(str(d), justify="right")
    cells: dict[str, list[str]] = {}
    for summary in outcome.loads:
        for r in summary.results:
            if r.status != "succeeded":
                cell = f"[red]{r.status}[/red]"
            else:
                cell = f"{r.rows_loaded:,}" + (f" [yellow]+{r.rows_quarantined} q[/yellow]"
                                               if r.rows_quarantined else "")
                if r.promotable is False:
                    cell += " [red]held[/red]"
            cells.setdefault(r.source, []).append(cell)
    for source, row in cells.items():
        table.add_row(source, *row)
    return table


def _layers_table(outcome: DemoOutcome) -> Table:
    table = Table(title="layer models (rows of the date, or why not built)")
    table.add_column("model")
    table.add_column("layer")
    for d in outcome.dates:
        table.add_column(str(d), justify="right")
    cells: dict[str, list[str]] = {}
    layers: dict[str, str] = {}
    for summary in outcome.layers:
        for r in summary.results:
            layers[r.model] = r.layer
            cells.setdefault(r.model, []).append(
                f"{r.rows:,}" + (" [red]held[/red]" if r.held else "") if r.ok
                else f"[yellow]skipped: {', '.join(r.blocked_by)}[/yellow]"
                if r.status == "skipped" else "[red]failed[/red]")
    for model, row in cells.items():
        table.add_row(model, layers[model], *row)
    return table


def _rows_table(lh, last: date) -> Table:
    table = Table(title=f"tables after {last}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column(f"of {last} / open", justify="right")
    for spec in lh.tables():
        if spec.zone != Zone.STANDARD or not lh.engine.table_exists(spec):
            continue
        current = (where(end_dt=date.fromisoformat(OPEN_END_DATE)) if spec.load_type == "zipper"
                   else where(data_date=last))
        table.add_row(spec.qualified_name, f"{lh.engine.count(spec):,}",
                      f"{lh.engine.count(spec, current):,}")
    return table


def _defects_table(found: list[tuple[PlantedDefect, str | None]]) -> Table:
    table = Table(title="planted defects and where they were caught")
    for column in ("defect", "source", "planted", "caught", "where"):
        table.add_column(column, justify="right" if column in ("planted", "caught") else "left")
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for defect, caught_at in found:
        groups[(defect.kind, defect.source)].append(caught_at)
    for (kind, source), wheres in sorted(groups.items()):
        hits = [w for w in wheres if w]
        colour = "green" if len(hits) == len(wheres) else "red"
        places = Counter(hits).most_common(1)
        table.add_row(kind, source, str(len(wheres)), f"[{colour}]{len(hits)}[/{colour}]",
                      places[0][0] if places else "[red]not found[/red]")
    return table


def _sample_360(lh, last: date) -> Table:
    rows = lh.as_principal(SAMPLE_360_AS).query(SAMPLE_360.format(d=last))
    table = Table(title=f"customer 360 on {last} as {SAMPLE_360_AS}: risk warnings first, then by "
                        "assets (mart.mart_customer_360)")
    for column in (rows[0] if rows else {}):
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if v is None else ", ".join(v) if isinstance(v, list) else str(v)
                        for v in row.values()])
    return table


def _same_row(lh, last: date) -> Table:
    """One customer's 360 row as each principal of ``SAME_ROW_AS`` sees it: masking by role."""
    [first] = lh.as_service().query(f"SELECT min(cbs_customer_id) AS c FROM mart.mart_customer_360 "
                                    f"WHERE data_date = DATE'{last}'")
    table = Table(title=f"customer {first['c']} on {last}, as two principals see it (conf/security.yaml)")
    table.add_column("principal (roles)")
    for who in SAME_ROW_AS:
        reader = lh.as_principal(who)
        [row] = reader.query(SAME_ROW.format(d=last, c=first["c"])) or [{}]
        if len(table.columns) == 1:
            for column in row:
                table.add_column(column)
        table.add_row(f"{who} ({reader.clearance.role_names})", *["" if v is None else str(v) for v in row.values()])
    return table
