"""The local key provider: owner-only master key, per-purpose secrets, clear refusals; values
sealed with its secrets."""

from __future__ import annotations

import os

import pytest

from lakehouse.errors import ConfigError, TerminalError
from lakehouse.security.keys import KeyFile, create_key_file
from lakehouse.security.sealing import QUARANTINE_LINE, seal, unseal


def test_a_new_key_file_is_owner_only_and_never_replaced(tmp_path):
    key = tmp_path / "keys" / "master.key"
    assert create_key_file(key)
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    first = key.read_bytes()
    assert len(first) == 32
    assert not create_key_file(key)
    assert key.read_bytes() == first


def test_each_purpose_has_its_own_stable_secret(tmp_path):
    key = tmp_path / "master.key"
    create_key_file(key)
    provider = KeyFile(key)
    assert provider.secret("pseudonym") == KeyFile(key).secret("pseudonym")
    assert provider.secret("pseudonym") != provider.secret("quarantine-key")
    assert key.read_bytes() not in (provider.secret("pseudonym"), repr(provider).encode())


def test_a_missing_or_open_key_file_is_refused_with_the_fix(tmp_path):
    missing = tmp_path / "absent.key"
    with pytest.raises(ConfigError) as refused:
        KeyFile(missing).secret("pseudonym")
    assert str(missing) in refused.value.render() and "make setup" in refused.value.render()

    shared = tmp_path / "shared.key"
    create_key_file(shared)
    os.chmod(shared, 0o644)
    with pytest.raises(ConfigError) as refused:
        KeyFile(shared).secret("pseudonym")
    assert "chmod 600" in refused.value.render()


def test_a_sealed_value_opens_only_with_its_key_purpose_and_context(tmp_path):
    key, other = tmp_path / "master.key", tmp_path / "other.key"
    create_key_file(key)
    create_key_file(other)
    line = "T3,6228480402564890,11010519491231002X,张三"
    sealed = seal(KeyFile(key), QUARANTINE_LINE, line, "near_source.ccs_card_txn")
    assert sealed.startswith("v1:") and "6228480402564890" not in sealed and "张三" not in sealed
    assert sealed != seal(KeyFile(key), QUARANTINE_LINE, line, "near_source.ccs_card_txn")  # nonce
    assert unseal(KeyFile(key), QUARANTINE_LINE, sealed, "near_source.ccs_card_txn") == line
    for provider, purpose, context, value in (
            (KeyFile(other), QUARANTINE_LINE, "near_source.ccs_card_txn", sealed),
            (KeyFile(key), "pseudonym", "near_source.ccs_card_txn", sealed),
            (KeyFile(key), QUARANTINE_LINE, "near_source.cbs_customer", sealed),
            (KeyFile(key), QUARANTINE_LINE, "near_source.ccs_card_txn", sealed[:-4] + "AAAA"),
            (KeyFile(key), QUARANTINE_LINE, "near_source.ccs_card_txn", "not sealed")):
        with pytest.raises(TerminalError, match="cannot be opened"):
            unseal(provider, purpose, value, context)
