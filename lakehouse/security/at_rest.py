"""Encryption at rest (4.2.2.2 c): the keys and key wrapping every encrypted byte of the
lakehouse shares, whoever writes it (Spark, pyarrow, the raw zone).

Envelope encryption: every Parquet file and every raw file gets its own random data key; data
keys are wrapped (AES-256-GCM) by a key-encryption key taken from the key provider (purposes
``parquet-master`` and ``raw-master``), and the key provider's secrets are themselves wrapped by
the master key (``lakehouse.security.keys``): rotating the master key re-wraps one small record
and rewrites no data file.

Parquet files are encrypted with Parquet modular encryption, every column and the footer
("uniform" encryption): Spark does it through ``lakehouse.engine.parquet_encryption`` and the
key service ``LakehouseKms.java``; pyarrow (the staged extracts) through ``arrow_*`` here, with
the same wrapping, so each reads what the other wrote.
"""

from __future__ import annotations

import base64
import os
from datetime import timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PARQUET_PURPOSE = "parquet-master"
RAW_PURPOSE = "raw-master"
PARQUET_MASTER_KEY_ID = "lakehouse_parquet_v1"
NONCE_BYTES = 12
# Delta computes per-file min/max statistics and writes them into _delta_log in clear: a table
# keeps them only for columns below this level (the technical columns, dates, codes)
STATS_BELOW_LEVEL = 3
STATS_COLUMNS_PROPERTY = "delta.dataSkippingStatsColumns"


def wrap_key(key: bytes, master: bytes, master_id: str) -> str:
    """``key`` sealed by ``master`` (AES-256-GCM, ``master_id`` as associated data), base64: the
    format of ``LakehouseKms.wrapKey``."""
    nonce = os.urandom(NONCE_BYTES)
    return base64.b64encode(nonce + AESGCM(master).encrypt(nonce, key, master_id.encode())).decode("ascii")


def unwrap_key(wrapped: str, master: bytes, master_id: str) -> bytes:
    sealed = base64.b64decode(wrapped)
    return AESGCM(master).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], master_id.encode())


def raw_kek(project) -> bytes | None:
    """The raw zone's key-encryption key (None: encryption at rest is off)."""
    return _secret(project, RAW_PURPOSE)


def parquet_key(project) -> bytes | None:
    """The Parquet master key (None: encryption at rest is off)."""
    return _secret(project, PARQUET_PURPOSE)


def reading_key(project) -> bytes | None:
    """The Parquet master key to read with, even when encryption at rest is off (files written
    while it was on stay readable); None without a key file when it is off."""
    from lakehouse.errors import ConfigError
    from lakehouse.security.keys import for_project

    try:
        return for_project(project).secret(PARQUET_PURPOSE)
    except ConfigError:
        if project.settings.encrypt_at_rest:
            raise
        return None


def staged_parquet_options(project) -> dict:
    """``pyarrow.parquet.write_table`` options for a Parquet file the lakehouse stores (the
    staged extracts): encrypted, readable by Spark, when encryption at rest is on."""
    master = parquet_key(project)
    return {} if master is None else {"encryption_properties": arrow_encryption(master)}


def _secret(project, purpose: str) -> bytes | None:
    if not project.settings.encrypt_at_rest:
        return None
    from lakehouse.security.keys import for_project

    return for_project(project).secret(purpose)


def stats_columns(levels: dict[str, int], columns: list[tuple[str, str]], partition_by=()
                  ) -> dict[str, str]:
    """The Delta property that keeps per-file statistics (min/max, written in clear into
    ``_delta_log`` and its checksums) only for the ``columns`` (name, Spark SQL type) below
    level 3 (``levels``: column -> level; a column without a level is treated as protected)
    that Delta keeps statistics for (not partition columns, booleans, binaries or nested)."""
    kept = [name for name, spark_type in columns
            if levels.get(name, STATS_BELOW_LEVEL) < STATS_BELOW_LEVEL and name not in partition_by
            and not spark_type.startswith(_NO_STATS_TYPES)]
    if not kept:
        return {"delta.dataSkippingNumIndexedCols": "0"}
    return {STATS_COLUMNS_PROPERTY: ",".join(kept)}


_NO_STATS_TYPES = ("boolean", "binary", "array", "map", "struct")


# -- pyarrow ------------------------------------------------------------------------------------
def _crypto_factory(master: bytes):
    import pyarrow.parquet.encryption as pe

    class _Kms(pe.KmsClient):
        def __init__(self, _config):
            pe.KmsClient.__init__(self)

        def wrap_key(self, key_bytes, master_key_identifier):
            return wrap_key(key_bytes, master, master_key_identifier)

        def unwrap_key(self, wrapped_key, master_key_identifier):
            return unwrap_key(wrapped_key, master, master_key_identifier)

    return pe.CryptoFactory(_Kms), pe.KmsConnectionConfig()


def arrow_encryption(master: bytes):
    """pyarrow's ``encryption_properties`` for a Parquet file Spark can read back (uniform
    encryption under the Parquet master key ``master``)."""
    import pyarrow.parquet.encryption as pe

    factory, kms = _crypto_factory(master)
    config = pe.EncryptionConfiguration(footer_key=PARQUET_MASTER_KEY_ID, uniform_encryption=True,
                                        cache_lifetime=timedelta(minutes=10))
    return factory.file_encryption_properties(kms, config)


def arrow_dataset_decryption(master: bytes):
    """pyarrow.dataset's ``decryption_config`` for Parquet files written under ``master`` (what a
    reader without Spark, such as delta-rs's datasets, scans encrypted files with)."""
    import pyarrow.dataset as ds
    import pyarrow.parquet.encryption as pe

    factory, kms = _crypto_factory(master)
    return ds.ParquetDecryptionConfig(factory, kms, pe.DecryptionConfiguration(
        cache_lifetime=timedelta(minutes=10)))


def arrow_decryption(master: bytes):
    """pyarrow's ``decryption_properties`` for Parquet files written under ``master``."""
    import pyarrow.parquet.encryption as pe

    factory, kms = _crypto_factory(master)
    return factory.file_decryption_properties(kms, pe.DecryptionConfiguration(
        cache_lifetime=timedelta(minutes=10)))
