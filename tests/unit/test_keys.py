"""The local key provider: owner-only master key, per-purpose secrets, clear refusals."""

from __future__ import annotations

import os

import pytest

from lakehouse.errors import ConfigError
from lakehouse.security.keys import KeyFile, create_key_file


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
