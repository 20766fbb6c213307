"""Typed configuration of a lakehouse project (``conf/``) and its loader."""

from .loader import load_project, validate_project
from .models import (
    Attribute,
    BusinessName,
    ControlSpec,
    Delivery,
    Project,
    Settings,
    SourceContract,
    SourceSystem,
    SparkSettings,
)

__all__ = [
    "Attribute",
    "BusinessName",
    "ControlSpec",
    "Delivery",
    "Project",
    "Settings",
    "SourceContract",
    "SourceSystem",
    "SparkSettings",
    "load_project",
    "validate_project",
]
