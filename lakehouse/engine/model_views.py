"""The views a layer model's query reads: each input table as of the data date."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame

from lakehouse.zones.tables import ZIPPER_COLUMNS, TableSpec


def input_frame(frame: DataFrame, spec: TableSpec, mode: str, data_date: date) -> DataFrame:
    """``current``: the rows of ``data_date`` (a zipper table's versions valid that day, without
    the zipper columns); ``history``: every row up to it (zipper versions started by then)."""
    day = f"DATE'{data_date.isoformat()}'"
    if spec.load_type == "zipper":
        if mode == "current":
            return frame.filter(f"start_dt <= {day} AND end_dt > {day}").drop(*ZIPPER_COLUMNS)
        return frame.filter(f"start_dt <= {day}")
    if mode == "current":
        return frame.filter(f"data_date = {day}")
    return frame.filter(f"data_date <= {day}")
