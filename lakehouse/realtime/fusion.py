"""Stream/batch fusion (6.2.3 c): each entity's current state, from its last T-1 batch and the
events after it; and reconciliation: when the T-1 batch of D lands it is authoritative, D's
events are compared with it (key sets, counts, amount totals, values), the differences are
recorded in ``governance.reconciliation``, and the events the batch now covers are retired.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime

from lakehouse.errors import ConfigError, Problem
from lakehouse.governance.records import ReconciliationRecord
from lakehouse.realtime.ingestion import feed_contract
from lakehouse.realtime.tables import events_spec
from lakehouse.security.masking import masked_attributes, masked_key
from lakehouse.zones.near_source import near_source_spec


def _parts(lakehouse, source: str):
    contract = feed_contract(lakehouse, source)
    root = lakehouse.root
    return contract, near_source_spec(contract, root), events_spec(contract, root)


def _arguments(lakehouse, source: str):
    contract, batch, events = _parts(lakehouse, source)
    batch_date = lakehouse.engine.realtime.batch_date(batch)
    return (batch, events, contract.realtime.kind, list(contract.keys),
            [a.name for a in contract.attributes], batch_date)


def view_name(contract) -> str:
    return f"current_{contract.table_name}"


def create_view(lakehouse, source: str) -> str:
    """Create the temporary view ``current_<system>_<entity>`` of the source's current state in
    the engine's session; its name."""
    contract = feed_contract(lakehouse, source)
    name = view_name(contract)
    lakehouse.engine.realtime.current_state_view(name, *_arguments(lakehouse, source))
    return name


def current_state(lakehouse, source: str, where: str | None = None) -> list[dict]:
    """The rows of the source's current state (``where``: a Spark SQL filter), each with its
    ``origin``: batch or stream."""
    return lakehouse.engine.realtime.current_state_rows(*_arguments(lakehouse, source), where=where)


def fingerprint(lakehouse, source: str) -> tuple[int, int]:
    """Rows and an order-independent checksum of the current state's attribute values."""
    return lakehouse.engine.realtime.current_state_fingerprint(*_arguments(lakehouse, source))


def reconcile(lakehouse, source: str, data_date: date, run_id: str | None = None,
              retire: bool = True) -> ReconciliationRecord:
    """Reconcile ``source``'s events of ``data_date`` against the T-1 batch of that date, record
    the result and (``retire``) retire the business events it covers; the record."""
    contract, batch, events = _parts(lakehouse, source)
    if contract.feed_only:
        raise ConfigError(f"{source} has no T-1 batch to reconcile its events against", [Problem(
            "it is known only by its real-time feed: its near-source table is kept from the events",
            file=contract.source_file, key="delivery",
            fix="nothing to reconcile; declare its T-1 extract under delivery to reconcile against it")])
    feed, engine = contract.realtime, lakehouse.engine
    run_id = run_id or f"reconcile-{uuid.uuid4().hex[:12]}"
    found = engine.realtime.reconcile(batch, events, feed.kind, list(contract.keys),
                                      [a.name for a in contract.attributes], feed.amount, data_date)
    masked = masked_attributes(lakehouse.project, contract.attributes)
    samples = {kind: [list(masked_key(masked, list(contract.keys), key)) for key in keys]
               for kind, keys in found["samples"].items()}
    differences = found["only_in_events"] + found["only_in_batch"] + found["differing"]
    amounts_differ = found["events_amount"] != found["batch_amount"] and feed.amount is not None
    retired = 0
    # change events stay: they are the change log their zipper table is folded from
    if retire and feed.kind == "business_events":
        retired = engine.realtime.retire_events(events, data_date, {
            "run_id": run_id, "source": source, "operation": "retire events",
            "data_date": data_date.isoformat()})
    record = ReconciliationRecord(
        run_id=run_id, source=source, data_date=data_date, events_table=events.qualified_name,
        batch_table=batch.qualified_name, events=found["events"], batch_rows=found["batch_rows"],
        only_in_events=found["only_in_events"], only_in_batch=found["only_in_batch"],
        differing=found["differing"], events_amount=found["events_amount"],
        batch_amount=found["batch_amount"], sample_keys=json.dumps(samples, default=str, ensure_ascii=False),
        status="differences" if differences or amounts_differ else "matched",
        events_retired=retired, reconciled_at=datetime.now())
    lakehouse.store.append([record])
    return record


def feeds_to_reconcile(project, system: str | None = None) -> list[str]:
    """The sources (of ``system``) whose real-time feed is reconciled after their T-1 load."""
    return [c.name for c in project.sources.values()
            if c.realtime is not None and not c.feed_only and (system is None or c.system == system)]
