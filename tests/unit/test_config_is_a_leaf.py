"""The configuration package depends on no higher package: loading and checking a project
imports nothing of quality, layers or the Spark engine."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HIGHER = ("lakehouse.quality", "lakehouse.layers", "lakehouse.engine", "pyspark", "great_expectations")

PROBE = (
    "import json, sys\n"
    "import lakehouse.config\n"
    "print(json.dumps(sorted(sys.modules)))\n"
    "from lakehouse.config import load_project, validate_project\n"
    f"load_project({str(REPO / 'conf')!r})\n"
    f"assert validate_project({str(REPO / 'conf')!r}) == []\n"
    "print(json.dumps(sorted(sys.modules)))\n")
"""One fresh interpreter for both tests: the modules imported by ``import lakehouse.config``,
then those imported once a project has been loaded and validated too."""


@pytest.fixture(scope="module")
def imported() -> tuple[list[str], list[str]]:
    """(modules after importing the package, modules after loading and validating a project)."""
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True,
                          check=True, env={"PYTHONPATH": str(REPO), "PATH": ""})
    after_import, after_loading = done.stdout.splitlines()[-2:]
    return json.loads(after_import), json.loads(after_loading)


def test_importing_the_config_package_imports_no_higher_package(imported):
    modules, _ = imported
    assert "lakehouse.config" in modules
    assert [m for m in modules if m.startswith(HIGHER)] == []


def test_loading_and_validating_a_project_imports_no_higher_package(imported):
    _, modules = imported
    assert "lakehouse.config.derived_rules" in modules and "lakehouse.sql_parsing" in modules
    assert [m for m in modules if m.startswith(HIGHER)] == []
