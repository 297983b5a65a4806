"""Backups of a data directory's catalogs, and their restore.

The catalog files are the truth (products, stored images, embeddings); index snapshots are
derived from them and rebuilt at start, so a backup is the registry and every catalog:

- `backup(data_dir, dest)` copies each with SQLite's online backup API (one step: a
  consistent copy as of one read transaction; the gateway keeps serving and writing
  meanwhile), into `dest` in the data directory's layout, each copy a self-contained file
  (rollback journal, no WAL) verified by quick_check, plus `backup.json`: each file's
  sha256 and size, and for a catalog its id, product count and sequence number. The copy is
  written beside `dest` and renamed into place once complete.
- `restore(data_dir, src)` needs the data directory to itself (the lock a gateway holds,
  server/catalog/lock.py) and verifies every file of the backup (sha256, then a complete
  quick_check) before it changes anything. It then replaces the registry and every catalog
  folder (index snapshots go with them; the next start rebuilds them from the catalogs).
  A restore cut short is finished by running it again.

Not in a backup: trained keyword → image projections (in the model repository; retrain
with TrainProjection), API keys (their own file), and where a catalog's Milvus collections
stand (a restored catalog rebuilds them).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.catalog.integrity import quick_check
from server.catalog.lock import DataDirectoryLock
from server.catalog.sqlite import CATALOG_FILE, REGISTRY_FILE, CatalogError, storage_failure
from server.files import fsync_path, private_dir, private_file, sha256_file

_LOGGER = logging.getLogger(__name__)

MANIFEST = "backup.json"
FORMAT = 1


class BackupError(CatalogError):
    """A backup cannot be taken, or a backup cannot be restored (missing, damaged)."""


@dataclass(frozen=True)
class CatalogCopy:
    catalog: str  # the catalog id
    path: str  # relative to the backup folder
    products: int
    seq: int


@dataclass(frozen=True)
class BackupSummary:
    folder: Path
    catalogs: list[CatalogCopy]

    @property
    def products(self) -> int:
        return sum(c.products for c in self.catalogs)


def _copy_database(source: Path, target: Path) -> None:
    """A consistent copy of the SQLite file `source` (read only: nothing is created or
    written there) as the self-contained file `target`."""
    private_file(target)
    try:
        reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as error:
        raise storage_failure(f"cannot read {source}", source.parent, error) from error
    try:
        writer = sqlite3.connect(target, isolation_level=None)
        try:
            writer.execute("PRAGMA secure_delete=ON")
            reader.backup(writer)  # all pages in one step: one read transaction, one snapshot
            writer.execute("PRAGMA journal_mode=DELETE")  # the copy stands alone: no -wal beside it
        finally:
            writer.close()
    except sqlite3.Error as error:
        raise storage_failure(f"cannot back up {source}", source.parent, error) from error
    finally:
        reader.close()
    fsync_path(target)


def _verified(path: Path, what: str) -> None:
    verdict = quick_check(path)
    if not verdict.intact:
        raise BackupError(f"{what} {path} is damaged (quick_check: {'; '.join(verdict.problems[:3])})")


def backup(data_dir: Path, dest: Path) -> BackupSummary:
    """Back up the registry and every catalog of `data_dir` into the new folder `dest`."""
    data_dir, dest = Path(data_dir), Path(dest)
    registry = data_dir / REGISTRY_FILE
    if not registry.is_file():
        raise BackupError(f"no catalog registry ({REGISTRY_FILE}) in {data_dir}: nothing to back up")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not an empty folder; name a new one")
    private_dir(dest.parent)
    staging = dest.with_name(f".{dest.name}.partial-{uuid.uuid4().hex[:8]}")
    private_dir(staging)
    try:
        _copy_database(registry, staging / REGISTRY_FILE)
        copies = _copy_catalogs(data_dir, staging)
        _verified(staging / REGISTRY_FILE, "copy of the registry")
        files = [_entry(staging, REGISTRY_FILE)]
        for copy in copies:
            _verified(staging / copy.path, f"copy of catalog {copy.catalog}")
            counts = {"catalog": copy.catalog, "products": copy.products, "seq": copy.seq}
            files.append({**_entry(staging, copy.path), **counts})
        manifest = {
            "format": FORMAT,
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "data_dir": str(data_dir.resolve()),
            "sqlite": sqlite3.sqlite_version,
            "files": files,
        }
        manifest_path = private_file(staging / MANIFEST)
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
        fsync_path(manifest_path)
        fsync_path(staging)
        if dest.exists():
            dest.rmdir()  # empty, checked above
        os.replace(staging, dest)
        fsync_path(dest.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    summary = BackupSummary(dest, copies)
    _LOGGER.info(
        "backed up %d catalogs (%d products) of %s to %s",
        len(copies),
        summary.products,
        data_dir,
        dest,
    )
    return summary


def _copy_catalogs(data_dir: Path, staging: Path) -> list[CatalogCopy]:
    """Copy each catalog the registry's copy lists; a catalog deleted since that copy was
    taken is dropped from it, so that the backup is as of the registry's copy."""
    registry = sqlite3.connect(staging / REGISTRY_FILE, isolation_level=None)
    try:
        registry.execute("PRAGMA secure_delete=ON")
        registry.execute("DELETE FROM catalogs WHERE deleting = 1")
        copies = []
        for catalog_id, uid in registry.execute("SELECT id, uid FROM catalogs ORDER BY id").fetchall():
            relative = f"catalogs/{uid}/{CATALOG_FILE}"
            source = data_dir / relative
            if not source.is_file():
                _LOGGER.info("catalog %s was deleted while backing up: left out", catalog_id)
                registry.execute("DELETE FROM catalogs WHERE uid = ?", (uid,))
                continue
            target = private_dir(staging / "catalogs" / uid) / CATALOG_FILE
            _copy_database(source, target)
            copy = sqlite3.connect(target, isolation_level=None)
            try:
                # Where Milvus collections stood is not restored with the catalog: a restored
                # catalog is behind them, so its next open rebuilds them.
                copy.execute("DROP TABLE IF EXISTS store_state")
                (products,) = copy.execute("SELECT COUNT(*) FROM products").fetchone()
                (seq,) = copy.execute("SELECT value FROM meta WHERE name = 'seq'").fetchone()
            finally:
                copy.close()
            fsync_path(target)
            copies.append(CatalogCopy(catalog_id, relative, int(products), int(seq)))
        registry.execute("VACUUM")  # left-out rows leave no trace in the copy
    finally:
        registry.close()
    return copies


def _entry(folder: Path, relative: str) -> dict[str, Any]:
    path = folder / relative
    return {"path": relative, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def read_manifest(src: Path) -> dict[str, Any]:
    """The manifest of the backup in `src`, with every file it lists verified: present, of
    its size and sha256, and intact by a complete quick_check."""
    src = Path(src)
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except FileNotFoundError as error:
        raise BackupError(f"{src} is not a backup: no {MANIFEST}") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"the manifest {src / MANIFEST} is unreadable: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{src / MANIFEST} is not a backup manifest of format {FORMAT}")
    files = manifest.get("files")
    if not isinstance(files, list) or not any(f.get("path") == REGISTRY_FILE for f in files):
        raise BackupError(f"{src / MANIFEST} lists no registry")
    for entry in files:
        relative = Path(entry["path"])
        if relative.is_absolute() or ".." in relative.parts:
            raise BackupError(f"{src / MANIFEST} names a file outside the backup: {relative}")
        path = src / relative
        if not path.is_file():
            raise BackupError(f"backup file {path} is missing")
        if path.stat().st_size != entry["bytes"] or sha256_file(path) != entry["sha256"]:
            raise BackupError(f"backup file {path} is damaged (size or sha256 differ from {MANIFEST})")
        _verified(path, "backup file")
    return manifest


def restore(data_dir: Path, src: Path) -> BackupSummary:
    """Replace the catalogs of `data_dir` (no gateway running) with the backup in `src`."""
    data_dir, src = Path(data_dir), Path(src)
    with DataDirectoryLock(data_dir, required=True):
        manifest = read_manifest(src)  # before anything changes
        for leftover in data_dir.glob(".restore-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        staging = private_dir(data_dir / f".restore-{uuid.uuid4().hex[:8]}")
        try:
            for entry in manifest["files"]:
                target = staging / entry["path"]
                private_dir(target.parent)
                private_file(target)
                shutil.copyfile(src / entry["path"], target)
                fsync_path(target)
                fsync_path(target.parent)
            _replace(data_dir, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    entries = [e for e in manifest["files"] if "catalog" in e]
    copies = [CatalogCopy(e["catalog"], e["path"], e["products"], e["seq"]) for e in entries]
    summary = BackupSummary(data_dir, copies)
    _LOGGER.info(
        "restored %d catalogs (%d products) from %s into %s", len(copies), summary.products, src, data_dir
    )
    return summary


def _replace(data_dir: Path, staging: Path) -> None:
    """Swap the staged registry and catalogs in for the data directory's (and any
    single-catalog layout left at its top)."""
    for name in (REGISTRY_FILE, CATALOG_FILE):
        for suffix in ("", "-wal", "-shm"):
            (data_dir / f"{name}{suffix}").unlink(missing_ok=True)
    for folder in ("catalogs", "indexes"):
        shutil.rmtree(data_dir / folder, ignore_errors=True)
    if (staging / "catalogs").is_dir():
        os.replace(staging / "catalogs", data_dir / "catalogs")
    os.replace(staging / REGISTRY_FILE, data_dir / REGISTRY_FILE)
    fsync_path(data_dir)
