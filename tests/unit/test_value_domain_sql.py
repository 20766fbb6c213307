"""Value-domain SQL builders without Spark: constants shared with the Python validators,
argument errors, identifier quoting, and no pyspark import (the Spark side is in
tests/integration/test_value_domains.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.demo import identifiers as ids
from lakehouse.quality import value_domains as vd
from lakehouse.quality.value_domains import NAMED_CHECKS, named_check_sql, range_sql
from lakehouse.sql import quote_column

REPO = Path(__file__).resolve().parents[2]
VALIDATORS = {
    "gb11643": ids.is_valid_id_number,
    "luhn": ids.is_luhn_valid,
    "cn_mobile": ids.is_valid_mobile,
}


def test_named_check_constants_match_the_python_validators():
    # one definition of the ID number constants, used by both
    assert vd.gb11643 is ids.gb11643
    assert set(NAMED_CHECKS) == set(VALIDATORS)
    assert all(isinstance(d, str) and d and "\n" not in d for d in NAMED_CHECKS.values())


def test_unknown_named_check_names_the_known_ones():
    with pytest.raises(ValueError, match="known checks: cn_mobile, gb11643, luhn"):
        named_check_sql("c", "iban")


def test_quote_column():
    assert quote_column("a") == "`a`"
    assert quote_column("a`b") == "`a``b`"
    assert quote_column("t.c d") == "`t.c d`"
    with pytest.raises(ValueError):
        quote_column("")


def test_range_rejects_bad_bounds():
    with pytest.raises(ValueError, match="empty range"):
        range_sql("c", 5, 1)
    with pytest.raises(ValueError, match="finite"):
        range_sql("c", float("nan"), None)
    with pytest.raises(TypeError):
        range_sql("c", True, None)
    with pytest.raises(ValueError, match="38 digits"):
        range_sql("c", None, 10**40)
    assert range_sql("c", None, None) == "TRUE"
    assert range_sql("c", "2020-01-01", None) == "(`c` >= '2020-01-01')"


def test_module_does_not_import_pyspark():
    code = ("import sys, lakehouse.quality.value_domains; "
            "assert not any(m.split('.')[0] == 'pyspark' for m in sys.modules), 'pyspark'")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
