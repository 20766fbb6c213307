"""`lakehouse` command line: each command is one call into the Python API."""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from lakehouse.errors import ConfigError, LakehouseError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Bank lakehouse pipelines: contracts, T-1 loads, zones and layers.")
console = Console()
err_console = Console(stderr=True, soft_wrap=True)
CONF = typer.Option(Path("conf"), "--conf", help="configuration folder", envvar="LAKEHOUSE_CONF")


def _lakehouse(conf: Path):
    from lakehouse.api import Lakehouse

    return Lakehouse(conf)


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
    console.print(f"[green]ok[/green]: {len(lh.project.systems)} systems, "
                  f"{len(lh.project.sources)} source contracts in {conf}")


@app.command()
def run(
    data_date: Optional[str] = typer.Option(None, "--date", help="data date D (default: yesterday "
                                            "in the configured time zone)"),
    source: Optional[list[str]] = typer.Option(None, "--source", help="SYSTEM.ENTITY, repeatable"),
    file: Optional[Path] = typer.Option(None, "--file", help="load this delivered file (one source)"),
    conf: Path = CONF,
) -> None:
    """Land and load the T-1 deliveries of a data date into the near-source layer."""
    lh = _lakehouse(conf)
    summary = lh.run(_parse_date(data_date), source or None, file)
    print_run(summary)
    if not summary.ok:
        raise typer.Exit(1)


def print_run(summary) -> None:
    table = Table(title=f"T-1 run {summary.run_id} for data date {summary.data_date}")
    for column in ("source", "table", "status", "rows in", "loaded", "quarantined", "version"):
        table.add_column(column, justify="right" if column in ("rows in", "loaded",
                                                               "quarantined", "version") else "left")
    for r in summary.results:
        colour = "green" if r.status == "succeeded" else "red"
        table.add_row(r.source, r.table, f"[{colour}]{r.status}[/{colour}]", str(r.rows_in),
                      str(r.rows_loaded), str(r.rows_quarantined),
                      "" if r.table_version is None else str(r.table_version))
    console.print(table)
    for r in summary.failed:
        err_console.print(f"[red]{r.source}[/red]: {r.message}", markup=True, highlight=False)


@app.command()
def tables(as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
           conf: Path = CONF) -> None:
    """List every table with its layer, zone, load type, keys and storage path."""
    specs = _lakehouse(conf).tables()
    if as_json:
        typer.echo(json.dumps([s.describe() for s in specs], ensure_ascii=False, indent=2))
        return
    table = Table(title="tables")
    for column in ("name", "zone", "layer", "load type", "keys", "path"):
        table.add_column(column)
    for s in specs:
        table.add_row(s.qualified_name, s.zone, s.layer or "", s.load_type or "",
                      ",".join(s.keys), s.path)
    console.print(table)


@app.command()
def demo(
    customers: int = typer.Option(2000, help="number of demo-bank customers"),
    days: int = typer.Option(3, help="number of consecutive data dates"),
    start: str = typer.Option("2026-11-01", help="first data date"),
    seed: int = typer.Option(7, help="random seed (same seed, same data)"),
    conf: Path = CONF,
) -> None:
    """Generate the demo bank's deliveries and run every data date in order."""
    from lakehouse.demo_run import run_demo

    ok = run_demo(_lakehouse(conf), customers, days, _parse_date(start), seed, console)
    if not ok:
        raise typer.Exit(1)


def main() -> None:
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
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        raise


if __name__ == "__main__":
    main()
