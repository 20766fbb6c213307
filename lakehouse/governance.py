"""Governance tables: the lakehouse's own records, kept as Delta tables beside the data."""

from __future__ import annotations

from lakehouse.tables import Column, TableSpec, join_path

ZONE = "governance"


def _spec(root: str, name: str, comment: str, columns: list[tuple[str, str, str]],
          partition_by: tuple[str, ...] = ()) -> TableSpec:
    return TableSpec(
        name=name,
        zone=ZONE,
        layer=None,
        path=join_path(root, ZONE, name),
        columns=tuple(Column(n, t, c) for n, t, c in columns),
        partition_by=partition_by,
        comment=comment,
    )


def raw_manifest(root: str) -> TableSpec:
    return _spec(root, "raw_manifest", "Every file landed in the raw zone, one row per version", [
        ("run_id", "string", "run that landed the file"),
        ("source", "string", "source contract, system.entity"),
        ("data_date", "date", "data date of the delivery"),
        ("file_name", "string", "file name as delivered"),
        ("role", "string", "data or control"),
        ("version", "int", "raw zone version of this file for the data date"),
        ("raw_path", "string", "where the bytes are kept"),
        ("size_bytes", "bigint", "file size"),
        ("sha256", "string", "SHA-256 of the bytes"),
        ("rows", "bigint", "rows declared by the control file, if known"),
        ("received_at", "timestamp", "when the file was landed"),
    ])


def load_log(root: str) -> TableSpec:
    return _spec(root, "load_log", "Every near-source load attempt with its row counts", [
        ("run_id", "string", "run identifier"),
        ("source", "string", "source contract, system.entity"),
        ("table_name", "string", "target table, schema.name"),
        ("data_date", "date", "data date loaded"),
        ("load_type", "string", "snapshot, zipper or append"),
        ("file_name", "string", "delivered file"),
        ("sha256", "string", "SHA-256 of the delivered file"),
        ("rows_in", "bigint", "records in the file"),
        ("rows_loaded", "bigint", "records loaded into the table"),
        ("rows_quarantined", "bigint", "records put in quarantine"),
        ("status", "string", "succeeded, failed or skipped"),
        ("message", "string", "error message when failed"),
        ("table_version", "bigint", "Delta version of the target after the load"),
        ("started_at", "timestamp", "start of the load"),
        ("finished_at", "timestamp", "end of the load"),
    ])


def quarantine(root: str) -> TableSpec:
    return _spec(root, "quarantine", "Rejected rows with the reason, kept as delivered", [
        ("source", "string", "source contract, system.entity"),
        ("table_name", "string", "target table, schema.name"),
        ("data_date", "date", "data date of the delivery"),
        ("run_id", "string", "run that rejected the row"),
        ("file_name", "string", "delivered file"),
        ("line", "bigint", "line number in the file (row number for Parquet)"),
        ("reason", "string", "why the row was rejected"),
        ("raw_line", "string", "the row as delivered"),
        ("quarantined_at", "timestamp", "when the row was rejected"),
    ], partition_by=("table_name",))


def all_specs(root: str) -> list[TableSpec]:
    return [raw_manifest(root), load_log(root), quarantine(root)]
