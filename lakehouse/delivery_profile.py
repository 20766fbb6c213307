"""The quality measured on each delivery for admission: counts, nulls, keys and domain violations.

The metrics are Spark SQL aggregates over the staged extract, computed in one scan; the
summary groups them by quality dimension so the admission log publishes them with the data.
"""

from __future__ import annotations

from datetime import date, datetime, time

from lakehouse import value_domains as vd
from lakehouse.config import DataStandard, SourceContract, ValueDomain

NOT_MEASURED = "not measured at admission (cross-table rules run in the quality step)"


def domain_sql(column: str, domain: ValueDomain) -> str:
    """A SQL predicate true when a non-null value of ``column`` is in ``domain``."""
    if domain.codes is not None:
        return vd.code_list_sql(column, list(domain.codes))
    if domain.pattern is not None:
        return vd.pattern_sql(column, domain.pattern)
    if domain.range is not None:
        def bound(value):
            return value.isoformat() if isinstance(value, date) else value
        return vd.range_sql(column, bound(domain.range.min), bound(domain.range.max))
    return vd.named_check_sql(column, domain.check)


def profile_expressions(contract: SourceContract, standards: dict[str, DataStandard]) -> dict[str, str]:
    """Metric name -> aggregate SQL expression over the delivered rows."""
    expressions = {"rows": "count(1)"}
    if contract.keys:
        keys = ", ".join(vd.quote_column(k) for k in contract.keys)
        expressions["duplicate_keys"] = f"count(1) - count(DISTINCT struct({keys}))"
    for attribute in contract.attributes:
        column = vd.quote_column(attribute.name)
        expressions[f"nulls.{attribute.name}"] = f"count_if({column} IS NULL)"
        standard = standards.get(attribute.standard)
        if standard is None:
            continue
        if standard.domain is not None:
            expressions[f"domain.{attribute.name}"] = (
                f"count_if({column} IS NOT NULL AND NOT ({domain_sql(attribute.name, standard.domain)}))")
        if standard.length is not None and attribute.parsed_type.kind == "string":
            expressions[f"length.{attribute.name}"] = (
                f"count_if({column} IS NOT NULL AND NOT ({vd.max_length_sql(attribute.name, standard.length)}))")
    return expressions


def summarize(contract: SourceContract, metrics: dict[str, int], rows_in: int, quarantined: int,
              control: dict, received_at: datetime | None, data_date: date) -> dict:
    """The admission evidence of the quality check, by dimension."""

    def by_prefix(prefix: str, names: set[str] | None = None) -> dict[str, int]:
        return {name[len(prefix):]: int(value) for name, value in metrics.items()
                if name.startswith(prefix) and value and (names is None or name[len(prefix):] in names)}

    required = {a.name for a in contract.attributes if not a.nullable}
    lateness = None
    if received_at is not None:
        end_of_day = datetime.combine(data_date, time.max)
        lateness = round((received_at - end_of_day).total_seconds() / 3600, 2)
    return {
        "rows_in": rows_in,
        "rows_loadable": int(metrics.get("rows", 0)),
        "rows_quarantined": quarantined,
        "completeness": {"required_nulls": by_prefix("nulls.", required),
                         "nulls": by_prefix("nulls."),
                         "row_count_matches_control": control.get("row_count")},
        "uniqueness": {"keys": list(contract.keys), "duplicate_keys": int(metrics.get("duplicate_keys", 0))},
        "validity": {"unparseable_rows": quarantined, "domain_violations": by_prefix("domain."),
                     "length_violations": by_prefix("length.")},
        "accuracy": {"control_totals": control},
        "timeliness": {"received_hours_after_data_date": lateness},
        "consistency": NOT_MEASURED,
    }


def describe(evidence: dict) -> str:
    """One line per dimension of a quality evidence dict, for people."""
    if "rows_in" not in evidence:
        return "; ".join(f"{k}: {v}" for k, v in evidence.items())

    def counts(found: dict, none: str) -> str:
        return ", ".join(f"{column} {n}" for column, n in found.items()) or none

    completeness, validity = evidence["completeness"], evidence["validity"]
    control = evidence["accuracy"]["control_totals"]
    lateness = evidence["timeliness"]["received_hours_after_data_date"]
    return "\n".join([
        f"{evidence['rows_in']} rows in, {evidence['rows_quarantined']} quarantined",
        f"completeness: required nulls {counts(completeness['required_nulls'], 'none')}; "
        f"nulls {counts(completeness['nulls'], 'none')}",
        f"uniqueness: {evidence['uniqueness']['duplicate_keys']} duplicate keys",
        f"validity: domain violations {counts(validity['domain_violations'], 'none')}; "
        f"too long {counts(validity['length_violations'], 'none')}",
        "accuracy: " + (", ".join(f"{k} {'matches' if v else 'differs'}" for k, v in control.items()
                                  if v is not None) or "no control file"),
        f"timeliness: received {lateness} h after the data date ended" if lateness is not None
        else "timeliness: not measured",
        f"consistency: {evidence['consistency']}",
    ])
