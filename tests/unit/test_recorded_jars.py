"""The jar files setup records for a set of Maven packages, read back by every session start."""

from __future__ import annotations

from lakehouse.engine import session

PACKAGES = ["io.delta:delta-spark_4.1_2.13:4.4.0"]


def test_recorded_jars_are_used_only_when_the_packages_own_jars_are_among_them(tmp_path, monkeypatch):
    monkeypatch.setattr(session.Path, "home", lambda: tmp_path)
    delta, storage, kms = (tmp_path / "io.delta_delta-spark_4.1_2.13-4.4.0.jar",
                           tmp_path / "io.delta_delta-storage-4.4.0.jar", tmp_path / "lakehouse-jvm-1.jar")
    for jar in (delta, storage, kms):
        jar.write_bytes(b"PK")
    record = session.resolved_jars_file(PACKAGES)
    record.parent.mkdir(parents=True)
    record.write_text(f"{delta},{storage}")
    assert session._resolved_jars(PACKAGES) == f"{delta},{storage}"
    record.write_text(str(kms))  # a session's own jar recorded instead of the resolver's
    assert session._resolved_jars(PACKAGES) is None
    record.write_text(f"{delta},{tmp_path / 'gone.jar'}")
    assert session._resolved_jars(PACKAGES) is None
