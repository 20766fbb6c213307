"""Identifier generators and validators of the demo bank (no Spark)."""

import random
from datetime import date

import pytest

from lakehouse.demo import (
    DEMO_CARD_BINS,
    id_number_check_digit,
    is_luhn_valid,
    is_valid_id_number,
    is_valid_mobile,
    luhn_check_digit,
    make_card_number,
    make_id_number,
    make_mobile,
    make_name,
)


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),  # the GB 11643-1999 example
        ("44052418800101001", "4"),
        ("11010119900307123", "3"),
    ],
)
def test_known_id_check_digits(first17, check):
    assert id_number_check_digit(first17) == check
    assert is_valid_id_number(first17 + check)


@pytest.mark.parametrize(
    "bad",
    [
        "11010519491231002",  # 17 characters
        "110105194912310021X",  # 19 characters
        "11010519491231002x",  # lower-case check character
        "110105194912310020",  # wrong check digit
        "A10105194912310020",  # not a digit
        "00010519491231002" + id_number_check_digit("00010519491231002"),  # no such province
        "11010519490230002" + id_number_check_digit("11010519490230002"),  # 30 February
        "11010517991231002" + id_number_check_digit("11010517991231002"),  # born before 1800
        "１１０１０５１９４９１２３１００２X",  # full-width digits
        110105194912310020,
        None,
    ],
)
def test_id_number_validator_rejects(bad):
    assert not is_valid_id_number(bad)


def test_id_check_digit_needs_17_digits():
    with pytest.raises(ValueError, match="17 ASCII digits"):
        id_number_check_digit("1101051949123100")


def test_generated_id_numbers_are_valid_and_carry_birth_date_and_sex():
    rng = random.Random(1)
    for i in range(500):
        born = date(1950, 1, 1).fromordinal(date(1950, 1, 1).toordinal() + i * 37)
        male = i % 2 == 0
        s = make_id_number(rng, born, male)
        assert is_valid_id_number(s), s
        assert s[6:14] == f"{born:%Y%m%d}"
        assert int(s[14:17]) % 2 == (1 if male else 0)
    assert make_id_number(rng, date(1980, 5, 6), True, region="310104").startswith("310104")


def test_luhn_known_numbers():
    assert is_luhn_valid("4539578763621486")
    assert not is_luhn_valid("4539578763621487")
    assert luhn_check_digit("453957876362148") == "6"
    assert luhn_check_digit("7992739871") == "3"  # the classic example 79927398713
    assert is_luhn_valid("79927398713")


@pytest.mark.parametrize(
    "bad", ["", "0", "4539 5787 6362 1486", "453957876362148a", 4539578763621486]
)
def test_luhn_validator_rejects_malformed(bad):
    assert not is_luhn_valid(bad)


def test_generated_card_numbers():
    rng = random.Random(2)
    for length in (16, 19):
        for _ in range(200):
            card = make_card_number(rng, rng.choice(DEMO_CARD_BINS), length)
            assert len(card) == length and card.startswith("62") and is_luhn_valid(card)
    with pytest.raises(ValueError, match="16 or 19"):
        make_card_number(rng, length=17)


def test_mobiles():
    rng = random.Random(3)
    assert all(is_valid_mobile(make_mobile(rng)) for _ in range(500))
    assert is_valid_mobile("13912345678")
    for bad in [
        "12912345678", "1391234567", "139123456789", "+8613912345678", "1391234567a", 13912345678
    ]:
        assert not is_valid_mobile(bad)


def test_names_are_short_chinese():
    rng = random.Random(4)
    for _ in range(300):
        name = make_name(rng)
        assert 2 <= len(name) <= 4
        assert all("\u4e00" <= ch <= "\u9fff" for ch in name)


def test_generators_are_deterministic():
    def draw(seed):
        rng = random.Random(seed)
        return (
            make_id_number(rng, date(1990, 1, 1), False),
            make_card_number(rng),
            make_mobile(rng),
            make_name(rng),
        )

    assert draw(9) == draw(9)
    assert draw(9) != draw(10)


def test_gb11643_constants_are_one_definition_shared_with_the_quality_check():
    from lakehouse.quality import value_domains
    from lakehouse.standards import gb11643

    assert value_domains.gb11643 is gb11643
    # the published example of GB 11643-1999
    assert gb11643.check_character("11010519491231002") == "X"
    assert len(gb11643.WEIGHTS) == 17 and len(gb11643.CHECK_CHARACTERS) == 11
