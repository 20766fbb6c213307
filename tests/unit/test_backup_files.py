"""Backups at the file level (no Spark): what is copied, incrementally, and restored byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.errors import TerminalError
from lakehouse.lifecycle import backup, restore

TABLE = "standard/near_source/ref_product"


def _commit(table: Path, version: int, data: bytes) -> None:
    log = table / "_delta_log"
    log.mkdir(parents=True, exist_ok=True)
    (log / f"{version:020d}.json").write_text(f'{{"add": {{"path": "part-{version}.parquet"}}}}\n')
    (log / f"{version:020d}.crc").write_text(f'{{"version": {version}}}')
    (table / f"part-{version}.parquet").write_bytes(data)


@pytest.fixture
def lake(tmp_path: Path) -> tuple[Path, Path]:
    project = tmp_path / "project"
    root = project / "lakehouse_data"
    _commit(root / TABLE, 0, b"day one")
    _commit(root / TABLE, 1, b"day two")
    (root / TABLE / "_delta_log" / "_last_checkpoint").write_text("{}")
    (root / "raw" / "ref" / "product" / "2026-11-01").mkdir(parents=True)
    (root / "raw" / "ref" / "product" / "2026-11-01" / "product_20261101.csv").write_text("a,b\n")
    (root / "_staging" / "run-1").mkdir(parents=True)
    (root / "_staging" / "run-1" / "x.parquet").write_bytes(b"staged")
    (root / "_locks").mkdir()
    (project / "conf").mkdir()
    (project / "conf" / "lakehouse.yaml").write_text("root: ./lakehouse_data\n")
    return project, root


def test_a_backup_holds_each_table_at_its_last_commit_the_raw_zone_and_the_project(lake, tmp_path):
    project, root = lake
    result = backup.take(str(root), project, str(tmp_path / "backups"))
    paths = {(f.area, f.path) for f in result.manifest.files}
    assert result.manifest.tables == {TABLE: 1}
    assert (backup.LAKEHOUSE, f"{TABLE}/_delta_log/{1:020d}.json") in paths
    assert (backup.LAKEHOUSE, "raw/ref/product/2026-11-01/product_20261101.csv") in paths
    assert (backup.PROJECT, "conf/lakehouse.yaml") in paths
    assert not [p for _, p in paths if p.startswith(("_staging", "_locks")) or p.endswith("_last_checkpoint")]
    assert result.files_copied == len(result.manifest.files) == 8


def test_the_next_backup_copies_only_what_changed(lake, tmp_path):
    project, root = lake
    first = backup.take(str(root), project, str(tmp_path / "backups"))
    again = backup.take(str(root), project, str(tmp_path / "backups"))
    assert again.files_copied == 0 and again.manifest.backup_id != first.manifest.backup_id
    _commit(root / TABLE, 2, b"day three")
    third = backup.take(str(root), project, str(tmp_path / "backups"))
    assert third.manifest.tables == {TABLE: 2}
    log = root / TABLE / "_delta_log"
    assert (third.files_copied, third.bytes_copied) == (3, sum(len(p.read_bytes()) for p in (
        root / TABLE / "part-2.parquet", log / f"{2:020d}.json", log / f"{2:020d}.crc")))
    assert backup.manifests(str(tmp_path / "backups")) == sorted(
        m.manifest.backup_id for m in (first, again, third))


def test_restore_gives_the_same_bytes_and_keeps_later_commits_out(lake, tmp_path):
    project, root = lake
    taken = backup.take(str(root), project, str(tmp_path / "backups"))
    _commit(root / TABLE, 2, b"after the backup")
    restored = restore.restore(str(tmp_path / "backups"), str(tmp_path / "restored"),
                               tmp_path / "restored_project", taken.manifest.backup_id)
    assert restored.files == len(taken.manifest.files)
    log = tmp_path / "restored" / TABLE / "_delta_log"
    assert sorted(p.name for p in log.iterdir()) == [f"{v:020d}.{e}" for v in (0, 1) for e in ("crc", "json")]
    assert (tmp_path / "restored" / TABLE / "part-1.parquet").read_bytes() == b"day two"
    assert (tmp_path / "restored_project" / "conf" / "lakehouse.yaml").read_text() == "root: ./lakehouse_data\n"


def test_a_corrupted_backup_file_stops_the_restore_naming_it(lake, tmp_path):
    project, root = lake
    taken = backup.take(str(root), project, str(tmp_path / "backups"))
    [item] = [f for f in taken.manifest.files if f.path == f"{TABLE}/part-1.parquet"]
    stored = Path(backup.object_path(str(tmp_path / "backups"), item.sha256))
    stored.write_bytes(b"day twp")  # one byte changed
    with pytest.raises(TerminalError, match="1 file.s. do not match the manifest") as caught:
        restore.restore(str(tmp_path / "backups"), str(tmp_path / "restored"))
    [damaged, incomplete] = caught.value.problems
    assert f"{TABLE}/part-1.parquet: the backed-up bytes changed" in damaged.message
    assert "incomplete restore" in incomplete.message
    assert not (tmp_path / "restored" / TABLE / "part-1.parquet").exists()


def test_restore_refuses_a_folder_that_is_not_empty_and_a_missing_backup(lake, tmp_path):
    project, root = lake
    with pytest.raises(TerminalError, match="no backup at") as caught:
        restore.restore(str(tmp_path / "nothing"), str(tmp_path / "restored"))
    assert "lakehouse backup" in caught.value.problems[0].fix
    backup.take(str(root), project, str(tmp_path / "backups"))
    with pytest.raises(TerminalError, match="is not empty"):
        restore.restore(str(tmp_path / "backups"), str(root))
    with pytest.raises(TerminalError, match="no backup 2020") as caught:
        restore.restore(str(tmp_path / "backups"), str(tmp_path / "restored"), backup_id="2020")
    assert caught.value.problems[0].key == "--id"
