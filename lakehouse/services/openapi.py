"""The OpenAPI description of the published services, generated from their contracts: one path
per service, its typed parameters, its output columns with their security levels (from lineage),
its owner, grade, consumers and limits."""

from __future__ import annotations

from lakehouse.config.service_contracts import ServiceContract

API_KEY_HEADER = "X-API-Key"
_PARAMETER_SCHEMAS = {"string": {"type": "string"}, "integer": {"type": "integer"},
                      "date": {"type": "string", "format": "date"}}
_ERRORS = {"401": "no valid API key", "403": "the consumer may not call this service (the body says "
           "why and how to get access)", "404": "no such published service",
           "410": "the service is retired", "422": "a parameter is missing or not of its type",
           "429": "over the consumer's rate limit (see Retry-After)",
           "503": "the backend is failing (circuit open) or the call cannot be audited"}


def _column_schema(arrow_type: str | None) -> dict:
    if arrow_type is None:
        return {}
    if arrow_type.startswith(("int", "uint")):
        return {"type": "integer"}
    if arrow_type in ("double", "float"):
        return {"type": "number"}
    if arrow_type == "bool":
        return {"type": "boolean"}
    if arrow_type.startswith("date"):
        return {"type": "string", "format": "date"}
    if arrow_type.startswith("decimal"):
        return {"type": "string", "format": "decimal"}
    if arrow_type.startswith("list"):
        return {"type": "array", "items": {"type": "string"}}
    return {"type": "string"}


def path_of(name: str) -> str:
    return f"/services/{name}"


def describe(contracts: list[ServiceContract], levels: dict[str, dict[str, int]],
             types: dict[str, dict[str, str]], deprecated: set[str] = frozenset(),
             version: str = "1") -> dict:
    """The OpenAPI 3.1 document of ``contracts``; ``levels``: table -> column -> level;
    ``types``: service -> column -> Arrow type of its serving copy (when loaded)."""
    paths = {}
    for c in contracts:
        table_levels, column_types = levels.get(c.table, {}), types.get(c.name, {})
        row = {"type": "object", "properties": {
            column: {**_column_schema(column_types.get(column)),
                     "x-security-level": table_levels.get(column, 5)} for column in c.query.output}}
        paths[path_of(c.name)] = {"get": {
            "operationId": c.name, "summary": c.description, "tags": [c.grade],
            "deprecated": c.name in deprecated,
            "x-version": c.version, "x-owner": c.owner, "x-grade": c.grade, "x-table": c.table,
            "x-consumers": list(c.consumers),
            "x-rate-limit": {"per_second": c.limits.rate_per_second, "burst": c.limits.bucket},
            "x-latency-objective-ms": c.limits.latency_p99_ms, "x-max-rows": c.limits.max_rows,
            "parameters": [{"name": p.name, "in": "query", "required": True,
                            "description": p.description, "schema": _PARAMETER_SCHEMAS[p.type]}
                           for p in c.query.parameters],
            "responses": {"200": {"description": "the rows of the current data date, masked as the "
                                                 "consumer's roles require", "content": {"application/json": {
                "schema": {"type": "object", "properties": {
                    "service": {"type": "string"}, "version": {"type": "integer"},
                    "data_date": {"type": "string", "format": "date"},
                    "masked": {"type": "array", "items": {"type": "string"}},
                    "rows": {"type": "array", "items": row}}}}}},
                **{code: {"description": text} for code, text in _ERRORS.items()}}}}
    return {"openapi": "3.1.0",
            "info": {"title": "bank-lakehouse data services", "version": version,
                     "description": "Published data services over the lakehouse (6.2.4.3, 6.3.1.3)"},
            "components": {"securitySchemes": {"apiKey": {"type": "apiKey", "in": "header",
                                                          "name": API_KEY_HEADER}}},
            "security": [{"apiKey": []}], "paths": paths}
