"""Friendly, fixable findings from pydantic validation errors."""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, Tag, ValidationError
from pydantic.fields import FieldInfo

from .findings import Finding, did_you_mean, one_of

_SIMPLE = {
    "int_type": "{name} must be a whole number",
    "int_parsing": "{name} must be a whole number",
    "int_from_float": "{name} must be a whole number",
    "bool_type": "{name} must be true or false",
    "bool_parsing": "{name} must be true or false",
    "string_type": "{name} must be text",
    "string_too_short": "{name} must not be empty",
    "too_short": "{name} must list at least one item",
    "list_type": "{name} must be a list",
    "model_type": "{name} must be a mapping of keys to values",
    "model_attributes_type": "{name} must be a mapping of keys to values",
    "dict_type": "{name} must be a mapping of keys to values",
}
_FIXES = {
    "int_type": "write a number without quotes or decimals",
    "int_parsing": "write a number without quotes or decimals",
    "int_from_float": "write a number without decimals",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "string_type": "put the value in quotes",
    "string_too_short": "give it a value",
    "too_short": "add at least one item",
    "list_type": "write a YAML list: '- item' lines or [a, b]",
    "model_type": "write indented 'key: value' lines under it",
    "model_attributes_type": "write indented 'key: value' lines under it",
    "dict_type": "write indented 'key: value' lines under it",
}
_BOUNDS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def findings_from(error: ValidationError, model: type[BaseModel]) -> list[Finding]:
    """One finding per pydantic error of validating ``model``."""
    return [_finding(err, model) for err in error.errors(include_url=False)]


def _finding(err: Any, model: type[BaseModel]) -> Finding:
    raw = tuple(err["loc"])
    loc = _without_tags(model, raw)
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    name = next((part for part in reversed(loc) if isinstance(part, str)), "value")
    if "fix" in ctx:
        return Finding(loc, err["msg"], value, ctx["fix"])
    if kind == "missing":
        field = _field_at(model, raw)
        about = f" ({field.description})" if field and field.description else ""
        return Finding(loc, f"missing required key '{name}'", None, f"add '{name}: ...'{about}")
    if kind == "extra_forbidden":
        allowed = list(_model_at(model, raw[:-1]).model_fields)
        return Finding(
            loc,
            f"unknown key '{name}'",
            value,
            f"remove it or use one of: {one_of(allowed)}{did_you_mean(name, allowed)}",
        )
    if kind == "literal_error":
        choices = [str(c) for c in _literal_choices(model, raw)]
        return Finding(
            loc,
            f"{name} must be one of: {one_of(choices)}",
            value,
            f"use one of: {one_of(choices)}{did_you_mean(value, choices)}",
        )
    if kind in _BOUNDS:
        low, high = _bounds(_field_at(model, raw))
        if low is not None and high is not None:
            return Finding(loc, f"{name} must be between {low} and {high}", value, f"use a whole number from {low} to {high}")
        if low is not None:
            return Finding(loc, f"{name} must be at least {low}", value, f"use a whole number of {low} or more")
        if high is not None:
            return Finding(loc, f"{name} must be at most {high}", value, f"use a whole number of {high} or less")
    if kind in _SIMPLE:
        return Finding(loc, _SIMPLE[kind].format(name=name), value, _FIXES[kind])
    return Finding(loc, f"{name}: {err['msg']}", value, f"correct the value of {name}")


def _unwrap(tp: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` -> ``X``."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(tp) if a is not type(None)]
            if len(options) != 1:
                return tp
            tp = options[0]
        else:
            return tp


def _tagged_members(tp: Any) -> dict[str, Any]:
    """Tag -> member type of a tagged union (``Annotated[Model, Tag(...)]`` options), or {}."""
    if get_origin(tp) not in (Union, types.UnionType):
        return {}
    members: dict[str, Any] = {}
    for option in get_args(tp):
        if get_origin(option) is Annotated:
            member, *metadata = get_args(option)
            members |= {m.tag: member for m in metadata if isinstance(m, Tag)}
    return members


def _without_tags(model: type[BaseModel], loc: tuple) -> tuple:
    """``loc`` as the user wrote it: without the tags pydantic adds inside a tagged union."""
    tags: list[int] = []
    _walk(model, loc, tags)
    return tuple(part for i, part in enumerate(loc) if i not in tags)


def _walk(model: type[BaseModel], loc: tuple, tags: list[int] | None = None
          ) -> tuple[Any, FieldInfo | None]:
    """The type found at ``loc`` below ``model``, and the model field it last passed (the
    positions of tagged-union tags in ``loc`` are added to ``tags``)."""
    tp: Any = model
    field: FieldInfo | None = None
    for index, part in enumerate(loc):
        tp = _unwrap(tp)
        origin = get_origin(tp)
        members = _tagged_members(tp)
        if isinstance(part, str) and part in members:
            tp = members[part]
            if tags is not None:
                tags.append(index)
        elif isinstance(part, str) and isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part)
            if field is None:
                return None, None
            tp = field.annotation
        elif isinstance(part, int) and origin is list:
            tp = get_args(tp)[0]
        elif origin is dict:
            tp = get_args(tp)[1]
        else:
            return None, field
    return _unwrap(tp), field


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel]:
    tp, _ = _walk(model, loc)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else model


def _field_at(model: type[BaseModel], loc: tuple) -> FieldInfo | None:
    return _walk(model, loc)[1]


def _literal_choices(model: type[BaseModel], loc: tuple) -> tuple:
    tp, _ = _walk(model, loc)
    return get_args(tp) if get_origin(tp) is Literal else ()


def _bounds(field: FieldInfo | None) -> tuple[Any, Any]:
    low = high = None
    for item in field.metadata if field else ():
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Gt):
            low = item.gt + 1 if isinstance(item.gt, int) else None
        elif isinstance(item, annotated_types.Le):
            high = item.le
    return low, high
