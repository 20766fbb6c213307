"""Typed configuration of a lakehouse project (``conf/``) and its loader."""

from .loader import load_project, validate_project
from .models import (
    Attribute,
    BusinessName,
    ControlSpec,
    Delivery,
    Settings,
    SourceContract,
    SparkSettings,
)
from .project import Project
from .registries import (
    Classification,
    DataStandard,
    Masking,
    Owner,
    SourceSystem,
    ValueDomain,
)

__all__ = [
    "Attribute",
    "BusinessName",
    "Classification",
    "ControlSpec",
    "DataStandard",
    "Delivery",
    "Masking",
    "Owner",
    "Project",
    "Settings",
    "SourceContract",
    "SourceSystem",
    "SparkSettings",
    "ValueDomain",
    "load_project",
    "validate_project",
]
