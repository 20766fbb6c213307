"""The TPC-DI automated audit (after TPC-DI v1.1.0 clause 7.5, tpcdi_audit.sql): the warehouse
after the three batches checked against the figures the generator wrote (``*_audit.csv``).

Each check is (table, description, expected, actual); it passes when they are equal. Checks
whose figure the generator did not write compare with what the data itself says (keys unique,
one current version per business key, every fact's dimension keys set).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

OPEN = "DATE'9999-12-31'"


@dataclass(frozen=True)
class Check:
    table: str
    description: str
    expected: object
    actual: object

    @property
    def passed(self) -> bool:
        return self.expected == self.actual


def generator_figures(data_dir: Path) -> dict[tuple[str, int, str], float]:
    """(DataSet, BatchID, Attribute) -> Value, summed over the files that report it (FINWIRE
    writes one audit file per quarter)."""
    figures: dict[tuple[str, int, str], float] = defaultdict(float)
    for path in sorted(Path(data_dir).glob("Batch*/*_audit.csv")):
        with path.open(newline="") as handle:
            rows = csv.reader(handle)
            next(rows, None)
            for row in rows:
                if len(row) < 5 or not row[4].strip():
                    continue
                figures[(row[0].strip(), int(row[1]), row[3].strip())] += float(row[4])
    return dict(figures)


def audit(spark, data_dir: Path, batches: int = 3) -> list[Check]:
    fig = generator_figures(data_dir)

    def total(dataset: str, attribute: str, upto: int = batches) -> int:
        return int(sum(fig.get((dataset, b, attribute), 0) for b in range(1, upto + 1)))

    def one(sql: str):
        return spark.sql(sql).first()[0]

    def count(table: str, where: str = "TRUE") -> int:
        return one(f"SELECT COUNT(*) FROM {table} WHERE {where}")

    def alerts(text: str) -> int:
        return count("DImessages", f"MessageType = 'Alert' AND MessageText = '{text}'")

    checks = [
        Check("DimBroker", "row count = HR_BROKERS", total("DimBroker", "HR_BROKERS", 1),
              count("DimBroker")),
        Check("DimCompany", "row count = FW_CMP", total("DimCompany", "FW_CMP", 1),
              count("DimCompany")),
        Check("DimSecurity", "row count = FW_SEC", total("DimSecurity", "FW_SEC", 1),
              count("DimSecurity")),
        Check("Financial", "row count = FW_FIN", total("Financial", "FW_FIN", 1),
              count("Financial")),
        Check("DimCustomer", "row count = C_NEW + C_UPDCUST + C_INACT - C_ID_HIST",
              total("DimCustomer", "C_NEW") + total("DimCustomer", "C_UPDCUST")
              + total("DimCustomer", "C_INACT") - total("DimCustomer", "C_ID_HIST"),
              count("DimCustomer")),
        Check("DimCustomer", "distinct customers = C_NEW",
              total("DimCustomer", "C_NEW"), one("SELECT COUNT(DISTINCT c_id) FROM DimCustomer")),
        Check("DimCustomer", "inactive customers = C_INACT", total("DimCustomer", "C_INACT"),
              count("DimCustomer", f"end_dt = {OPEN} AND status = 'Inactive'")),
        Check("DimCustomer", "tier alerts = C_TIER_INV", total("DimCustomer", "C_TIER_INV"),
              alerts("Invalid customer tier")),
        Check("DimCustomer", "age alerts = C_DOB_TO + C_DOB_TY",
              total("DimCustomer", "C_DOB_TO") + total("DimCustomer", "C_DOB_TY"),
              alerts("DOB out of range")),
        Check("DimCustomer", "one current version per customer", 0,
              one(f"SELECT COUNT(*) FROM (SELECT c_id FROM DimCustomer WHERE end_dt = {OPEN} "
                  "GROUP BY c_id HAVING COUNT(*) > 1)")),
        Check("DimCustomer", "surrogate keys unique", count("DimCustomer"),
              one("SELECT COUNT(DISTINCT SK_CustomerID) FROM DimCustomer")),
        Check("DimAccount", "distinct accounts = CA_ADDACCT + Batch1 C_NEW (a NEW action opens one)",
              total("DimAccount", "CA_ADDACCT") + total("DimCustomer", "C_NEW", 1),
              one("SELECT COUNT(DISTINCT ca_id) FROM DimAccount")),
        Check("DimAccount", "surrogate keys unique", count("DimAccount"),
              one("SELECT COUNT(DISTINCT SK_AccountID) FROM DimAccount")),
        Check("DimAccount", "every version has its customer and broker", 0,
              count("DimAccount", "SK_CustomerID IS NULL OR SK_BrokerID IS NULL")),
        Check("DimTrade", "row count = T_NEW", total("DimTrade", "T_NEW"), count("DimTrade")),
        Check("DimTrade", "canceled trades = T_CanceledTrades",
              total("DimTrade", "T_CanceledTrades"), count("DimTrade", "Status = 'Canceled'")),
        Check("DimTrade", "commission alerts = T_InvalidCommision",
              total("DimTrade", "T_InvalidCommision"), alerts("Invalid trade commission")),
        Check("DimTrade", "fee alerts = T_InvalidCharge", total("DimTrade", "T_InvalidCharge"),
              alerts("Invalid trade fee")),
        Check("DimTrade", "every trade has account, security and create date", 0,
              count("DimTrade", "SK_AccountID IS NULL OR SK_SecurityID IS NULL "
                    "OR SK_CreateDateID IS NULL")),
        Check("FactHoldings", "row count = HH_RECORDS", total("FactHoldings", "HH_RECORDS"),
              count("FactHoldings")),
        Check("FactHoldings", "every holding has its trade's keys", 0,
              count("FactHoldings", "SK_AccountID IS NULL OR SK_SecurityID IS NULL")),
        Check("FactMarketHistory", "row count = DM_RECORDS",
              total("FactMarketHistory", "DM_RECORDS"), count("FactMarketHistory")),
        Check("FactMarketHistory", "every row has its security", 0,
              count("FactMarketHistory", "SK_SecurityID IS NULL")),
        Check("FactWatches", "row count = WH_ACTIVE (watches placed)",
              total("FactWatches", "WH_ACTIVE"), count("FactWatches")),
        Check("FactWatches", "every watch has its customer and security", 0,
              count("FactWatches", "SK_CustomerID IS NULL OR SK_SecurityID IS NULL")),
        Check("FactCashBalances", "one balance per account and day", 0,
              one("SELECT COUNT(*) FROM (SELECT SK_AccountID, SK_DateID FROM FactCashBalances "
                  "GROUP BY SK_AccountID, SK_DateID HAVING COUNT(*) > 1)")),
        Check("FactCashBalances", "every balance has its account and customer", 0,
              count("FactCashBalances", "SK_AccountID IS NULL OR SK_CustomerID IS NULL")),
        Check("Prospect", "row count = P_RECORDS (last batch)",
              int(fig.get(("Prospect", batches, "P_RECORDS"), 0)), count("Prospect")),
        Check("Prospect", "customers among prospects = P_C_MATCHING (last batch)",
              int(fig.get(("Prospect", batches, "P_C_MATCHING"), 0)),
              count("Prospect", "IsCustomer")),
        Check("DImessages", "a validation row per table and batch", batches,
              one("SELECT COUNT(DISTINCT BatchID) FROM DImessages WHERE MessageType = 'Validation'"
                  " AND MessageSource = 'DimCustomer'")),
    ]
    return checks


def report(checks: list[Check]) -> str:
    lines = [f"{'result':6}  {'table':18} {'check':62} {'expected':>10} {'actual':>10}"]
    for check in checks:
        lines.append(f"{'PASS' if check.passed else 'FAIL':6}  {check.table:18} "
                     f"{check.description[:62]:62} {check.expected!s:>10} {check.actual!s:>10}")
    passed = sum(c.passed for c in checks)
    lines.append(f"{passed} of {len(checks)} audit checks passed")
    return "\n".join(lines)
