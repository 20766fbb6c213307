"""The T-1 load of a source known only by its real-time feed (a contract with ``realtime`` and
no ``delivery``): its near-source table is kept from the events of the data date the real-time
zone holds, so the layers read it like any loaded source.

- change events fold into the state at the end of D: into a zipper table by the zipper's own
  load (``change_zipper.fold_into_zipper``; the applied dates after D are folded again), or as
  D's partition of a snapshot table;
- business events of D become D's partition of an append table.

Each load passes the static admission checks at D (quality is measured on the feed, per
micro-batch) and writes its admission and load-log records like a delivery's, with operation
``change events`` or ``business events``. Loading D again writes the same table, with the events
that have arrived since.
"""

from __future__ import annotations

from datetime import date, datetime

from lakehouse.admission import checks as admission
from lakehouse.errors import DeliveryError, LakehouseError, Problem
from lakehouse.filters import compare, where
from lakehouse.ingestion.t1_load import LoadContext, LoadResult, log_load
from lakehouse.realtime.change_zipper import fold_into_zipper, staging_path
from lakehouse.realtime.ingestion import feed_decision
from lakehouse.realtime.tables import events_spec
from lakehouse.security.masking import masked_attributes
from lakehouse.zones.locks import table_date_lock
from lakehouse.zones.near_source import near_source_spec
from lakehouse.zones.storage import remove_dir


def load_from_feed(ctx: LoadContext, contract, data_date: date) -> LoadResult:
    """Keep ``contract``'s near-source table for ``data_date`` from its feed's events; never
    raises for a refusal, reports it."""
    spec = near_source_spec(contract, ctx.root)
    started = datetime.now()
    result = LoadResult(contract.name, spec.qualified_name, data_date, "failed")
    operation = contract.realtime.kind.replace("_", " ")
    staging = staging_path(ctx.root, contract, ctx.run_id)
    events = events_spec(contract, ctx.root)
    with table_date_lock(ctx.root, spec.qualified_name, data_date, ctx.run_id):
        try:
            arrived = ctx.engine.table_exists(events)
            result.admission = _admit(ctx, contract, data_date, events, arrived)
            if not arrived:
                raise DeliveryError(f"no events of {contract.name} have arrived in the real-time zone", [
                    Problem("the feed's events table does not exist yet", events.path,
                            fix=f"start its stream (`lakehouse stream run {contract.name}`), then "
                                "run the date again")])
            result.rows_in = result.rows_loaded = _load(ctx, contract, spec, data_date, events.path,
                                                        staging)
            result.table_version = ctx.engine.version(spec)
            result.status = "succeeded"
            of = "in the state at the end of" if contract.realtime.kind == "change_events" \
                else "of the events of"
            result.message = f"kept from the real-time feed: {result.rows_loaded} row(s) {of} {data_date}"
        except LakehouseError as exc:
            result.message = exc.render()
        finally:
            remove_dir(staging)
            log_load(ctx, contract, spec, result, "", started, operation)
    return result


def _admit(ctx: LoadContext, contract, data_date: date, events, arrived: bool) -> dict:
    """The static admission checks at ``data_date``, recorded; raises when one fails. The
    quality evidence is how many events of the date the feed admitted (``arrived``: its events
    table exists)."""
    profile = {"measured": "on the feed, per micro-batch: malformed, duplicate and late events "
                           "are quarantined",
               "events_of_date": ctx.engine.count(events, where(data_date=data_date)) if arrived else 0}
    decision = feed_decision(ctx.project, contract, data_date, ctx.registered.get(contract.name),
                             admission.check_quality(profile, []))
    masked = masked_attributes(ctx.project, contract.attributes)
    ctx.store.append(decision.log_records(ctx.run_id, None, masked))
    if decision.failed:
        raise decision.rejection(f"the real-time feed of {contract.name} for {data_date}")
    return profile


def _load(ctx: LoadContext, contract, spec, data_date: date, events: str, staging: str) -> int:
    """Write the table's rows of ``data_date`` from the events at ``events``; how many rows the
    date has."""
    engine = ctx.engine
    attributes = [(a.name, a.spark_type) for a in contract.attributes]
    metadata = {"run_id": ctx.run_id, "source": contract.name, "data_date": data_date.isoformat(),
                "operation": f"{contract.load_type} load from {contract.realtime.kind}"}
    if contract.load_type == "zipper":
        fold_into_zipper(engine, ctx.store, ctx.root, contract, data_date, ctx.run_id)
        return engine.count(spec, compare("start_dt", "<=", data_date) & compare("end_dt", ">", data_date))
    staged = f"{staging}/{data_date.isoformat()}.parquet"
    if contract.realtime.kind == "change_events":
        rows = engine.realtime.stage_state_from_changes(events, list(contract.keys), attributes,
                                                        data_date, staged)
    else:
        rows = engine.realtime.stage_events_of_date(events, attributes, data_date, staged)
    engine.load_partition(spec, staged, data_date, metadata)
    return rows
