"""Airflow for the tests: a throwaway home and SQLite metadata database, the repo's dags/.

Import this before anything imports Airflow (Airflow reads its configuration on import).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DAGS = REPO / "dags"

if "LAKEHOUSE_TEST_AIRFLOW_HOME" not in os.environ:
    home = tempfile.mkdtemp(prefix="airflow-home-")
    os.environ.update({
        "LAKEHOUSE_TEST_AIRFLOW_HOME": home,
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    })

_db_ready = False


def metadata_db() -> None:
    """Create the metadata database once per test run."""
    global _db_ready
    if not _db_ready:
        from airflow.utils import db

        db.resetdb()
        _db_ready = True
