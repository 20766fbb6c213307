"""The DataFrames quality rules run on, and the split of a batch by its ``drop`` rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.security.masking import Masked, mask_sql, rule_of
from lakehouse.security.pseudonyms import QUARANTINE_KEY, pseudonym_sql
from lakehouse.zones.tables import TableSpec
from lakehouse.sql import quote_column, sql_string

LINE = "_line"
"""Staged column: the row's line in the delivered file."""
FAILED_RULES = "_failed_rules"


@dataclass(frozen=True)
class Lookup:
    """A reference rule's lookup: ``flag`` is true where the row's ``columns`` are found in
    ``table`` as of the data date (and, with ``equal``, the found row has the same values)."""

    flag: str
    table: TableSpec
    columns: dict[str, str]
    equal: dict[str, str] = field(default_factory=dict)
    required: bool = True


def as_of(frame: DataFrame, spec: TableSpec, data_date: date) -> DataFrame:
    """The table's rows as they stood on ``data_date``: the versions valid that day (zipper),
    the latest snapshot up to that day, or every appended row up to that day."""
    day = f"DATE'{data_date.isoformat()}'"
    if spec.load_type == "zipper":
        return frame.filter(f"start_dt <= {day} AND end_dt > {day}")
    if spec.load_type == "snapshot":
        latest = frame.filter(f"data_date <= {day}").agg(F.max("data_date")).first()[0]
        return frame.filter(F.col("data_date") == F.lit(latest)) if latest else frame.limit(0)
    return frame.filter(f"data_date <= {day}")


def with_lookups(frame: DataFrame, lookups: list[tuple[Lookup, DataFrame]]) -> DataFrame:
    """``frame`` with one boolean flag column per lookup (``lookups``: lookup, table as of D)."""
    for index, (lookup, table) in enumerate(lookups):
        theirs = {f"__k{index}_{i}": c for i, c in enumerate(lookup.columns.values())}
        values = {f"__v{index}_{i}": c for i, c in enumerate(lookup.equal.values())}
        reference = table.select(*[F.col(quote_column(c)).alias(a) for a, c in {**theirs, **values}.items()]) \
            .dropDuplicates(list(theirs)).withColumn(f"__found{index}", F.lit(True))
        condition = [frame[quote_column(local)] == reference[alias]
                     for local, alias in zip(lookup.columns, theirs)]
        joined = frame.join(reference, condition, "left")
        local_null = " OR ".join(f"{quote_column(c)} IS NULL" for c in lookup.columns)
        found = f"coalesce(`__found{index}`, FALSE)"
        same = " AND ".join(f"{quote_column(local)} <=> `{alias}`"
                            for local, alias in zip(lookup.equal, values)) or "TRUE"
        missing_ok = "FALSE" if lookup.required else "TRUE"
        flag = f"({local_null}) OR CASE WHEN {found} THEN {same} ELSE {missing_ok} END"
        frame = joined.withColumn(lookup.flag, F.expr(flag)).drop(*theirs, *values, f"__found{index}")
    return frame


def split(frame: DataFrame, fails: dict[str, str], kept_path: str, dropped_path: str) -> int:
    """Write the rows failing none of ``fails`` (rule -> SQL true when a row fails it) to
    ``kept_path`` and the others, with the names of the rules they fail, to ``dropped_path``
    (both Parquet); returns the number of dropped rows."""
    names = ", ".join(f"CASE WHEN {condition} THEN {sql_string(rule)} END"
                      for rule, condition in fails.items())
    flagged = frame.selectExpr("*", f"array_compact(array({names})) AS {FAILED_RULES}").persist()
    try:
        failing = F.size(F.col(FAILED_RULES)) > 0
        flagged.filter(~failing).drop(FAILED_RULES).write.mode("overwrite").parquet(kept_path)
        dropped = flagged.filter(failing)
        dropped.write.mode("overwrite").parquet(dropped_path)
        return flagged.sparkSession.read.parquet(dropped_path).count()
    finally:
        flagged.unpersist()


KEY_SEPARATOR = "\u0001"
NULL_KEY_PART = "\u0000"


def key_hash(keys: list[str]):
    """The quarantine's ``key_hash`` of a row: the keyed pseudonym (purpose ``quarantine-key``)
    of its key columns as strings joined by U+0001, a NULL part standing as U+0000 (the one
    definition; NULL when there are no keys). It reads the quarantine key's view (the engine
    makes it for the work)."""
    if not keys:
        return F.lit(None).cast("string")
    parts = ", ".join(f"coalesce(CAST({quote_column(k)} AS STRING), char({ord(NULL_KEY_PART)}))"
                      for k in keys)
    return F.expr(pseudonym_sql(f"concat_ws(char({ord(KEY_SEPARATOR)}), {parts})", QUARANTINE_KEY))


def quarantined(dropped: DataFrame, columns: list[str], masked: Masked, keys: list[str],
                reasons: dict[str, tuple[str, str]], literals: dict, stage: str = "quality"
                ) -> DataFrame:
    """Quarantine rows for dropped rows: one per failed rule, the row as JSON with the
    ``masked`` columns masked by their rules, its key as a keyed hash (to match corrected rows
    later; the engine makes the quarantine key's view for the work). A row without a
    delivered line (a layer model's) has none. ``stage``: quality (a rule dropped it) or
    watermark (an incremental extract's late or future row)."""
    reason = F.create_map(*[F.lit(x) for rule, (dim, text) in reasons.items() for x in (rule, text)])
    dimension = F.create_map(*[F.lit(x) for rule, (dim, text) in reasons.items() for x in (rule, dim)])
    row = ", ".join(f"{mask_sql(quote_column(c), rule_of(masked, c)) if c in masked else quote_column(c)} "
                    f"AS {quote_column(c)}" for c in columns)
    exploded = dropped.withColumn("rule", F.explode(F.col(FAILED_RULES)))
    return exploded.select(
        *[F.lit(v).alias(k) for k, v in literals.items()],
        (F.col(LINE) if LINE in dropped.columns else F.lit(None)).cast("bigint").alias("line"),
        F.lit(stage).alias("stage"),
        F.col("rule"),
        dimension[F.col("rule")].alias("dimension"),
        reason[F.col("rule")].alias("reason"),
        F.lit(None).cast("string").alias("raw_line"),
        F.lit(None).cast("string").alias("sealed_line"),
        F.to_json(F.expr(f"struct({row})"), {"ignoreNullFields": "false"}).alias("row_json"),
        key_hash(keys).alias("key_hash"),
    )


def failing_samples(frame: DataFrame, fails: dict[str, str], rows: int) -> list[dict]:
    """Up to ``rows`` rows failing each rule of ``fails``, each with a ``_rule`` item, in one job."""
    # the condition is selected before it filters: uniqueness conditions are window functions
    parts = [frame.selectExpr("*", f"{condition} AS _failing").filter("_failing").drop("_failing")
             .limit(rows).withColumn("_rule", F.lit(rule)) for rule, condition in fails.items()]
    if not parts:
        return []
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part)
    return [row.asDict() for row in union.collect()]
