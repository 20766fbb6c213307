"""A data service's lifecycle: who may take which step, in which order (6.2.4.3)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from lakehouse.config.service_contracts import ServiceContract
from lakehouse.services import api_keys
from lakehouse.services.lifecycle import LifecycleRefused, next_event, serving, states

CONTRACT = ServiceContract.model_validate({
    "name": "customer_360", "version": 1, "owner": "li.na", "description": "d", "grade": "critical",
    "query": {"table": "mart.mart_customer_360",
              "parameters": [{"name": "party_id", "type": "string", "description": "p"}],
              "output": ["party_id"]},
    "consumers": ["app.customer_desk"], "limits": {"rate_per_second": 5, "latency_p99_ms": 20}})
START = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _walk(*steps, contract=CONTRACT):
    events = []
    for i, (event, by, manage) in enumerate(steps):
        events.append(next_event(contract, event, by, events, manage, now=START + timedelta(minutes=i)))
    return events


def test_a_service_goes_from_draft_to_published_to_retired_with_who_and_when():
    events = _walk(("registered", "zhang.wei", True), ("approved", "li.na", False),
                   ("published", "zhang.wei", True))
    state = states(events)[("customer_360", 1)]
    assert state.state == "published" and state.registered_by == "zhang.wei"
    assert [(e.event, e.by) for e in state.history] == [
        ("registered", "zhang.wei"), ("approved", "li.na"), ("published", "zhang.wei")]
    assert events[0].contract_json and events[1].contract_json is None
    assert state.contract() == CONTRACT  # served as registered, whatever services.yaml says now
    retired = _walk(("registered", "zhang.wei", True), ("approved", "li.na", False),
                    ("published", "zhang.wei", True), ("retired", "li.na", False))
    assert serving(retired)["customer_360"].state == "retired"


def test_the_author_may_not_approve_even_as_the_owner():
    events = _walk(("registered", "li.na", True))
    with pytest.raises(LifecycleRefused, match="they registered it") as refused:
        next_event(CONTRACT, "approved", "li.na", events, True)
    assert "incompatible duties" in refused.value.problems[0].message


def test_only_the_owner_approves_and_steps_follow_their_order():
    events = _walk(("registered", "zhang.wei", True))
    with pytest.raises(LifecycleRefused, match="only the service's owner"):
        next_event(CONTRACT, "approved", "wang.fang", events, True)
    with pytest.raises(LifecycleRefused, match="cannot be published: it is draft") as refused:
        next_event(CONTRACT, "published", "zhang.wei", events, True)
    assert "lakehouse service approve customer_360" in refused.value.problems[0].fix
    with pytest.raises(LifecycleRefused, match="may not register"):
        next_event(CONTRACT, "registered", "chen.jie", [], False)


def test_a_changed_contract_needs_a_new_version():
    events = _walk(("registered", "zhang.wei", True))
    changed = CONTRACT.model_copy(update={"description": "other"})
    with pytest.raises(LifecycleRefused, match="already registered with other content") as refused:
        next_event(changed, "registered", "zhang.wei", events, True)
    assert "raise version" in refused.value.problems[0].fix
    with pytest.raises(LifecycleRefused, match="changed since it was registered"):
        next_event(changed, "approved", "li.na", events, False)


def test_the_newest_published_version_serves_while_a_new_draft_waits():
    v2 = CONTRACT.model_copy(update={"version": 2})
    events = _walk(("registered", "zhang.wei", True), ("approved", "li.na", False),
                   ("published", "zhang.wei", True))
    events.append(next_event(v2, "registered", "zhang.wei", events, True, now=START + timedelta(hours=1)))
    assert serving(events)["customer_360"].version == 1


def test_a_key_authenticates_its_principal_until_revoked_and_only_its_hash_is_kept():
    from lakehouse.governance.records import ServiceKeysRecord

    secret = "s" * 43
    record = ServiceKeysRecord(key_id="0123456789ab", principal="app.customer_desk",
                               key_hash=api_keys._hash(secret), event="issued", by="zhang.wei", at=START)
    ring = api_keys.KeyRing([record])
    assert ring.principal_of(f"lhk_0123456789ab_{secret}") == "app.customer_desk"
    assert ring.principal_of(f"lhk_0123456789ab_{'t' * 43}") is None
    assert ring.principal_of(None) is None and ring.principal_of("Bearer x") is None
    assert secret not in repr(record.as_row())
    revoked = ServiceKeysRecord(key_id="0123456789ab", principal=None, key_hash=None, event="revoked",
                                by="zhang.wei", at=START + timedelta(seconds=1))
    assert api_keys.KeyRing([revoked, record]).principal_of(f"lhk_0123456789ab_{secret}") is None
