"""Great Expectations 1.x behind one door: compile our rules to an expectation suite, run it
on a Spark DataFrame with GE's Spark execution engine, read the results back as plain values,
and build Data Docs. Nothing else in the framework imports ``great_expectations``.

Every expectation of a suite shares one domain (the batch, no per-column row filter), so GE
bundles their aggregate metrics into a few ``df.agg(...)`` passes instead of one per rule.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.compatibility.pyspark import functions as F
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.execution_engine import SparkDFExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

from lakehouse.config.quality_rules import QualityRule
from lakehouse.engine.batches import Batch, spark_frame
from lakehouse.quality.rule_sql import RECEIVED_AT, passes_sql

GE_VERSION = gx.__version__

logging.getLogger("great_expectations").setLevel(logging.ERROR)


class ColumnValuesSatisfySql(ColumnMapMetricProvider):
    """Rows whose Spark SQL condition is true or NULL are expected (nulls are judged by it)."""

    condition_metric_name = "column_values.lakehouse_satisfy_sql"
    condition_value_keys = ("predicate",)

    @column_condition_partial(engine=SparkDFExecutionEngine, filter_column_isnull=False)
    def _spark(cls, column, predicate, **kwargs):
        return F.coalesce(F.expr(predicate), F.lit(True))


class ExpectColumnValuesToSatisfySql(ColumnMapExpectation):
    """Expect every row to satisfy a Spark SQL condition (a value domain, a checksum, a rule
    between columns, a reference found)."""

    predicate: str
    map_metric = "column_values.lakehouse_satisfy_sql"
    success_keys = ("predicate", "mostly")
    domain_keys = ("column", "row_condition", "condition_parser")


@dataclass
class Outcome:
    """One rule's result, as stored in ``governance.quality_results``."""

    rule: str
    expectation: str
    arguments: dict
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    observed_value: Any = None
    error: str | None = None


@dataclass
class Validation:
    suite_name: str
    outcomes: list[Outcome]
    result: Any  # the GE suite validation result, for Data Docs

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success]


_one_at_a_time = threading.Lock()


@contextmanager
def _context():
    """The ephemeral GE context and batch definition, for one validation at a time: GE keeps
    process-wide state (its current project context among it) and is not safe to use from
    several threads (validations side by side once failed a demo run with "expected a single
    document in the stream"), so loads side by side overlap everything but their suites."""
    with _one_at_a_time:
        yield _made_context()


def _no_query_for_no_values(provider: Callable) -> Callable:
    """``provider`` of a map metric's unexpected values, answering [] without a query when no
    value is asked for (``partial_unexpected_count`` 0, as ``validate`` asks): GE would build,
    plan and collect a ``limit(0)`` query per expectation for that same empty list."""
    def values(**kwargs):
        result_format = kwargs["metric_value_kwargs"]["result_format"]
        if result_format["result_format"] != "COMPLETE" and result_format["partial_unexpected_count"] == 0:
            return []
        return provider(**kwargs)

    values.lakehouse_wrapped = provider
    return values


def _skip_empty_value_queries() -> None:
    """Wrap the Spark providers of every registered ``*.unexpected_values`` metric (once per
    process) with ``_no_query_for_no_values``."""
    from great_expectations.expectations.registry import _registered_metrics

    for name, definition in _registered_metrics.items():
        found = definition.get("providers", {}).get(SparkDFExecutionEngine.__name__)
        if not name.endswith(".unexpected_values") or found is None:
            continue
        metric_class, provider = found
        if provider is not None and not hasattr(provider, "lakehouse_wrapped"):
            definition["providers"][SparkDFExecutionEngine.__name__] = (
                metric_class, _no_query_for_no_values(provider))


@cache
def _made_context():
    _skip_empty_value_queries()  # the custom metric above is registered by now
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    # persist=False: GE would otherwise persist every batch and never release it (memory grows
    # with every load of a long-running process); the engine keeps a batch while its suite
    # runs and releases it after (Engine.held)
    asset = context.data_sources.add_spark("lakehouse", persist=False).add_dataframe_asset("batches")
    return context, asset.add_batch_definition_whole_dataframe("batch")


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _string(kind: str) -> bool:
    return kind.startswith(("string", "varchar", "char"))


def _ordered(kind: str) -> bool:
    return kind in ("int", "integer", "bigint", "smallint", "tinyint", "double", "float", "date",
                    "timestamp") or kind.startswith("decimal")


def _freshness_floor(column_type: str, data_date: dt.date, lag: int):
    floor = data_date - dt.timedelta(days=lag)
    return dt.datetime.combine(floor, dt.time()) if column_type.startswith("timestamp") else floor


def _first_column(sql: str, column_types: dict[str, str]) -> str:
    """The first of the batch's columns the SQL text names (GE files a map rule under a column)."""
    import re

    for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql):
        if word in column_types:
            return word
    return next(iter(column_types))


def expectation(rule: QualityRule, column_types: dict[str, str], data_date: dt.date):
    """The GE expectation measuring ``rule`` on a batch with ``column_types``."""
    with warnings.catch_warnings():
        # a rule's ``where`` is Spark SQL, which GE's Condition objects cannot express; GE 1.x
        # still runs string conditions (deprecated for 2.0; the version is pinned)
        warnings.filterwarnings("ignore", "Passing a string to the row_condition", DeprecationWarning)
        return _expectation(rule, column_types, data_date)


Built = tuple[str, dict[str, Any]] | None
"""A GE expectation as (class name in ``great_expectations.expectations``, keyword arguments);
None where GE has no expectation for the check on that column type."""


def _unique(rule, column_type: str, data_date: dt.date) -> Built:
    if len(rule.unique) == 1:
        return "ExpectColumnValuesToBeUnique", {"column": rule.unique[0]}
    return "ExpectCompoundColumnsToBeUnique", {"column_list": list(rule.unique)}


def _in_set(rule, column_type: str, data_date: dt.date) -> Built:
    check = rule.in_set
    return ("ExpectColumnValuesToBeInSet", {"column": check.column, "value_set": list(check.values)}
            ) if _string(column_type) else None


def _pattern(rule, column_type: str, data_date: dt.date) -> Built:
    check = rule.pattern
    return ("ExpectColumnValuesToMatchRegex", {"column": check.column,
                                               "regex": f"\\A(?:{check.regex})\\z"}
            ) if _string(column_type) else None


def _between(rule, column_type: str, data_date: dt.date) -> Built:
    check = rule.between
    return ("ExpectColumnValuesToBeBetween", {"column": check.column, "min_value": check.min,
                                              "max_value": check.max}
            ) if _ordered(column_type) else None


def _max_length(rule, column_type: str, data_date: dt.date) -> Built:
    check = rule.max_length
    return ("ExpectColumnValueLengthsToBeBetween", {"column": check.column, "max_value": check.max}
            ) if _string(column_type) else None


def _freshness(rule, column_type: str, data_date: dt.date) -> Built:
    check = rule.freshness
    return "ExpectColumnMaxToBeBetween", {
        "column": check.column,
        "min_value": _freshness_floor(column_type, data_date, check.max_lag_days)}


def _sum_equals(rule, column_type: str, data_date: dt.date) -> Built:
    check = rule.sum_equals
    return "ExpectColumnSumToBeBetween", {"column": check.column,
                                          "min_value": check.total - check.tolerance,
                                          "max_value": check.total + check.tolerance}


def _arrives_by(rule, column_type: str, data_date: dt.date) -> Built:
    check = rule.arrives_by
    deadline = dt.datetime.combine(data_date + dt.timedelta(days=check.days_after), check.at)
    return "ExpectColumnMaxToBeBetween", {"column": RECEIVED_AT, "max_value": deadline}


_EXPECTATIONS: dict[str, Callable[[Any, str, dt.date], Built]] = {
    "not_null": lambda rule, column_type, data_date: (
        "ExpectColumnValuesToNotBeNull", {"column": rule.not_null}),
    "unique": _unique,
    "in_set": _in_set,
    "pattern": _pattern,
    "between": _between,
    "max_length": _max_length,
    "row_count": lambda rule, column_type, data_date: (
        "ExpectTableRowCountToBeBetween", {"min_value": rule.row_count.min,
                                           "max_value": rule.row_count.max}),
    "freshness": _freshness,
    "sum_equals": _sum_equals,
    "arrives_by": _arrives_by,
}
"""Per kind of check: GE's built-in expectation for a rule of that kind on a column type. The
other kinds (and the built-ins a column type does not allow) run the rule's SQL condition."""


def _expectation(rule: QualityRule, column_types: dict[str, str], data_date: dt.date):
    common: dict[str, Any] = {"meta": {"rule": rule.name, "dimension": rule.dimension,
                                       "severity": rule.severity, "scope": rule.scope},
                              "description": rule.description or None}
    if rule.where:
        common |= {"row_condition": rule.where, "condition_parser": "spark"}
    column_type = column_types.get(getattr(rule.check, "column", ""), "")
    builder = _EXPECTATIONS.get(rule.kind)
    built = builder(rule, column_type, data_date) if builder else None
    if built is not None:
        name, arguments = built
        return getattr(gxe, name)(**arguments, **common)
    # everything else is the rule's own SQL condition, filed under the rule's first column
    predicate = passes_sql(rule.model_copy(update={"where": None}))
    columns = rule.columns()
    return ExpectColumnValuesToSatisfySql(
        column=columns[0] if columns else _first_column(predicate, column_types), predicate=predicate,
        **common)


def _outcome(result) -> Outcome:
    config = result.expectation_config
    found = result.result or {}
    error = None
    if result.exception_info and result.exception_info.get("raised_exception"):
        error = result.exception_info.get("exception_message")
    arguments = {k: v for k, v in config.kwargs.items() if k not in ("result_format", "batch_id")}
    return Outcome(
        rule=config.meta["rule"], expectation=config.type, arguments=_plain(arguments),
        success=bool(result.success), element_count=found.get("element_count"),
        unexpected_count=found.get("unexpected_count"),
        unexpected_percent=found.get("unexpected_percent"),
        observed_value=_plain(found.get("observed_value")), error=error)


def validate(rows: Batch, suite_name: str, rules: list[QualityRule], data_date: dt.date) -> Validation:
    """Run ``rules`` as one suite on the engine's batch ``rows``."""
    frame = spark_frame(rows)  # GE runs on the DataFrame itself
    column_types = dict(frame.dtypes)
    with _context() as (_, batch_definition):
        suite = gx.ExpectationSuite(name=suite_name)  # GE resolves the suite's context globally
        for rule in rules:
            suite.add_expectation(expectation(rule, column_types, data_date))
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        # partial_unexpected_count 0: counts without a query per expectation for unexpected values
        result = batch.validate(suite, result_format={"result_format": "BASIC",
                                                      "partial_unexpected_count": 0})
    outcomes = {o.rule: o for o in map(_outcome, result.results)}
    return Validation(suite_name, [outcomes[r.name] for r in rules], result)


def _docs_context(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    return _file_context(str(folder.resolve()))


@cache
def _file_context(folder: str):
    context = gx.get_context(mode="file", project_root_dir=folder)
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def store_results(validations: list[Validation], folder: Path) -> None:
    """Keep the GE results of ``validations`` in the Data Docs project at ``folder``."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = _docs_context(folder)
    for validation in validations:
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=validation.suite_name),
            run_id=RunIdentifier(run_name=validation.suite_name, run_time=dt.datetime.now(dt.UTC)),
            batch_identifier="batch")
        context.validation_results_store.set(key, validation.result)


def build_data_docs(folder: Path) -> Path:
    """Build the GE Data Docs of the results kept at ``folder``; returns the index page."""
    sites = _docs_context(folder).build_data_docs()
    index = next(iter(sites.values()), "")
    return Path(index.removeprefix("file://")) if index else folder


def to_json(value: Any) -> str | None:
    return None if value is None else json.dumps(_plain(value), ensure_ascii=False, default=str)
