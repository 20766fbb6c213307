"""Real-time applications (6.2.3 c, 6.4.2.2 d, 6.4.5): risk warnings and customer tags over a
real-time feed, declared in ``realtime/*.yaml`` like layer models (a SQL query over the feed's
events, windowed by event time), run as streaming queries by the framework."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError, Problem
from .fields import ConfValue, Identifier, Text
from .findings import key_path
from .messages import findings_from
from .models import BusinessName
from .realtime_feeds import checked_watermark, duration_seconds
from .yaml_source import read_yaml

APPS_DIR = "realtime"
EVENTS_VIEW = "events"
"""The name the app's SQL reads its feed's events by."""
_PARAM = re.compile(r":([a-z_][a-z0-9_]*)")


class RealtimeApp(BaseModel):
    """One real-time application: a windowed query over a feed's events, its rows upserted by
    ``keys`` into ``realtime.<name>`` within seconds of the events arriving."""

    model_config = ConfigDict(extra="forbid")

    name: Identifier = Field(description="the output table's name in the realtime zone, e.g. rt_card_burst")
    kind: Literal["risk_warning", "customer_tag"] = Field(description="risk_warning or customer_tag")
    description: Text
    business_name: BusinessName
    input: Text = Field(description="SYSTEM.ENTITY of a source with a realtime feed")
    keys: list[Identifier] = Field(min_length=1, description="output columns identifying a row")
    watermark: str = Field("10 minutes", description="how long a window waits for late events")
    trigger_seconds: float = Field(1.0, gt=0, le=3600)
    params: dict[str, ConfValue] = Field(default_factory=dict, description="values bound to :name in sql")
    sql: Text = Field(description="Spark SQL over the view `events` (the feed's attributes, "
                      "event_time as a timestamp); window(event_time, '1 minute') groups by time")

    _source_file: Path | None = None

    @field_validator("watermark")
    @classmethod
    def _duration(cls, value: str) -> str:
        return checked_watermark(value)

    @property
    def watermark_seconds(self) -> int:
        return duration_seconds(self.watermark)

    def bound_sql(self) -> str:
        """The SQL with each :param replaced by its value (numbers as they are, text quoted)."""
        def value(match: re.Match) -> str:
            name = match[1]
            if name not in self.params:
                return match[0]
            text = str(self.params[name])
            return text if re.fullmatch(r"-?\d+(\.\d+)?", text) else "'" + text.replace("'", "''") + "'"
        return _PARAM.sub(value, self.sql)

    def unbound(self) -> list[str]:
        return sorted({m for m in _PARAM.findall(self.sql) if m not in self.params})


def load_apps(project_dir: Path, sources: dict) -> dict[str, RealtimeApp]:
    """The apps of ``project_dir/realtime/*.yaml``; every problem, located, in one ConfigError."""
    folder = Path(project_dir) / APPS_DIR
    apps: dict[str, RealtimeApp] = {}
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        source = read_yaml(path, f"{APPS_DIR}/{path.name}")
        if not source.ok:
            problems += source.problems
            continue
        data = source.data()
        try:
            app = RealtimeApp.model_validate(data)
        except ValidationError as error:
            for finding in findings_from(error, RealtimeApp):
                problems.append(Problem(finding.message, source.display, source.line_of(finding.loc),
                                        key=key_path(finding.loc), value=finding.value, fix=finding.fix))
            continue
        where = {"file": source.display}
        contract = sources.get(app.input)
        if contract is None or contract.realtime is None:
            with_feeds = [n for n, c in sources.items() if c.realtime is not None]
            problems.append(Problem(f"input {app.input!r} is not a source with a real-time feed",
                                    line=source.line_of(("input",)), key="input", value=app.input,
                                    fix=f"name one of {', '.join(with_feeds) or '(none: declare a feed first)'}",
                                    **where))
        if app.unbound():
            problems.append(Problem(f"sql uses :{', :'.join(app.unbound())} but params does not set it",
                                    line=source.line_of(("sql",)), key="sql",
                                    fix="add it under params", **where))
        if app.name in apps:
            problems.append(Problem(f"two apps are named {app.name}", line=source.line_of(("name",)),
                                    key="name", value=app.name, fix="rename one", **where))
        app._source_file = path
        apps[app.name] = app
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in {APPS_DIR}/", problems)
    return apps
