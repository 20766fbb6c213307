"""Governance records: the lakehouse's own tables (load log, admission decisions, quality
results, model runs, lineage, ...), kept as Delta tables in the governance zone."""
