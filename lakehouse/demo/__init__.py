"""Fictitious, deterministic demo-bank data: valid-in-form identifiers, daily source extracts and
the defects planted in their deliveries (``lakehouse.demo.deliveries`` writes them)."""

from lakehouse.demo.bank import KEYS, SCHEMAS, DemoBank
from lakehouse.demo.defects import DefectPlan, PlantedDefect
from lakehouse.demo.identifiers import (
    DEMO_CARD_BINS,
    REGION_CODES,
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

__all__ = [
    "DEMO_CARD_BINS",
    "KEYS",
    "DefectPlan",
    "PlantedDefect",
    "REGION_CODES",
    "SCHEMAS",
    "DemoBank",
    "id_number_check_digit",
    "is_luhn_valid",
    "is_valid_id_number",
    "is_valid_mobile",
    "luhn_check_digit",
    "make_card_number",
    "make_id_number",
    "make_mobile",
    "make_name",
]
