"""The TPC-DI data warehouse (TPC-DI v1.1.0 clause 3 and 4.5): the historical load (Batch1) and
the incremental updates (Batch2, Batch3) on Spark + Delta, built from the batch's source rows.

SCD2 dimensions (DimCustomer, DimAccount) are change-data-capture applications to zipper tables
(``lakehouse.engine.change_data_capture``): effective timestamps from the XML actions in Batch1,
the batch date in the incrementals, surrogate keys stable across batches. The data-quality
alerts the workload requires go to DImessages.
"""

from __future__ import annotations

import os
import time
from datetime import date, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.engine.change_data_capture import ChangeSpec, apply_changes
from lakehouse.engine.version_overlap import overlapping_versions

OPEN = "DATE'9999-12-31'"
CUSTOMER_COLUMNS = ["c_tax_id", "c_st_id", "c_l_name", "c_f_name", "c_m_name", "c_gndr", "c_tier",
                    "c_dob", "c_adline1", "c_adline2", "c_zipcode", "c_city", "c_state_prov",
                    "c_ctry", *[f"c_{p}_{n}" for n in (1, 2, 3)
                                for p in ("ctry", "area", "local", "ext")],
                    "c_email_1", "c_email_2", "c_lcl_tx_id", "c_nat_tx_id"]
ACCOUNT_COLUMNS = ["ca_b_id", "ca_c_id", "ca_name", "ca_tax_st", "ca_st_id"]
COMPANY_KEYS = ("SELECT SK_CompanyID, EffectiveDate, EndDate, CAST(CompanyID AS STRING) AS k "
                "FROM DimCompany UNION ALL "
                "SELECT SK_CompanyID, EffectiveDate, EndDate, Name AS k FROM DimCompany")


class Warehouse:
    """The warehouse's Delta tables under ``root``, read and written by name."""

    def __init__(self, spark: SparkSession, root: Path):
        self.spark, self.root = spark, Path(root)

    def path(self, name: str) -> str:
        return str(self.root / name)

    def exists(self, name: str) -> bool:
        return (self.root / name / "_delta_log").exists()

    def read(self, name: str) -> DataFrame:
        return self.spark.read.format("delta").load(self.path(name))

    def write(self, name: str, frame: DataFrame, mode: str = "overwrite") -> None:
        started = time.perf_counter()
        (frame.write.format("delta").mode(mode).option("overwriteSchema", "true")
         .save(self.path(name)))
        self.view(name)
        if os.environ.get("TPCDI_TRACE"):
            print(f"  wrote {name} ({mode}): {time.perf_counter() - started:.1f} s", flush=True)

    def view(self, name: str) -> None:
        self.read(name).createOrReplaceTempView(name)

    def sql(self, text: str) -> DataFrame:
        return self.spark.sql(text)


def stage(spark: SparkSession, reads: dict) -> None:
    """Each source's rows as a temp view s_<entity>."""
    for entity, read in reads.items():
        spark.createDataFrame(read.table).createOrReplaceTempView(f"s_{entity}")


def messages(wh: Warehouse, batch: int, frame: DataFrame) -> None:
    """Append alerts (MessageSource, MessageText, MessageData) to DImessages."""
    wh.write("DImessages", frame.select(
        F.current_timestamp().alias("MessageDateAndTime"), F.lit(batch).alias("BatchID"),
        "MessageSource", "MessageText", F.lit("Alert").alias("MessageType"), "MessageData"),
        mode="append")


def rejected_messages(wh: Warehouse, batch: int, reads: dict) -> None:
    rows = [(entity, "Quarantined row", f"{r['file']}:{r['line']}: {r['reason']}")
            for entity, read in reads.items() for r in read.rejected]
    if rows:
        messages(wh, batch, wh.spark.createDataFrame(
            rows, "MessageSource string, MessageText string, MessageData string"))


JOINED_COUNTS = {
    "FactCashBalances": """FactCashBalances f JOIN DimAccount a ON f.SK_AccountID = a.SK_AccountID
        JOIN DimCustomer c ON f.SK_CustomerID = c.SK_CustomerID
        JOIN DimBroker b ON a.SK_BrokerID = b.SK_BrokerID JOIN DimDate d ON f.SK_DateID = d.SK_DateID""",
    "FactHoldings": """FactHoldings f JOIN DimAccount a ON f.SK_AccountID = a.SK_AccountID
        JOIN DimCustomer c ON f.SK_CustomerID = c.SK_CustomerID
        JOIN DimBroker b ON a.SK_BrokerID = b.SK_BrokerID JOIN DimDate d ON f.SK_DateID = d.SK_DateID
        JOIN DimTime t ON f.SK_TimeID = t.SK_TimeID JOIN DimCompany m ON f.SK_CompanyID = m.SK_CompanyID
        JOIN DimSecurity s ON f.SK_SecurityID = s.SK_SecurityID""",
    "FactMarketHistory": """FactMarketHistory f JOIN DimDate d ON f.SK_DateID = d.SK_DateID
        JOIN DimCompany m ON f.SK_CompanyID = m.SK_CompanyID
        JOIN DimSecurity s ON f.SK_SecurityID = s.SK_SecurityID""",
    "FactWatches": """FactWatches f JOIN DimCustomer c ON f.SK_CustomerID = c.SK_CustomerID
        JOIN DimDate d ON f.SK_DateID_DatePlaced = d.SK_DateID
        JOIN DimSecurity s ON f.SK_SecurityID = s.SK_SecurityID""",
}
AUDIT_COUNTS = {  # the batch validation's additional figures (TPC-DI Appendix B)
    ("DimCustomer", "Inactive customers"): "DimCustomer WHERE IsCurrent AND Status = 'Inactive'",
    ("FactWatches", "Inactive watches"): "FactWatches WHERE SK_DateID_DateRemoved IS NOT NULL",
}


def validation(wh: Warehouse, batch: int) -> None:
    """The batch validation query (TPC-DI clause 7.4, Appendix B) into DImessages: each
    warehouse table's row count, the facts' row counts joined to their dimensions, inactive
    customers and watches, then the batch's phase-complete record. Batch 0 runs before the
    historical load: the warehouse is empty and every figure is 0."""
    def figure(source: str, text: str, body: str, tables: tuple[str, ...]) -> str:
        count = (f"(SELECT COUNT(*) FROM {body})" if all(wh.exists(t) for t in tables) else "0")
        return (f"SELECT '{source}' AS MessageSource, '{text}' AS MessageText, "
                f"CAST({count} AS STRING) AS MessageData")

    parts = [figure(t, "Row count", t, (t,)) for t in VALIDATED]
    parts += [figure(t, "Row count joined", body, (t,))  # a fact is written after its dimensions
              for t, body in JOINED_COUNTS.items()]
    parts += [figure(source, text, body, (source,)) for (source, text), body in AUDIT_COUNTS.items()]
    frame = wh.sql(" UNION ALL ".join(parts)).select(
        "MessageSource", "MessageText", F.lit("Validation").alias("MessageType"), "MessageData")
    done = wh.sql("SELECT 'Phase Complete Record' AS MessageSource, 'Batch Complete' AS MessageText, "
                  "'PCR' AS MessageType, CAST(NULL AS STRING) AS MessageData")
    wh.write("DImessages", frame.unionByName(done).select(
        F.current_timestamp().alias("MessageDateAndTime"), F.lit(batch).alias("BatchID"),
        "MessageSource", "MessageText", "MessageType", "MessageData"), mode="append")


TABLES = ("DimDate", "DimTime", "StatusType", "TaxRate", "TradeType", "Industry", "DimBroker",
          "DimCompany", "DimSecurity", "Financial", "DimCustomer", "DimAccount", "DimTrade",
          "FactCashBalances", "FactHoldings", "FactWatches", "FactMarketHistory", "Prospect",
          "DImessages")
VALIDATED = tuple(t for t in TABLES if t != "DImessages")


# -- historical load ----------------------------------------------------------------------------

def historical(wh: Warehouse, batch_date: date) -> None:
    s = wh.sql
    wh.write("DimDate", s("SELECT * EXCEPT (_line, _file) FROM s_date"))
    wh.write("DimTime", s("SELECT * EXCEPT (_line, _file) FROM s_time"))
    for view, table in (("status_type", "StatusType"), ("tax_rate", "TaxRate"),
                        ("trade_type", "TradeType"), ("industry", "Industry")):
        wh.write(table, s(f"SELECT * EXCEPT (_line, _file) FROM s_{view}"))
    wh.write("DimBroker", s("""
        SELECT CAST(ROW_NUMBER() OVER (ORDER BY employee_id) AS BIGINT) AS SK_BrokerID,
               employee_id AS BrokerID, manager_id AS ManagerID, first_name AS FirstName,
               last_name AS LastName, middle_initial AS MiddleInitial, branch AS Branch,
               office AS Office, phone AS Phone, TRUE AS IsCurrent, 1 AS BatchID,
               (SELECT MIN(datevalue) FROM DimDate) AS EffectiveDate, """ + OPEN + """ AS EndDate
        FROM s_hr WHERE job_code = 314"""))
    _companies(wh)
    _securities(wh)
    _financials(wh)
    _customers_historical(wh, batch_date)
    _accounts_historical(wh)
    _trades_historical(wh)
    _cash_balances(wh, "s_cash_transaction", 1)
    _holdings(wh, "s_holding_history", 1)
    _watches(wh, "s_watch_history", 1)
    _market_history(wh, "s_daily_market", 1)
    _prospects(wh, batch_date, 1)


def _companies(wh: Warehouse) -> None:
    cmp = wh.sql("""
        SELECT f.*, ROW_NUMBER() OVER (ORDER BY f._file, f._line) AS seq FROM s_finwire f
        WHERE rec_type = 'CMP'""")
    cmp.createOrReplaceTempView("fw_cmp")
    wh.write("DimCompany", wh.sql("""
        WITH v AS (
          SELECT c.*, CAST(pts AS DATE) AS eff,
                 LEAD(CAST(pts AS DATE)) OVER (PARTITION BY cik ORDER BY pts, seq) AS nxt
          FROM fw_cmp c)
        SELECT CAST(ROW_NUMBER() OVER (ORDER BY cik, pts, seq) AS BIGINT) AS SK_CompanyID,
               cik AS CompanyID, st.st_name AS Status, company_name AS Name,
               i.in_name AS Industry,
               CASE WHEN sp_rating IN ('AAA','AA','AA+','AA-','A','A+','A-','BBB','BBB+','BBB-',
                    'BB','BB+','BB-','B','B+','B-','CCC','CCC+','CCC-','CC','C','D')
                    THEN sp_rating END AS SPrating,
               CASE WHEN sp_rating IN ('AAA','AA','AA+','AA-','A','A+','A-','BBB','BBB+','BBB-')
                    THEN FALSE
                    WHEN sp_rating IN ('BB','BB+','BB-','B','B+','B-','CCC','CCC+','CCC-','CC',
                                       'C','D') THEN TRUE END AS isLowGrade,
               ceo_name AS CEO, addr_line1 AS AddressLine1, addr_line2 AS AddressLine2,
               postal_code AS PostalCode, city AS City, state_province AS StateProv,
               country AS Country, description AS Description, founding_date AS FoundingDate,
               nxt IS NULL AS IsCurrent, 1 AS BatchID, eff AS EffectiveDate,
               COALESCE(nxt, """ + OPEN + """) AS EndDate, sp_rating AS _sp_rating
        FROM v LEFT JOIN StatusType st ON st.st_id = v.status
               LEFT JOIN Industry i ON i.in_id = v.industry_id
        WHERE nxt IS NULL OR nxt > eff"""))
    messages(wh, 1, wh.sql("""
        SELECT 'DimCompany' AS MessageSource, 'Invalid SPRating' AS MessageText,
               CONCAT('CO_ID = ', CompanyID, ', CO_SP_RATE = ', _sp_rating) AS MessageData
        FROM DimCompany WHERE SPrating IS NULL AND _sp_rating IS NOT NULL"""))


def _securities(wh: Warehouse) -> None:
    """A security's versions cut where its company's version changes (each row points at the
    company version valid all through it)."""
    versions = wh.sql("""
        WITH sec AS (SELECT f.*, ROW_NUMBER() OVER (ORDER BY f._file, f._line) AS seq
                     FROM s_finwire f WHERE rec_type = 'SEC')
        SELECT * FROM (
          SELECT sec.*, CAST(pts AS DATE) AS start_dt,
                 COALESCE(LEAD(CAST(pts AS DATE)) OVER (PARTITION BY symbol ORDER BY pts, seq),
                          """ + OPEN + """) AS end_dt,
                 COALESCE(CAST(TRY_CAST(co_name_or_cik AS BIGINT) AS STRING), co_name_or_cik)
                   AS company_ref
          FROM sec)
        WHERE start_dt < end_dt""")
    linked = overlapping_versions(versions, wh.sql(COMPANY_KEYS), F.col("l.company_ref") == F.col("r.k"),
                                  ["SK_CompanyID"], right_period=("EffectiveDate", "EndDate"))
    linked.createOrReplaceTempView("security_versions")
    wh.write("DimSecurity", wh.sql("""
        SELECT CAST(ROW_NUMBER() OVER (ORDER BY symbol, start_dt) AS BIGINT) AS SK_SecurityID,
               symbol AS Symbol, issue_type AS Issue, st.st_name AS Status, name AS Name,
               ex_id AS ExchangeID, SK_CompanyID, sh_out AS SharesOutstanding,
               first_trade_date AS FirstTrade, first_trade_exchg AS FirstTradeOnExchange,
               dividend AS Dividend, end_dt = """ + OPEN + """ AS IsCurrent, 1 AS BatchID,
               start_dt AS EffectiveDate, end_dt AS EndDate
        FROM security_versions v LEFT JOIN StatusType st ON st.st_id = v.status"""))


def _financials(wh: Warehouse) -> None:
    wh.write("Financial", wh.sql("""
        WITH fin AS (SELECT f.*, ROW_NUMBER() OVER (ORDER BY f._file, f._line) AS seq
                     FROM s_finwire f WHERE rec_type = 'FIN'),
        linked AS (
          SELECT fin.*, c.SK_CompanyID,
                 ROW_NUMBER() OVER (PARTITION BY fin.seq ORDER BY c.EffectiveDate DESC) AS pick
          FROM fin JOIN (""" + COMPANY_KEYS + """) c
            ON c.k = COALESCE(CAST(TRY_CAST(fin.co_name_or_cik AS BIGINT) AS STRING),
                              fin.co_name_or_cik)
           AND c.EffectiveDate <= CAST(fin.pts AS DATE) AND CAST(fin.pts AS DATE) < c.EndDate)
        SELECT SK_CompanyID, year AS FI_YEAR, quarter AS FI_QTR, qtr_start_date AS FI_QTR_START_DATE,
               revenue AS FI_REVENUE, earnings AS FI_NET_EARN, eps AS FI_BASIC_EPS,
               diluted_eps AS FI_DILUT_EPS, margin AS FI_MARGIN, inventory AS FI_INVENTORY,
               assets AS FI_ASSETS, liabilities AS FI_LIABILITY, sh_out AS FI_OUT_BASIC,
               diluted_sh_out AS FI_OUT_DILUT
        FROM linked WHERE pick = 1"""))


def _customer_rows(view: str) -> str:
    """A change row per customer action, with the derived columns of DimCustomer."""
    return f"""
        SELECT c.*,
               CASE WHEN UPPER(c.c_gndr) IN ('M', 'F') THEN UPPER(c.c_gndr) ELSE 'U' END AS gender,
               st.st_name AS status
        FROM {view} c LEFT JOIN StatusType st ON st.st_id = c.c_st_id"""


PROSPECT_COLUMNS = ("AgencyID", "CreditRating", "NetWorth", "MarketingNameplate")


def _phone(n: int) -> str:
    """Phone<n> as the spec writes it: +C (A) L, (A) L or L, then the extension."""
    c, a, l, e = (f"v.c_{part}_{n}" for part in ("ctry", "area", "local", "ext"))
    return (f"CONCAT(CASE WHEN {c} IS NOT NULL AND {a} IS NOT NULL AND {l} IS NOT NULL "
            f"THEN CONCAT('+', {c}, ' (', {a}, ') ', {l}) "
            f"WHEN {a} IS NOT NULL AND {l} IS NOT NULL THEN CONCAT('(', {a}, ') ', {l}) "
            f"WHEN {l} IS NOT NULL THEN {l} END, COALESCE({e}, ''))")


def _nameplate(p: str = "") -> str:
    """The prospect's marketing tags (TPC-DI 4.5.x Prospect.MarketingNameplate)."""
    tags = [("HighValue", f"{p}net_worth > 1000000 OR {p}income > 200000"),
            ("Expenses", f"{p}number_children > 3 OR {p}number_credit_cards > 5"),
            ("Boomer", f"{p}age > 45"),
            ("MoneyAlert", f"{p}income < 50000 OR {p}credit_rating < 600 OR {p}net_worth < 100000"),
            ("Spender", f"{p}number_cars > 3 OR {p}number_credit_cards > 7"),
            ("Inherited", f"{p}age < 25 AND {p}net_worth > 1000000")]
    parts = ", ".join(f"CASE WHEN {cond} THEN '{tag}' END" for tag, cond in tags)
    return f"NULLIF(CONCAT_WS('+', {parts}), '')"


def _dim_customer(wh: Warehouse, versions: DataFrame, batch: int, batch_date: date,
                  delivered: str) -> None:
    """DimCustomer from its versions (same-day changes consolidated into the day's last one).
    The current versions and those this batch opened (BatchID null) take the demographic
    columns of the prospect with their name and address in this batch's prospect file (null if
    there is none): they are overwritten in place, not versioned; closed versions keep theirs. The
    tier and age alerts are raised on the customer rows the batch delivered in full
    (``delivered``: a query of c_id, c_tier, c_dob)."""
    for column in ("BatchID", *PROSPECT_COLUMNS):
        if column not in versions.columns:
            versions = versions.withColumn(column, F.lit(None).cast(
                "string" if column in ("AgencyID", "MarketingNameplate") else "bigint"))
    (versions.drop("start_ts", "end_ts", "action_ts").filter("start_dt < end_dt")
     .createOrReplaceTempView("customer_versions"))
    wh.sql(f"""
        SELECT {_person_key("last_name", "first_name", "address_line1", "address_line2",
                            "postal_code")} AS k,
               agency_id AS AgencyID, CAST(credit_rating AS BIGINT) AS CreditRating,
               CAST(net_worth AS BIGINT) AS NetWorth, {_nameplate()} AS MarketingNameplate
        FROM s_prospect""").createOrReplaceTempView("prospect_demographics")
    new = f"v.BatchID IS NULL OR v.end_dt = {OPEN}"
    wh.write("DimCustomer", wh.sql(f"""
        WITH p AS (SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY AgencyID)
                                    AS _pick FROM prospect_demographics) WHERE _pick = 1)
        SELECT v.* EXCEPT (BatchID, gender, status, {", ".join(PROSPECT_COLUMNS)}),
               v.c_id AS CustomerID, v.c_tax_id AS TaxID, v.status AS Status,
               v.c_l_name AS LastName, v.c_f_name AS FirstName, v.c_m_name AS MiddleInitial,
               v.gender AS Gender, v.c_tier AS Tier, v.c_dob AS DOB,
               v.c_adline1 AS AddressLine1, v.c_adline2 AS AddressLine2,
               v.c_zipcode AS PostalCode, v.c_city AS City, v.c_state_prov AS StateProv,
               v.c_ctry AS Country, {_phone(1)} AS Phone1, {_phone(2)} AS Phone2,
               {_phone(3)} AS Phone3, v.c_email_1 AS Email1, v.c_email_2 AS Email2,
               ntx.tx_name AS NationalTaxRateDesc, ntx.tx_rate AS NationalTaxRate,
               ltx.tx_name AS LocalTaxRateDesc, ltx.tx_rate AS LocalTaxRate,
               {", ".join(f"CASE WHEN {new} THEN p.{c} ELSE v.{c} END AS {c}"
                          for c in PROSPECT_COLUMNS)},
               v.end_dt = {OPEN} AS IsCurrent, COALESCE(v.BatchID, {batch}) AS BatchID,
               v.start_dt AS EffectiveDate, v.end_dt AS EndDate
        FROM customer_versions v
        LEFT JOIN TaxRate ntx ON ntx.tx_id = v.c_nat_tx_id
        LEFT JOIN TaxRate ltx ON ltx.tx_id = v.c_lcl_tx_id
        LEFT JOIN p ON p.k = {_person_key("v.c_l_name", "v.c_f_name", "v.c_adline1",
                                          "v.c_adline2", "v.c_zipcode")}"""))
    messages(wh, batch, wh.sql(f"""
        SELECT 'DimCustomer' AS MessageSource, 'Invalid customer tier' AS MessageText,
               CONCAT('C_ID = ', c_id, ', C_TIER = ', COALESCE(CAST(c_tier AS STRING), 'null'))
                 AS MessageData
        FROM ({delivered}) WHERE c_tier IS NULL OR c_tier NOT IN (1, 2, 3)
        UNION ALL
        SELECT 'DimCustomer', 'DOB out of range', CONCAT('C_ID = ', c_id, ', C_DOB = ', c_dob)
        FROM ({delivered})
        WHERE c_dob < ADD_MONTHS(DATE'{batch_date}', -1200) OR c_dob > DATE'{batch_date}'"""))


def _customers_historical(wh: Warehouse, batch_date: date) -> None:
    actions = wh.sql("""
        SELECT CASE WHEN action_type = 'NEW' THEN 'I' ELSE 'U' END AS op, _line AS seq,
               action_ts, c_id, c_tax_id,
               CASE WHEN action_type = 'INACT' THEN 'INAC'
                    WHEN action_type = 'NEW' THEN 'ACTV' END AS c_st_id,
               """ + ", ".join(c for c in CUSTOMER_COLUMNS if c not in ("c_tax_id", "c_st_id")) + """
        FROM s_customer_mgmt WHERE action_type IN ('NEW', 'UPDCUST', 'INACT')""")
    spec = ChangeSpec(("c_id",), "op", "seq", effective_column="action_ts",
                      surrogate_key="SK_CustomerID", partial_updates=True)
    versions = apply_changes(None, actions, spec, batch_date)
    versions.createOrReplaceTempView("raw_customer_versions")
    versions = wh.sql(_customer_rows("raw_customer_versions"))
    # an update carries the tier it leaves out: the alerts look at the new customers' rows
    _dim_customer(wh, versions, 1, batch_date,
                  "SELECT c_id, c_tier, c_dob FROM s_customer_mgmt WHERE action_type = 'NEW'")


def _dim_account(wh: Warehouse, versions: DataFrame, batch: int) -> None:
    """DimAccount: the account's versions (``AccountVersions``, the zipper the next batch's
    changes apply to) cut where its customer's version changes, so each row points at the
    customer version valid all through it. A row keeps its surrogate key and batch across
    batches: it is known by its account version and customer version."""
    before = wh.read("DimAccount").localCheckpoint() if wh.exists("DimAccount") else None
    wh.write("AccountVersions", versions.drop("start_ts", "end_ts", "action_ts", "BatchID")
             .filter("start_dt < end_dt"))
    customers = wh.read("DimCustomer").select("CustomerID", "SK_CustomerID", "start_dt", "end_dt")
    overlapping_versions(wh.read("AccountVersions"), customers,
                         F.col("l.ca_c_id") == F.col("r.CustomerID"), ["SK_CustomerID"],
                         how="left").createOrReplaceTempView("account_pieces")
    if before is None:
        wh.sql("SELECT CAST(NULL AS BIGINT) AS AccountVersionID, CAST(NULL AS BIGINT) AS "
               "SK_CustomerID, CAST(NULL AS BIGINT) AS SK_AccountID, 0 AS BatchID WHERE FALSE") \
            .createOrReplaceTempView("account_keys")
        base = 0
    else:
        before.select("AccountVersionID", "SK_CustomerID", "SK_AccountID", "BatchID") \
            .createOrReplaceTempView("account_keys")
        base = before.agg(F.max("SK_AccountID")).first()[0] or 0
    wh.write("DimAccount", wh.sql(f"""
        WITH keyed AS (
          SELECT p.*, k.SK_AccountID AS known_sk, k.BatchID AS known_batch
          FROM account_pieces p LEFT JOIN account_keys k
            ON k.AccountVersionID = p.AccountVersionID AND k.SK_CustomerID <=> p.SK_CustomerID)
        SELECT COALESCE(known_sk, {base} + ROW_NUMBER() OVER (
                 PARTITION BY known_sk IS NULL ORDER BY ca_id, start_dt)) AS SK_AccountID,
               keyed.ca_id AS AccountID, b.SK_BrokerID, keyed.SK_CustomerID,
               st.st_name AS Status, keyed.ca_name AS AccountDesc, keyed.ca_tax_st AS TaxStatus,
               keyed.end_dt = {OPEN} AS IsCurrent, COALESCE(known_batch, {batch}) AS BatchID,
               keyed.start_dt AS EffectiveDate, keyed.end_dt AS EndDate,
               keyed.AccountVersionID, keyed.ca_id, keyed.start_dt, keyed.end_dt
        FROM keyed
        LEFT JOIN DimBroker b ON b.BrokerID = keyed.ca_b_id
        LEFT JOIN StatusType st ON st.st_id = keyed.ca_st_id"""))


def _accounts_historical(wh: Warehouse) -> None:
    actions = wh.sql("""
        SELECT CASE WHEN action_type IN ('NEW', 'ADDACCT') THEN 'I' ELSE 'U' END AS op,
               _line AS seq, action_ts, ca_id, ca_b_id, c_id AS ca_c_id, ca_name, ca_tax_st,
               CASE WHEN action_type = 'CLOSEACCT' THEN 'INAC'
                    WHEN action_type IN ('NEW', 'ADDACCT') THEN 'ACTV' END AS ca_st_id
        FROM s_customer_mgmt
        WHERE action_type IN ('NEW', 'ADDACCT', 'UPDACCT', 'CLOSEACCT') AND ca_id IS NOT NULL
        UNION ALL
        -- an INACT action closes the customer's accounts with it
        SELECT 'U', i._line, i.action_ts, a.ca_id, NULL, NULL, NULL, NULL, 'INAC'
        FROM s_customer_mgmt i
        JOIN (SELECT DISTINCT ca_id, c_id FROM s_customer_mgmt
              WHERE action_type IN ('NEW', 'ADDACCT') AND ca_id IS NOT NULL) a ON a.c_id = i.c_id
        WHERE i.action_type = 'INACT'""")
    spec = ChangeSpec(("ca_id",), "op", "seq", effective_column="action_ts",
                      surrogate_key="AccountVersionID", partial_updates=True)
    versions = apply_changes(None, actions, spec, date(1950, 1, 1))
    _dim_account(wh, versions, 1)


# what a trade's update leaves as it was: when and against which versions it was created
TRADE_CREATION = ("SK_CreateDateID", "SK_CreateTimeID", "SK_AccountID", "SK_CustomerID",
                  "SK_BrokerID", "SK_SecurityID", "SK_CompanyID")


def _trades_historical(wh: Warehouse) -> None:
    wh.write("DimTrade", _trade_rows(wh, "s_trade", """
        SELECT th_t_id AS t_id,
               MIN(CASE WHEN th_st_id IN ('SBMT', 'PNDG') THEN th_dts END) AS created,
               MAX(CASE WHEN th_st_id IN ('CMPT', 'CNCL') THEN th_dts END) AS closed
        FROM s_trade_history GROUP BY th_t_id""", 1))
    _trade_messages(wh, 1)


def _trade_rows(wh: Warehouse, trades: str, history: str, batch: int) -> DataFrame:
    return wh.sql(f"""
        WITH h AS ({history}),
        t AS (SELECT t.*, h.created, h.closed FROM {trades} t LEFT JOIN h ON h.t_id = t.t_id),
        linked AS (
          SELECT t.*, a.SK_AccountID, a.SK_CustomerID, a.SK_BrokerID, s.SK_SecurityID,
                 s.SK_CompanyID,
                 ROW_NUMBER() OVER (PARTITION BY t.t_id ORDER BY a.start_dt DESC,
                                    s.EffectiveDate DESC) AS pick
          FROM t
          LEFT JOIN DimAccount a ON a.ca_id = t.t_ca_id
               AND a.start_dt <= CAST(COALESCE(t.created, t.t_dts) AS DATE)
               AND CAST(COALESCE(t.created, t.t_dts) AS DATE) <= a.end_dt
          LEFT JOIN DimSecurity s ON s.Symbol = t.t_s_symb
               AND s.EffectiveDate <= CAST(COALESCE(t.created, t.t_dts) AS DATE)
               AND CAST(COALESCE(t.created, t.t_dts) AS DATE) < s.EndDate)
        SELECT l.t_id AS TradeID, SK_BrokerID,
               {_date_id('created')} AS SK_CreateDateID,
               CAST(DATE_FORMAT(created, 'HHmmss') AS BIGINT) AS SK_CreateTimeID,
               {_date_id('closed')} AS SK_CloseDateID,
               CAST(DATE_FORMAT(closed, 'HHmmss') AS BIGINT) AS SK_CloseTimeID,
               st.st_name AS Status, tt.tt_name AS Type, t_is_cash AS CashFlag,
               SK_SecurityID, SK_CompanyID, t_qty AS Quantity, t_bid_price AS BidPrice,
               SK_CustomerID, SK_AccountID, t_exec_name AS ExecutedBy,
               t_trade_price AS TradePrice, t_chrg AS Fee, t_comm AS Commission, t_tax AS Tax,
               {batch} AS BatchID, t_st_id AS _st_id
        FROM linked l
        LEFT JOIN StatusType st ON st.st_id = l.t_st_id
        LEFT JOIN TradeType tt ON tt.tt_id = l.t_tt_id
        WHERE pick = 1""")


def _trade_messages(wh: Warehouse, batch: int) -> None:
    messages(wh, batch, wh.sql(f"""
        SELECT 'DimTrade' AS MessageSource, 'Invalid trade commission' AS MessageText,
               CONCAT('T_ID = ', TradeID, ', T_COMM = ', Commission) AS MessageData
        FROM DimTrade WHERE BatchID = {batch} AND Commission IS NOT NULL
          AND Commission > TradePrice * Quantity
        UNION ALL
        SELECT 'DimTrade', 'Invalid trade fee', CONCAT('T_ID = ', TradeID, ', T_CHRG = ', Fee)
        FROM DimTrade WHERE BatchID = {batch} AND Fee IS NOT NULL AND Fee > TradePrice * Quantity"""))


def _date_id(column: str) -> str:
    return f"CAST(DATE_FORMAT({column}, 'yyyyMMdd') AS BIGINT)"


def _cash_balances(wh: Warehouse, view: str, batch: int) -> None:
    previous = ("SELECT SK_AccountID AS sk, ca_id, Cash FROM FactCashBalances_last"
                if wh.exists("FactCashBalances") else
                "SELECT CAST(NULL AS BIGINT) AS sk, CAST(NULL AS BIGINT) AS ca_id, "
                "CAST(0 AS DECIMAL(25,2)) AS Cash WHERE FALSE")
    if wh.exists("FactCashBalances"):
        wh.sql("""SELECT * FROM (
                  SELECT f.*, a.ca_id, ROW_NUMBER() OVER (PARTITION BY a.ca_id
                                                          ORDER BY f.SK_DateID DESC) AS _pick
                  FROM FactCashBalances f JOIN DimAccount a ON a.SK_AccountID = f.SK_AccountID)
                  WHERE _pick = 1""") \
            .createOrReplaceTempView("FactCashBalances_last")
    rows = wh.sql(f"""
        WITH daily AS (
          SELECT ct_ca_id AS ca_id, CAST(ct_dts AS DATE) AS day, SUM(ct_amt) AS amount
          FROM {view} GROUP BY ct_ca_id, CAST(ct_dts AS DATE)),
        prev AS ({previous}),
        running AS (
          SELECT d.ca_id, d.day,
                 COALESCE(p.Cash, 0) + SUM(d.amount) OVER (PARTITION BY d.ca_id ORDER BY d.day)
                   AS cash
          FROM daily d LEFT JOIN prev p ON p.ca_id = d.ca_id)
        SELECT SK_CustomerID, SK_AccountID, SK_DateID, Cash, BatchID FROM (
          SELECT a.SK_CustomerID, a.SK_AccountID, {_date_id('r.day')} AS SK_DateID,
                 CAST(r.cash AS DECIMAL(25,2)) AS Cash, {batch} AS BatchID,
                 ROW_NUMBER() OVER (PARTITION BY r.ca_id, r.day ORDER BY a.start_dt DESC) AS _pick
          FROM running r JOIN DimAccount a ON a.ca_id = r.ca_id
           AND a.start_dt <= r.day AND r.day <= a.end_dt)
        WHERE _pick = 1""")
    wh.write("FactCashBalances", rows, mode="append" if batch > 1 else "overwrite")


def _holdings(wh: Warehouse, view: str, batch: int) -> None:
    rows = wh.sql(f"""
        SELECT h.hh_h_t_id AS TradeID, h.hh_t_id AS CurrentTradeID, t.SK_CustomerID,
               t.SK_AccountID, t.SK_SecurityID, t.SK_CompanyID,
               COALESCE(t.SK_CloseDateID, t.SK_CreateDateID) AS SK_DateID,
               COALESCE(t.SK_CloseTimeID, t.SK_CreateTimeID) AS SK_TimeID,
               t.TradePrice AS CurrentPrice, h.hh_after_qty AS CurrentHolding, {batch} AS BatchID
        FROM {view} h LEFT JOIN DimTrade t ON t.TradeID = h.hh_t_id""")
    wh.write("FactHoldings", rows, mode="append" if batch > 1 else "overwrite")


def _watches(wh: Warehouse, view: str, batch: int) -> None:
    changes = wh.sql(f"""
        SELECT w_c_id, w_s_symb,
               MIN(CASE WHEN w_action = 'ACTV' THEN w_dts END) AS placed,
               MAX(CASE WHEN w_action = 'CNCL' THEN w_dts END) AS removed
        FROM {view} GROUP BY w_c_id, w_s_symb""")
    changes.createOrReplaceTempView("watch_changes")
    # the customer's and the security's versions valid on the day the watch was placed
    new = wh.sql(f"""
        WITH placed AS (SELECT w.*, CAST(w.placed AS DATE) AS day FROM watch_changes w
                        WHERE w.placed IS NOT NULL),
        linked AS (
          SELECT w.*, c.SK_CustomerID, s.SK_SecurityID,
                 ROW_NUMBER() OVER (PARTITION BY w.w_c_id, w.w_s_symb
                                    ORDER BY c.EffectiveDate DESC, s.EffectiveDate DESC) AS _pick
          FROM placed w
          LEFT JOIN DimCustomer c ON c.CustomerID = w.w_c_id AND c.EffectiveDate <= w.day
               AND w.day < c.EndDate
          LEFT JOIN DimSecurity s ON s.Symbol = w.w_s_symb AND s.EffectiveDate <= w.day
               AND w.day < s.EndDate)
        SELECT SK_CustomerID, SK_SecurityID, {_date_id('placed')} AS SK_DateID_DatePlaced,
               {_date_id('removed')} AS SK_DateID_DateRemoved, {batch} AS BatchID,
               w_c_id AS _c_id, w_s_symb AS _symb
        FROM linked WHERE _pick = 1""")
    if batch == 1:
        wh.write("FactWatches", new)
        return
    # a cancel of a watch placed in an earlier batch closes that row
    current = wh.read("FactWatches").localCheckpoint()
    cancels = wh.sql("SELECT w_c_id AS _c_id, w_s_symb AS _symb, removed FROM watch_changes "
                     "WHERE placed IS NULL AND removed IS NOT NULL")
    # (the row then belongs to this batch: its removal date is in this batch's window)
    removed_now = F.col("removed").isNotNull() & F.col("SK_DateID_DateRemoved").isNull()
    updated = (current.join(cancels, ["_c_id", "_symb"], "left")
               .withColumn("BatchID", F.when(removed_now, F.lit(batch)).otherwise(F.col("BatchID")))
               .withColumn("SK_DateID_DateRemoved", F.coalesce(
                   "SK_DateID_DateRemoved", F.date_format("removed", "yyyyMMdd").cast("bigint")))
               .drop("removed"))
    wh.write("FactWatches", updated.unionByName(new))


def _market_history(wh: Warehouse, view: str, batch: int) -> None:
    history = (f"SELECT dm_date, dm_s_symb, dm_close, dm_high, dm_low, dm_vol FROM {view}"
               + ("" if batch == 1 else
                  " UNION ALL SELECT dm_date, dm_s_symb, dm_close, dm_high, dm_low, dm_vol "
                  "FROM s_daily_market_history"))
    rows = wh.sql(f"""
        WITH dm AS ({history}),
        w AS (
          SELECT dm.*,
                 MAX(dm_high) OVER (PARTITION BY dm_s_symb ORDER BY CAST(dm_date AS TIMESTAMP)
                   RANGE BETWEEN INTERVAL 364 DAYS PRECEDING AND CURRENT ROW) AS high52,
                 MIN(dm_low) OVER (PARTITION BY dm_s_symb ORDER BY CAST(dm_date AS TIMESTAMP)
                   RANGE BETWEEN INTERVAL 364 DAYS PRECEDING AND CURRENT ROW) AS low52
          FROM dm),
        fin AS (
          SELECT SK_CompanyID, FI_QTR_START_DATE,
                 SUM(FI_BASIC_EPS) OVER (PARTITION BY SK_CompanyID ORDER BY FI_QTR_START_DATE
                   ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS eps4
          FROM Financial)
        SELECT s.SK_SecurityID, s.SK_CompanyID, {_date_id('w.dm_date')} AS SK_DateID,
               CASE WHEN f.eps4 IS NOT NULL AND f.eps4 <> 0 THEN w.dm_close / f.eps4 END
                 AS PERatio,
               CASE WHEN w.dm_close <> 0 THEN s.Dividend / w.dm_close * 100 END AS Yield,
               w.high52 AS FiftyTwoWeekHigh, w.low52 AS FiftyTwoWeekLow,
               w.dm_close AS ClosePrice, w.dm_high AS DayHigh, w.dm_low AS DayLow,
               w.dm_vol AS Volume, {batch} AS BatchID
        FROM w
        LEFT JOIN DimSecurity s ON s.Symbol = w.dm_s_symb AND s.EffectiveDate <= w.dm_date
             AND w.dm_date < s.EndDate
        LEFT JOIN fin f ON f.SK_CompanyID = s.SK_CompanyID
             AND f.FI_QTR_START_DATE = ADD_MONTHS(TRUNC(w.dm_date, 'quarter'), -3)
        WHERE {"TRUE" if batch == 1 else f"w.dm_date IN (SELECT dm_date FROM {view})"}""")
    wh.write("FactMarketHistory", rows, mode="append" if batch > 1 else "overwrite")
    # the last 52 weeks of prices, for the next batch's highs and lows
    wh.write("DailyMarketRecent", wh.sql(f"""
        WITH dm AS ({history})
        SELECT * FROM dm WHERE dm_date > (SELECT DATE_SUB(MAX(dm_date), 366) FROM dm)""")
        .localCheckpoint())


PROSPECT_FIELDS = {"last_name": "LastName", "first_name": "FirstName",
                   "middle_initial": "MiddleInitial", "gender": "Gender",
                   "address_line1": "AddressLine1", "address_line2": "AddressLine2",
                   "postal_code": "PostalCode", "city": "City", "state": "State",
                   "country": "Country", "phone": "Phone", "income": "Income",
                   "number_cars": "NumberCars", "number_children": "NumberChildren",
                   "marital_status": "MaritalStatus", "age": "Age",
                   "credit_rating": "CreditRating", "own_or_rent_flag": "OwnOrRentFlag",
                   "employer": "Employer", "number_credit_cards": "NumberCreditCards",
                   "net_worth": "NetWorth"}


def _prospects(wh: Warehouse, batch_date: date, batch: int) -> None:
    """Prospect is the batch's file in full. A prospect delivered unchanged keeps the batch and
    date of its last change (SK_UpdateDateID); IsCustomer says whether a current customer has
    its name and address."""
    fields = ", ".join(f"p.{c} AS {n}" for c, n in PROSPECT_FIELDS.items())
    wh.sql(f"""SELECT p.agency_id AS AgencyID, {fields}, {_nameplate("p.")} AS MarketingNameplate
               FROM s_prospect p""").createOrReplaceTempView("prospect_delivered")
    if wh.exists("Prospect"):
        wh.read("Prospect").localCheckpoint().createOrReplaceTempView("prospect_before")
    else:
        wh.sql("SELECT * FROM prospect_delivered WHERE FALSE").withColumn(
            "SK_UpdateDateID", F.lit(0).cast("bigint")).withColumn("BatchID", F.lit(0)) \
            .createOrReplaceTempView("prospect_before")
    same = " AND ".join(f"b.{n} <=> p.{n}" for n in (*PROSPECT_FIELDS.values(),))
    today = _date_id(f"DATE'{batch_date}'")
    wh.write("Prospect", wh.sql(f"""
        WITH cur AS (SELECT DISTINCT {_person_key("c_l_name", "c_f_name", "c_adline1",
                                                   "c_adline2", "c_zipcode")} AS k
                     FROM DimCustomer WHERE IsCurrent)
        SELECT p.AgencyID, {today} AS SK_RecordDateID,
               CASE WHEN {same} THEN b.SK_UpdateDateID ELSE {today} END AS SK_UpdateDateID,
               CASE WHEN {same} THEN b.BatchID ELSE {batch} END AS BatchID,
               cur.k IS NOT NULL AS IsCustomer,
               {", ".join(f"p.{n}" for n in PROSPECT_FIELDS.values())}, p.MarketingNameplate
        FROM prospect_delivered p
        LEFT JOIN prospect_before b ON b.AgencyID = p.AgencyID
        LEFT JOIN cur ON cur.k = {_person_key("p.LastName", "p.FirstName", "p.AddressLine1",
                                              "p.AddressLine2", "p.PostalCode")}"""))


def _person_key(*columns: str) -> str:
    return "CONCAT_WS('|', " + ", ".join(f"UPPER(COALESCE({c}, ''))" for c in columns) + ")"


# -- incremental updates ------------------------------------------------------------------------

def incremental(wh: Warehouse, batch: int, batch_date: date) -> None:
    s = wh.sql
    for table in (*TABLES, "DailyMarketRecent"):
        if wh.exists(table):
            wh.view(table)
    wh.read("DailyMarketRecent").createOrReplaceTempView("s_daily_market_history")
    current = wh.read("DimCustomer").localCheckpoint()
    changes = s(f"""SELECT cdc_flag, cdc_dsn, c_id, {", ".join(CUSTOMER_COLUMNS)}
                    FROM s_customer_cdc""")
    spec = ChangeSpec(("c_id",), "cdc_flag", "cdc_dsn", surrogate_key="SK_CustomerID")
    base = current.select("c_id", F.col("seq").alias("cdc_dsn"), *CUSTOMER_COLUMNS, "start_dt",
                          "end_dt", "SK_CustomerID")
    versions = apply_changes(base, changes, spec, batch_date).withColumnRenamed("cdc_dsn", "seq")
    versions.createOrReplaceTempView("raw_customer_versions")
    old = current.select("SK_CustomerID", "BatchID", *PROSPECT_COLUMNS)
    versions = s(_customer_rows("raw_customer_versions")).join(old, "SK_CustomerID", "left")
    _dim_customer(wh, versions.localCheckpoint(), batch, batch_date,
                  "SELECT c_id, c_tier, c_dob FROM s_customer_cdc")

    current = wh.read("AccountVersions").localCheckpoint()
    spec = ChangeSpec(("ca_id",), "cdc_flag", "cdc_dsn", surrogate_key="AccountVersionID")
    base = current.select("ca_id", "seq", *ACCOUNT_COLUMNS, "start_dt", "end_dt",
                          "AccountVersionID").withColumnRenamed("seq", "cdc_dsn")
    current.createOrReplaceTempView("account_versions_before")
    # a customer who becomes inactive takes his open accounts with him
    changes = s(f"""
        SELECT cdc_flag, cdc_dsn, ca_id, {', '.join(ACCOUNT_COLUMNS)} FROM s_account_cdc
        UNION ALL
        SELECT 'U', c.cdc_dsn, a.ca_id, {", ".join(f"a.{c}" for c in ACCOUNT_COLUMNS if c != "ca_st_id")}, 'INAC'
        FROM s_customer_cdc c
        JOIN account_versions_before a ON a.ca_c_id = c.c_id AND a.end_dt = {OPEN}
        WHERE c.c_st_id = 'INAC' AND a.ca_st_id <> 'INAC'
          AND a.ca_id NOT IN (SELECT ca_id FROM s_account_cdc)""")
    versions = apply_changes(base, changes, spec, batch_date).withColumnRenamed("cdc_dsn", "seq")
    _dim_account(wh, versions.localCheckpoint(), batch)

    # trades: an insert adds a trade, an update moves its status (and closes it)
    current = wh.read("DimTrade").localCheckpoint()
    s("""SELECT * EXCEPT (_pick) FROM (
           SELECT *, ROW_NUMBER() OVER (PARTITION BY t_id ORDER BY cdc_dsn DESC) AS _pick
           FROM s_trade_cdc) WHERE _pick = 1""") \
        .createOrReplaceTempView("trade_latest")
    s("""SELECT t_id, MIN(CASE WHEN cdc_flag = 'I' THEN t_dts END) AS created,
                MAX(CASE WHEN t_st_id IN ('CMPT', 'CNCL') THEN t_dts END) AS closed
         FROM s_trade_cdc GROUP BY t_id""").createOrReplaceTempView("trade_times")
    fresh = _trade_rows(wh, "trade_latest", "SELECT * FROM trade_times", batch).localCheckpoint()
    old = current.join(fresh.select("TradeID"), "TradeID", "left_anti")
    kept = current.join(fresh.select("TradeID"), "TradeID", "left_semi")
    # an updated trade keeps its creation time and the dimension versions of that time; its
    # BatchID is the batch that last changed it
    fresh = (fresh.alias("f").join(kept.alias("k"), "TradeID", "left").select(
        *[F.coalesce(F.col(f"k.{c}"), F.col(f"f.{c}")).alias(c)
          if c in TRADE_CREATION else F.col(f"f.{c}")
          for c in fresh.columns if c != "TradeID"], "TradeID"))
    wh.write("DimTrade", old.unionByName(fresh).localCheckpoint())
    _trade_messages(wh, batch)
    _cash_balances(wh, "s_cash_transaction_cdc", batch)
    _holdings(wh, "s_holding_history_cdc", batch)
    _watches(wh, "s_watch_history_cdc", batch)
    _market_history(wh, "s_daily_market_cdc", batch)
    _prospects(wh, batch_date, batch)


def run_batch(wh: Warehouse, batch: int, batch_date: date, reads: dict) -> None:
    stage(wh.spark, reads)
    rejected_messages(wh, batch, reads)
    if batch == 1:
        historical(wh, batch_date)
    else:
        incremental(wh, batch, batch_date)
    validation(wh, batch)


def now() -> datetime:
    return datetime.now()
