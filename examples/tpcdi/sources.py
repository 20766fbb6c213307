"""Read a TPC-DI batch's files through their source contracts: the framework's parsers (CSV,
pipe-delimited, XML, multi-record fixed-width), malformed rows kept with their reason."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import pyarrow as pa
import yaml

from lakehouse.config.models import SourceContract
from lakehouse.ingestion.extract_parser import parse_extract
from lakehouse.ingestion.text_values import arrow_type

CONTRACTS = Path(__file__).resolve().parent / "conf" / "sources" / "tpcdi"
HISTORICAL = ("date", "time", "status_type", "tax_rate", "trade_type", "industry", "hr",
              "prospect", "customer_mgmt", "finwire", "trade", "trade_history",
              "cash_transaction", "holding_history", "daily_market", "watch_history")
INCREMENTAL = ("prospect", "customer_cdc", "account_cdc", "trade_cdc", "cash_transaction_cdc",
               "holding_history_cdc", "daily_market_cdc", "watch_history_cdc")


@functools.cache
def contracts() -> dict[str, SourceContract]:
    found = {}
    for path in sorted(CONTRACTS.glob("*.yaml")):
        contract = SourceContract.model_validate(yaml.safe_load(path.read_text()))
        contract.source_file = path
        found[contract.entity] = contract
    return found


@dataclass
class SourceRead:
    """One source's rows of a batch (an Arrow table, with ``_line``) and what was rejected."""

    entity: str
    table: pa.Table
    rejected: list[dict] = field(default_factory=list)
    files: int = 0

    @property
    def rows_in(self) -> int:
        return self.table.num_rows + len(self.rejected)


def files_of(contract: SourceContract, batch_dir: Path) -> list[Path]:
    pattern = contract.delivery.path.rsplit("/", 1)[-1]
    return sorted(p for p in batch_dir.iterdir() if fnmatch(p.name, pattern)
                  and not p.name.endswith("_audit.csv"))


def read_source(contract: SourceContract, batch_dir: Path) -> SourceRead:
    types = {a.name: a.spark_type for a in contract.attributes}
    schema = pa.schema([(a.name, arrow_type(a.spark_type)) for a in contract.attributes]
                       + [("_line", pa.int64()), ("_file", pa.string())])
    tables, rejected = [], []
    files = files_of(contract, batch_dir)
    for path in files:
        parsed = parse_extract(path, contract, masked={})
        arrow = parsed.to_arrow(types)
        arrow = arrow.append_column("_line", pa.array(parsed.lines, pa.int64()))
        arrow = arrow.append_column("_file", pa.array([path.name] * parsed.rows_loaded, pa.string()))
        tables.append(arrow)
        rejected += [{"file": path.name, "line": r.line, "reason": r.reason, "raw": r.raw}
                     for r in parsed.rejected]
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    return SourceRead(contract.entity, table, rejected, len(files))
