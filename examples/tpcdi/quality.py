"""The TPC-DI warehouse measured on the framework's quality dimensions: the rules of
``examples/tpcdi/quality_rules/`` (the framework's rule files) run as one Great Expectations suite
per table on each batch's rows, and their results, scorecards and failing samples are kept in
the framework's governance tables under the warehouse (``governance/quality_results``,
``quality_scorecard``, ``quality_samples``), as for a near-source table of the lakehouse. The
workload's own alerts for the same conditions still go to DImessages, as TPC-DI requires.

A sample keeps the table's key columns only: names, tax ids and phones stay out of governance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lakehouse.config.loader import load_rule_files
from lakehouse.config.quality_rules import RuleFile
from lakehouse.engine.batches import Batch
from lakehouse.errors import ConfigError
from lakehouse.governance.store import GovernanceStore
from lakehouse.quality.assessment import (MeasuredTable, result_rows, sample_rows, scorecard_rows,
                                          validate)

RULES = Path(__file__).resolve().parent / "quality_rules"


@dataclass(frozen=True)
class Measured:
    """A warehouse table the rules of ``quality_rules/<rules>.yaml`` measure, on the rows of a
    batch that ``where`` selects ({batch} filled in); ``keys`` are what a sample keeps."""

    table: str
    where: str
    keys: tuple[str, ...]


MEASURED = {
    "dim_trade": Measured("DimTrade", "BatchID = {batch}", ("TradeID",)),
    "dim_customer": Measured("DimCustomer", "BatchID = {batch} AND IsCurrent",
                             ("SK_CustomerID", "CustomerID")),
}


def rule_files(folder: Path = RULES) -> dict[str, RuleFile]:
    """Every rule file of ``folder``, checked; a bad one is refused with its file, line and
    key, one for a table that is not measured with the tables that are."""
    found = load_rule_files(folder)
    unknown = sorted(set(found) - set(MEASURED))
    if unknown:
        raise ConfigError(f"{folder}: no measured warehouse table is called "
                          f"{', '.join(unknown)}; rule files name one of "
                          f"{', '.join(sorted(MEASURED))}")
    return found


def measure(engine, store: GovernanceStore, wh, batch: int, batch_date: date,
            rules: dict[str, RuleFile]) -> None:
    """Run each table's rules on the rows ``batch`` wrote and keep the results, the scorecard
    by dimension and key-only samples of failing rows in governance."""
    from pyspark.sql import functions as F

    run_id = f"tpcdi-batch{batch}"
    results, samples, scorecards = [], [], []
    for name, file in rules.items():
        measured = MEASURED[name]
        table = MeasuredTable(name, f"tpcdi.{measured.table}", None, measured.keys, measured.keys,
                              {})
        rows = (wh.read(measured.table).where(measured.where.format(batch=batch))
                .withColumn("data_date", F.lit(batch_date)))
        checked = validate(engine, None, table, Batch(rows), list(file.rules), batch_date,
                           "new_rows")
        results += result_rows(checked, run_id)
        samples += sample_rows(None, checked, run_id)
        scorecards += scorecard_rows([checked], run_id)
    store.append_each(results, scorecards, samples)
