"""The synthetic project of ``benchmarks/t1_batch.py`` stays a valid project as the repo's
configuration grows (a hold, retention rule or service naming the demo bank's tables once
broke it without any test noticing)."""

from __future__ import annotations

from benchmarks.t1_batch import LOAD_TYPES, synthetic_project
from lakehouse.config.loader import load_project


def test_t1_batch_project_loads_with_its_clones_and_own_key(tmp_path):
    small, large = synthetic_project(tmp_path, sources=4, large=2)

    project = load_project(tmp_path / "conf")

    assert small == [f"bnk.acct{i:04d}" for i in range(4)] and large == ["bnk.big1", "bnk.big2"]
    assert [project.sources[name].load_type for name in small + large] == [
        LOAD_TYPES[i % 3] for i in range(6)]
    assert [project.sources[name].delivery.path for name in small] == [
        f"bnk/{{data_date}}/acct{i:04d}_{{data_date}}.csv" for i in range(4)]
    assert (tmp_path / ".secrets" / "master.key").stat().st_mode & 0o077 == 0
