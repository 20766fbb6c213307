"""The data services' server on loopback (no Spark): authentication, authorisation, masking,
limits, lifecycle, audit, OpenAPI, statistics and the atomic switch of the serving copy."""

from __future__ import annotations

import threading
import time
from datetime import date

import httpx
import pytest

from lakehouse.engine import delta_rs
from lakehouse.governance.records import AccessAuditRecord, ServiceCallsRecord, spec_of
from lakehouse.security import audit
from lakehouse.services.app import create_app
from lakehouse.services.runtime import Timings
from tests.services_env import issue_keys, make_project, party_id, running_server, write_date

FIRST, SECOND = date(2026, 11, 1), date(2026, 11, 2)
PARTIES = 300
PRINCIPALS = ("app.customer_desk", "chen.jie", "li.na", "zhang.wei")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("services"), PARTIES, [FIRST])
    keys = issue_keys(project, *PRINCIPALS)
    app = create_app(project, Timings(refresh_seconds=0.2, audit_seconds=0.05, stats_seconds=3600))
    with running_server(app) as base:
        yield project, keys, base, app.state.runtime


def _get(base, service, key=None, **params):
    headers = {"X-API-Key": key} if key else {}
    return httpx.get(f"{base}/services/{service}", params=params or {"party_id": party_id(5)},
                     headers=headers, timeout=10)


def _audit_records(project, runtime) -> list[AccessAuditRecord]:
    runtime.journal.commit()
    path = spec_of(AccessAuditRecord, project.settings.root).path
    return sorted((AccessAuditRecord.from_row(r) for r in delta_rs.rows(path)), key=lambda r: r.seq)


def test_no_credentials_or_a_wrong_key_is_401(served):
    _, keys, base, _ = served
    for key in (None, "lhk_000000000000_" + "x" * 43, keys["chen.jie"][:-1] + "?"):
        answer = _get(base, "customer_360", key)
        assert answer.status_code == 401, key
        assert answer.headers["WWW-Authenticate"].startswith("ApiKey")
        assert "X-API-Key" in answer.json()["detail"]


def test_a_principal_without_the_grant_is_403_naming_why_and_the_refusal_is_audited(served):
    project, keys, base, runtime = served
    before = len(_audit_records(project, runtime))
    answer = _get(base, "customer_360", keys["zhang.wei"])
    assert answer.status_code == 403
    body = answer.json()
    assert body["detail"] == "zhang.wei is not a consumer of service customer_360"
    assert "ask the service's owner li.na to add zhang.wei" in body["problems"][0]["fix"]
    records = _audit_records(project, runtime)
    assert len(records) == before + 1
    assert (records[-1].principal, records[-1].result, records[-1].rows_returned) == ("zhang.wei", "refused", None)


def test_a_masked_role_gets_masked_fields_and_a_cleared_role_clear_ones(served):
    _, keys, base, _ = served
    desk = _get(base, "customer_360", keys["app.customer_desk"]).json()
    analyst = _get(base, "customer_360", keys["chen.jie"]).json()
    clear, masked = analyst["rows"][0], desk["rows"][0]
    assert clear["party_name"] == "测试客户5" and clear["mobile"] == "13900000005"
    assert analyst["masked"] == []
    assert {"party_name", "mobile", "total_assets_cny"} <= set(desk["masked"])
    assert masked["party_name"] != clear["party_name"] and masked["party_name"].startswith("测")
    assert masked["mobile"] == "139****0005"
    assert "13900000005" not in str(desk)
    assert masked["party_id"] == clear["party_id"] and masked["age"] == clear["age"]  # level 2: clear


def test_over_the_limit_is_429_with_retry_after(served):
    _, keys, base, _ = served
    answers = [_get(base, "risk_warning", keys["app.customer_desk"]) for _ in range(5)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    limited = answers[3]
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert "0.5 times per second" in limited.json()["detail"]
    assert _get(base, "risk_warning", keys["chen.jie"]).status_code == 200  # per consumer


def test_a_retired_service_is_410_and_an_unknown_one_404(served):
    _, keys, base, _ = served
    gone = _get(base, "customer_basic", keys["app.customer_desk"])
    assert gone.status_code == 410 and "retired (replaced by customer_360)" in gone.json()["detail"]
    assert _get(base, "no_such_service", keys["app.customer_desk"]).status_code == 404


def test_bad_parameters_are_422_naming_the_parameter(served):
    _, keys, base, _ = served
    answer = httpx.get(f"{base}/services/customer_360", headers={"X-API-Key": keys["li.na"]})
    assert answer.status_code == 422 and "parameter party_id must be given, a string" in answer.json()["detail"]


def test_every_answered_call_leaves_one_audit_record_on_an_intact_chain(served):
    project, keys, base, runtime = served
    before = _audit_records(project, runtime)
    calls = [("li.na", 7), ("app.customer_desk", 8), ("li.na", 9), ("chen.jie", 10)]
    for who, i in calls:
        assert _get(base, "customer_360", keys[who], party_id=party_id(i)).status_code == 200
    records = _audit_records(project, runtime)
    new = records[len(before):]
    assert [(r.principal, r.result, r.rows_returned) for r in new] == [
        ("li.na", "allowed", 1), ("app.customer_desk", "masked", 1), ("li.na", "allowed", 1),
        ("chen.jie", "allowed", 1)]
    assert all(r.operation == "service" and "mart.mart_customer_360.mobile:3" in r.objects for r in new)
    assert party_id(7) not in str([r.as_row() for r in new])  # the query text is only hashed
    path = spec_of(AccessAuditRecord, project.settings.root).path
    assert audit._first_break(records, path) is None
    assert [r.seq for r in records] == list(range(1, len(records) + 1))


def test_the_openapi_description_matches_the_contracts(served):
    project, _, base, runtime = served
    document = httpx.get(f"{base}/openapi.json").json()
    published = {name for name in project.services if name != "customer_basic"}
    assert set(document["paths"]) == {f"/services/{name}" for name in published}
    assert document["components"]["securitySchemes"]["apiKey"] == {"type": "apiKey", "in": "header",
                                                                   "name": "X-API-Key"}
    for name in published:
        contract, operation = project.services[name], document["paths"][f"/services/{name}"]["get"]
        assert operation["x-version"] == contract.version and operation["x-owner"] == contract.owner
        assert operation["x-consumers"] == contract.consumers
        assert operation["x-latency-objective-ms"] == contract.limits.latency_p99_ms
        assert [(p["name"], p["schema"]["type"], p["required"]) for p in operation["parameters"]] == [
            (p.name, "integer" if p.type == "integer" else "string", True) for p in contract.query.parameters]
        row = operation["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["rows"]
        columns = row["items"]["properties"]
        assert list(columns) == contract.query.output
        assert {c: v["x-security-level"] for c, v in columns.items()} == {
            c: runtime.levels[contract.table][c] for c in contract.query.output}
        assert set(operation["responses"]) >= {"200", "401", "403", "410", "429"}


def test_health_readiness_statistics_and_their_governance_record(served):
    project, keys, base, runtime = served
    assert httpx.get(f"{base}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{base}/ready").json()
    assert ready["ready"] is True and set(ready["services"]) == {"customer_360", "risk_warning"}
    _get(base, "customer_360", keys["li.na"])
    stats = {(s["service"], s["consumer"]): s for s in httpx.get(f"{base}/api/stats").json()}
    mine = stats[("customer_360", "li.na")]
    assert mine["calls"] >= 1 and 0 < mine["p50_ms"] <= mine["p99_ms"] <= mine["max_ms"]
    assert stats[("customer_360", "anonymous")]["refused"] >= 1
    page = httpx.get(f"{base}/stats").text
    assert "<td>li.na</td>" in page and "governance.service_calls" in page
    runtime.write_stats()
    written = delta_rs.rows(spec_of(ServiceCallsRecord, project.settings.root).path)
    assert any(r["service"] == "customer_360" and r["consumer"] == "li.na" and r["calls"] >= 1
               for r in written)


def test_the_catalog_lists_the_published_services(served):
    _, _, base, _ = served
    page = httpx.get(f"{base}/").text
    assert "customer_360" in page and "risk_warning" in page and "customer_basic" not in page
    assert "mobile (L3)" in page


def test_a_refresh_during_load_never_serves_a_mix_of_two_dates(served):
    project, keys, base, runtime = served
    seen: list[tuple[str, str, str]] = []
    stop = threading.Event()

    def hammer():
        with httpx.Client(base_url=base, headers={"X-API-Key": keys["li.na"]}) as client:
            while not stop.is_set():
                answer = client.get("/services/customer_360", params={"party_id": party_id(11)})
                if answer.status_code == 429:  # the consumer's limit; wait as told
                    time.sleep(0.05)
                    continue
                body = answer.json()
                row = body["rows"][0]
                seen.append((body["data_date"], row["data_date"], row["lifecycle_stage"]))

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    write_date(project, SECOND, PARTIES)
    deadline = time.monotonic() + 20
    while runtime.copies["customer_360"].snapshot.data_date != SECOND and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join()
    dates = {answered for answered, _, _ in seen}
    assert dates == {FIRST.isoformat(), SECOND.isoformat()}, dates
    for answered, row_date, stage in seen:
        assert row_date == answered and stage == f"as-of-{answered}"


def test_a_failing_backend_opens_the_circuit_then_a_good_trial_closes_it(served, monkeypatch):
    from lakehouse.security.audit import AuditUnavailable

    _, keys, base, runtime = served
    breaker = runtime.breakers["customer_360"]

    def failing(event):
        raise AuditUnavailable("the access could not be audited, so no data is returned", [], True)

    monkeypatch.setattr(runtime.journal, "record", failing)
    failed = [_get(base, "customer_360", keys["li.na"]) for _ in range(breaker.threshold)]
    assert {a.status_code for a in failed} == {503} and failed[0].json()["error"] == "unaudited"
    monkeypatch.undo()
    opened = _get(base, "customer_360", keys["li.na"])  # the backend is fine again, the circuit open
    assert opened.status_code == 503 and "circuit is open" in opened.json()["detail"]
    assert int(opened.headers["Retry-After"]) >= 1
    breaker._opened_at -= breaker.cooldown  # the cooldown over: one trial goes through
    assert _get(base, "customer_360", keys["li.na"]).status_code == 200 and breaker.state == "closed"


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


@pytest.mark.slow  # a browser start: seconds
def test_the_customer_360_page_shows_each_person_what_their_roles_allow_in_chromium(served):
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; run scripts/setup.sh (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    _, keys, base, _ = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/")
            assert page.locator("#catalog").inner_text().count("customer_360") >= 1
            shown = {}
            for who in ("chen.jie", "app.customer_desk"):
                page.goto(f"{base}/customer-360")
                page.fill("#key", keys[who])
                page.fill("#party", party_id(5))
                page.click("#go")
                page.wait_for_selector("#customer")
                cells = page.locator("#customer td[data-column]")
                shown[who] = {cells.nth(i).get_attribute("data-column"): (
                    cells.nth(i).inner_text(), cells.nth(i).get_attribute("class"))
                    for i in range(cells.count())}
            page.goto(f"{base}/customer-360")
            page.fill("#key", keys["zhang.wei"])
            page.fill("#party", party_id(5))
            page.click("#go")
            refusal = page.wait_for_selector("#error").inner_text()
        finally:
            browser.close()
    assert shown["chen.jie"]["mobile"] == ("13900000005", None)
    assert shown["app.customer_desk"]["mobile"] == ("139****0005", "masked")
    assert shown["app.customer_desk"]["party_name"][1] == "masked"
    assert shown["app.customer_desk"]["age"] == shown["chen.jie"]["age"]
    assert refusal.startswith("403: zhang.wei is not a consumer of service customer_360")


def test_a_new_version_serves_only_once_published_and_by_its_own_contract(served):
    # last in this module: it leaves customer_360 at v2, without chen.jie among its consumers
    from lakehouse.services.lifecycle import next_event
    from lakehouse.services.registry import ServiceRegistry

    project, keys, base, runtime = served
    v1 = project.services["customer_360"]
    v2 = v1.model_copy(update={"version": 2, "consumers": ["app.customer_desk", "li.na"]})
    registry = ServiceRegistry(project)
    spec = spec_of(type(registry.events()[0]), project.settings.root)

    def step(event, by, manage):
        delta_rs.append(spec, [next_event(v2, event, by, registry.events(), manage).as_row()])
        runtime.refresh()

    step("registered", "zhang.wei", True)
    step("approved", "li.na", False)
    answer = _get(base, "customer_360", keys["chen.jie"])
    assert answer.status_code == 200 and answer.json()["version"] == 1
    step("published", "zhang.wei", True)
    refused = _get(base, "customer_360", keys["chen.jie"])
    assert refused.status_code == 403 and "not a consumer" in refused.json()["detail"]
    served_v2 = _get(base, "customer_360", keys["li.na"]).json()
    assert served_v2["version"] == 2 and served_v2["rows"][0]["party_id"] == party_id(5)
