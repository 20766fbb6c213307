"""Rules that follow from a source contract and its data standards, so nobody writes them by hand.

- every key and non-nullable attribute is complete (``<column>.not_null``);
- the keys are unique (``keys.unique``);
- every value is in its standard's domain and length (``<column>.domain``, ``<column>.length``);
- the delivery matches its control file (``control.row_count``, ``control.amount_total``) and
  arrives by its expected-by time (``delivery.on_time``);
- a zipper table keeps one open row per key, each opening before it closes.
"""

from __future__ import annotations

from lakehouse.zones.tables import OPEN_END_DATE

from .models import SourceContract
from .quality_rules import QualityRule, parse_rule
from .registries import DataStandard


def _rule(name: str, dimension: str, severity: str, description: str, **check) -> QualityRule:
    rule = parse_rule(name=name, dimension=dimension, severity=severity, description=description,
                      **check)
    rule._derived = True
    return rule


def contract_rules(contract: SourceContract, standards: dict[str, DataStandard]) -> list[QualityRule]:
    """The rules derived from ``contract`` (delivery rules are added per delivery, see below)."""
    rules: list[QualityRule] = []
    keys = set(contract.keys)
    for attribute in contract.attributes:
        if attribute.name in keys or not attribute.nullable:
            rules.append(_rule(f"{attribute.name}.not_null", "completeness",
                               "fail" if attribute.name in keys else "warn",
                               f"{attribute.business_name.en} is "
                               + ("part of the key" if attribute.name in keys else "required by the contract"),
                               not_null=attribute.name))
    if contract.keys:
        rules.append(_rule("keys.unique", "uniqueness", "fail",
                           f"one row per key ({', '.join(contract.keys)})", unique=list(contract.keys)))
    for attribute in contract.attributes:
        standard = standards.get(attribute.standard)
        if standard is None:
            continue
        about = f"{attribute.business_name.en} follows {standard.id} ({standard.name.en})"
        domain = standard.domain
        if domain is not None:
            check = {}
            if domain.codes is not None:
                check = {"in_set": {"column": attribute.name, "values": list(domain.codes)}}
            elif domain.pattern is not None:
                check = {"pattern": {"column": attribute.name, "regex": domain.pattern}}
            elif domain.range is not None:
                check = {"between": {"column": attribute.name, "min": domain.range.min,
                                     "max": domain.range.max}}
            else:
                check = {"valid": {"column": attribute.name, "check": domain.check}}
            rules.append(_rule(f"{attribute.name}.domain", "validity", "warn", about, **check))
        if standard.length is not None and attribute.parsed_type.kind == "string":
            rules.append(_rule(f"{attribute.name}.length", "validity", "warn",
                               f"{about}: at most {standard.length} characters",
                               max_length={"column": attribute.name, "max": standard.length}))
    if contract.load_type == "zipper":
        rules.append(_rule("zipper.one_open_row_per_key", "uniqueness", "fail",
                           "exactly one open version per key", unique=list(contract.keys))
                     .model_copy(update={"scope": "table", "where": f"end_dt = DATE'{OPEN_END_DATE}'"}))
        rules.append(_rule("zipper.start_before_end", "consistency", "fail",
                           "every version starts before it ends", sql="start_dt < end_dt")
                     .model_copy(update={"scope": "table"}))
    return rules


AMOUNT_TOTAL = "control.amount_total"


def delivery_rules(contract: SourceContract, control_rows: int | None, parse_rejected: int,
                   expected_amount: float | None, amount_undecided: bool = False) -> list[QualityRule]:
    """Rules on one delivery: its loadable rows against the control file, and its arrival.
    ``amount_undecided``: the control file has an amount total, but the loadable rows' expected
    sum is unknown (the rule is still made, for the caller to record as not measured)."""
    rules: list[QualityRule] = []
    if control_rows is not None:
        rules.append(_rule("control.row_count", "accuracy", "fail",
                           f"loadable rows = control file rows ({control_rows}) - unparseable rows "
                           f"({parse_rejected})", row_count={"min": control_rows - parse_rejected,
                                                             "max": control_rows - parse_rejected}))
    control = contract.delivery.control
    if (expected_amount is not None or amount_undecided) and control is not None \
            and control.amount_column:
        rules.append(_rule(AMOUNT_TOTAL, "accuracy", "fail",
                           f"{control.amount_column} sums to the control file's amount total "
                           "(less the amounts of unparseable rows)",
                           sum_equals={"column": control.amount_column,
                                       "total": expected_amount or 0}))
    expected_by = contract.delivery.expected_by
    if expected_by is not None:
        rules.append(_rule("delivery.on_time", "timeliness", "warn",
                           f"the delivery is received by {expected_by:%H:%M} the day after the data date",
                           arrives_by={"at": expected_by, "days_after": 1}))
    return rules
