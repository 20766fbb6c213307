"""Ingestion: a source's delivery for a data date located, landed raw, parsed, checked, staged
and loaded into its near-source table (``t1_load`` runs the whole path)."""
