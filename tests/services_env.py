"""A project whose data services can be served without running the layers: the mart tables the
demo services read, written with delta-rs (synthetic rows whose values carry their data date),
the services' lifecycle and API keys in governance, and the server on a free loopback port."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx

from lakehouse.config import load_project
from lakehouse.engine import delta_rs
from lakehouse.governance.records import ServiceEventsRecord, ServiceKeysRecord, spec_of
from lakehouse.services import api_keys
from lakehouse.services.lifecycle import next_event
from lakehouse.zones.tables import Column, TableSpec

CUSTOMER_360 = [("party_id", "string"), ("party_name", "string"), ("gender", "string"), ("age", "int"),
                ("mobile", "string"), ("branch_name", "string"), ("city", "string"),
                ("deposit_accounts", "int"), ("credit_cards", "int"), ("loans", "int"),
                ("total_assets_cny", "decimal(20,2)"), ("total_liabilities_cny", "decimal(20,2)"),
                ("mtd_inflow", "decimal(20,2)"), ("rfm_segment", "string"), ("lifecycle_stage", "string"),
                ("risk_warnings", "array<string>"), ("data_date", "date")]
RISK_WARNING = [("party_id", "string"), ("indicator", "string"), ("warning_level", "string"),
                ("observed", "decimal(20,2)"), ("detail", "string"), ("data_date", "date")]
TEST_LIMITS = ("limits: {rate_per_second: 50, latency_p99_ms: 50, max_rows: 10}",
               "limits: {rate_per_second: 0.5, burst: 3, latency_p99_ms: 50, max_rows: 10}")
RETIRED = """
  - name: customer_basic
    version: 1
    owner: li.na
    description: "客户基本信息 / a party's name and branch (retired, use customer_360)"
    grade: general
    query:
      table: mart.mart_customer_360
      parameters:
        - {name: party_id, type: string, description: 当事人编号 / the party id}
      output: [party_id, party_name, branch_name]
    consumers: [app.customer_desk]
    limits: {rate_per_second: 10, latency_p99_ms: 50}
"""


def party_id(i: int) -> str:
    return f"P{i:08d}"


def customer_rows(data_date: date, parties: int) -> list[dict]:
    """One row per party; ``lifecycle_stage`` and the assets carry the data date."""
    day = data_date.toordinal() % 1000
    return [{"party_id": party_id(i), "party_name": f"测试客户{i}", "gender": "F" if i % 2 else "M",
             "age": 20 + i % 60, "mobile": f"139{i:08d}", "branch_name": "测试支行", "city": "北京",
             "deposit_accounts": 1, "credit_cards": i % 3, "loans": i % 2,
             "total_assets_cny": Decimal(f"{i * 1000 + day}.25"), "total_liabilities_cny": Decimal("0.00"),
             "mtd_inflow": Decimal("12345.67"), "rfm_segment": "high_value",
             "lifecycle_stage": f"as-of-{data_date.isoformat()}",
             "risk_warnings": ["overdue_loan:high"] if i % 5 == 0 else [], "data_date": data_date}
            for i in range(parties)]


def warning_rows(data_date: date, parties: int) -> list[dict]:
    return [{"party_id": party_id(i), "indicator": indicator, "warning_level": "high",
             "observed": Decimal("31.00"), "detail": f"as of {data_date.isoformat()}", "data_date": data_date}
            for i in range(0, parties, 5) for indicator in ("overdue_loan", "unusual_outflow")]


def mart_spec(project, name: str, columns) -> TableSpec:
    from lakehouse.layers.model_tables import model_spec

    path = model_spec(project, project.models[name]).path
    return TableSpec(name=name, zone="standard", layer="mart", path=path,
                     columns=tuple(Column(n, t) for n, t in columns), partition_by=("data_date",))


def write_date(project, data_date: date, parties: int) -> None:
    """The customer 360 and risk warning marts of ``data_date`` (one commit each)."""
    delta_rs.append(mart_spec(project, "mart_customer_360", CUSTOMER_360), customer_rows(data_date, parties))
    delta_rs.append(mart_spec(project, "mart_risk_warning", RISK_WARNING), warning_rows(data_date, parties))


CUSTOMER_360_LIMITS = "limits: {rate_per_second: 200, burst: 400,"
"""customer_360's rate limit in conf/services.yaml (the benchmark lifts it)."""


def make_project(folder: Path, parties: int, dates: list[date], retired: bool = True,
                 unlimited: bool = False):
    """A project in ``folder`` (the repo's conf, layers and rules; root inside ``folder``) with the
    marts written for ``dates``, the demo services published (risk_warning's limit lowered to 3
    calls, then 1 per 2 s), with ``retired`` a retired service ``customer_basic``, and with
    ``unlimited`` customer_360 callable as fast as a load generator goes."""
    import shutil

    repo = Path(__file__).resolve().parent.parent
    for name in ("conf", "layers", "quality_rules"):
        shutil.copytree(repo / name, folder / name)
    services = (folder / "conf" / "services.yaml")
    text = services.read_text().replace(*TEST_LIMITS)
    if unlimited:
        assert CUSTOMER_360_LIMITS in text, "conf/services.yaml: customer_360's limits changed"
        text = text.replace(CUSTOMER_360_LIMITS, "limits: {rate_per_second: 1000000, burst: 1000000,")
    services.write_text(text + (RETIRED if retired else ""))
    settings = (folder / "conf" / "lakehouse.yaml")
    settings.write_text(settings.read_text().replace("./lakehouse_data", str(folder / "lakehouse_data")))
    project = load_project(folder / "conf")
    for day in dates:
        write_date(project, day, parties)
    events = []  # every step in one commit (the server reads them as the CLI writes them)
    for name, contract in project.services.items():
        steps = [("registered", "zhang.wei", True), ("approved", contract.owner, False),
                 ("published", "zhang.wei", True)]
        if retired and name == "customer_basic":
            steps.append(("retired", "li.na", False))
        for event, by, manage in steps:
            events.append(next_event(contract, event, by, events, manage, "replaced by customer_360"
                                     if event == "retired" else ""))
    delta_rs.append(spec_of(ServiceEventsRecord, project.settings.root), [e.as_row() for e in events])
    return project


def issue_keys(project, *principals: str) -> dict[str, str]:
    """A key per principal, kept hashed in one commit."""
    keys, records = {}, []
    for principal in principals:
        key, record = api_keys.new_key(principal, "zhang.wei")
        keys[principal] = key
        records.append(record.as_row())
    delta_rs.append(spec_of(ServiceKeysRecord, project.settings.root), records)
    return keys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(app, port: int | None = None):
    """``app`` served by uvicorn on 127.0.0.1 in a thread; yields its base URL; stopped after."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the services server on {base} did not become ready")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)
