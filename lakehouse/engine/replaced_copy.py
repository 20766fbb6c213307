"""A copy of a Delta table with some columns' values replaced by Python functions (the
de-identified copies of ``lakehouse deidentify``).

Each function runs as an Arrow-optimised Python UDF with the column's own type, so a replaced
column keeps its type, nullability of values and place; the copy keeps the table's partitioning.
The functions (and the keys they close over) travel to Spark's Python workers pickled, never as
text in a plan, so no key shows in EXPLAIN or a log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.sql import quote_column


def copy_replaced(spark: SparkSession, source: str, target: str,
                  replacements: dict[str, Callable[[Any], Any]]) -> int:
    """Write the current version of the Delta table at ``source`` to ``target`` (replacing any
    table there) with ``replacements`` applied; the number of rows copied."""
    frame = spark.read.format("delta").load(source)
    types = {field.name: field.dataType for field in frame.schema.fields}
    unknown = sorted(set(replacements) - set(types))
    if unknown:
        raise KeyError(f"{source} has no column {', '.join(unknown)}")
    frame = frame.select(*[
        F.udf(replacements[name], types[name], useArrow=True)(F.col(quote_column(name))).alias(name)
        if name in replacements else F.col(quote_column(name)) for name in frame.columns])
    partition_by = DeltaTable.forPath(spark, source).detail().first().partitionColumns
    writer = frame.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(target)
    return spark.read.format("delta").load(target).count()
