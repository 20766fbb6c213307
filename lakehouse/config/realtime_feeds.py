"""A source contract's real-time feed (6.2.3 c, 6.3.1.1): business events or log-based change
events, the transport they arrive by, and how late an event may be."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .attribute_types import try_parse_type
from .fields import URI_SCHEME, Text
from .findings import Finding, did_you_mean, invalid

_DURATION = re.compile(r"(\d+) (second|seconds|minute|minutes|hour|hours)")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600}

CHANGE_OPERATIONS = {"c": "create", "u": "update", "d": "delete", "r": "snapshot"}
"""Debezium's operation codes and what they mean (``r``: a row read by the initial snapshot)."""


def duration_seconds(text: str) -> int:
    """``"10 minutes"`` -> 600."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError(text)
    return int(match[1]) * _UNIT_SECONDS[match[2].rstrip("s")]


def checked_watermark(value: str) -> str:
    """``value``, a watermark of a feed or an app, when it is a duration; else the error."""
    try:
        duration_seconds(value)
    except ValueError:
        raise invalid(f"watermark {value!r} is not a duration",
                      'write a number and a unit, e.g. "10 minutes", "30 seconds", "2 hours"') from None
    return value


class KafkaTransport(BaseModel):
    """Where the feed's events are read from when the transport is Kafka."""

    model_config = ConfigDict(extra="forbid")

    bootstrap_servers: Text = Field(description="host:port[,host:port...] of the brokers")
    topic: Text = Field(description="the topic the source system publishes the events to")
    starting_offsets: Literal["earliest", "latest"] = "earliest"


class RealtimeFeed(BaseModel):
    """The real-time feed of a source entity, beside its T-1 extract."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["business_events", "change_events"] = Field(
        description="business_events: one JSON object per event with the contract's attributes; "
        "change_events: Debezium's change-capture envelope (op, before, after, source, ts_ms)")
    transport: Literal["files", "kafka"] = Field("files", description="files: JSON lines files "
                                                  "dropped in `path` under the landing folder; kafka: "
                                                  "the `kafka` topic")
    path: Text | None = Field(None, description="folder under the landing folder the event files "
                              "arrive in (files transport), e.g. realtime/ccs/card_txn")
    kafka: KafkaTransport | None = None
    event_id: str | None = Field(None, description="business events: the attribute identifying an "
                                 "event (default: the contract's single key)")
    event_time: str | None = Field(None, description="business events: the timestamp attribute "
                                   "of when the event happened")
    amount: str | None = Field(None, description="the amount attribute totalled by reconciliation "
                               "against the T-1 batch (optional)")
    watermark: str = Field("10 minutes", description="how late an event may arrive, after the "
                           "newest event time seen, before it is quarantined as late")
    trigger_seconds: float = Field(1.0, gt=0, le=3600, description="seconds between micro-batches")
    max_files_per_batch: int = Field(100, ge=1, description="files transport: files per micro-batch")

    @field_validator("watermark")
    @classmethod
    def _duration(cls, value: str) -> str:
        return checked_watermark(value)

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str | None) -> str | None:
        if value is not None and (value.startswith(("/", "\\")) or URI_SCHEME.match(value)
                                  or ".." in PurePosixPath(value).parts):
            raise invalid("path must be a folder relative to the landing directory",
                          "write it relative to the landing directory, e.g. realtime/ccs/card_txn")
        return value

    @property
    def watermark_seconds(self) -> int:
        return duration_seconds(self.watermark)


def feed_findings(contract: Mapping) -> list[Finding]:
    """Rules of a contract's ``realtime`` feed that involve its attributes or other keys."""
    feed = contract.get("realtime")
    if not isinstance(feed, Mapping):
        return []
    attributes = contract.get("attributes")
    types = {a.get("name"): try_parse_type(a.get("type")) for a in attributes or []
             if isinstance(a, Mapping) and isinstance(a.get("name"), str)}
    keys = [k for k in contract.get("keys") or [] if isinstance(k, str)]
    findings: list[Finding] = []
    transport = feed.get("transport", "files")
    if transport == "files" and not feed.get("path"):
        findings.append(Finding(("realtime", "path"), "a feed on the files transport needs the "
                                "folder its event files arrive in", None,
                                f"add path: realtime/{contract.get('system')}/{contract.get('entity')}"))
    if transport == "kafka" and not isinstance(feed.get("kafka"), Mapping):
        findings.append(Finding(("realtime", "kafka"), "a feed on the kafka transport needs its "
                                "brokers and topic", None,
                                "add kafka: {bootstrap_servers: host:9092, topic: ...}"))

    def attribute(key: str, kinds: tuple[str, ...] | None = None) -> None:
        name = feed.get(key)
        if name is None:
            return
        if name not in types:
            findings.append(Finding(("realtime", key), f"{key} {name!r} is not an attribute of the "
                                    "contract", name, f"name one of its attributes{did_you_mean(name, types)}"))
        elif kinds and types[name] is not None and types[name].kind not in kinds:
            findings.append(Finding(("realtime", key), f"{key} {name!r} is a {types[name]}, not a "
                                    f"{' or '.join(kinds)}", name,
                                    f"name a {' or '.join(kinds)} attribute"))

    attribute("event_id")
    attribute("event_time", ("timestamp",))
    attribute("amount", ("decimal", "integer"))
    if feed.get("kind") == "business_events":
        if feed.get("event_time") is None:
            findings.append(Finding(("realtime", "event_time"), "business events need the attribute "
                                    "of when each event happened (for the watermark)", None,
                                    "add event_time: <a timestamp attribute>"))
        if feed.get("event_id") is None and len(keys) != 1:
            findings.append(Finding(("realtime", "event_id"), "business events need the attribute "
                                    "identifying an event (the contract has no single key)", None,
                                    "add event_id: <an attribute unique per event>"))
    elif feed.get("kind") == "change_events" and not keys:
        findings.append(Finding(("keys",), "change events need the contract's keys, to know which "
                                "row an event changes", None, "declare keys: [...]"))
    if contract.get("delivery") is None:
        findings += _feed_only_findings(contract, feed)
    return findings


FEED_ONLY_LOADS = {"change_events": ("zipper", "snapshot"), "business_events": ("append",)}
"""The load types a feed without a T-1 extract can maintain its near-source table as."""


def _feed_only_findings(contract: Mapping, feed: Mapping) -> list[Finding]:
    """A contract with a feed and no T-1 extract: its near-source table is kept from the feed,
    so its load type must be one the feed's events can give."""
    kind, load_type = feed.get("kind"), contract.get("load_type")
    allowed = FEED_ONLY_LOADS.get(kind)
    if allowed is None or load_type in allowed:
        return []
    return [Finding(("load_type",), f"without a T-1 extract the near-source table is kept from "
                    f"the feed's {kind.replace('_', ' ')}, so its load type is "
                    f"{' or '.join(allowed)}, not {load_type}", load_type,
                    f"set load_type: {allowed[0]}, or declare the T-1 extract under delivery")]
