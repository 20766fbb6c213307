"""Constrained value types shared by the configuration models, with friendly errors."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, StringConstraints, ValidationInfo

from .findings import invalid

DATA_DATE = "{data_date}"
_SAMPLE_DATE = dt.date(2024, 11, 23)
_SYSTEM_CODE = re.compile(r"[a-z][a-z0-9]{1,9}")
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _system_code(value: str, info: ValidationInfo) -> str:
    if not _SYSTEM_CODE.fullmatch(value):
        raise invalid(
            f"{info.field_name} must be 2 to 10 lowercase letters or digits, starting with a letter",
            "use a short lowercase code such as 'cbs'",
        )
    return value


def _identifier(value: str, info: ValidationInfo) -> str:
    if not _IDENTIFIER.fullmatch(value):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", value.strip().lower()).strip("_") or "name"
        raise invalid(
            f"{info.field_name} must start with a lowercase letter and contain only "
            "lowercase letters, digits and underscores",
            f"rename it, e.g. '{suggestion}'",
        )
    return value


def _landing_path(value: str, info: ValidationInfo) -> str:
    example = "cbs/{data_date}/customer_{data_date}.csv"
    if DATA_DATE not in value:
        raise invalid(
            f"{info.field_name} must contain {DATA_DATE}",
            f"put {DATA_DATE} where the data date appears, e.g. {example}",
        )
    if value.startswith(("/", "\\")) or URI_SCHEME.match(value) or ".." in PurePosixPath(value).parts:
        raise invalid(
            f"{info.field_name} must be relative to the landing directory",
            f"write it relative to the landing directory, e.g. {example}",
        )
    return value


def _date_format(value: str, info: ValidationInfo) -> str:
    """A strptime format that can write and read back a date (time of day optional)."""
    sample = dt.datetime.combine(_SAMPLE_DATE, dt.time())
    try:
        ok = dt.datetime.strptime(sample.strftime(value), value) == sample
    except ValueError:
        ok = False
    if not ok:
        raise invalid(
            f"{info.field_name} must be a strptime format with year, month and day",
            "use codes such as %Y%m%d, %Y-%m-%d or %Y-%m-%d %H:%M:%S",
        )
    return value


def _code_text(value: object) -> str:
    """A code as text: YAML's true/false as written (lower case), any other value as its text."""
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else str(value)


def _scalar_text(value: object) -> object:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# Named schedules of a delivery (cron in the lakehouse time zone); any cron expression works too.
SCHEDULES = {
    "daily": "0 1 * * *",
    "weekdays": "0 1 * * 2-6",  # the days after Monday to Friday
    "weekly": "0 1 * * 1",
    "monthly": "0 1 1 * *",
}


def _schedule(value: str) -> str:
    if value in SCHEDULES:
        return value
    from croniter import croniter  # comes with Airflow

    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise invalid(f"schedule {value!r} is neither {', '.join(SCHEDULES)} nor a 5-field cron "
                      "expression", 'use e.g. daily, or "30 0 * * *" for 00:30 every day')
    return value


def cron_of(schedule: str) -> str:
    """The cron expression of a delivery schedule."""
    return SCHEDULES.get(schedule, schedule)


def dated_path(template: str, date_format: str, data_date: dt.date) -> str:
    """A delivery path template with ``{data_date}`` filled in."""
    return template.replace(DATA_DATE, data_date.strftime(date_format))


SystemCode = Annotated[str, AfterValidator(_system_code)]
Schedule = Annotated[str, AfterValidator(_schedule)]
Identifier = Annotated[str, AfterValidator(_identifier)]
LandingPath = Annotated[str, AfterValidator(_landing_path)]
DateFormat = Annotated[str, AfterValidator(_date_format)]
ConfValue = Annotated[str, BeforeValidator(_scalar_text)]
CodeText = Annotated[str, BeforeValidator(_code_text)]
"""An allowed code of a value list, compared as text."""
PiCategory = Literal["C1", "C2", "C3"]
