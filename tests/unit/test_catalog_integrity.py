"""Catalog damage and the way back (unit tier, real SQLite files): the start-up check
(quick_check within a time budget) refuses a damaged registry or catalog in one line, also
damage in pages nothing reads at start; damage met while serving is DATA_LOSS, not
UNKNOWN; `backup` copies online, `restore` verifies before it replaces, and neither runs
over a data directory a gateway holds."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest

from server.api.errors import to_status
from server.app import open_registry
from server.catalog import backup
from server.catalog.integrity import StartCheck, quick_check
from server.catalog.lock import DataDirectoryInUseError, DataDirectoryLock
from server.catalog.sqlite import CatalogCorruptError, SqliteCatalogRegistry
from server.config import Config
from server.domain import Product, ProductWrite
from server.index.store import StoreState

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = {"image": ("lite0", "v1")}


def fill(data_dir: Path, catalogs: dict[str, int]) -> dict[str, list[str]]:
    """Catalogs with that many products each (8 KB images: many pages); closed again."""
    registry = SqliteCatalogRegistry(data_dir)
    rng = np.random.default_rng(7)
    ids = {}
    try:
        for catalog_id, count in catalogs.items():
            info = registry.get(catalog_id) or registry.create(catalog_id)
            store = registry.open(info)
            writes = [
                ProductWrite(
                    Product(id=f"{catalog_id}-{i}", title=f"title {i}", category="Bag", price=float(i)),
                    rng.bytes(8192),
                    {"image": rng.normal(size=8).astype(np.float32)},
                )
                for i in range(count)
            ]
            store.upsert(writes, VERSIONS)
            store.close()
            ids[catalog_id] = [w.product.id for w in writes]
    finally:
        registry.close()
    return ids


def catalog_file(data_dir: Path, catalog_id: str) -> Path:
    registry = SqliteCatalogRegistry(data_dir)
    try:
        info = registry.get(catalog_id)
        assert info is not None
        return registry.database(info)
    finally:
        registry.close()


def damage_btree(path: Path, name: str) -> int:
    """Random bytes over the root page of table or index `name` (never page 1, the
    header); returns the page number."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        (page_size,) = db.execute("PRAGMA page_size").fetchone()
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    assert root > 1 and not Path(f"{path}-wal").exists(), "the file must be closed and checkpointed"
    with open(path, "r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(np.random.default_rng(root).bytes(page_size))
    return root


def test_a_clean_data_directory_passes_the_check(tmp_path, caplog):
    fill(tmp_path, {"default": 30, "shop-a": 5})
    caplog.set_level(logging.INFO, "server.catalog.integrity")
    registry = open_registry(Config(data_dir=tmp_path))
    registry.close()
    checked = [r.getMessage() for r in caplog.records if "quick_check ok" in r.getMessage()]
    assert len(checked) == 3, checked  # the registry and both catalogs
    verdict = quick_check(catalog_file(tmp_path, "default"), seconds=10)
    assert verdict.intact and verdict.complete


@pytest.mark.parametrize("table", ["products", "embeddings"])
def test_a_damaged_catalog_refuses_the_start_in_one_line(tmp_path, table):
    fill(tmp_path, {"default": 30})
    path = catalog_file(tmp_path, "default")
    damage_btree(path, table)
    with pytest.raises(CatalogCorruptError) as refused:
        open_registry(Config(data_dir=tmp_path))
    message = str(refused.value)
    assert "\n" not in message, message
    assert f"catalog 'default' {path} is damaged (quick_check: " in message, message
    assert f"productsearch restore --data-dir {tmp_path} BACKUP_DIR" in message, message


def test_damage_in_pages_nothing_reads_at_open_is_found(tmp_path):
    """The attack: a damaged index of the products table goes unnoticed by opening the
    store (and by writes that do not touch it); quick_check reads every page."""
    fill(tmp_path, {"default": 30})
    path = catalog_file(tmp_path, "default")
    damage_btree(path, "sqlite_autoindex_products_1")  # the unique index on the product id
    registry = SqliteCatalogRegistry(tmp_path)
    store = registry.open(registry.get("default"))
    try:
        assert store.seq() == 1  # opens and answers
    finally:
        store.close()
        registry.close()
    verdict = quick_check(path, seconds=10)
    assert not verdict.intact and verdict.complete, verdict
    with pytest.raises(CatalogCorruptError, match="is damaged"):
        StartCheck(tmp_path).require_intact([("catalog 'default'", path)])


def test_a_damaged_registry_refuses_the_start(tmp_path):
    fill(tmp_path, {"default": 2, "shop-a": 2})
    damage_btree(tmp_path / "catalogs.sqlite3", "catalogs")
    with pytest.raises(CatalogCorruptError, match=r"the catalog registry .*catalogs\.sqlite3 is damaged"):
        open_registry(Config(data_dir=tmp_path))


def test_the_check_stops_at_its_budget_and_says_so(tmp_path, caplog):
    fill(tmp_path, {"default": 200})
    path = catalog_file(tmp_path, "default")
    verdict = quick_check(path, seconds=0.0)
    assert verdict.intact and not verdict.complete and verdict.seconds < 1.0, verdict
    caplog.set_level(logging.INFO, "server.catalog.integrity")
    StartCheck(tmp_path, seconds_per_file=0.0).require_intact([("catalog 'default'", path)])
    assert any("quick_check cut short" in r.getMessage() for r in caplog.records)
    caplog.clear()
    StartCheck(tmp_path, seconds_total=0.0).require_intact([("catalog 'default'", path)])
    assert any("not checked" in r.getMessage() for r in caplog.records)


def test_the_cli_refuses_a_damaged_catalog_without_a_traceback(tmp_path):
    data_dir = tmp_path / "data"
    fill(data_dir, {"default": 30})
    path = catalog_file(data_dir, "default")
    damage_btree(path, "products")
    done = subprocess.run(
        [sys.executable, "-m", "server.tools.cli", "serve", "--port", "0", "--data-dir", str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: catalog 'default' {path} is damaged"), last
    assert "productsearch restore" in last and "tritonserver" not in done.stderr


def test_damage_met_while_serving_is_data_loss(tmp_path):
    fill(tmp_path, {"default": 30})
    damage_btree(catalog_file(tmp_path, "default"), "products")
    registry = SqliteCatalogRegistry(tmp_path)
    store = registry.open(registry.get("default"))
    try:
        with pytest.raises(CatalogCorruptError, match=r"is damaged .*productsearch restore") as raised:
            store.get("default-3")
    finally:
        store.close()
        registry.close()
    status = to_status(raised.value)
    assert status is not None and status.code == grpc.StatusCode.DATA_LOSS, status
    raw = to_status(sqlite3.DatabaseError("database disk image is malformed"))
    assert raw is not None and raw.code == grpc.StatusCode.INTERNAL  # no error name: not known corrupt
    named = sqlite3.DatabaseError("database disk image is malformed")
    named.sqlite_errorname = "SQLITE_CORRUPT"  # as SQLite sets it
    assert to_status(named).code == grpc.StatusCode.DATA_LOSS


def products_of(data_dir: Path) -> dict[str, list[tuple]]:
    registry = SqliteCatalogRegistry(data_dir)
    try:
        result = {}
        for info, path in registry.databases():
            with contextlib.closing(sqlite3.connect(path)) as db:
                result[info.id] = db.execute(
                    "SELECT p.id, p.title, p.image, e.vector FROM products p JOIN embeddings e USING (key)"
                    " ORDER BY p.id"
                ).fetchall()
        return result
    finally:
        registry.close()


def test_backup_is_online_and_restore_brings_every_product_back(tmp_path):
    data_dir, copy = tmp_path / "data", tmp_path / "backup"
    fill(data_dir, {"default": 20, "shop-a": 7})
    before = products_of(data_dir)
    # Online: a store open with a read in progress and a writer waiting on nothing.
    registry = SqliteCatalogRegistry(data_dir)
    store = registry.open(registry.get("default"))
    try:
        store.record_store_state("a-milvus-collection", StoreState("space", store.seq(), store.seq()))
        summary = backup.backup(data_dir, copy)
        store.delete(["default-0"])  # after the backup: not in it
    finally:
        store.close()
        registry.close()
    assert sorted(c.catalog for c in summary.catalogs) == ["default", "shop-a"] and summary.products == 27
    manifest = json.loads((copy / "backup.json").read_text())
    assert {f["path"] for f in manifest["files"]} >= {"catalogs.sqlite3"} and len(manifest["files"]) == 3
    assert not list(copy.rglob("*-wal")) and not list(copy.rglob("indexes"))

    index_dir = catalog_file(data_dir, "default").parent / "indexes" / "image"
    index_dir.mkdir(parents=True)
    (index_dir / "image.json").write_text("{}")  # a snapshot: it must not survive the restore
    damage_btree(catalog_file(data_dir, "default"), "products")
    restored = backup.restore(data_dir, copy)
    assert restored.products == 27
    assert products_of(data_dir) == before
    assert not (catalog_file(data_dir, "default").parent / "indexes").exists()
    registry = open_registry(Config(data_dir=data_dir))  # passes the start check
    store = registry.open(registry.get("default"))
    # A Milvus collection went on past the backup: restored, the catalog has it rebuilt.
    assert store.store_state("a-milvus-collection") is None
    store.close()
    registry.close()


def test_restore_refuses_a_data_directory_in_use_and_a_damaged_backup(tmp_path):
    data_dir, copy = tmp_path / "data", tmp_path / "backup"
    fill(data_dir, {"default": 5})
    backup.backup(data_dir, copy)
    with pytest.raises(backup.BackupError, match="not an empty folder"):
        backup.backup(data_dir, copy)
    fill(data_dir, {"shop-b": 3})  # changed since the backup
    before = products_of(data_dir)
    with DataDirectoryLock(data_dir):  # as a running gateway holds it
        with pytest.raises(DataDirectoryInUseError, match="in use by a running gateway"):
            backup.restore(data_dir, copy)
        with pytest.raises(DataDirectoryInUseError):
            DataDirectoryLock(data_dir)
    assert products_of(data_dir) == before

    target = copy / json.loads((copy / "backup.json").read_text())["files"][1]["path"]
    blob = bytearray(target.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    target.write_bytes(bytes(blob))
    with pytest.raises(backup.BackupError, match="is damaged"):
        backup.restore(data_dir, copy)
    assert products_of(data_dir) == before
    with pytest.raises(backup.BackupError, match="not a backup"):
        backup.restore(data_dir, tmp_path)
