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


def validation(wh: Warehouse, batch: int) -> None:
    """The batch validation query (clause 7.4): row counts of every table into DImessages."""
    parts = [f"SELECT '{t}' AS MessageSource, 'Row count' AS MessageText, "
             f"CAST(COUNT(*) AS STRING) AS MessageData FROM {t}"
             for t in TABLES if wh.exists(t) and t != "DImessages"]
    frame = wh.sql(" UNION ALL ".join(parts))
    wh.write("DImessages", frame.select(
        F.current_timestamp().alias("MessageDateAndTime"), F.lit(batch).alias("BatchID"),
        "MessageSource", "MessageText", F.lit("Validation").alias("MessageType"), "MessageData"),
        mode="append")


TABLES = ("DimDate", "DimTime", "StatusType", "TaxRate", "TradeType", "Industry", "DimBroker",
          "DimCompany", "DimSecurity", "Financial", "DimCustomer", "DimAccount", "DimTrade",
          "FactCashBalances", "FactHoldings", "FactWatches", "FactMarketHistory", "Prospect",
          "DImessages")


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
    wh.sql("""
        SELECT f.*, ROW_NUMBER() OVER (ORDER BY f._file, f._line) AS seq FROM s_finwire f
        WHERE rec_type = 'SEC'""").createOrReplaceTempView("fw_sec")
    wh.write("DimSecurity", wh.sql("""
        WITH v AS (
          SELECT s.*, CAST(pts AS DATE) AS eff,
                 LEAD(CAST(pts AS DATE)) OVER (PARTITION BY symbol ORDER BY pts, seq) AS nxt
          FROM fw_sec s),
        linked AS (
          SELECT v.*, c.SK_CompanyID,
                 ROW_NUMBER() OVER (PARTITION BY v.seq ORDER BY c.EffectiveDate DESC) AS pick
          FROM v JOIN (""" + COMPANY_KEYS + """) c
            ON c.k = COALESCE(CAST(TRY_CAST(v.co_name_or_cik AS BIGINT) AS STRING), v.co_name_or_cik)
           AND c.EffectiveDate <= v.eff AND v.eff < c.EndDate)
        SELECT CAST(ROW_NUMBER() OVER (ORDER BY symbol, pts, seq) AS BIGINT) AS SK_SecurityID,
               symbol AS Symbol, issue_type AS Issue, st.st_name AS Status, name AS Name,
               ex_id AS ExchangeID, SK_CompanyID, sh_out AS SharesOutstanding,
               first_trade_date AS FirstTrade, first_trade_exchg AS FirstTradeOnExchange,
               dividend AS Dividend, nxt IS NULL AS IsCurrent, 1 AS BatchID,
               eff AS EffectiveDate, COALESCE(nxt, """ + OPEN + """) AS EndDate
        FROM linked LEFT JOIN StatusType st ON st.st_id = linked.status
        WHERE pick = 1 AND (nxt IS NULL OR nxt > eff)"""))


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


def _dim_customer(wh: Warehouse, versions: DataFrame, batch: int, batch_date: date,
                  delivered: str) -> None:
    """DimCustomer from its versions; the tier and age alerts are raised on the customer rows
    the batch delivered in full (``delivered``: a query of c_id, c_tier, c_dob)."""
    versions.drop("start_ts", "end_ts", "action_ts").createOrReplaceTempView("customer_versions")
    wh.write("DimCustomer", wh.sql(f"""
        SELECT v.*, v.end_dt = {OPEN} AS IsCurrent,
               COALESCE(v.BatchID, {batch}) AS BatchID_,
               ntx.tx_name AS NationalTaxRateDesc, ntx.tx_rate AS NationalTaxRate,
               ltx.tx_name AS LocalTaxRateDesc, ltx.tx_rate AS LocalTaxRate
        FROM customer_versions v
        LEFT JOIN TaxRate ntx ON ntx.tx_id = v.c_nat_tx_id
        LEFT JOIN TaxRate ltx ON ltx.tx_id = v.c_lcl_tx_id""")
        .drop("BatchID").withColumnRenamed("BatchID_", "BatchID"))
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
    versions = wh.sql(_customer_rows("raw_customer_versions")).withColumn("BatchID", F.lit(1))
    # an update carries the tier it leaves out: the alerts look at the new customers' rows
    _dim_customer(wh, versions, 1, batch_date,
                  "SELECT c_id, c_tier, c_dob FROM s_customer_mgmt WHERE action_type = 'NEW'")


def _dim_account(wh: Warehouse, versions: DataFrame, batch: int) -> None:
    versions.drop("start_ts", "end_ts", "action_ts").createOrReplaceTempView("account_versions")
    wh.write("DimAccount", wh.sql(f"""
        WITH linked AS (
          SELECT a.*, c.SK_CustomerID, b.SK_BrokerID, st.st_name AS Status,
                 ROW_NUMBER() OVER (PARTITION BY a.SK_AccountID
                                    ORDER BY c.start_dt DESC, c.SK_CustomerID DESC) AS pick
          FROM account_versions a
          LEFT JOIN DimCustomer c ON c.c_id = a.ca_c_id AND c.start_dt <= a.start_dt
                                 AND a.start_dt <= c.end_dt
          LEFT JOIN DimBroker b ON b.BrokerID = a.ca_b_id
          LEFT JOIN StatusType st ON st.st_id = a.ca_st_id)
        SELECT * EXCEPT (pick), end_dt = {OPEN} AS IsCurrent,
               COALESCE(BatchID, {batch}) AS BatchID_
        FROM linked WHERE pick = 1""").drop("BatchID").withColumnRenamed("BatchID_", "BatchID"))


def _accounts_historical(wh: Warehouse) -> None:
    actions = wh.sql("""
        SELECT CASE WHEN action_type IN ('NEW', 'ADDACCT') THEN 'I' ELSE 'U' END AS op,
               _line AS seq, action_ts, ca_id, ca_b_id, c_id AS ca_c_id, ca_name, ca_tax_st,
               CASE WHEN action_type = 'CLOSEACCT' THEN 'INAC'
                    WHEN action_type IN ('NEW', 'ADDACCT') THEN 'ACTV' END AS ca_st_id
        FROM s_customer_mgmt
        WHERE action_type IN ('NEW', 'ADDACCT', 'UPDACCT', 'CLOSEACCT') AND ca_id IS NOT NULL""")
    spec = ChangeSpec(("ca_id",), "op", "seq", effective_column="action_ts",
                      surrogate_key="SK_AccountID", partial_updates=True)
    versions = apply_changes(None, actions, spec, date(1950, 1, 1)).withColumn("BatchID", F.lit(1))
    _dim_account(wh, versions, 1)


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
               CAST(DATE_FORMAT(created, 'yyyyMMdd') AS BIGINT) AS SK_CreateDateID,
               CAST(DATE_FORMAT(created, 'HHmmss') AS BIGINT) AS SK_CreateTimeID,
               CAST(DATE_FORMAT(closed, 'yyyyMMdd') AS BIGINT) AS SK_CloseDateID,
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
    new = wh.sql(f"""
        SELECT c.SK_CustomerID, s.SK_SecurityID, {_date_id('w.placed')} AS SK_DateID_DatePlaced,
               {_date_id('w.removed')} AS SK_DateID_DateRemoved, {batch} AS BatchID,
               w.w_c_id AS _c_id, w.w_s_symb AS _symb
        FROM watch_changes w
        LEFT JOIN DimCustomer c ON c.c_id = w.w_c_id AND c.end_dt = {OPEN}
        LEFT JOIN DimSecurity s ON s.Symbol = w.w_s_symb AND s.IsCurrent
        WHERE w.placed IS NOT NULL""")
    if batch == 1:
        wh.write("FactWatches", new)
        return
    # a cancel of a watch placed in an earlier batch closes that row
    current = wh.read("FactWatches").localCheckpoint()
    cancels = wh.sql("SELECT w_c_id AS _c_id, w_s_symb AS _symb, removed FROM watch_changes "
                     "WHERE placed IS NULL AND removed IS NOT NULL")
    updated = (current.join(cancels, ["_c_id", "_symb"], "left")
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


def _prospects(wh: Warehouse, batch_date: date, batch: int) -> None:
    wh.write("Prospect", wh.sql(f"""
        WITH cur AS (SELECT DISTINCT {_person_key("c_l_name", "c_f_name", "c_adline1",
                                                   "c_adline2", "c_zipcode")} AS k
                     FROM DimCustomer WHERE end_dt = {OPEN})
        SELECT p.agency_id AS AgencyID, {_date_id(f"DATE'{batch_date}'")} AS SK_RecordDateID,
               {_date_id(f"DATE'{batch_date}'")} AS SK_UpdateDateID, {batch} AS BatchID,
               cur.k IS NOT NULL AS IsCustomer,
               p.last_name AS LastName, p.first_name AS FirstName, p.middle_initial AS MiddleInitial,
               p.gender AS Gender, p.address_line1 AS AddressLine1, p.address_line2 AS AddressLine2,
               p.postal_code AS PostalCode, p.city AS City, p.state AS State, p.country AS Country,
               p.phone AS Phone, p.income AS Income, p.number_cars AS NumberCars,
               p.number_children AS NumberChildren, p.marital_status AS MaritalStatus,
               p.age AS Age, p.credit_rating AS CreditRating, p.own_or_rent_flag AS OwnOrRentFlag,
               p.employer AS Employer, p.number_credit_cards AS NumberCreditCards,
               p.net_worth AS NetWorth
        FROM s_prospect p LEFT JOIN cur ON cur.k = {_person_key(
            "p.last_name", "p.first_name", "p.address_line1", "p.address_line2",
            "p.postal_code")}"""))


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
    old = current.select("SK_CustomerID", "BatchID")
    versions = s(_customer_rows("raw_customer_versions")).join(old, "SK_CustomerID", "left")
    _dim_customer(wh, versions.localCheckpoint(), batch, batch_date,
                  "SELECT c_id, c_tier, c_dob FROM s_customer_cdc")

    current = wh.read("DimAccount").localCheckpoint()
    spec = ChangeSpec(("ca_id",), "cdc_flag", "cdc_dsn", surrogate_key="SK_AccountID")
    base = current.select("ca_id", "seq", *ACCOUNT_COLUMNS, "start_dt", "end_dt", "SK_AccountID",
                          ).withColumnRenamed("seq", "cdc_dsn")
    changes = s(f"SELECT cdc_flag, cdc_dsn, ca_id, {', '.join(ACCOUNT_COLUMNS)} FROM s_account_cdc")
    versions = apply_changes(base, changes, spec, batch_date).withColumnRenamed("cdc_dsn", "seq")
    old = current.select("SK_AccountID", "BatchID")
    _dim_account(wh, versions.join(old, "SK_AccountID", "left").localCheckpoint(), batch)

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
    # an updated trade keeps its creation time and first batch
    fresh = (fresh.alias("f").join(kept.alias("k"), "TradeID", "left").select(
        *[F.coalesce(F.col(f"k.{c}"), F.col(f"f.{c}")).alias(c)
          if c in ("SK_CreateDateID", "SK_CreateTimeID", "BatchID") else F.col(f"f.{c}")
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
