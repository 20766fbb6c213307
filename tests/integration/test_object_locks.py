"""Table-date locks on S3-compatible object storage, against a real S3 server on loopback."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import pytest

from lakehouse.errors import ConfigError
from lakehouse.zones import object_locks
from lakehouse.zones.locks import TableBusy, table_date_lock
from tests.s3_server import BUCKET, s3_server

ROOT = f"s3a://{BUCKET}/lake"
D1, D2 = date(2026, 11, 1), date(2026, 11, 2)
KEY = "lake/_locks/near_source.cbs_customer/2026-11-01.lock"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with s3_server(tmp_path_factory.mktemp("s3")) as running:
        yield running


@pytest.fixture
def s3(server, monkeypatch):
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    return server


def crashed_holder(table: str, day: date, holder: str, lease: timedelta) -> object_locks.ObjectLock:
    """A run that took the lock and died: no renewal, no release."""
    lock = object_locks.ObjectLock(object_locks.s3_client(), object_locks.lock_object(ROOT, table, day),
                                   table, day, holder, lease)
    lock.acquire()
    return lock


def test_two_runs_cannot_both_hold_a_table_date_on_object_storage(s3):
    with table_date_lock(ROOT, "near_source.cbs_customer", D1, "run-1"):
        assert s3.keys("lake/_locks/") == [KEY]
        held = json.loads(s3.client().get_object(Bucket=BUCKET, Key=KEY)["Body"].read())
        assert held["holder"] == "run-1"
        with pytest.raises(TableBusy) as caught:
            with table_date_lock(ROOT, "near_source.cbs_customer", D1, "run-2"):
                pytest.fail("run-2 got the lock run-1 holds")
        message = caught.value.render()
        assert caught.value.transient
        assert "near_source.cbs_customer for 2026-11-01" in message and "held by run-1" in message
        assert f"s3://{BUCKET}/{KEY}" in message
        # another date or another table is free
        with table_date_lock(ROOT, "near_source.cbs_customer", D2, "run-2"):
            pass
        with table_date_lock(ROOT, "near_source.cbs_account", D1, "run-2"):
            pass
    assert s3.keys("lake/_locks/") == []  # released, probes removed
    with table_date_lock(ROOT, "near_source.cbs_customer", D1, "run-2"):
        pass


def test_a_crashed_holders_lock_is_taken_over_once_its_lease_has_run_out(s3):
    crashed = crashed_holder("t", D1, "crashed", timedelta(seconds=1))
    time.sleep(2.5)  # the store's clock has second precision
    with table_date_lock(ROOT, "t", D1, "run-2"):
        held = json.loads(s3.client().get_object(Bucket=BUCKET, Key="lake/_locks/t/2026-11-01.lock")["Body"].read())
        assert held["holder"] == "run-2"
        crashed.release()  # a late release by the crashed run leaves run-2's lock alone
        assert s3.keys("lake/_locks/t/") == ["lake/_locks/t/2026-11-01.lock"]
        assert not crashed.renew()  # nor can it renew a lock that is no longer its own


def test_a_lock_within_its_lease_is_not_taken_over(s3):
    crashed_holder("t", D2, "slow-run", timedelta(minutes=5))
    with pytest.raises(TableBusy, match="held by slow-run"):
        with table_date_lock(ROOT, "t", D2, "run-2"):
            pass


def test_the_holder_renews_its_lease_while_it_works(s3):
    with object_locks.held(ROOT, "t", date(2026, 11, 3), "long-run", timedelta(seconds=3)):
        time.sleep(4.5)  # longer than the lease: only renewals keep it
        with pytest.raises(TableBusy, match="held by long-run"):
            with table_date_lock(ROOT, "t", date(2026, 11, 3), "run-2"):
                pass


def test_the_lock_lives_under_the_roots_folder_or_at_the_top_of_a_bare_bucket():
    assert object_locks.lock_object("s3a://bank-lake/lake/", "t", D1) == object_locks.LockObject(
        "bank-lake", "lake/_locks/t/2026-11-01.lock", "lake/_locks")
    assert object_locks.lock_object("s3a://bank-lake", "t", D1).key == "_locks/t/2026-11-01.lock"
    with pytest.raises(ConfigError, match="names no bucket"):
        object_locks.lock_object("s3a:///lake", "t", D1)


def test_a_missing_bucket_is_a_configuration_error_naming_root(s3):
    with pytest.raises(ConfigError) as caught:
        with table_date_lock("s3a://no-such-bucket/lake", "t", D1, "run-1"):
            pass
    assert "no-such-bucket" in caught.value.render() and "key: root" in caught.value.render()


class StoreIgnoringConditions:
    """A store that overwrites whatever the request's conditions say."""

    class meta:
        endpoint_url = "http://old-store"

    def put_object(self, **request):
        return {"ETag": '"1"'}

    def delete_object(self, **request):
        return {}


def test_a_store_that_ignores_conditional_writes_is_refused(monkeypatch):
    monkeypatch.setattr(object_locks, "s3_client", StoreIgnoringConditions)
    with pytest.raises(ConfigError) as caught:
        with table_date_lock(ROOT, "t", D1, "run-1"):
            pytest.fail("a lock was taken on a store that cannot hold one")
    assert "ignores conditional writes" in caught.value.render()
    assert "If-None-Match" in caught.value.render()


def test_a_lease_that_is_not_a_number_names_the_variable(monkeypatch):
    monkeypatch.setenv(object_locks.LEASE_VARIABLE, "ten minutes")
    with pytest.raises(ConfigError, match="LAKEHOUSE_LOCK_LEASE_SECONDS"):
        object_locks.lease()
