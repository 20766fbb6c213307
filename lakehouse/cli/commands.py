"""`lakehouse` command line: each command is one call into the Python API."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from lakehouse.cli.rendering import stdout, to_json
from lakehouse.errors import ConfigError, LakehouseError, first_line

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Bank lakehouse pipelines: contracts, T-1 loads, zones and layers.")
err_console = Console(stderr=True, soft_wrap=True)
CONF = typer.Option(Path("conf"), "--conf", help="configuration folder", envvar="LAKEHOUSE_CONF")
JSON = typer.Option(False, "--json", help="print a JSON document (for programs) instead of a table")
AS_PRINCIPAL = typer.Option(None, "--as", help="act as this principal of security.yaml (default: "
                            "$LAKEHOUSE_PRINCIPAL, else its default_principal)")


def _lakehouse(conf: Path, principal: str | None = None):
    from lakehouse.api import Lakehouse

    return Lakehouse(conf, principal=principal)


def _parse_date(value: Optional[str]) -> Optional[date]:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-25") from None


@app.command()
def validate(conf: Path = CONF) -> None:
    """Check every file in conf/ and report every error with file, line, key and fix."""
    from lakehouse.api import Lakehouse

    problems = Lakehouse.validate(conf)
    if problems:
        err_console.print(f"[red]{len(problems)} problem(s) in {conf}[/red]")
        for problem in problems:
            err_console.print(f"  - {problem.render()}", markup=False, highlight=False)
        raise typer.Exit(2)
    lh = _lakehouse(conf)
    refusals = lh.static_admission()
    for refusal in refusals:
        err_console.print(refusal.render(), markup=False, highlight=False)
    if refusals:
        raise typer.Exit(2)
    project = lh.project
    stdout().print(f"[green]ok[/green]: {len(project.owners)} owners, {len(project.systems)} systems, "
                  f"{len(project.standards)} data standards, {len(project.sources)} source "
                  f"contracts in {conf}, {len(project.models)} layer models in {project.layers_dir}")


@app.command()
def run(
    data_date: Optional[str] = typer.Option(None, "--date", help="data date D (default: yesterday "
                                            "in the configured time zone)"),
    source: Optional[list[str]] = typer.Option(None, "--source", help="SYSTEM.ENTITY, repeatable"),
    file: Optional[Path] = typer.Option(None, "--file", help="load this delivered file (one source)"),
    force: bool = typer.Option(False, "--force", help="load a file again even if it was already "
                               "loaded for the date"),
    as_json: bool = JSON,
    conf: Path = CONF,
) -> None:
    """Land and load the T-1 deliveries of a data date into the near-source layer."""
    from lakehouse.cli.rendering import run_document

    lh = _lakehouse(conf)
    summary = lh.run(_parse_date(data_date), source or None, file, force=force)
    if as_json:
        typer.echo(to_json(run_document(summary)))
    else:
        print_run(summary)
    if not summary.ok:
        raise typer.Exit(1)


def print_run(summary) -> None:
    table = Table(title=f"T-1 run {summary.run_id} for data date {summary.data_date}")
    for column in ("source", "status", "rows in", "loaded", "quarantined", "version", "promotion"):
        table.add_column(column, justify="right" if column in ("rows in", "loaded",
                                                               "quarantined", "version") else "left")
    for r in summary.results:
        colour = "green" if r.status == "succeeded" else "red"
        promotion = "" if r.promotable is None else "promoted" if r.promotable else \
            "[red]held: " + ", ".join(r.blocking_rules) + "[/red]"
        status = "already loaded" if r.unchanged else r.status
        table.add_row(r.source, f"[{colour}]{status}[/{colour}]", str(r.rows_in),
                      str(r.rows_loaded), str(r.rows_quarantined),
                      "" if r.table_version is None else str(r.table_version), promotion)
    stdout().print(table)
    for r in summary.failed:
        err_console.print(f"[red]{r.source}[/red]: {r.message}", markup=True, highlight=False)
    for r in summary.results:
        if r.status == "succeeded" and r.message:  # a file loaded already, an incremental extract
            stdout().print(f"{r.source}: {r.message}", highlight=False)


@app.command()
def tables(as_json: bool = JSON, conf: Path = CONF) -> None:
    """List every table with its layer, zone, load type, keys and storage path."""
    specs = _lakehouse(conf).tables()
    if as_json:
        typer.echo(to_json([s.describe() for s in specs]))
        return
    table = Table(title="tables")
    for column in ("name", "zone", "layer", "load type", "keys", "path"):
        table.add_column(column)
    for s in specs:
        table.add_row(s.qualified_name, s.zone, s.layer or "", s.load_type or "",
                      ",".join(s.keys), s.path)
    stdout().print(table)


@app.command()
def demo(
    customers: int = typer.Option(2000, help="number of demo-bank customers"),
    days: int = typer.Option(3, help="number of consecutive data dates"),
    start: str = typer.Option("2026-11-01", help="first data date"),
    seed: int = typer.Option(7, help="random seed (same seed, same data)"),
    defect_rate: float = typer.Option(0.001, help="share of rows given a planted defect (0: none)"),
    deliver_only: bool = typer.Option(False, "--deliver-only", help="only write the deliveries "
                                      "and register the sources (Airflow's DAGs load them)"),
    conf: Path = CONF,
) -> None:
    """Generate the demo bank's deliveries and run every data date through admission, loads,
    quality and the integrated, common and mart layers."""
    from lakehouse.demo.run import deliver, run_demo

    if deliver_only:
        lh = _lakehouse(conf)
        dates = deliver(lh, customers, days, _parse_date(start), seed, defect_rate)
        stdout().print(f"delivered {len(dates)} data dates ({dates[0]} to {dates[-1]}) to "
                      f"{lh.settings.landing}; {len(lh.project.sources)} sources registered")
        return
    ok = run_demo(_lakehouse(conf), customers, days, _parse_date(start), seed, stdout(), defect_rate)
    if not ok:
        raise typer.Exit(1)


@app.command()
def query(
    sql: str = typer.Argument(..., help="Spark SQL over tables named as in `lakehouse tables`, "
                              "e.g. \"SELECT * FROM mart.mart_customer_360 LIMIT 5\""),
    limit: int = typer.Option(50, help="at most this many rows"),
    principal: Optional[str] = AS_PRINCIPAL,
    as_json: bool = JSON,
    conf: Path = CONF,
) -> None:
    """Query the lakehouse's tables with Spark SQL and print the rows, as a principal: columns
    above its clearance are masked or refuse the query, and the read is audited."""
    rows = _lakehouse(conf, principal).query(sql, limit)
    if as_json:
        typer.echo(to_json(rows))
        return
    table = Table(title=f"{len(rows)} row(s)")
    for column in (rows[0] if rows else {}):
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row.values()])
    stdout().print(table)


@app.command()
def export(
    sql: str = typer.Argument(..., help="Spark SQL over tables named as in `lakehouse tables`"),
    to: Path = typer.Option(..., "--to", help="the file to write: NAME.csv or NAME.parquet"),
    file_format: Optional[str] = typer.Option(None, "--format", help="csv or parquet (default: "
                                              "the file's suffix)"),
    principal: Optional[str] = AS_PRINCIPAL,
    conf: Path = CONF,
) -> None:
    """Export the rows of a query to a file, as a principal whose role grants export: columns
    above its clearance are masked or refuse the export, and the export is audited."""
    rows = _lakehouse(conf, principal).export(sql, to, file_format)
    stdout().print(f"{rows} row(s) written to {to}", highlight=False)


layers_app = typer.Typer(no_args_is_help=True, help="Data engineers: build the integrated, common and mart layers.")
app.add_typer(layers_app, name="layers")


@layers_app.command("run")
def layers_run(
    data_date: Optional[str] = typer.Option(None, "--date", help="data date D (default: yesterday)"),
    model: Optional[list[str]] = typer.Option(None, "--model", help="build only this model, repeatable"),
    conf: Path = CONF,
) -> None:
    """Build the layer models for a data date; models whose inputs are not ready are skipped."""
    from lakehouse.cli.rendering import layer_table

    summary = _lakehouse(conf).build_layers(_parse_date(data_date), model or None)
    stdout().print(layer_table(summary.results, f"layers for data date {summary.data_date}"))
    for r in summary.not_built:
        err_console.print(f"[red]{r.model}[/red] {r.status}: {r.reason}", highlight=False)
    for r in summary.results:
        if r.held:
            err_console.print(f"[red]{r.model}[/red] built, held from the models reading it: quality "
                              f"rule(s) of severity fail failed: {', '.join(r.blocking_rules)}",
                              highlight=False)
    if any(r.status == "failed" for r in summary.results):
        raise typer.Exit(1)


@layers_app.command("list")
def layers_list(as_json: bool = JSON, conf: Path = CONF) -> None:
    """The layer models in build order, with their inputs."""
    from lakehouse.cli.rendering import models_document
    from lakehouse.layers.runner import build_order

    project = _lakehouse(conf).project
    if as_json:
        typer.echo(to_json(models_document(project, build_order(project))))
        return
    table = Table(title="layer models, in build order")
    for column in ("model", "layer", "load type", "keys", "inputs"):
        table.add_column(column)
    for name in build_order(project):
        m = project.models[name]
        table.add_row(name, m.layer, m.load_type + (f", {m.retention_days} days" if m.retention_days else ""),
                      ",".join(m.keys), ", ".join(f"{i} ({mode})" if mode != "current" else i
                                                  for i, mode in m.inputs.items()))
    stdout().print(table)


source_app = typer.Typer(no_args_is_help=True, help="Data owners: register and check source contracts.")
system_app = typer.Typer(no_args_is_help=True, help="Source system certification.")
catalog_app = typer.Typer(no_args_is_help=True, help="Find data by business meaning.")
app.add_typer(source_app, name="source")
app.add_typer(system_app, name="system")
quality_app = typer.Typer(no_args_is_help=True, help="Data quality: scorecards, reports, re-admission.")
app.add_typer(catalog_app, name="catalog")
app.add_typer(quality_app, name="quality")


@source_app.command("register")
def source_register(
    path: Path = typer.Argument(..., help="a contract file, or a folder of contracts"),
    by: Optional[str] = typer.Option(None, help="who registers (default: the current user)"),
    reason: Optional[str] = typer.Option(None, help="why; required when security levels change"),
    conf: Path = CONF,
) -> None:
    """Validate contracts, run the static admission checks, record a new version, evolve the table."""
    results = _lakehouse(conf).register(path, by, reason)
    table = Table(title="registration")
    for column in ("source", "status", "version", "changes"):
        table.add_column(column)
    colours = {"registered": "green", "unchanged": "cyan", "refused": "red"}
    for r in results:
        colour = colours[r.status]
        table.add_row(r.source, f"[{colour}]{r.status}[/{colour}]",
                      "" if r.version is None else str(r.version), "; ".join(r.changes))
    stdout().print(table)
    refused = [r for r in results if r.error is not None]
    for r in refused:
        err_console.print(r.error.render(), markup=False, highlight=False)
    if refused:
        raise typer.Exit(2)


@source_app.command("check")
def source_check(
    name: str = typer.Argument(..., help="SYSTEM.ENTITY"),
    data_date: Optional[str] = typer.Option(None, "--date", help="data date D (default: yesterday)"),
    as_json: bool = JSON,
    conf: Path = CONF,
) -> None:
    """Show the six admission checks of a source for a data date."""
    from lakehouse.cli.rendering import checks_document

    decision = _lakehouse(conf).check_source(name, _parse_date(data_date))
    if as_json:
        typer.echo(to_json(checks_document(decision)))
    else:
        print_checks(decision)
    if any(c.status == "failed" for c in decision.checks.values()):
        raise typer.Exit(1)


def print_checks(decision) -> None:
    from lakehouse.admission.checks import CHECKS
    from lakehouse.quality.scorecard import describe

    version = decision.registration_version
    table = Table(title=f"admission of {decision.source} for {decision.data_date} "
                        f"(registered version {version if version else 'none'})")
    for column in ("check", "result", "evidence / problem"):
        table.add_column(column, overflow="fold")
    colours = {"passed": "green", "failed": "red", "not run": "yellow"}
    for name in CHECKS:
        check = decision.checks[name]
        detail = "\n".join(p.message + (f" -> fix: {p.fix}" if p.fix else "") for p in check.problems) \
            or (describe(check.evidence) if name == "quality" else _evidence(check.evidence))
        colour = colours.get(check.status, "white")
        table.add_row(name, f"[{colour}]{check.status}[/{colour}]", detail)
    stdout().print(table)


def _evidence(evidence: dict) -> str:
    parts = []
    for key, value in evidence.items():
        if key == "contract_hash":
            value = f"{value[:12]}…"
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


@source_app.command("list")
def source_list(as_json: bool = JSON, conf: Path = CONF) -> None:
    """List the source contracts with owner, certification, level and registration."""
    sources = _lakehouse(conf).source_overview()
    if as_json:
        typer.echo(to_json(sources))
        return
    table = Table(title="sources")
    for column in ("source", "owner", "system certified today", "load type", "level",
                   "registered version", "registered at", "contract"):
        table.add_column(column)
    for s in sources:
        table.add_row(s["source"], s["owner"], "yes" if s["certified"] else "[red]no[/red]",
                      s["load_type"], str(s["level"]), str(s["version"] or "-"),
                      f"{s['registered_at']:%Y-%m-%d %H:%M}" if s["registered_at"] else "-",
                      "registered" if s["current"] else "[yellow]changed or unregistered[/yellow]")
    stdout().print(table)


@system_app.command("decertify")
def system_decertify(
    code: str = typer.Argument(..., help="system code, e.g. cbs"),
    reason: str = typer.Option(..., help="merged, split or retired"),
    replaced_by: Optional[str] = typer.Option(None, "--replaced-by", help="the system that takes over"),
    effective: Optional[str] = typer.Option(None, "--date", help="first day not certified (default: today)"),
    by: Optional[str] = typer.Option(None, help="who decided (default: the current user)"),
    note: str = typer.Option("", help="free text kept with the event"),
    conf: Path = CONF,
) -> None:
    """Decertify a source system: its deliveries from that date on are refused admission."""
    event = _lakehouse(conf).decertify(code, reason, _parse_date(effective), replaced_by, by, note)
    replaced = f", replaced by {event['replaced_by']}" if event.get("replaced_by") else ""
    stdout().print(f"system {code} decertified from {event['date']} ({event['reason']}{replaced}); "
                  f"recorded in {conf / 'systems.yaml'} and governance.system_events")


@quality_app.command("report")
def quality_report(
    data_date: Optional[str] = typer.Option(None, "--date", help="data date D (default: yesterday)"),
    table: Optional[str] = typer.Option(None, "--table", help="one table, e.g. cbs_account or mart_risk_warning"),
    days: int = typer.Option(14, help="dates of trend shown in the HTML report"),
    principal: Optional[str] = AS_PRINCIPAL,
    as_json: bool = JSON,
    conf: Path = CONF,
) -> None:
    """Print the quality scorecard of a data date and write the HTML report and Data Docs."""
    from lakehouse.cli.rendering import scorecard_document, scorecard_table

    lh = _lakehouse(conf, principal)
    result = lh.quality_report(_parse_date(data_date) or lh.yesterday(), table, days)
    if as_json:
        typer.echo(to_json(scorecard_document(result)))
    else:
        stdout().print(scorecard_table(result))
        stdout().print(f"report: {result.html}\nData Docs: {result.data_docs}")
    if not result.scorecard:
        err_console.print(f"no quality results for {result.data_date}; run the loads first")
        raise typer.Exit(1)


@quality_app.command("readmit")
def quality_readmit(
    source: str = typer.Option(..., "--source", help="SYSTEM.ENTITY"),
    data_date: str = typer.Option(..., "--date", help="the data date the rows were quarantined for"),
    file: Path = typer.Option(..., "--file", help="the corrected rows, in the delivery's format"),
    conf: Path = CONF,
) -> None:
    """Re-admit corrected rows that a drop rule quarantined for a data date."""
    outcome = _lakehouse(conf).readmit(source, _parse_date(data_date), file)
    stdout().print(f"{outcome.readmitted} corrected rows of {source} re-admitted for "
                  f"{outcome.data_date} (run {outcome.run_id}, table version {outcome.table_version})")
    for held in outcome.still_held:
        err_console.print(f"still held, fails again: {held}")
    for line in outcome.not_held:
        err_console.print(f"line {line}: its key is not held in quarantine for {outcome.data_date}")
    if outcome.still_held or outcome.not_held:
        raise typer.Exit(1)


@catalog_app.command("search")
def catalog_search(term: str = typer.Argument(..., help="business name, in Chinese or English"),
                   as_json: bool = JSON, conf: Path = CONF) -> None:
    """Find registered tables and columns by business meaning (e.g. 客户号, 'customer id')."""
    rows = _lakehouse(conf).search(term)
    if as_json:
        typer.echo(to_json(rows))
    else:
        _print_catalog(term, rows)
    if not rows:
        err_console.print(f"nothing registered matches {term!r}; register sources with "
                          "`lakehouse source register conf/sources`")
        raise typer.Exit(1)


def _print_catalog(term: str, rows: list[dict]) -> None:
    table = Table(title=f"catalog: {term}")
    for column in ("table", "column", "business name", "standard", "level", "owner"):
        table.add_column(column, overflow="fold")
    for r in rows:
        standard = f"{r['standard_id']} {r['standard_zh']}" if r["standard_id"] else ""
        table.add_row(r["table_name"], r["column_name"] or "(table)",
                      f"{r['name_zh']} / {r['name_en']}", standard, str(r["security_level"]),
                      f"{r['owner']} {r['owner_name'] or ''}".strip())
    stdout().print(table)


dags_app = typer.Typer(no_args_is_help=True, help="Data engineers: the Airflow DAGs in dags/.")
engine_app = typer.Typer(no_args_is_help=True, help="The resident Spark engine Airflow tasks use.")
app.add_typer(dags_app, name="dags")
app.add_typer(engine_app, name="engine")
from lakehouse.cli.stream_commands import stream_app  # noqa: E402 - the real-time zone's commands

app.add_typer(stream_app, name="stream")


@dags_app.command("compile")
def dags_compile(
    check: bool = typer.Option(False, "--check", help="only check that the manifest is current"),
    output: Optional[Path] = typer.Option(None, "--output", help="manifest file (default: "
                                          "dags/lakehouse_manifest.json beside conf/)"),
    conf: Path = CONF,
) -> None:
    """Compile conf/ and layers/ into the manifest the DAG files read."""
    from lakehouse.config import load_project
    from lakehouse.orchestration import manifest

    project = load_project(conf)
    if check:
        problems = manifest.stale(project, output)
        if problems:
            raise ConfigError("the DAGs do not match the configuration", problems)
        stdout().print(f"ok: {output or manifest.default_path(project)} is current")
        return
    path, compiled = manifest.write(project, output)
    stdout().print(f"wrote {path}: {len(compiled['systems'])} T-1 DAGs "
                  f"({sum(len(s['sources']) for s in compiled['systems'].values())} sources), "
                  f"{len(compiled['layers'])} layer DAGs "
                  f"({sum(len(m) for m in compiled['layers'].values())} models)")


@engine_app.command("serve")
def engine_serve(conf: Path = CONF) -> None:
    """Start Spark once and run the work Airflow tasks send (stop with Ctrl-C)."""
    import logging

    from lakehouse.config.loader import load_settings
    from lakehouse.orchestration import operations
    from lakehouse.orchestration.engine_service import EngineServer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    address = load_settings(conf).orchestration.engine_address
    server = EngineServer(address)
    operations.lakehouse_for(str(conf.resolve())).engine.start()  # the JVM before answering
    stdout().print(f"lakehouse engine ready on {address} (pid {os.getpid()})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()


@engine_app.command("ping")
def engine_ping(conf: Path = CONF) -> None:
    """Ask the engine for a trivial Spark job and show how long the round trip took."""
    import time

    from lakehouse.config.loader import load_settings
    from lakehouse.orchestration.engine_service import request

    address = load_settings(conf).orchestration.engine_address
    began = time.time()
    answer = request(address, {"op": "ping", "conf": str(conf.resolve())}, connect_timeout=2)
    if not answer["ok"]:
        err_console.print(answer["error"], markup=False)
        raise typer.Exit(1)
    timing = answer["timing"]
    stdout().print(f"engine on {address} (pid {answer['result']['pid']}): Spark work began "
                  f"{timing['work_started'] - began:.3f} s after the request, done in "
                  f"{time.time() - began:.3f} s")


def console_script() -> None:
    """The ``lakehouse`` executable: ``main``, then the process ends without the C++ libraries'
    teardown. The command's work is done and written by then; Python's exit handlers still run
    (Spark's among them) and the output is flushed. Some native library's thread, torn down by
    the C++ runtime at exit, sometimes aborted a finished ``make demo`` ("terminate called
    without an active exception", exit 134, about one run in three)."""
    import atexit
    import logging

    try:
        main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def main() -> None:
    """Run the command line; ``--debug`` (or ``LAKEHOUSE_DEBUG=1``) shows the traceback of an
    error instead of its message."""
    debug = "--debug" in sys.argv or os.environ.get("LAKEHOUSE_DEBUG") == "1"
    if "--debug" in sys.argv:
        sys.argv.remove("--debug")
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except LakehouseError as exc:
        if debug:
            raise
        err_console.print(exc.render(), markup=False, highlight=False)
        sys.exit(75 if exc.transient else 2)
    except Exception as exc:  # click usage errors, and anything the framework did not foresee
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        if debug:
            raise
        err_console.print(f"unexpected error: {first_line(exc)}\n"
                          "run with --debug (or LAKEHOUSE_DEBUG=1) for the traceback",
                          markup=False, highlight=False)
        sys.exit(1)



audit_app = typer.Typer(no_args_is_help=True, help="Security auditors: the hash-chained record of "
                        "every read of protected data.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(principal: Optional[str] = AS_PRINCIPAL, as_json: bool = JSON,
                 conf: Path = CONF) -> None:
    """Recompute the hash chain of governance.access_audit; exit 1 naming the first bad record."""
    result = _lakehouse(conf, principal).audit_verify()
    if as_json:
        typer.echo(to_json({"records": result.records, "intact": result.intact,
                            "head_hash": result.head_hash, "broken": result.broken}))
    elif result.intact:
        head = f" (head: seq {result.records}, record_hash {result.head_hash})" if result.records else ""
        stdout().print(f"{result.records} records, chain intact{head}", highlight=False)
    else:
        err_console.print(f"audit chain broken at seq {result.broken.seq} ({result.broken.kind}) "
                          f"after {result.records} records read:\n{result.broken.render()}",
                          markup=False, highlight=False)
    if not result.intact:
        raise typer.Exit(1)


@audit_app.command("show")
def audit_show(
    principal: Optional[str] = typer.Option(None, "--principal", help="only this principal"),
    table: Optional[str] = typer.Option(None, "--table", help="only reads of this table "
                                        "(schema.name or name)"),
    since: Optional[str] = typer.Option(None, "--since", help="from this date, YYYY-MM-DD"),
    until: Optional[str] = typer.Option(None, "--until", help="up to this date, included"),
    acting_as: Optional[str] = AS_PRINCIPAL,
    as_json: bool = JSON,
    conf: Path = CONF,
) -> None:
    """The audit records of data use, filtered by principal, table and date (dates and times in
    the lakehouse's time zone)."""
    from rich.markup import escape

    records = _lakehouse(conf, acting_as).audit_records(principal, table, _parse_date(since),
                                                        _parse_date(until))
    if as_json:
        typer.echo(to_json([r.as_row() for r in records]))
        return
    grid = Table(title=f"{len(records)} audit record(s)")
    for column in ("seq", "recorded at", "principal", "roles", "operation", "objects", "result",
                   "rows", "query hash", "detail"):
        grid.add_column(column, justify="right" if column in ("seq", "rows") else "left",
                        overflow="fold")
    for r in records:
        grid.add_row(str(r.seq), r.recorded_at.isoformat(sep=" ", timespec="seconds"),
                     escape(r.principal), escape(", ".join(r.roles or ())), escape(r.operation),
                     escape("\n".join(r.objects or ())), r.result,
                     "" if r.rows_returned is None else str(r.rows_returned), r.query_hash[:12],
                     escape(r.detail or ""))
    stdout().print(grid)


security_app = typer.Typer(no_args_is_help=True, help="Security auditors: checks of how "
                           "protected data is kept.")
app.add_typer(security_app, name="security")


@security_app.command("scan")
def security_scan(
    files: Optional[list[Path]] = typer.Argument(None, help="files or folders to scan besides the "
                                                 "governance tables (default: the reports folder)"),
    principal: Optional[str] = AS_PRINCIPAL,
    conf: Path = CONF,
) -> None:
    """Look for level-3+ values in clear in every governance and quarantine table, report, Data
    Docs page and log, and in every byte stored under the lakehouse and backup roots; exit 1
    listing each one found (masked)."""
    report = _lakehouse(conf, principal).scan_for_leaks(files or None)
    for leak in report.leaks:
        err_console.print(leak.render(), markup=False, highlight=False)
    stdout().print(report.summary(), highlight=False)
    if not report.clean:
        raise typer.Exit(1)


@app.command()
def deidentify(
    to: str = typer.Option(..., "--to", help="root of the copy (outside the lakehouse root)"),
    layers: Optional[list[str]] = typer.Option(None, "--layer", help="a layer to copy (repeat; "
                                               "default: the layers of conf/deidentify.yaml)"),
    plan: bool = typer.Option(False, "--plan", help="show each replaced column and its method; "
                              "copy nothing"),
    principal: Optional[str] = AS_PRINCIPAL,
    as_json: bool = JSON,
    conf: Path = CONF,
) -> None:
    """Write a de-identified copy of the lakehouse's layers for development and test: identifiers
    replaced consistently by values valid in form, names replaced, amounts and dates kept or
    perturbed (conf/deidentify.yaml); exit 1 if a source identifier is found in the copy."""
    report = _lakehouse(conf, principal).deidentify(to, layers, plan_only=plan)
    document = {
        "target_root": report.target_root,
        "tables": [{"table": t.spec.qualified_name, "rows": t.rows,
                    "replaced": {c: f"{m.rule.method} ({m.reason})" for c, m in t.replaced.items()}}
                   for t in report.tables],
        "values_scanned": report.values_scanned,
        "found": [f"{f.table}.{f.column}: {f.masked} (a value of {f.belongs_to})" for f in report.findings]}
    if as_json:
        typer.echo(to_json(document))
    else:
        table = Table(title=f"de-identified copy at {report.target_root}" + (" (plan)" if plan else ""))
        for column in ("table", "rows", "replaced columns"):
            table.add_column(column)
        for t in document["tables"]:
            table.add_row(t["table"], "" if t["rows"] is None else f"{t['rows']:,}",
                          "\n".join(f"{c}: {how}" for c, how in t["replaced"].items()))
        stdout().print(table)
        for found in document["found"]:
            err_console.print(found, markup=False, highlight=False)
        if not plan:
            stdout().print(f"scan: {len(report.findings)} source identifier(s) found in the copy, "
                           f"among {report.values_scanned:,} scanned", highlight=False)
    if not report.clean:
        raise typer.Exit(1)


keys_app = typer.Typer(no_args_is_help=True, help="The key provider's keys (encryption at rest).")
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def keys_rotate(principal: Optional[str] = AS_PRINCIPAL, conf: Path = CONF) -> None:
    """Replace the master key and re-wrap the root secret with it; no data file is rewritten.
    Back up the new key file and its .wrapped.json together."""
    lh = _lakehouse(conf, principal)
    fingerprint = lh.rotate_master_key()
    stdout().print(f"master key rotated: {lh.settings.key_file} (fingerprint {fingerprint}); "
                   "the root secret re-wrapped, no data file rewritten; back up the key file and "
                   "its .wrapped.json together", highlight=False)


quarantine_app = typer.Typer(no_args_is_help=True, help="Rows held in quarantine, as a principal "
                             "sees them.")
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.command("show")
def quarantine_show(
    source: str = typer.Option(..., "--source", help="SYSTEM.ENTITY"),
    data_date: str = typer.Option(..., "--date", help="the data date the rows were quarantined for"),
    principal: Optional[str] = AS_PRINCIPAL,
    as_json: bool = JSON,
    conf: Path = CONF,
) -> None:
    """The rows of a source held in quarantine for a data date: level-3+ values masked; a line
    kept sealed (it could not be split to mask it) shown only to a principal who reads the
    source's table in clear, withheld from others. The read is audited."""
    from rich.markup import escape

    rows = _lakehouse(conf, principal).quarantined(source, _parse_date(data_date))
    if as_json:
        typer.echo(to_json(rows))
        return
    grid = Table(title=f"{len(rows)} quarantined row(s) of {source} for {data_date}")
    for column in ("line", "stage", "rule", "reason", "row"):
        grid.add_column(column, justify="right" if column == "line" else "left", overflow="fold")
    for r in rows:
        shown = r["raw_line"] or r["row_json"] or ("(sealed: withheld)" if r["sealed"] else "")
        grid.add_row("" if r["line"] is None else str(r["line"]), r["stage"], escape(r["rule"] or ""),
                     escape(r["reason"] or ""), escape(shown))
    stdout().print(grid)


backup_app = typer.Typer(invoke_without_command=True, help="Backups of the lakehouse: take, "
                         "verify by restoring, restore.")
app.add_typer(backup_app, name="backup")


@backup_app.callback()
def backup(
    ctx: typer.Context,
    to: Optional[str] = typer.Option(None, "--to", help="backup root (default: the `backups` setting)"),
    principal: Optional[str] = AS_PRINCIPAL,
    as_json: bool = JSON,
    conf: Path = CONF,
) -> None:
    """Take a backup of the zones, governance and project files: a new manifest, and copies of the
    files not already in the backup root (incremental). `lakehouse backup verify` proves it restores."""
    if ctx.invoked_subcommand is not None:
        return
    result = _lakehouse(conf, principal).backup(to)
    document = {"backup_id": result.manifest.backup_id, "backup_root": result.backup_root,
                "tables": len(result.manifest.tables), "files": len(result.manifest.files),
                "bytes": result.bytes_total, "files_copied": result.files_copied,
                "bytes_copied": result.bytes_copied}
    if as_json:
        typer.echo(to_json(document))
        return
    stdout().print(f"backup {document['backup_id']} at {document['backup_root']}: "
                   f"{document['tables']} tables, {document['files']} files "
                   f"({document['bytes']:,} bytes); copied {document['files_copied']} new files "
                   f"({document['bytes_copied']:,} bytes)", highlight=False)


@backup_app.command("verify")
def backup_verify(
    backup_root: Optional[str] = typer.Option(None, "--from", help="backup root (default: the "
                                              "`backups` setting)"),
    backup_id: Optional[str] = typer.Option(None, "--id", help="the backup (default: the latest)"),
    principal: Optional[str] = AS_PRINCIPAL,
    as_json: bool = JSON,
    conf: Path = CONF,
) -> None:
    """Restore a backup into a scratch folder, check every byte against its manifest and compare
    each table with the original as of the version backed up; exit 1 naming what differs."""
    result = _lakehouse(conf, principal).verify_backup(backup_root, backup_id)
    if as_json:
        typer.echo(to_json({"backup_id": result.manifest.backup_id, "ok": result.ok,
                            "files_checked": result.files_checked,
                            "tables_compared": result.tables_compared,
                            "problems": [p.render() for p in result.problems]}))
    else:
        for problem in result.problems:
            err_console.print(problem.render(), markup=False, highlight=False)
        stdout().print(f"backup {result.manifest.backup_id}: {result.files_checked} files checked, "
                       f"{result.tables_compared} tables compared: "
                       + ("restores as taken" if result.ok else f"{len(result.problems)} problem(s)"),
                       highlight=False)
    if not result.ok:
        raise typer.Exit(1)


retention_app = typer.Typer(no_args_is_help=True, help="Retention and destruction of expired "
                            "data, legal holds respected (conf/retention.yaml, conf/holds.yaml).")
app.add_typer(retention_app, name="retention")


@retention_app.command("run")
def retention_run(
    dry_run: bool = typer.Option(False, "--dry-run", help="print what would be removed; touch nothing"),
    data_date: Optional[str] = typer.Option(None, "--date", help="the latest data date retention "
                                            "counts back from (default: yesterday)"),
    principal: Optional[str] = AS_PRINCIPAL,
    as_json: bool = JSON,
    conf: Path = CONF,
) -> None:
    """Delete the data each zone keeps no longer, except what a hold pins, vacuum the tables whose
    deletions passed the declared window, destroy expired raw files and stale staging folders;
    every removal is recorded in governance.retention_log."""
    from lakehouse.cli.rendering import retention_document, retention_table

    result = _lakehouse(conf, principal).retention(dry_run, _parse_date(data_date))
    if as_json:
        typer.echo(to_json(retention_document(result)))
    else:
        stdout().print(retention_table(result))


@app.command()
def restore(
    to: str = typer.Option(..., "--to", help="the new lakehouse root (new or empty folder or URI)"),
    backup_root: Optional[str] = typer.Option(None, "--from", help="backup root (default: the "
                                              "`backups` setting)"),
    backup_id: Optional[str] = typer.Option(None, "--id", help="the backup (default: the latest)"),
    project_to: Optional[Path] = typer.Option(None, "--project-to", help="also restore conf/, "
                                              "quality_rules/ and layers/ into this new folder"),
    principal: Optional[str] = AS_PRINCIPAL,
    conf: Path = CONF,
) -> None:
    """Rebuild a lakehouse from a backup, checking every byte against the manifest."""
    result = _lakehouse(conf, principal).restore_backup(to, backup_root, backup_id, project_to)
    stdout().print(f"restored backup {result.manifest.backup_id} to {result.root}: "
                   f"{result.files} files ({result.bytes:,} bytes); use it with --root or "
                   "LAKEHOUSE_ROOT", highlight=False)


service_app = typer.Typer(no_args_is_help=True, help="Data services (6.2.4.3, 6.3.1.3): register, "
                          "approve, publish and retire the services of services.yaml; issue API keys.")
app.add_typer(service_app, name="service")
SERVICE = typer.Argument(..., help="the service's name in services.yaml")


def _service_step(name: str, event: str, principal: str | None, conf: Path, reason: str = "") -> None:
    record = _lakehouse(conf, principal).service_step(name, event, reason)
    stdout().print(f"{record.service} v{record.version}: {record.event} by {record.by} at "
                   f"{record.at.isoformat(timespec='seconds')}", highlight=False)


@service_app.command("register")
def service_register(name: str = SERVICE, principal: Optional[str] = AS_PRINCIPAL,
                     conf: Path = CONF) -> None:
    """Register a service's contract as a draft (a principal whose role grants manage)."""
    _service_step(name, "registered", principal, conf)


@service_app.command("approve")
def service_approve(name: str = SERVICE, principal: Optional[str] = AS_PRINCIPAL,
                    conf: Path = CONF) -> None:
    """Approve a draft: by the service's owner, who must not be the one who registered it."""
    _service_step(name, "approved", principal, conf)


@service_app.command("publish")
def service_publish(name: str = SERVICE, principal: Optional[str] = AS_PRINCIPAL,
                    conf: Path = CONF) -> None:
    """Publish an approved service: `lakehouse serve` answers it."""
    _service_step(name, "published", principal, conf)


@service_app.command("deprecate")
def service_deprecate(name: str = SERVICE, reason: str = typer.Option(..., "--reason"),
                      principal: Optional[str] = AS_PRINCIPAL, conf: Path = CONF) -> None:
    """Mark a published service deprecated (still answered, flagged to callers)."""
    _service_step(name, "deprecated", principal, conf, reason)


@service_app.command("retire")
def service_retire(name: str = SERVICE, reason: str = typer.Option(..., "--reason"),
                   principal: Optional[str] = AS_PRINCIPAL, conf: Path = CONF) -> None:
    """Retire a service: its calls are answered 410 Gone."""
    _service_step(name, "retired", principal, conf, reason)


@service_app.command("list")
def service_list(as_json: bool = JSON, conf: Path = CONF) -> None:
    """Every service of services.yaml with its version, owner, grade, state and last step."""
    rows = _lakehouse(conf).services()
    if as_json:
        typer.echo(to_json(rows))
        return
    grid = Table(title=f"{len(rows)} service(s)")
    for column in ("service", "version", "owner", "grade", "table", "state", "last_step", "at"):
        grid.add_column(column.replace("_", " "))
    for row in rows:
        grid.add_row(*[str(row[c]) for c in ("service", "version", "owner", "grade", "table",
                                             "state", "last_step", "at")])
    stdout().print(grid)


@service_app.command("key")
def service_key(consumer: str = typer.Option(..., "--consumer", help="the principal the key authenticates"),
                principal: Optional[str] = AS_PRINCIPAL, conf: Path = CONF) -> None:
    """Issue an API key for a consumer; printed once, kept only hashed."""
    key = _lakehouse(conf, principal).issue_service_key(consumer)
    typer.echo(key)
    err_console.print(f"API key for {consumer}: shown once; send it as the X-API-Key header",
                      markup=False, highlight=False)


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="address to listen on"),
          port: int = typer.Option(8080, help="port to listen on"),
          conf: Path = CONF) -> None:
    """Serve the published data services over HTTP (OpenAPI at /docs, catalog at /)."""
    from lakehouse.services.server import run

    run(_lakehouse(conf).project, host, port)


history_app = typer.Typer(no_args_is_help=True, help="The history zone (6.2.3 d): data dates past "
                          "a table's hot window, read together with the hot table.")
app.add_typer(history_app, name="history")


@history_app.command("move")
def history_move(
    table: Optional[str] = typer.Option(None, "--table", help="one table (default: every table "
                                        "with a hot window in conf/history.yaml)"),
    data_date: Optional[str] = typer.Option(None, "--date", help="the data date the hot windows "
                                            "end at (default: yesterday in the configured time zone)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="only show what would move"),
    principal: Optional[str] = AS_PRINCIPAL,
    as_json: bool = JSON,
    conf: Path = CONF,
) -> None:
    """Move each table's data dates older than its hot window (conf/history.yaml) to the history
    zone, recorded in governance.history_log; queries read the table across both."""
    moves = _lakehouse(conf, principal).move_to_history(table, _parse_date(data_date), dry_run)
    document = [{"table": m.table, "history_table": m.history_table, "hot_days": m.hot_days,
                 "keep_from": m.keep_from, "data_dates": m.dates, "rows": m.rows, "status": m.status,
                 "move_id": m.record.move_id if m.record else None,
                 "recovered": [r.move_id for r in m.recovered]} for m in moves]
    if as_json:
        typer.echo(to_json(document))
        return
    grid = Table(title="history moves" + (" (dry run: nothing moved)" if dry_run else ""))
    for name in ("table", "hot days", "keeps from", "data dates", "rows", "status"):
        grid.add_column(name, justify="right" if name in ("hot days", "rows") else "left")
    for move in document:
        dates = move["data_dates"]
        span = "" if not dates else str(dates[0]) if len(dates) == 1 else \
            f"{dates[0]} .. {dates[-1]} ({len(dates)})"
        status = move["status"] + (f", {len(move['recovered'])} unrecorded move(s) recorded"
                                   if move["recovered"] else "")
        grid.add_row(move["table"], str(move["hot_days"]), str(move["keep_from"]), span,
                     f"{move['rows']:,}", status)
    stdout().print(grid)


if __name__ == "__main__":
    main()
