"""Index snapshots on disk: a set of data files and one manifest that names them.

A snapshot of space ``<name>`` is ``<name>.json`` (the manifest) plus data files with
fresh names (``<name>.<seq>-<random>.<role>...``). The manifest lists each file with its
sha256 and size, carries the writers' metadata and its own checksum, and is renamed into
place last: it is the commit point, so a crash while saving leaves the previous snapshot
intact. Each layer of an index (graph, facets, shared points) adds its own files.

Files are 0600 in 0700 folders. A snapshot behind the catalog is never loaded (the store is
rebuilt from the catalog instead), so `remove_snapshot` may drop one as soon as the catalog
moves on: a delete does, so that no snapshot keeps what was deleted.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from server.files import fsync_path, private_dir, private_file, sha256_file

_LOGGER = logging.getLogger(__name__)

SNAPSHOT_FORMAT = 1


class IndexLoadError(RuntimeError):
    """A snapshot is missing, corrupt (checksum), or was built for another space."""


class SnapshotWriter:
    """Collects the files of one snapshot, then `commit()`s them under one manifest."""

    def __init__(self, directory: Path, name: str, catalog_seq: int) -> None:
        self.directory = private_dir(Path(directory))
        self.name = name
        self.catalog_seq = catalog_seq
        self.meta: dict[str, Any] = {}
        self._stem = f"{name}.{catalog_seq}-{uuid.uuid4().hex[:12]}"
        self._files: dict[str, dict[str, Any]] = {}

    def add_file(self, role: str, suffix: str, write: Callable[[Path], None]) -> None:
        """`write(path)` writes the file; it is then synced, hashed and renamed into place."""
        file_name = f"{self._stem}.{suffix}"
        tmp = private_file(self.directory / f"{file_name}.tmp")
        write(tmp)
        fsync_path(tmp)
        self._files[role] = {"file": file_name, "sha256": sha256_file(tmp), "bytes": tmp.stat().st_size}
        os.replace(tmp, self.directory / file_name)

    def add_array(self, role: str, array: np.ndarray) -> None:
        def write(path: Path) -> None:
            with open(path, "wb") as handle:
                np.save(handle, array, allow_pickle=False)

        self.add_file(role, f"{role}.npy", write)

    def add_json(self, role: str, value: Any) -> None:
        def write(path: Path) -> None:
            path.write_text(json.dumps(value))

        self.add_file(role, f"{role}.json", write)

    def commit(self) -> None:
        body = {
            "format": SNAPSHOT_FORMAT,
            **self.meta,
            "catalog_seq": self.catalog_seq,
            "saved_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "files": self._files,
        }
        manifest = manifest_path(self.directory, self.name)
        tmp = private_file(manifest.with_name(manifest.name + ".tmp"))
        tmp.write_text(json.dumps({**body, "manifest_sha256": _canonical_sha256(body)}, indent=2) + "\n")
        fsync_path(tmp)
        os.replace(tmp, manifest)  # the commit point
        fsync_path(self.directory)
        _remove_stale(self.directory, self.name, keep={entry["file"] for entry in self._files.values()})


@runtime_checkable
class Snapshotting(Protocol):
    """A store that can add its state to a snapshot (the embedded stacks)."""

    def write_into(self, writer: SnapshotWriter) -> None: ...


def snapshotting(store: object) -> Snapshotting:
    """`store`, which a wrapper's snapshot includes; TypeError for an engine that keeps its
    own durable state (it has nothing to put in a local snapshot)."""
    if not isinstance(store, Snapshotting):
        raise TypeError(f"{type(store).__name__} is not snapshotted locally")
    return store


class SnapshotReader:
    """A committed snapshot whose manifest checksum held; files are verified when read."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = Path(directory)
        self.name = name
        self.meta = _read_manifest(manifest_path(self.directory, name))

    @property
    def catalog_seq(self) -> int:
        return int(self.meta["catalog_seq"])

    def has(self, role: str) -> bool:
        return role in self.meta.get("files", {})

    def path(self, role: str) -> Path:
        """The verified file of `role`; IndexLoadError when missing or corrupt."""
        try:
            entry = self.meta["files"][role]
        except (KeyError, TypeError) as error:
            raise IndexLoadError(f"snapshot of {self.name} in {self.directory} has no {role} file") from error
        path = self.directory / entry["file"]
        if not path.is_file():
            raise IndexLoadError(f"snapshot file {path} is missing")
        if sha256_file(path) != entry["sha256"]:
            raise IndexLoadError(f"snapshot file {path} is corrupt (sha256 mismatch)")
        return path

    def array(self, role: str, mmap: bool = False) -> np.ndarray:
        try:
            return np.load(self.path(role), allow_pickle=False, mmap_mode="r" if mmap else None)
        except (OSError, ValueError) as error:
            raise IndexLoadError(f"snapshot {role} array of {self.name} unreadable: {error}") from error

    def json(self, role: str) -> Any:
        try:
            return json.loads(self.path(role).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise IndexLoadError(f"snapshot {role} file of {self.name} unreadable: {error}") from error


def manifest_path(directory: Path, name: str) -> Path:
    return Path(directory) / f"{name}.json"


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise IndexLoadError(f"no snapshot manifest at {path}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexLoadError(f"snapshot manifest {path} is unreadable: {exc}") from exc
    if not isinstance(body, dict) or body.pop("manifest_sha256", None) != _canonical_sha256(body):
        raise IndexLoadError(f"snapshot manifest {path} is corrupt (sha256 mismatch)")
    if body.get("format") != SNAPSHOT_FORMAT:
        raise IndexLoadError(
            f"snapshot manifest {path} has format {body.get('format')}, not {SNAPSHOT_FORMAT}"
        )
    return body


def _canonical_sha256(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def remove_snapshot(directory: Path, name: str) -> None:
    """Remove the snapshot of space `name`: its manifest first (the snapshot is gone from
    then on), then its files."""
    directory = Path(directory)
    manifest = manifest_path(directory, name)
    if not manifest.exists() and not any(directory.glob(f"{name}.*")):
        return
    manifest.unlink(missing_ok=True)
    _remove_stale(directory, name, keep=set())
    fsync_path(directory)


def _remove_stale(directory: Path, name: str, keep: set[str]) -> None:
    """Remove earlier snapshot files of this space (and leftovers of interrupted saves)."""
    for path in directory.glob(f"{name}.*"):
        if path.name in keep or path.name == f"{name}.json":
            continue
        if path.name.endswith((".hnsw", ".npy", ".json", ".tmp")):
            try:
                path.unlink()
            except OSError as exc:
                _LOGGER.warning("cannot remove stale snapshot file %s: %s", path, exc)
