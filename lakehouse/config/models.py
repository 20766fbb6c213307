"""Typed models of the files in ``conf/``; every model rejects unknown keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from . import checks
from .attribute_types import AttributeType, TypeName, parse_type
from .fields import (
    DATA_DATE,
    ConfValue,
    DateFormat,
    Identifier,
    LandingPath,
    PiCategory,
    Schedule,
    SystemCode,
    Text,
    dated_path,
)
from .findings import Finding, did_you_mean, invalid, key_path
from .incremental_extracts import IncrementalExtract
from .realtime_feeds import RealtimeFeed
from .record_layouts import ChangeCapture, RecordLayouts, XmlRecords

DEFER_CHECKS = "defer_checks"
"""Validation-context flag: the loader runs the cross-field checks itself, with locations."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _findings_error(findings: list[Finding]) -> ValueError:
    return ValueError("; ".join(f"{key_path(f.loc)}: {f.message}" for f in findings))


def _checks_deferred(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get(DEFER_CHECKS))


class SparkSettings(_Model):
    """Where Spark runs: a master URL, or a Spark Connect endpoint (``remote`` wins)."""

    master: str | None = Field("local[*]", description="local[*], spark://host:7077, yarn or k8s://...")
    remote: str | None = Field(None, description="a Spark Connect URL, sc://host:15002")
    conf: dict[str, ConfValue] = Field(default_factory=dict, description="extra Spark configuration")

    @field_validator("remote")
    @classmethod
    def _remote_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("sc://"):
            raise invalid("remote must be a Spark Connect URL starting with sc://", "use sc://host:15002")
        return value

    @property
    def uses_connect(self) -> bool:
        return self.remote is not None


class OrchestrationSettings(_Model):
    """How Airflow tasks reach Spark, and how they retry transient errors."""

    engine: Literal["service", "in_process"] = Field(
        "service", description="service: tasks send work to the resident `lakehouse engine serve` "
        "(one JVM for every task); in_process: each task starts its own Spark session")
    engine_address: Text = Field("127.0.0.1:47017", description="host:port of the engine service "
                                 "(loopback unless the workers run elsewhere)")
    engine_workers: int = Field(2, ge=1, le=64, description="requests the engine service works "
                                "on side by side, each on its own Spark session and fair-scheduler "
                                "pool (1: one at a time)")
    retries: int = Field(2, ge=0, le=10, description="retries of a task after a transient error")
    retry_delay_minutes: int = Field(5, ge=1, description="minutes between retries")
    cross_system_wait_hours: int = Field(
        12, ge=1, le=72, description="how long a load whose quality rules look up another system's "
        "table waits for that table to publish the same data date before it fails")
    backup_schedule: Schedule | None = Field(
        "0 7 * * *", description="when the lakehouse_backup DAG takes a backup and verifies it "
        "restores (daily, weekdays, weekly, monthly or a 5-field cron, in the lakehouse time zone); "
        "null: no backup DAG")


class Settings(_Model):
    """The lakehouse's storage locations, time zone and Spark settings."""

    root: Text = Field(description="directory or URI under which the zones live, e.g. ./lakehouse_data")
    landing: Text = Field(description="directory where source systems deliver files, e.g. ./landing")
    reports: Text = Field("./reports", description="local directory for quality reports and Data Docs")
    backups: Text = Field("./backups", description="directory or URI of the backup root "
                          "(`lakehouse backup`): file copies by content and one manifest per backup")
    key_file: Text = Field("./.secrets/master.key", description="the local key provider's master key "
                           "(created by `make setup`, owner-only permissions; see lakehouse.security.keys)")
    timezone: str = Field("Asia/Shanghai", description="IANA time zone of the data date")
    encrypt_at_rest: bool = Field(True, description="encrypt every Parquet file and raw file "
                                  "the lakehouse stores (4.2.2.2 c; see README, Encryption at rest)")
    spark: SparkSettings = Field(default_factory=SparkSettings)
    parallel_loads: int = Field(2, ge=1, le=64, description="sources of one run loaded, and models "
                                "of one layer build built, side by side in one Spark application "
                                "(1: one after another)")
    orchestration: OrchestrationSettings = Field(default_factory=OrchestrationSettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise invalid(
                f"unknown time zone '{value}'",
                f"use an IANA time zone name such as Asia/Shanghai{did_you_mean(value, available_timezones())}",
            ) from None
        return value

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class BusinessName(_Model):
    """An attribute's business name in Chinese and English."""

    zh: Text = Field(description="the Chinese business name")
    en: Text = Field(description="the English business name")


class Attribute(_Model):
    """One column of a source entity, with the metadata admission requires."""

    name: Identifier = Field(description="the column name, e.g. customer_id")
    type: TypeName = Field(description="string, integer, boolean, date, timestamp or decimal(p,s)")
    nullable: bool = True
    business_name: BusinessName = Field(description="{zh: ..., en: ...}")
    security_level: int = Field(ge=1, le=5, description="data security level 1 to 5")
    pi_category: PiCategory | None = Field(None, description="personal financial information category "
                                           "C1-C3 (default: the standard's)")
    standard: Text = Field(description="the data standard it follows, e.g. DS-PTY-0001")
    width: int | None = Field(None, gt=0, description="field length in bytes (fixed-width only)")
    format: DateFormat | None = Field(None, description="strptime format for this date/timestamp column")

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Self:
        findings = checks.attribute_findings(self.model_dump())
        if findings and not _checks_deferred(info):
            raise _findings_error(findings)
        return self

    @property
    def parsed_type(self) -> AttributeType:
        return parse_type(self.type)

    @property
    def spark_type(self) -> str:
        return self.parsed_type.spark_type

    @property
    def decimal_precision_scale(self) -> tuple[int, int] | None:
        parsed = self.parsed_type
        return (parsed.precision, parsed.scale) if parsed.kind == "decimal" else None


class ControlSpec(_Model):
    """The control file delivered next to the data file (row count, optional amount total)."""

    path: LandingPath = Field(description="control file path relative to landing, with {data_date}")
    amount_column: str | None = None

    def control_path(self, data_date: dt.date, path_date_format: str = "%Y%m%d") -> str:
        return dated_path(self.path, path_date_format, data_date)


class Delivery(_Model):
    """How and where a source delivers its extract files."""

    format: Literal["csv", "json", "parquet", "fixed-width", "xml", "fixed-width-multi"] = Field(
        description="csv, json, parquet, fixed-width, xml or fixed-width-multi")
    encoding: Literal["utf-8", "gbk"] = "utf-8"
    delimiter: str = ","
    quote: str = '"'
    header: bool = True
    path: LandingPath = Field(description="file path relative to landing, with {data_date}")
    path_date_format: DateFormat = "%Y%m%d"
    date_format: DateFormat = "%Y-%m-%d"
    timestamp_format: DateFormat = "%Y-%m-%d %H:%M:%S"
    control: ControlSpec | None = None
    xml: XmlRecords | None = Field(None, description="format xml: the record path and field paths")
    records: RecordLayouts | None = Field(None, description="format fixed-width-multi: the record "
                                          "type's position and one layout per record type")
    cdc: ChangeCapture | None = Field(None, description="change-data-capture rows: operation flag "
                                      "and sequence columns, applied to the zipper table")
    expected_by: dt.time | None = Field(None, description="HH:MM the day after the data date by "
                                        "which the delivery is due (timeliness)")
    schedule: Schedule = Field("daily", description="when the T-1 batch starts waiting for the "
                               "delivery: daily, weekdays, weekly, monthly or a cron expression")

    @field_validator("expected_by", mode="before")
    @classmethod
    def _clock_time(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            raise invalid("expected_by must be a time of day written as text", 'quote it: "06:00"')
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1:
            raise invalid("delimiter must be exactly one character", 'quote it, e.g. delimiter: "|"')
        return value

    @field_validator("quote")
    @classmethod
    def _quote_character(cls, value: str) -> str:
        if len(value) > 1:
            raise invalid("quote must be one character (or empty for none)", "use quote: '\"'")
        return value

    def data_path(self, data_date: dt.date) -> str:
        """The data file's path (relative to landing) for ``data_date``."""
        return dated_path(self.path, self.path_date_format, data_date)

    def date_in_path(self, relative_path: str | PurePosixPath) -> dt.date | None:
        """The data date of a landed file's relative path, or None if it does not match ``path``."""
        text = PurePosixPath(relative_path).as_posix()
        pattern = "(.+?)".join(re.escape(part) for part in self.path.split(DATA_DATE))
        match = re.fullmatch(pattern, text)
        if not match:
            return None
        try:
            found = dt.datetime.strptime(match[1], self.path_date_format).date()
        except ValueError:
            return None
        return found if self.data_path(found) == text else None


class SourceContract(_Model):
    """A data owner's declaration of one source entity: owner, load type, delivery, attributes."""

    system: SystemCode = Field(description="the code of a system in systems.yaml")
    entity: Identifier = Field(description="the entity name, e.g. customer")
    description: str = ""
    business_name: BusinessName | None = Field(None, description="the logical entity's {zh: ..., en: ...}")
    owner: Text = Field(description="the data owner's user name, e.g. li.na")
    load_type: Literal["snapshot", "zipper", "append"] = Field(description="snapshot, zipper or append")
    incremental: IncrementalExtract | None = Field(
        None, description="zipper only: the daily extract carries just the rows changed since the "
        "previous one, by their update timestamp (6.3.1.1 c), see README, Real-time zone")
    keys: list[str] = Field(default_factory=list, description="attributes that identify a row")
    delivery: Delivery | None = Field(None, description="format, encoding and path of the delivered "
                                      "files; none for a source known only by its real-time feed")
    attributes: list[Attribute] = Field(min_length=1, description="the entity's columns")
    realtime: RealtimeFeed | None = Field(None, description="the entity's real-time feed (business "
                                          "events or change events), see README, Real-time zone")

    _source_file: Path | None = PrivateAttr(None)
    _line_of: Callable[[tuple], int | None] | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Self:
        findings = checks.contract_findings(self.model_dump())
        if findings and not _checks_deferred(info):
            raise _findings_error(findings)
        return self

    @property
    def source_file(self) -> Path | None:
        """The YAML file this contract was loaded from (None when built in code)."""
        return self._source_file

    @source_file.setter
    def source_file(self, path: Path | None) -> None:
        self._source_file = path

    def locate(self, source_file: Path, line_of: Callable[[tuple], int | None]) -> None:
        """Remember where this contract was read from, to point problems at a file and line."""
        self._source_file, self._line_of = source_file, line_of

    def line_of(self, *loc: str | int) -> int | None:
        """The line of key path ``loc`` in the contract's file (None when built in code)."""
        return self._line_of(loc) if self._line_of else None

    @property
    def name(self) -> str:
        return f"{self.system}.{self.entity}"

    @property
    def table_name(self) -> str:
        return f"{self.system}_{self.entity}"

    @property
    def content_hash(self) -> str:
        """sha256 of the contract's canonical JSON; changes whenever the contract does."""
        dumped = self.model_dump(mode="json")
        for optional in ("realtime", "incremental", "delivery"):  # contracts without one keep their hash
            if dumped.get(optional) is None:
                dumped.pop(optional, None)
        canonical = json.dumps(
            dumped, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def attribute(self, name: str) -> Attribute:
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        raise KeyError(f"{self.name} has no attribute '{name}'")

    @property
    def feed_only(self) -> bool:
        """Known only by its real-time feed: no T-1 extract, the near-source table kept from
        the feed's events."""
        return self.delivery is None

    @property
    def key_attributes(self) -> list[Attribute]:
        return [self.attribute(key) for key in self.keys]

    @property
    def table_level(self) -> int:
        """The table's security level: its highest attribute level."""
        return max(a.security_level for a in self.attributes)
