"""Write examples/tpcdi/conf/sources/tpcdi/*.yaml, the source contracts of the TPC-DI files
(TPC-DI v1.1.0, clause 2.2), from the compact column lists below. Run it after editing them;
the YAML files are what the workload reads."""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent.parent
OUT = HERE / "conf" / "sources" / "tpcdi"
D = "date"
TS = "timestamp"
I = "integer"
S = "string"
M = "decimal(15,2)"
SENSITIVE = {"c_tax_id", "c_dob", "c_l_name", "c_f_name", "c_email_1", "c_email_2", "c_phone_1",
             "c_phone_2", "c_phone_3", "c_local_1", "c_local_2", "c_local_3", "c_adline1",
             "c_adline2", "phone", "address_line1", "address_line2", "last_name", "first_name"}

CDC = [("cdc_flag", S), ("cdc_dsn", I)]
CUSTOMER = [("c_id", I), ("c_tax_id", S), ("c_st_id", S), ("c_l_name", S), ("c_f_name", S),
            ("c_m_name", S), ("c_gndr", S), ("c_tier", I), ("c_dob", D), ("c_adline1", S),
            ("c_adline2", S), ("c_zipcode", S), ("c_city", S), ("c_state_prov", S), ("c_ctry", S),
            *[(f"c_{p}_{n}", S) for n in (1, 2, 3) for p in ("ctry", "area", "local", "ext")],
            ("c_email_1", S), ("c_email_2", S), ("c_lcl_tx_id", S), ("c_nat_tx_id", S)]
ACCOUNT = [("ca_id", I), ("ca_b_id", I), ("ca_c_id", I), ("ca_name", S), ("ca_tax_st", I),
           ("ca_st_id", S)]
TRADE = [("t_id", I), ("t_dts", TS), ("t_st_id", S), ("t_tt_id", S), ("t_is_cash", "boolean"),
         ("t_s_symb", S), ("t_qty", I), ("t_bid_price", M), ("t_ca_id", I), ("t_exec_name", S),
         ("t_trade_price", M), ("t_chrg", M), ("t_comm", M), ("t_tax", M)]
CASH = [("ct_ca_id", I), ("ct_dts", TS), ("ct_amt", M), ("ct_name", S)]
HOLDING = [("hh_h_t_id", I), ("hh_t_id", I), ("hh_before_qty", I), ("hh_after_qty", I)]
MARKET = [("dm_date", D), ("dm_s_symb", S), ("dm_close", M), ("dm_high", M), ("dm_low", M),
          ("dm_vol", I)]
WATCH = [("w_c_id", I), ("w_s_symb", S), ("w_dts", TS), ("w_action", S)]

# entity: (file, batches, load type, keys, columns, delivery extras)
PIPE = {"delimiter": "|", "header": False, "quote": ""}
SOURCES = {
    "date": ("Date.txt", "historical", "snapshot", ["sk_dateid"], [
        ("sk_dateid", I), ("datevalue", D), ("datedesc", S), ("calendaryearid", I),
        ("calendaryeardesc", S), ("calendarqtrid", I), ("calendarqtrdesc", S),
        ("calendarmonthid", I), ("calendarmonthdesc", S), ("calendarweekid", I),
        ("calendarweekdesc", S), ("dayofweeknum", I), ("dayofweekdesc", S), ("fiscalyearid", I),
        ("fiscalyeardesc", S), ("fiscalqtrid", I), ("fiscalqtrdesc", S), ("holidayflag", "boolean")],
        PIPE),
    "time": ("Time.txt", "historical", "snapshot", ["sk_timeid"], [
        ("sk_timeid", I), ("timevalue", S), ("hourid", I), ("hourdesc", S), ("minuteid", I),
        ("minutedesc", S), ("secondid", I), ("seconddesc", S), ("markethoursflag", "boolean"),
        ("officehoursflag", "boolean")], PIPE),
    "status_type": ("StatusType.txt", "historical", "snapshot", ["st_id"],
                    [("st_id", S), ("st_name", S)], PIPE),
    "tax_rate": ("TaxRate.txt", "historical", "snapshot", ["tx_id"],
                 [("tx_id", S), ("tx_name", S), ("tx_rate", "decimal(6,5)")], PIPE),
    "trade_type": ("TradeType.txt", "historical", "snapshot", ["tt_id"],
                   [("tt_id", S), ("tt_name", S), ("tt_is_sell", I), ("tt_is_mrkt", I)], PIPE),
    "industry": ("Industry.txt", "historical", "snapshot", ["in_id"],
                 [("in_id", S), ("in_name", S), ("in_sc_id", S)], PIPE),
    "hr": ("HR.csv", "historical", "snapshot", ["employee_id"], [
        ("employee_id", I), ("manager_id", I), ("first_name", S), ("last_name", S),
        ("middle_initial", S), ("job_code", I), ("branch", S), ("office", S), ("phone", S)],
        {"delimiter": ",", "header": False}),
    "prospect": ("Prospect.csv", "every", "snapshot", ["agency_id"], [
        ("agency_id", S), ("last_name", S), ("first_name", S), ("middle_initial", S),
        ("gender", S), ("address_line1", S), ("address_line2", S), ("postal_code", S),
        ("city", S), ("state", S), ("country", S), ("phone", S), ("income", I),
        ("number_cars", I), ("number_children", I), ("marital_status", S), ("age", I),
        ("credit_rating", I), ("own_or_rent_flag", S), ("employer", S),
        ("number_credit_cards", I), ("net_worth", I)], {"delimiter": ",", "header": False}),
    "trade": ("Trade.txt", "historical", "append", ["t_id"], TRADE, PIPE),
    "trade_history": ("TradeHistory.txt", "historical", "append", [],
                      [("th_t_id", I), ("th_dts", TS), ("th_st_id", S)], PIPE),
    "cash_transaction": ("CashTransaction.txt", "historical", "append", [], CASH, PIPE),
    "holding_history": ("HoldingHistory.txt", "historical", "append", [], HOLDING, PIPE),
    "daily_market": ("DailyMarket.txt", "historical", "append", [], MARKET, PIPE),
    "watch_history": ("WatchHistory.txt", "historical", "append", [], WATCH, PIPE),
    # incremental batches: change-data-capture rows, CDC_FLAG and CDC_DSN first
    "customer_cdc": ("Customer.txt", "incremental", "zipper", ["c_id"], CDC + CUSTOMER, PIPE),
    "account_cdc": ("Account.txt", "incremental", "zipper", ["ca_id"], CDC + ACCOUNT, PIPE),
    "trade_cdc": ("Trade.txt", "incremental", "zipper", ["t_id"], CDC + TRADE, PIPE),
    "cash_transaction_cdc": ("CashTransaction.txt", "incremental", "append", [], CDC + CASH, PIPE),
    "holding_history_cdc": ("HoldingHistory.txt", "incremental", "append", [], CDC + HOLDING, PIPE),
    "daily_market_cdc": ("DailyMarket.txt", "incremental", "append", [], CDC + MARKET, PIPE),
    "watch_history_cdc": ("WatchHistory.txt", "incremental", "append", [], CDC + WATCH, PIPE),
}

XML_FIELDS = {
    "action_type": ("@ActionType", S), "action_ts": ("@ActionTS", TS),
    "c_id": ("Customer/@C_ID", I), "c_tax_id": ("Customer/@C_TAX_ID", S),
    "c_gndr": ("Customer/@C_GNDR", S), "c_tier": ("Customer/@C_TIER", I),
    "c_dob": ("Customer/@C_DOB", D),
    "c_l_name": ("Customer/Name/C_L_NAME", S), "c_f_name": ("Customer/Name/C_F_NAME", S),
    "c_m_name": ("Customer/Name/C_M_NAME", S),
    **{f"c_{f.lower()}": (f"Customer/Address/C_{f}", S)
       for f in ("ADLINE1", "ADLINE2", "ZIPCODE", "CITY", "STATE_PROV", "CTRY")},
    "c_email_1": ("Customer/ContactInfo/C_PRIM_EMAIL", S),
    "c_email_2": ("Customer/ContactInfo/C_ALT_EMAIL", S),
    **{f"c_{p}_{n}": (f"Customer/ContactInfo/C_PHONE_{n}/C_{tag}", S) for n in (1, 2, 3)
       for p, tag in (("ctry", "CTRY_CODE"), ("area", "AREA_CODE"), ("local", "LOCAL"),
                      ("ext", "EXT"))},
    "c_lcl_tx_id": ("Customer/TaxInfo/C_LCL_TX_ID", S),
    "c_nat_tx_id": ("Customer/TaxInfo/C_NAT_TX_ID", S),
    "ca_id": ("Customer/Account/@CA_ID", I), "ca_tax_st": ("Customer/Account/@CA_TAX_ST", I),
    "ca_b_id": ("Customer/Account/CA_B_ID", I), "ca_name": ("Customer/Account/CA_NAME", S),
}

FINWIRE = {
    "CMP": [("pts", 15, TS), ("rec_type", 3, S), ("company_name", 60, S), ("cik", 10, I),
            ("status", 4, S), ("industry_id", 2, S), ("sp_rating", 4, S),
            ("founding_date", 8, D), ("addr_line1", 80, S), ("addr_line2", 80, S),
            ("postal_code", 12, S), ("city", 25, S), ("state_province", 20, S),
            ("country", 24, S), ("ceo_name", 46, S), ("description", 150, S)],
    "SEC": [("pts", 15, TS), ("rec_type", 3, S), ("symbol", 15, S), ("issue_type", 6, S),
            ("status", 4, S), ("name", 70, S), ("ex_id", 6, S), ("sh_out", 13, I),
            ("first_trade_date", 8, D), ("first_trade_exchg", 8, D), ("dividend", 12, M),
            ("co_name_or_cik", None, S)],
    "FIN": [("pts", 15, TS), ("rec_type", 3, S), ("year", 4, I), ("quarter", 1, I),
            ("qtr_start_date", 8, D), ("posting_date", 8, D), ("revenue", 17, M),
            ("earnings", 17, M), ("eps", 12, M), ("diluted_eps", 12, M), ("margin", 12, M),
            ("inventory", 17, M), ("assets", 17, M), ("liabilities", 17, M),
            ("sh_out", 13, I), ("diluted_sh_out", 13, I), ("co_name_or_cik", None, S)],
}
FORMATS = {"pts": "%Y%m%d-%H%M%S", "founding_date": "%Y%m%d", "first_trade_date": "%Y%m%d",
           "first_trade_exchg": "%Y%m%d", "qtr_start_date": "%Y%m%d", "posting_date": "%Y%m%d",
           "action_ts": "%Y-%m-%dT%H:%M:%S"}


def attribute(name: str, type_: str, keys: list[str]) -> dict:
    words = name.replace("_", " ")
    spec = {"name": name, "type": type_, "business_name": {"zh": words, "en": words},
            "security_level": 3 if name in SENSITIVE else 1,
            "standard": f"TPCDI-{name.upper()}"}
    if name in keys:
        spec["nullable"] = False
    if name in FORMATS:
        spec["format"] = FORMATS[name]
    return spec


def contract(entity: str, file: str, batches: str, load_type: str, keys: list[str],
             columns: list[tuple[str, str]], delivery: dict) -> dict:
    out = {"system": "tpcdi", "entity": entity,
           "description": f"TPC-DI {file} ({batches} batches)", "owner": "tpcdi.generator",
           "load_type": load_type, "keys": keys,
           "delivery": {"format": delivery.pop("format", "csv"),
                        "path": f"tpcdi/{{data_date}}/{file}", "path_date_format": "%Y-%m-%d",
                        "timestamp_format": "%Y-%m-%d %H:%M:%S", **delivery},
           "attributes": [attribute(n, t, keys) for n, t in columns]}
    if not keys:
        del out["keys"]
    return out


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    specs = {}
    for entity, (file, batches, load_type, keys, columns, delivery) in SOURCES.items():
        delivery = dict(delivery)
        if entity.endswith("_cdc") and load_type == "zipper":
            delivery["cdc"] = {"operation_column": "cdc_flag", "sequence_column": "cdc_dsn"}
        specs[entity] = contract(entity, file, batches, load_type, keys, columns, delivery)
    specs["customer_mgmt"] = contract(
        "customer_mgmt", "CustomerMgmt.xml", "historical", "append", [],
        [(n, t) for n, (_, t) in XML_FIELDS.items()],
        {"format": "xml", "xml": {"record_path": "Actions/Action",
                                  "fields": {n: p for n, (p, _) in XML_FIELDS.items()}}})
    columns: dict[str, str] = {}
    for layout in FINWIRE.values():
        for name, _, type_ in layout:
            columns.setdefault(name, type_)
    finwire = contract("finwire", "FINWIRE", "historical", "append", [], list(columns.items()),
                       {"format": "fixed-width-multi", "records": {
                           "record_type": {"start": 16, "width": 3},
                           "layouts": {kind: {n: w for n, w, _ in layout}
                                       for kind, layout in FINWIRE.items()}}})
    finwire["delivery"]["path"] = "tpcdi/{data_date}/FINWIRE*"
    specs["finwire"] = finwire
    for entity, spec in specs.items():
        text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)
        (OUT / f"{entity}.yaml").write_text(f"# generated by examples/tpcdi/scripts/make_contracts.py\n{text}")


if __name__ == "__main__":
    main()
