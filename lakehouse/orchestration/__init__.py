"""Airflow orchestration: the DAG manifest, the DAGs built from it, the engine service."""
