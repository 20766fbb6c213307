"""Make sure the Delta Lake jars are in the local Maven/Ivy cache (run once by `make setup`).

Spark's own resolver fetches them on first use. Where it cannot reach the repository, the
same artifacts are fetched with `mvn dependency:get` into ~/.m2, which Spark's resolver reads.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile

from lakehouse.engine.session import delta_packages

PROBE = """
import sys
from lakehouse.engine import Engine
from lakehouse.engine.session import resolved_jars_file
spark = Engine("local[1]", conf={"spark.jars.packages": sys.argv[2]}).spark
path = sys.argv[1]
spark.range(3).write.format("delta").mode("overwrite").save(path)
assert spark.read.format("delta").load(path).count() == 3
jars = [j.removeprefix("file://") for j in spark.conf.get("spark.jars").split(",") if j]
resolved_jars_file().parent.mkdir(parents=True, exist_ok=True)
resolved_jars_file().write_text(",".join(jars))
"""


def _probe() -> tuple[bool, str]:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-c", PROBE, f"{tmp}/probe",
                               ",".join(delta_packages())],
                              capture_output=True, text=True)
    return done.returncode == 0, done.stderr[-3000:]


def ensure_delta_jars() -> None:
    ok, error = _probe()
    if ok:
        print("delta jars: ready")
        return
    print("delta jars: Spark's resolver failed, fetching with mvn dependency:get", file=sys.stderr)
    if shutil.which("mvn") is None:
        sys.exit(f"cannot fetch the Delta jars: Spark's resolver failed and mvn is not installed\n{error}")
    for coordinate in delta_packages():
        subprocess.run(["mvn", "-q", "dependency:get", f"-Dartifact={coordinate}",
                        "-Dtransitive=true"], check=True)
    ok, error = _probe()
    if not ok:
        sys.exit(f"Spark with Delta still does not start:\n{error}")
    print("delta jars: ready (from ~/.m2)")


if __name__ == "__main__":
    ensure_delta_jars()
