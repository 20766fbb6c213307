"""De-identified copies (4.2.2.4 d) without Spark: the keyed permutation, each replacement
method, conf/deidentify.yaml and the plan of which column gets which method."""

from __future__ import annotations

import datetime as dt
import random
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from lakehouse.config import load_project
from lakehouse.config.deidentify_rules import Replacement
from lakehouse.errors import ConfigError
from lakehouse.lifecycle.deidentify import plan
from lakehouse.lifecycle.replacements import replacer
from lakehouse.security.keyed_permutation import KeyedPermutation, permute_digits
from lakehouse.standards.formats import (
    id_number_check_digit,
    is_luhn_valid,
    is_valid_id_number,
    is_valid_mobile,
    luhn_check_digit,
)

REPO = Path(__file__).resolve().parents[2]
KEY, OTHER_KEY = bytes(range(32)), bytes(range(1, 33))
RNG = random.Random(11)


def replace(method: str, value, key: bytes = KEY, tweak: str = "T", valid=None, **options):
    return replacer(Replacement(method=method, **options), key, tweak, valid)(value)


def id_numbers(count: int) -> list[str]:
    found = set()
    while len(found) < count:
        born = dt.date(1950, 1, 1) + dt.timedelta(days=RNG.randrange(20_000))
        first17 = f"{RNG.choice(['110101', '310104', '440305'])}{born:%Y%m%d}{RNG.randrange(1000):03d}"
        found.add(first17 + id_number_check_digit(first17))
    return sorted(found)


@pytest.mark.parametrize("size", [1, 2, 37, 1000, 1001])
def test_the_keyed_permutation_is_a_permutation_and_depends_on_the_key(size):
    images = [KeyedPermutation(KEY, "t", size).apply(x) for x in range(size)]
    assert sorted(images) == list(range(size))
    if size >= 37:
        assert images != [KeyedPermutation(OTHER_KEY, "t", size).apply(x) for x in range(size)]
        assert images != [KeyedPermutation(KEY, "u", size).apply(x) for x in range(size)]


def test_walking_keeps_each_side_of_a_check():
    values = [f"{i:03d}" for i in range(1000)]
    out = [permute_digits(v, KEY, "card", same_as=is_luhn_valid) for v in values]
    assert len(set(out)) == len(values)
    assert all(is_luhn_valid(a) == is_luhn_valid(b) for a, b in zip(values, out))


def test_id_numbers_are_replaced_by_unique_valid_ones_consistently():
    sources = id_numbers(500)
    out = [replace("id_number", v) for v in sources]
    assert all(is_valid_id_number(v) for v in out)
    assert len(set(out)) == len(sources) and not set(out) & set(sources)
    assert out == [replace("id_number", v) for v in sources]  # the same value, the same replacement
    assert out != [replace("id_number", v, key=OTHER_KEY) for v in sources]


def test_a_wrong_check_character_stays_wrong_and_malformed_text_stays_malformed():
    valid = id_numbers(50)
    wrong = [v[:17] + ("0" if v[17] != "0" else "1") for v in valid]
    assert not any(is_valid_id_number(replace("id_number", v)) for v in wrong)
    assert len({replace("id_number", v) for v in wrong} | {replace("id_number", v) for v in valid}) == 100
    for text in ("11010119900230001X", "ABC1234567", "99010119900101001X"):
        replaced = replace("id_number", text)
        assert replaced != text and not is_valid_id_number(replaced)
        assert re.sub(r"[0-9]", "9", replaced) == re.sub(r"[0-9]", "9", text)  # letters kept in place
    assert replace("id_number", None) is None


def test_cards_keep_their_bin_and_luhn_outcome_and_mobiles_their_prefix():
    cards = []
    for _ in range(100):
        partial = "629901" + "".join(RNG.choice("0123456789") for _ in range(9))
        cards.append(partial + luhn_check_digit(partial))
    broken = [c[:-1] + str((int(c[-1]) + 3) % 10) for c in cards]
    for card in cards + broken:
        out = replace("card_number", card)
        assert out[:6] == "629901" and len(out) == 16 and out != card
        assert is_luhn_valid(out) == is_luhn_valid(card)
    assert len({replace("card_number", c) for c in cards + broken}) == 200
    mobiles = [RNG.choice(["138", "186", "199"]) + f"{RNG.randrange(10**8):08d}" for _ in range(100)]
    for mobile in mobiles:
        out = replace("mobile", mobile)
        assert is_valid_mobile(out) and out[:3] == mobile[:3] and out != mobile


def test_digits_keep_the_pattern_and_the_first_characters():
    out = replace("digits", "C0000012345", tweak="DS-PTY-0001")
    assert re.fullmatch(r"C[0-9]{10}", out) and out != "C0000012345"
    assert replace("digits", "6222021234", keep_first=4).startswith("6222")


def test_names_and_addresses_never_keep_their_own_value():
    for name in ("王伟", "李娜娜", "欧阳明华", "张"):
        out = replace("name", name)
        assert out != name and len(out) == max(2, min(len(name), 4))
        assert re.fullmatch(r"[\u4e00-\u9fff]+", out)
        assert out == replace("name", name)
    assert replace("address", "北京市东城区某路1号") != "北京市东城区某路1号"
    assert replace("redact", "某某超市") == "****"


def test_perturbed_numbers_and_shifted_dates_stay_within_their_bounds():
    for value in (Decimal("1234.56"), Decimal("-80.00"), Decimal("0.00"), 100_000):
        out = replace("perturb", value, percent=5)
        assert abs(out - value) <= abs(value) * Decimal("0.05") + Decimal("0.01")
        assert (out < 0) == (value < 0) and (out == 0) == (value == 0)
        if isinstance(value, Decimal):
            assert out.as_tuple().exponent == value.as_tuple().exponent
    day = dt.date(2026, 11, 1)
    assert abs((replace("shift", day, days=30) - day).days) <= 30
    assert replace("shift", day, days=30) == replace("shift", day, days=30)


def test_options_must_fit_their_method():
    with pytest.raises(ValueError, match="perturb needs 'percent'"):
        Replacement(method="perturb")
    with pytest.raises(ValueError, match="'days' applies to method shift"):
        Replacement(method="digits", days=3)


@pytest.fixture
def conf(tmp_path) -> Path:
    for folder in ("conf", "layers", "quality_rules"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    return tmp_path / "conf"


def test_a_standard_unknown_to_standards_yaml_is_a_located_error(conf):
    rules = conf / "deidentify.yaml"
    rules.write_text(rules.read_text().replace("DS-AGT-0201:", "DS-AGT-0299:"))
    with pytest.raises(ConfigError) as caught:
        load_project(conf)
    problem = next(p for p in caught.value.problems if "DS-AGT-0299" in str(p.value))
    assert problem.file.endswith("deidentify.yaml") and problem.line is not None
    assert "standards.yaml" in problem.fix


def test_the_plan_traces_methods_through_the_layers_and_names_every_undecided_column(conf, tmp_path):
    project = load_project(conf)
    copies = {c.spec.name: c for c in plan(project, ["near_source", "mart"], str(tmp_path / "copy"),
                                           lambda spec: None)}
    assert copies["cbs_customer"].methods["id_number"].rule.method == "id_number"
    assert copies["mart_customer_360"].methods["party_name"].rule.method == "name"
    assert copies["mart_customer_360"].methods["party_name"].reason == "from pty_party.party_name"
    assert copies["cbs_customer"].target.startswith(str(tmp_path / "copy"))
    assert "pty_party" not in copies  # the integrated layer was not asked for

    rules = conf / "deidentify.yaml"
    rules.write_text(rules.read_text().replace("  DS-EVT-0003: {method: keep}", ""))
    with pytest.raises(ConfigError) as caught:
        plan(load_project(conf), ["near_source"], str(tmp_path / "copy"), lambda spec: None)
    undecided = {p.key for p in caught.value.problems}
    assert {"columns.cbs_transaction.amount", "columns.ccs_card_txn.amount"} <= undecided


def test_a_method_that_does_not_fit_the_column_type_is_refused(conf, tmp_path):
    def types_of(spec):  # pty_party as built: birth_date is a date computed from the ID number
        return {"birth_date": "date", "party_id": "string"} if spec.name == "pty_party" else None

    rules = conf / "deidentify.yaml"
    decided = "  pty_party.birth_date: {method: shift, days: 180}"
    assert decided in rules.read_text()
    plan(load_project(conf), ["integrated"], str(tmp_path / "copy"), types_of)  # decided: no error
    rules.write_text(rules.read_text().split("\ncolumns:")[0])
    with pytest.raises(ConfigError) as caught:
        plan(load_project(conf), ["integrated"], str(tmp_path / "copy"), types_of)
    assert any(p.key == "columns.pty_party.birth_date" and "another type" in p.message
               for p in caught.value.problems)
    rules.write_text(rules.read_text() + "\ncolumns:\n  pty_party.birth_date: {method: digits}\n")
    with pytest.raises(ConfigError) as caught:
        plan(load_project(conf), ["integrated"], str(tmp_path / "copy"), types_of)
    assert any("is a date; method digits" in p.message for p in caught.value.problems)
