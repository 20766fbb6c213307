"""The Python API behind the CLI: one object per lakehouse project."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from lakehouse import governance
from lakehouse.config import load_project, validate_project
from lakehouse.engine import Engine
from lakehouse.errors import ConfigError, Problem
from lakehouse.near_source import near_source_spec
from lakehouse.t1_load import LoadContext, LoadResult, load_source
from lakehouse.tables import TableSpec


@dataclass
class RunSummary:
    run_id: str
    data_date: date
    results: list[LoadResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status == "succeeded" for r in self.results)

    @property
    def failed(self) -> list[LoadResult]:
        return [r for r in self.results if r.status != "succeeded"]


class Lakehouse:
    """A lakehouse project: its configuration in ``conf_dir`` and its engine."""

    def __init__(self, conf_dir: str | Path = "conf", engine: Engine | None = None):
        self.conf_dir = Path(conf_dir)
        self.project = load_project(self.conf_dir)
        self.settings = self.project.settings
        self._engine = engine

    @staticmethod
    def validate(conf_dir: str | Path = "conf") -> list[Problem]:
        return validate_project(conf_dir)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine.from_settings(self.settings)
        return self._engine

    @property
    def root(self) -> str:
        return self.settings.root

    def yesterday(self) -> date:
        """Data date of today's T-1 batch in the configured time zone."""
        return datetime.now(ZoneInfo(self.settings.timezone)).date() - timedelta(days=1)

    def contract(self, name: str):
        if name not in self.project.sources:
            known = ", ".join(self.project.sources)
            raise ConfigError(f"unknown source {name!r}", [Problem(
                f"no contract for {name!r}", key="--source", value=name,
                fix=f"use one of: {known} (system.entity)")])
        return self.project.sources[name]

    def table(self, source: str) -> TableSpec:
        return near_source_spec(self.contract(source), self.root)

    def tables(self) -> list[TableSpec]:
        """Every table the framework writes, near-source and governance."""
        specs = [near_source_spec(c, self.root) for c in self.project.sources.values()]
        return specs + governance.all_specs(self.root)

    def run(self, data_date: date | None = None, sources: list[str] | None = None,
            file: Path | None = None) -> RunSummary:
        """Land and load the deliveries of ``data_date`` (default: yesterday) for the sources."""
        data_date = data_date or self.yesterday()
        names = sources or list(self.project.sources)
        contracts = [self.contract(n) for n in names]
        if file is not None and len(contracts) != 1:
            raise ConfigError("--file needs exactly one --source", [Problem(
                "a delivered file belongs to one source", key="--source",
                fix="add --source SYSTEM.ENTITY")])
        run_id = f"{data_date:%Y%m%d}-{datetime.now():%H%M%S}-{uuid.uuid4().hex[:6]}"
        ctx = LoadContext(self.engine, self.root, self.settings.landing, run_id)
        summary = RunSummary(run_id, data_date)
        try:
            for contract in contracts:
                summary.results.append(load_source(ctx, contract, data_date, file))
        finally:
            ctx.flush()
        return summary
