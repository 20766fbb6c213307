"""The demo bank's data services (services.yaml) taken through their lifecycle: registered by a
data engineer, approved by each service's owner, published for `lakehouse serve`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from lakehouse.services import lifecycle

AUTHOR = "zhang.wei"
"""The data engineer who registers and publishes the demo's services (not their approver)."""
STEPS = (("registered", None), ("approved", "owner"), ("published", None))


def publish_demo_services(lh, console: Console) -> list[dict]:
    """Take every service of the demo to published (steps already taken are kept); print them."""
    from lakehouse.services.registry import ServiceRegistry

    registry = ServiceRegistry(lh.project)
    for contract in lh.project.services.values():
        state = lifecycle.states(registry.events()).get((contract.name, contract.version))
        taken = {e.event for e in state.history} if state else set()
        if state is not None and state.state in ("deprecated", "retired"):
            continue
        for event, who in STEPS:
            if event not in taken:
                principal = contract.owner if who == "owner" else AUTHOR
                lh.as_principal(principal).service_step(contract.name, event)
    rows = lh.services()
    table = Table(title="data services (lakehouse serve)")
    for column in ("service", "version", "owner", "table", "state", "last_step"):
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*[str(row[c]) for c in ("service", "version", "owner", "table", "state", "last_step")])
    console.print(table)
    return rows
