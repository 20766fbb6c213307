"""The engine boundary: only ``lakehouse/engine`` talks to Spark, and an engine batch is opened
only there and in the Great Expectations adapter (which hands its rows to GE)."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "lakehouse"
ENGINE = PACKAGE / "engine"
GE_ADAPTER = PACKAGE / "quality" / "ge_adapter.py"
UNWRAP = {"spark_frame", "_frame"}
"""Names that open a batch: the unwrapping function and the handle's private slot."""
ENGINE_INSIDES = {"spark", "delta", "_spark", "_delta", "_prepared"}
"""The engine's Spark session, Delta tables and state: not for other modules."""


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _inside_engine(path: Path) -> bool:
    return ENGINE in path.parents


def _spark_imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found += [(node.lineno, n) for n in names
                  if n.split(".")[0] in ("pyspark", "delta", "py4j") or ".pyspark" in n]
    return found


def _batch_openings(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in UNWRAP:
            found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.Name) and node.id in UNWRAP:
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.ImportFrom):
            found += [(node.lineno, f"import {a.name}") for a in node.names if a.name in UNWRAP]
    return found


def _engine_insides(tree: ast.AST) -> list[tuple[int, str]]:
    return [(node.lineno, f"engine.{node.attr}") for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in ENGINE_INSIDES
            and isinstance(node.value, ast.Attribute | ast.Name)
            and (node.value.attr if isinstance(node.value, ast.Attribute) else node.value.id) == "engine"]


@functools.cache
def _parsed(path: Path) -> ast.AST:
    """The syntax tree of one module, parsed once for all the checks (they only read it)."""
    return ast.parse(path.read_text(), filename=str(path))


def _offences(check, allowed) -> list[str]:
    offences = []
    for path in _modules():
        if allowed(path):
            continue
        tree = _parsed(path)
        offences += [f"{path.relative_to(PACKAGE.parent)}, line {line}: {what}" for line, what in check(tree)]
    return offences


def test_only_the_engine_and_the_ge_adapter_import_spark():
    offences = _offences(_spark_imports, lambda p: _inside_engine(p) or p == GE_ADAPTER)
    assert offences == [], ("Spark is the engine's business: move this work into lakehouse/engine "
                            "and call an Engine method instead\n" + "\n".join(offences))


def test_only_the_engine_and_the_ge_adapter_open_a_batch():
    offences = _offences(_batch_openings, lambda p: _inside_engine(p) or p == GE_ADAPTER)
    assert offences == [], ("a Batch is opaque outside lakehouse/engine and quality/ge_adapter.py: "
                            "pass it back to the Engine instead\n" + "\n".join(offences))


def test_only_the_engine_uses_its_spark_session_and_delta_tables():
    offences = _offences(_engine_insides, _inside_engine)
    assert offences == [], ("the engine's session and tables are its own: add an Engine method "
                            "for this work\n" + "\n".join(offences))


def test_the_checks_find_what_they_look_for():
    spark = ast.parse("import pyspark.sql\nfrom delta.tables import DeltaTable\n"
                      "from great_expectations.compatibility.pyspark import functions\n")
    assert [what for _, what in sorted(_spark_imports(spark))] == [
        "pyspark.sql", "delta.tables", "great_expectations.compatibility.pyspark"]
    opened = ast.parse("from lakehouse.engine.batches import spark_frame\n"
                       "rows = spark_frame(batch)\nrows = batch._frame\n")
    assert [what for _, what in sorted(_batch_openings(opened))] == [
        "import spark_frame", "spark_frame", "._frame"]
    insides = ast.parse("lakehouse.engine.spark.range(1)\nself.engine.delta.read(p)\n"
                        "engine._prepared.add(x)\nsettings.spark.master\n")
    assert [what for _, what in sorted(_engine_insides(insides))] == [
        "engine.spark", "engine.delta", "engine._prepared"]


def test_the_engine_keeps_its_prepared_tables_to_itself():
    tree = ast.parse((ENGINE / "__init__.py").read_text())
    engine = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Engine")
    public = {t.attr for n in ast.walk(engine) if isinstance(n, ast.Assign | ast.AnnAssign)
              for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
              if isinstance(t, ast.Attribute) and not t.attr.startswith("_")}
    assert public == set(), f"Engine state must be private: {sorted(public)}"
