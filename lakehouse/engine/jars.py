"""Make sure the Delta Lake and S3A jars are in the local Maven/Ivy cache (run by `make setup`).

Spark's own resolver fetches them on first use. Where it cannot reach the repository, the
same artifacts are fetched with `mvn dependency:get` into ~/.m2, which Spark's resolver reads.
The S3A connector (hadoop-aws and the AWS SDK v2 bundle it depends on, about 650 MB) is only
needed for an ``s3a://`` root; set LAKEHOUSE_SKIP_S3A_JARS=1 to leave it out. Each set of jars
is fetched once: a set whose resolved jar files are all still there is not resolved again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

from lakehouse.engine.object_store import s3a_packages
from lakehouse.engine.session import _resolved_jars, delta_packages

PROBE = """
import os, sys
os.environ["LAKEHOUSE_RESOLVING_JARS"] = "1"
from lakehouse.engine import Engine
from lakehouse.engine.session import resolved_jars_file
packages = sys.argv[2].split(",")
spark = Engine("local[1]", conf={"spark.jars.packages": sys.argv[2]}).spark
path = sys.argv[1]
spark.range(3).write.format("delta").mode("overwrite").save(path)
assert spark.read.format("delta").load(path).count() == 3
if len(sys.argv) > 3:  # a class every one of these packages must bring
    spark._jsc.hadoopConfiguration().getClassByName(sys.argv[3])
jars = [j.removeprefix("file://") for j in spark.conf.get("spark.jars").split(",") if j]
resolved_jars_file(packages).parent.mkdir(parents=True, exist_ok=True)
resolved_jars_file(packages).write_text(",".join(jars))
"""

MVN_GET = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get"
"""A plugin version that leaves a dependency's ``provided`` dependencies alone (the default
2.8 tries to fetch hadoop-aws's, from a repository it names, and fails)."""

S3A_CLASS = "org.apache.hadoop.fs.s3a.S3AFileSystem"
"""The connector's file system; loading it needs hadoop-aws and the AWS SDK bundle."""


def _probe(packages: list[str], needed_class: str | None = None) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-c", PROBE, f"{tmp}/probe", ",".join(packages),
                               *([needed_class] if needed_class else [])],
                              capture_output=True, text=True)
    return done.returncode == 0, done.stderr[-3000:]


def ensure_jars(name: str, packages: list[str], needed_class: str | None = None) -> None:
    """Resolve ``packages`` with Spark's resolver (``mvn dependency:get`` when it fails) and
    record the jar files, so that sessions start without a resolver run."""
    ok, error = _probe(packages, needed_class)
    if ok:
        print(f"{name} jars: ready")
        return
    print(f"{name} jars: Spark's resolver failed, fetching with mvn dependency:get", file=sys.stderr)
    if shutil.which("mvn") is None:
        sys.exit(f"cannot fetch the {name} jars: Spark's resolver failed and mvn is not installed\n{error}")
    for coordinate in packages:
        subprocess.run(["mvn", "-q", MVN_GET, f"-Dartifact={coordinate}", "-Dtransitive=true"],
                       check=True)
    ok, error = _probe(packages, needed_class)
    if not ok:
        sys.exit(f"Spark with the {name} jars still does not start:\n{error}")
    print(f"{name} jars: ready (from ~/.m2)")


def ensure_delta_jars() -> None:
    ensure_jars("delta", delta_packages())


def ensure_s3a_jars() -> None:
    """The S3A connector for an ``s3a://`` root; nothing to do when it is already resolved."""
    packages = delta_packages() + s3a_packages()
    if os.environ.get("LAKEHOUSE_SKIP_S3A_JARS") == "1":
        print("s3a jars: skipped (LAKEHOUSE_SKIP_S3A_JARS=1)")
    elif _resolved_jars(packages):
        print("s3a jars: ready")
    else:
        ensure_jars("s3a", packages, S3A_CLASS)


if __name__ == "__main__":
    ensure_delta_jars()
    ensure_s3a_jars()
