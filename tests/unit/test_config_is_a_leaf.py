"""The configuration package depends on no higher package: loading and checking a project
imports nothing of quality, layers or the Spark engine."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HIGHER = ("lakehouse.quality", "lakehouse.layers", "lakehouse.engine", "pyspark", "great_expectations")


def _imported_after(code: str) -> list[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          check=True, env={"PYTHONPATH": str(REPO), "PATH": ""})
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_the_config_package_imports_no_higher_package():
    modules = _imported_after("import lakehouse.config")
    assert [m for m in modules if m.startswith(HIGHER)] == []


def test_loading_and_validating_a_project_imports_no_higher_package():
    modules = _imported_after(
        "from lakehouse.config import load_project, validate_project\n"
        f"load_project({str(REPO / 'conf')!r})\n"
        f"assert validate_project({str(REPO / 'conf')!r}) == []")
    assert "lakehouse.config.derived_rules" in modules and "lakehouse.sql_parsing" in modules
    assert [m for m in modules if m.startswith(HIGHER)] == []
