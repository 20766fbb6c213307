"""Keyed pseudonyms without Spark: the Python twin, the expansion of ``pseudonym()`` in model
queries and the checks of where it may be called (their agreement with Spark:
tests/integration/test_pseudonyms.py)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from lakehouse.security.keys import KeyFile, create_key_file
from lakehouse.security.pseudonyms import (
    PSEUDONYM, QUARANTINE_KEY, call_problems, expand, hmac_key, pseudonym, pseudonym_sql)


@pytest.fixture
def provider(tmp_path):
    create_key_file(tmp_path / "master.key")
    return KeyFile(tmp_path / "master.key")


class Refusing:
    """A key provider that must not be asked."""

    def secret(self, purpose: str) -> bytes:
        raise AssertionError(f"the key provider was asked for {purpose}")


def test_a_pseudonym_is_the_hmac_of_the_value_under_the_purpose_secret(provider, tmp_path):
    secret = provider.secret(PSEUDONYM)
    assert pseudonym("张三", provider) == hmac.new(secret, "张三".encode(), hashlib.sha256).hexdigest()
    assert pseudonym(None, provider) is None
    assert pseudonym("", provider) != pseudonym("", provider, QUARANTINE_KEY)
    assert pseudonym("110101199001011234", provider) != hashlib.sha256(b"110101199001011234").hexdigest()
    create_key_file(tmp_path / "other.key")
    other = KeyFile(tmp_path / "other.key")
    assert pseudonym("110101199001011234", provider) != pseudonym("110101199001011234", other)


def test_the_hmac_key_never_shows_its_pads(provider):
    key = hmac_key(provider, PSEUDONYM)
    assert len(key.inner_pad) == len(key.outer_pad) == 64 and key.inner_pad != key.outer_pad
    assert repr(key) == "HmacKey(purpose='pseudonym')"


def test_model_queries_call_pseudonym_and_get_sql_without_the_secret(provider):
    sql = ("SELECT concat('P', substr(pseudonym(k.id_number), 1, 15)) AS party_id, "
           "'pseudonym(x)' AS text, PSEUDONYM(pseudonym(concat(a, ')'))) AS twice -- pseudonym(y)\n"
           "FROM ccs_card k")
    expanded, keys = expand(sql, provider)
    assert keys == [hmac_key(provider, PSEUDONYM)]
    twice = pseudonym_sql(pseudonym_sql("concat(a, ')')"))
    assert expanded == (
        f"SELECT concat('P', substr({pseudonym_sql('k.id_number')}, 1, 15)) AS party_id, "
        f"'pseudonym(x)' AS text, {twice} AS twice -- pseudonym(y)\nFROM ccs_card k")
    key = keys[0]
    assert key.inner_pad.hex() not in expanded.lower() and key.outer_pad.hex() not in expanded.lower()


def test_a_query_without_pseudonyms_is_left_alone_and_reads_no_key():
    sql = "SELECT pseudonym FROM t WHERE x.pseudonym(1) OR name = 'pseudonym(id)'"
    assert expand(sql, Refusing()) == (sql, [])


def test_pseudonym_takes_one_argument_and_stays_out_of_join_conditions():
    assert call_problems("SELECT pseudonym(a) AS p FROM t JOIN (SELECT pseudonym(b) AS q FROM u) s "
                         "ON s.q = t.p WHERE pseudonym(a) > 'x'") == []
    assert call_problems("SELECT pseudonym(a, b) AS p FROM t JOIN u ON pseudonym(t.a) = u.p") == [
        "pseudonym(a, b) has 2 arguments; pseudonym() takes one",
        "pseudonym(t.a) is in a join condition, where Spark cannot read its key"]
