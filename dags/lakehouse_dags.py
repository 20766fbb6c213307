"""The lakehouse's Airflow DAGs, built from lakehouse_manifest.json beside this file.

Regenerate the manifest with `lakehouse dags compile` after changing conf/ or layers/. Parsing
this file reads that JSON only: no Spark, Great Expectations or YAML.
"""

from pathlib import Path

from lakehouse.orchestration.dag_factory import build_dags
from lakehouse.orchestration.manifest import MANIFEST_FILE, read

_MANIFEST = Path(__file__).with_name(MANIFEST_FILE)

globals().update(build_dags(read(_MANIFEST), _MANIFEST))
