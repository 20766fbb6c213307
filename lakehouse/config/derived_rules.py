"""Rules that follow from a source contract and its data standards, so nobody writes them by hand.

- every key and non-nullable attribute is complete (``<column>.not_null``);
- the keys are unique (``keys.unique``);
- every value is in its standard's domain and length (``<column>.domain``, ``<column>.length``);
- the delivery matches its control file (``control.row_count``, ``control.amount_total``) and
  arrives by its expected-by time (``delivery.on_time``);
- a zipper table keeps one open row per key, each opening before it closes.

A layer model's rules follow from its keys (complete and unique) and from what its YAML
declares of its columns: ``nullable: false``, a ``standard`` or a list of ``values``.
"""

from __future__ import annotations

from lakehouse.zones.tables import OPEN_END_DATE

from .layer_models import LayerModel
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
        if standard is not None:
            rules += _standard_rules(attribute.name, attribute.business_name.en, standard,
                                     attribute.parsed_type.kind == "string")
    if contract.load_type == "zipper":
        rules += _zipper_rules(list(contract.keys))
    return rules


def _standard_rules(column: str, about_column: str, standard: DataStandard, is_string: bool
                    ) -> list[QualityRule]:
    """The value-domain and length rules of a column following ``standard``."""
    rules: list[QualityRule] = []
    about = f"{about_column} follows {standard.id} ({standard.name.en})"
    domain = standard.domain
    if domain is not None:
        if domain.codes is not None:
            check = {"in_set": {"column": column, "values": list(domain.codes)}}
        elif domain.pattern is not None:
            check = {"pattern": {"column": column, "regex": domain.pattern}}
        elif domain.range is not None:
            check = {"between": {"column": column, "min": domain.range.min, "max": domain.range.max}}
        else:
            check = {"valid": {"column": column, "check": domain.check}}
        rules.append(_rule(f"{column}.domain", "validity", "warn", about, **check))
    if standard.length is not None and is_string:
        rules.append(_rule(f"{column}.length", "validity", "warn",
                           f"{about}: at most {standard.length} characters",
                           max_length={"column": column, "max": standard.length}))
    return rules


def _zipper_rules(keys: list[str]) -> list[QualityRule]:
    """A zipper table's whole-table invariants."""
    return [
        _rule("zipper.one_open_row_per_key", "uniqueness", "fail", "exactly one open version per key",
              unique=keys).model_copy(update={"scope": "table", "where": f"end_dt = DATE'{OPEN_END_DATE}'"}),
        _rule("zipper.start_before_end", "consistency", "fail", "every version starts before it ends",
              sql="start_dt < end_dt").model_copy(update={"scope": "table"}),
    ]


def model_rules(model: LayerModel, standards: dict[str, DataStandard]) -> list[QualityRule]:
    """The rules derived from a layer model: its keys complete and unique, its declared columns'
    values present and in their domains, and, for a zipper model, the zipper invariants. They
    measure the rows the model built for the data date (scope ``new_rows``) or, for the zipper
    invariants, its whole table."""
    rules: list[QualityRule] = []
    keys = list(model.keys)
    for key in keys:
        rules.append(_rule(f"{key}.not_null", "completeness", "fail", f"{key} is part of the key",
                           not_null=key))
    for name, column in model.columns.items():
        if name not in keys and not column.nullable:
            rules.append(_rule(f"{name}.not_null", "completeness", "warn",
                               f"{name} is declared not nullable", not_null=name))
    rules.append(_rule("keys.unique", "uniqueness", "fail", f"one row per key ({', '.join(keys)})",
                       unique=keys))
    for name, column in model.columns.items():
        standard = standards.get(column.standard) if column.standard else None
        if standard is not None:
            # the standard's type, not the query's (unknown before the model runs), says whether
            # a length applies
            rules += _standard_rules(name, name, standard, standard.parsed_type.kind == "string")
        elif column.values is not None:
            rules.append(_rule(f"{name}.domain", "validity", "warn",
                               f"{name} is one of its declared values",
                               in_set={"column": name, "values": list(column.values)}))
    if model.load_type == "zipper":
        rules += _zipper_rules(keys)
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
