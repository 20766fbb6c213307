"""The business metadata catalog: registered tables and columns, searchable by business meaning."""

from __future__ import annotations

from datetime import datetime

from lakehouse.governance.records import CatalogRecord
from lakehouse.governance.store import GovernanceStore
from lakehouse.config import Project, SourceContract
from lakehouse.zones.near_source import near_source_spec

SEARCHED = ("table_name", "column_name", "name_zh", "name_en", "description", "standard_id",
            "standard_zh", "standard_en", "standard_definition", "owner", "owner_name")


def entries(project: Project, contract: SourceContract, version: int, registered_at: datetime
            ) -> list[CatalogRecord]:
    """Catalog rows for a registered contract: the table (logical entity) and each column."""
    spec = near_source_spec(contract, project.settings.root)
    owner = project.owners.get(contract.owner)
    department = project.departments.get(owner.department) if owner else None
    system = project.systems[contract.system]
    common = {
        "source": contract.name, "registration_version": version, "table_name": spec.qualified_name,
        "owner": contract.owner, "owner_name": owner.name if owner else None,
        "department": department.name if department else None, "system": system.code,
        "system_name": system.name, "registered_at": registered_at,
    }
    entity = contract.business_name
    rows = [CatalogRecord(**common, column_name=None, data_type=None, is_key=None,
                          name_zh=entity.zh if entity else None, name_en=entity.en if entity else None,
                          description=contract.description, standard_id=None, standard_zh=None,
                          standard_en=None, standard_definition=None,
                          security_level=contract.table_level, pi_category=None)]
    for attribute in contract.attributes:
        standard = project.standards.get(attribute.standard)
        rows.append(CatalogRecord(
            **common, column_name=attribute.name, data_type=attribute.type,
            is_key=attribute.name in contract.keys, name_zh=attribute.business_name.zh,
            name_en=attribute.business_name.en, description=None,
            standard_id=attribute.standard,
            standard_zh=standard.name.zh if standard else None,
            standard_en=standard.name.en if standard else None,
            standard_definition=standard.definition if standard else None,
            security_level=attribute.security_level,
            pi_category=attribute.pi_category or (standard.pi_category if standard else None),
        ))
    return rows


def model_entries(project: Project, model, spec, owner: str, registered_at: datetime) -> list[CatalogRecord]:
    """Catalog rows for a built layer model: the table and each column with its security level
    (derived through the layers, see ``lakehouse.security.column_levels``)."""
    from lakehouse.security.column_levels import model_levels

    levels = model_levels(project)[model.name]
    person = project.owners.get(owner)
    common = {"source": None, "registration_version": None, "table_name": spec.qualified_name,
              "owner": owner, "owner_name": person.name if person else None,
              "department": None, "system": None, "system_name": None, "registered_at": registered_at,
              "standard_id": None, "standard_zh": None, "standard_en": None,
              "standard_definition": None, "pi_category": None}
    rows = [CatalogRecord(**common, column_name=None, data_type=None, is_key=None,
                          name_zh=model.business_name.get("zh"), name_en=model.business_name.get("en"),
                          description=model.description,
                          security_level=int(spec.properties["lakehouse.security_level"]))]
    for column in spec.columns:
        rows.append(CatalogRecord(**common, column_name=column.name, data_type=column.spark_type,
                                  is_key=column.name in model.keys, name_zh=None, name_en=None,
                                  description=model.description_of(column.name),
                                  security_level=levels.get(column.name)))
    return rows


def matches(entry: dict, term: str) -> bool:
    """Every word of ``term`` appears (case-insensitively) in the entry's searchable text."""
    words = term.lower().split()
    if not words:
        raise ValueError("search term is empty")
    text = " ".join(str(entry[c]) for c in SEARCHED if entry.get(c) is not None).lower()
    return all(w in text for w in words)


def rank(rows: list[dict], term: str) -> list[dict]:
    """Exact business-name matches first, then matches in a name (not only in a definition),
    tables before columns, then by name."""
    wanted = term.strip().lower()
    words = wanted.split()

    def key(row: dict) -> tuple:
        names = [(row[k] or "").lower() for k in ("name_zh", "name_en", "standard_zh", "standard_en")]
        in_names = all(any(w in n for n in names + [(row["column_name"] or "").lower()]) for w in words)
        return (wanted not in names, not in_names, row["column_name"] is not None, row["table_name"],
                row["column_name"] or "")

    return sorted(rows, key=key)


def search(engine, root: str, term: str) -> list[dict]:
    rows = [r.as_row() for r in GovernanceStore(engine, root).read(CatalogRecord)]
    return rank([r for r in rows if matches(r, term)], term)
