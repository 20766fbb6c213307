"""The HTTP face of the data services (FastAPI): ``/services/<name>`` for consumers, health and
readiness, the OpenAPI description, the call statistics and the pages for people."""

from __future__ import annotations

import json
import time
from contextlib import asynccontextmanager
from datetime import date

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from lakehouse.errors import LakehouseError
from lakehouse.security.access import AccessRefused
from lakehouse.security.audit import AccessEvent
from lakehouse.security.masking import masked_value
from lakehouse.services import openapi, pages
from lakehouse.services.limits import retry_after
from lakehouse.services.runtime import Runtime, Timings

_CONVERT = {"string": str, "integer": int, "date": date.fromisoformat}


def _error(status: int, error: str, detail: str, problems=(), headers=None) -> Response:
    body = {"error": error, "detail": detail,
            "problems": [{"message": p.message, "fix": p.fix} for p in problems]}
    return Response(json.dumps(body, ensure_ascii=False), status, headers=headers,
                    media_type="application/json")


def _presented_key(request: Request) -> str | None:
    key = request.headers.get(openapi.API_KEY_HEADER)
    if key is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = token if scheme.lower() == "bearer" else None
    return key


def create_app(project, timings: Timings = Timings(), runtime: Runtime | None = None) -> FastAPI:
    """The server's application for ``project``; its runtime starts and stops with it."""
    live = runtime or Runtime(project, timings)

    @asynccontextmanager
    async def lifespan(_app):
        live.start()
        try:
            yield
        finally:
            live.stop()

    app = FastAPI(title="bank-lakehouse data services", lifespan=lifespan, docs_url=None,
                  redoc_url=None)
    app.state.runtime = live

    def describe() -> dict:
        published = live.published()
        types = {c.name: s.types for c in published if (s := live.copies[c.name].snapshot)}
        deprecated = {c.name for c in published if live.states[c.name].state == "deprecated"}
        return openapi.describe(published, live.levels, types, deprecated)

    app.openapi = describe

    @app.get("/health", include_in_schema=False)
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/ready", include_in_schema=False)
    async def ready() -> Response:
        ok, detail = live.ready()
        return JSONResponse({"ready": ok, **detail}, 200 if ok else 503)

    @app.get("/services/{name}", include_in_schema=False)
    async def call(name: str, request: Request) -> Response:
        started = time.perf_counter()
        principal = live.keys.principal_of(_presented_key(request))
        response = _answer(live, name, principal, request)
        live.stats.add(name, principal or "anonymous", response.status_code,
                       (time.perf_counter() - started) * 1000)
        return response

    @app.get("/api/catalog", include_in_schema=False)
    async def catalog() -> list[dict]:
        return pages.catalog_entries(live)

    @app.get("/api/stats", include_in_schema=False)
    async def stats() -> list[dict]:
        return live.stats.totals()

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def catalog_page() -> str:
        return pages.catalog_page(live)

    @app.get("/customer-360", include_in_schema=False, response_class=HTMLResponse)
    async def customer_page() -> str:
        return pages.customer_360_page()

    @app.get("/stats", include_in_schema=False, response_class=HTMLResponse)
    async def stats_page() -> str:
        return pages.stats_page(live)

    return app


def _answer(live: Runtime, name: str, principal: str | None, request: Request) -> Response:
    """The answer to one call of service ``name`` by ``principal`` (None: no valid key)."""
    if principal is None:
        return _error(401, "unauthenticated", f"send a valid API key in the {openapi.API_KEY_HEADER} "
                      "header (lakehouse service key --consumer ...)",
                      headers={"WWW-Authenticate": f'ApiKey header="{openapi.API_KEY_HEADER}"'})
    contract, state = live.contract(name), live.states.get(name)
    if contract is None or state is None:
        return _error(404, "not_found", f"no published service {name!r}; see /api/catalog")
    if state.state == "retired":
        return _error(410, "gone", f"service {name} v{state.version} was retired "
                      f"({state.history[-1].reason or 'no reason given'}); ask its owner "
                      f"{contract.owner} for its successor")
    query = request.url.query
    try:
        view = live.view(name, principal)
    except AccessRefused as refused:
        try:
            _audit(live, refused.reads, principal, name, query, "refused", None, refused.summary)
        except LakehouseError as exc:
            return _error(503, "unaudited", exc.summary, exc.problems, headers={"Retry-After": "5"})
        return _error(403, "forbidden", refused.summary, refused.problems)
    wait = live.limiter.take(name, principal, contract.limits.rate_per_second, contract.limits.bucket)
    if wait:
        return _error(429, "rate_limited", f"{principal} may call {name} {contract.limits.rate_per_second:g} "
                      f"times per second", headers={"Retry-After": retry_after(wait)})
    breaker = live.breakers[name]
    if wait := breaker.wait():
        return _error(503, "unavailable", f"service {name}'s backend is failing; the circuit is open",
                      headers={"Retry-After": retry_after(wait)})
    key, problems = [], []
    for parameter in contract.query.parameters:
        text = request.query_params.get(parameter.name)
        try:
            if not text:
                raise ValueError(parameter.name)
            key.append(_CONVERT[parameter.type](text))
        except ValueError:
            problems.append(parameter)
    if problems:
        return _error(422, "bad_parameters", "; ".join(
            f"parameter {p.name} must be given, a {p.type}" + (" (YYYY-MM-DD)" if p.type == "date" else "")
            for p in problems))
    snapshot, rows = live.copies[name].lookup(tuple(key))
    if snapshot is None:
        breaker.failed()
        return _error(503, "unavailable", f"service {name} has no serving copy yet "
                      f"({live.copy_errors.get(name, 'loading')})", headers={"Retry-After": "5"})
    rows = rows[:contract.limits.max_rows]
    try:
        _audit(live, view.objects, principal, name, query, view.result, len(rows),
               f"service {name} v{contract.version}, data date {snapshot.data_date}")
    except LakehouseError as exc:
        breaker.failed()
        return _error(503, "unaudited", exc.summary, exc.problems, headers={"Retry-After": "5"})
    breaker.succeeded()
    masked = view.masked
    shown = [{c: masked_value(masked, c, row[c]) for c in contract.query.output} for row in rows] \
        if masked else [{c: row[c] for c in contract.query.output} for row in rows]
    body = {"service": name, "version": contract.version, "data_date": snapshot.data_date.isoformat(),
            "masked": sorted(c for c in masked if c in contract.query.output), "rows": shown}
    headers = {"Deprecation": "true"} if state.state == "deprecated" else None
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), 200, headers=headers,
                    media_type="application/json")


def _audit(live: Runtime, objects, principal: str, name: str, query: str, result: str,
           rows: int | None, detail: str) -> None:
    from lakehouse.security.audit import AccessedColumn

    columns = [o if isinstance(o, AccessedColumn) else AccessedColumn(o.table, o.column, o.level)
               for o in objects]
    roles = [r for p in live.project.security.principals if p.id == principal for r in p.roles]
    live.journal.record(AccessEvent(principal=principal, roles=roles, operation="service",
                                    objects=columns, result=result, rows_returned=rows,
                                    query_text=f"GET /services/{name}?{query}", detail=detail))
