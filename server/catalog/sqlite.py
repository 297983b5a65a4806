"""The embedded catalog store: SQLite in WAL mode, one database file per catalog, the
source of truth for products, their stored images and embeddings; and the registry of
catalogs (`catalogs.sqlite3`) that gives each catalog its own folder.

A write returns only after its transaction is committed with `synchronous=FULL`, so an
acknowledged product survives a crash of the process or the machine. Every write bumps
`seq`, which the vector stores record to tell whether they are current.

A deleted product leaves nothing behind: every connection runs with `secure_delete` (freed
content is overwritten with zeros, whatever SQLite was built with), and a delete returns
after a TRUNCATE checkpoint has moved the WAL into the database and emptied it (see
`SqliteCatalogStore.delete` for the bound when a read holds the WAL). Files are 0600 and
folders 0700 (server/files.py).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import queue
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from server.catalog.store import EVERYTHING, Deleted
from server.domain import AlreadyExistsError, CatalogInfo, EmbeddingRow, Facets, Filter, Product, ProductWrite
from server.files import private_dir, private_file
from server.index.store import StoreState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    key INTEGER PRIMARY KEY AUTOINCREMENT,  -- index label: stable across updates, never reused
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    category TEXT NOT NULL,
    price REAL,
    attributes TEXT NOT NULL,               -- JSON object
    image_uri TEXT NOT NULL,
    image BLOB NOT NULL,                    -- normalised JPEG, to re-embed with another model
    thumbnail BLOB NOT NULL,
    update_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    key INTEGER NOT NULL REFERENCES products(key) ON DELETE CASCADE,
    space TEXT NOT NULL,
    model TEXT NOT NULL,
    model_version TEXT NOT NULL,
    vector BLOB NOT NULL,                   -- float32, little-endian
    PRIMARY KEY (key, space)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('seq', 0);
-- Where each vector store outside the process (a Milvus collection) stands (StoreState).
CREATE TABLE IF NOT EXISTS store_state (
    store TEXT PRIMARY KEY,
    space TEXT NOT NULL,                    -- the IndexSpace it holds, as JSON
    seq INTEGER NOT NULL,                   -- the catalog seq it has applied
    durable_seq INTEGER NOT NULL            -- of that, what its engine has made durable
);
"""

_LOGGER = logging.getLogger(__name__)

_PRODUCT_COLUMNS = "key, id, title, category, price, attributes, image_uri, update_time"


class CatalogError(RuntimeError):
    """The store cannot be opened or written (read-only or full disk, corruption)."""


class CatalogFullError(CatalogError):
    """The data directory's file system is full: writes fail until space is freed."""


class CatalogCorruptError(CatalogError):
    """A catalog file is damaged (SQLite reports it malformed, or `quick_check` finds
    faults): what it held may be lost; the remedy is a restore from a backup."""


# SQLite's result codes for a damaged file.
_CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
RESTORE_HINT = (
    "stop the gateway and restore the data directory from a backup "
    "(productsearch restore --data-dir DIR BACKUP; README: Backup, damage and recovery)"
)


def is_corrupt(error: BaseException) -> bool:
    return (getattr(error, "sqlite_errorname", "") or "").startswith(_CORRUPT)


def _write_probe(folder: Path) -> int | None:
    """The errno of writing one byte to a new file in `folder` (None: it worked)."""
    try:
        with tempfile.TemporaryFile(dir=folder) as probe:
            probe.write(b"\0")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        return error.errno
    return None


def storage_failure(what: str, folder: Path, error: sqlite3.Error | OSError) -> CatalogError:
    """`error` as a CatalogError that names the data directory and, when SQLite or a
    write probe there says so, why: damaged (CatalogCorruptError, also logged), full
    (CatalogFullError) or read-only."""
    name = getattr(error, "sqlite_errorname", "") or "sqlite error"
    if is_corrupt(error):
        damaged = CatalogCorruptError(
            f"{what}: the catalog file in {folder} is damaged ({error}); {RESTORE_HINT}"
        )
        _LOGGER.error("%s", damaged)
        return damaged
    probe = _write_probe(folder)
    if name == "SQLITE_FULL" or probe in (errno.ENOSPC, errno.EDQUOT):
        return CatalogFullError(f"{what}: data directory {folder} is full ({error}); free space there")
    if name.startswith("SQLITE_READONLY") or probe in (errno.EROFS, errno.EACCES, errno.EPERM):
        return CatalogError(
            f"{what}: data directory {folder} is read-only ({error}); make it writable, then restart"
        )
    return CatalogError(f"{what} in data directory {folder}: {error} ({name})")


def _product(row: tuple, thumbnail: bytes = b"") -> Product:
    key, id_, title, category, price, attributes, image_uri, update_time = row
    return Product(
        id=id_,
        title=title,
        category=category,
        price=price,
        attributes=json.loads(attributes),
        image_uri=image_uri,
        thumbnail=thumbnail,
        update_time=update_time,
        key=key,
    )


def _where(condition: Filter) -> tuple[str, list[object]]:
    """`condition` as SQL conditions on the products table (appended with AND)."""
    clauses: list[str] = []
    parameters: list[object] = []
    if condition.categories:
        clauses.append(f"category IN ({','.join('?' * len(condition.categories))})")
        parameters.extend(sorted(condition.categories))
    for key, value in condition.attributes:
        clauses.append(
            "EXISTS (SELECT 1 FROM json_each(attributes) WHERE json_each.key = ? AND json_each.value = ?)"
        )
        parameters.extend((key, value))
    if condition.min_price is not None:
        clauses.append("price >= ?")
        parameters.append(condition.min_price)
    if condition.max_price is not None:
        clauses.append("price <= ?")
        parameters.append(condition.max_price)
    return "".join(f" AND {clause}" for clause in clauses), parameters


BUSY_TIMEOUT_S = 30.0  # how long a statement waits for a lock


def _connect(path: Path) -> sqlite3.Connection:
    """A connection to a catalog file (created 0600 in a 0700 folder) with the settings
    every connection to it runs with."""
    if not path.exists():
        private_file(private_dir(path.parent) / path.name)
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")  # a commit survives power loss, not just a crash
    connection.execute("PRAGMA secure_delete=ON")  # deleted content is zeroed, not left in free space
    connection.execute("PRAGMA temp_store=MEMORY")  # no temporary files of catalog data on disk
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


READERS = 3  # reader connections per catalog, opened up front
# How long a delete waits for reads that hold the WAL before it gives up truncating it
# (the next read to finish then retries, without waiting).
CHECKPOINT_WAIT_S = 2.0


class SqliteCatalogStore:
    """One catalog in one SQLite file. Thread-safe: one serialised writer connection and a
    small pool of reader connections, all opened at once, so that reads never need a new
    file descriptor (a flood of connections cannot starve the catalog of them) and closing
    the store closes every file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._write_lock = threading.Lock()
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._wal_pending = False  # a delete could not truncate the WAL yet
        try:
            self._writer = _connect(self.path)
            self._writer.executescript(_SCHEMA)
            for _ in range(READERS):
                self._readers.put(_connect(self.path))
        except (sqlite3.Error, OSError) as error:
            raise storage_failure(f"cannot open the catalog {self.path}", self.path.parent, error) from error

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A reader connection of the pool, for the block (waits while all are busy); SQLite
        errors become CatalogErrors (a damaged file: CatalogCorruptError)."""
        connection = self._readers.get()
        try:
            yield connection
        except sqlite3.Error as error:
            raise storage_failure(f"catalog read failed ({self.path})", self.path.parent, error) from error
        finally:
            self._readers.put(connection)
            if self._wal_pending:
                self._truncate_wal(wait_s=0.0, blocking=False)

    def _read(self, sql: str, parameters: Sequence = ()) -> list:
        with self._reading() as db:
            return db.execute(sql, parameters).fetchall()

    def close(self) -> None:
        for _ in range(READERS):
            self._readers.get().close()
        self._writer.close()

    # -- writes ---------------------------------------------------------------------------

    def upsert(self, writes: Sequence[ProductWrite], model_versions: dict[str, tuple[str, str]]) -> int:
        now = time.time()
        with self._transaction() as db:
            for write in writes:
                p = write.product
                (key,) = db.execute(
                    "INSERT INTO products (id, title, category, price, attributes, image_uri, image,"
                    " thumbnail, update_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(id) DO UPDATE SET title=excluded.title, category=excluded.category,"
                    " price=excluded.price,"
                    " attributes=excluded.attributes, image_uri=excluded.image_uri, image=excluded.image,"
                    " thumbnail=excluded.thumbnail, update_time=excluded.update_time RETURNING key",
                    (
                        p.id,
                        p.title,
                        p.category,
                        p.price,
                        json.dumps(p.attributes, sort_keys=True),
                        p.image_uri,
                        write.image_jpeg,
                        p.thumbnail,
                        now,
                    ),
                ).fetchone()
                db.execute("DELETE FROM embeddings WHERE key = ?", (key,))
                db.executemany(
                    "INSERT INTO embeddings VALUES (?, ?, ?, ?, ?)",
                    [
                        (key, space, *model_versions[space], np.asarray(v, "<f4").tobytes())
                        for space, v in write.embeddings.items()
                    ],
                )
                p.key, p.update_time = key, now
            return self._bump_seq(db)

    def delete(self, ids: Sequence[str]) -> Deleted:
        """Delete products (their images and embeddings with them); once committed, the
        WAL is checkpointed into the database (where secure_delete zeroed them) and
        truncated, waiting up to CHECKPOINT_WAIT_S for reads that hold it. A read still
        holding it then leaves the truncation to the first read that ends after it."""
        deleted = {}
        with self._transaction() as db:
            for id_ in ids:
                row = db.execute("DELETE FROM products WHERE id = ? RETURNING key", (id_,)).fetchone()
                if row:
                    deleted[id_] = row[0]
            result = Deleted(deleted, self._bump_seq(db))
        if deleted:
            self._truncate_wal(wait_s=CHECKPOINT_WAIT_S)
        return result

    def _truncate_wal(self, wait_s: float, blocking: bool = True) -> bool:
        """Checkpoint the WAL into the database and truncate it to 0 bytes; True when done.
        A failure is logged, not raised: what it concerns is already committed."""
        if not self._write_lock.acquire(blocking=blocking):
            return False  # a writer is busy; its delete, or the next read, truncates
        try:
            self._writer.execute(f"PRAGMA busy_timeout={int(wait_s * 1000)}")
            try:
                busy, _, _ = self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                self._writer.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        except sqlite3.Error as error:
            _LOGGER.warning(
                "%s: WAL not truncated after a delete (%s); retried after the next read", self.path, error
            )
            busy = 1
        finally:
            self._write_lock.release()
        if busy and not self._wal_pending:
            _LOGGER.info("%s: a read holds the WAL; it is truncated once that read ends", self.path)
        self._wal_pending = bool(busy)
        return not busy

    def replace_embeddings(self, rows: Sequence[EmbeddingRow]) -> int:
        with self._transaction() as db:
            # INSERT ... SELECT: a product deleted since it was read gets no orphan row.
            db.executemany(
                "INSERT OR REPLACE INTO embeddings SELECT key, ?, ?, ?, ? FROM products WHERE key = ?",
                [
                    (r.space, r.model, r.model_version, np.asarray(r.vector, "<f4").tobytes(), r.key)
                    for r in rows
                ],
            )
            return self._bump_seq(db)

    def delete_embeddings(self, space: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM embeddings WHERE space = ?", (space,))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed on success, rolled back on any error."""
        with self._write_lock:
            try:
                self._writer.execute("BEGIN IMMEDIATE")
                yield self._writer
                self._writer.execute("COMMIT")
            except BaseException as error:
                if self._writer.in_transaction:
                    self._writer.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise storage_failure("catalog write failed", self.path.parent, error) from error
                raise

    @staticmethod
    def _bump_seq(db: sqlite3.Connection) -> int:
        (seq,) = db.execute("UPDATE meta SET value = value + 1 WHERE name = 'seq' RETURNING value").fetchone()
        return int(seq)

    # -- reads ----------------------------------------------------------------------------

    def seq(self) -> int:
        return self._read("SELECT value FROM meta WHERE name = 'seq'")[0][0]

    def count(self) -> int:
        return self._read("SELECT COUNT(*) FROM products")[0][0]

    def get(self, id_: str, with_thumbnail: bool = True) -> Product | None:
        rows = self.get_many_by_id([id_], with_thumbnail)
        return rows[0] if rows else None

    def get_many_by_id(self, ids: Sequence[str], with_thumbnail: bool = False) -> list[Product]:
        return self._select("id", ids, with_thumbnail)

    def get_many(self, keys: Sequence[int], with_thumbnail: bool = False) -> dict[int, Product]:
        return {p.key: p for p in self._select("key", [int(k) for k in keys], with_thumbnail)}

    def _select(self, column: str, values: Sequence, with_thumbnail: bool) -> list[Product]:
        thumbnail = ", thumbnail" if with_thumbnail else ""
        products = []
        for start in range(0, len(values), 500):  # SQLite caps bound parameters
            chunk = values[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._read(
                f"SELECT {_PRODUCT_COLUMNS}{thumbnail} FROM products WHERE {column} IN ({marks})", chunk
            ):
                products.append(_product(row[:8], row[8] if with_thumbnail else b""))
        return products

    def list_page(self, after_id: str, limit: int, condition: Filter = EVERYTHING) -> list[Product]:
        where, parameters = _where(condition)
        rows = self._read(
            f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE id > ?{where} ORDER BY id LIMIT ?",
            (after_id, *parameters, limit),
        )
        return [_product(row) for row in rows]

    def iter_embeddings(self, space: str, batch: int = 4096) -> Iterator[list[EmbeddingRow]]:
        """Batches in key order, each read on its own: no read spans the caller's work, so
        none holds the WAL for long (a delete's truncation waits for reads)."""
        after = -1
        while rows := self._read(
            "SELECT e.key, e.space, e.model, e.model_version, e.vector, p.category, p.price, p.attributes"
            " FROM embeddings e JOIN products p USING (key) WHERE e.space = ? AND e.key > ?"
            " ORDER BY e.key LIMIT ?",
            (space, after, batch),
        ):
            after = rows[-1][0]
            yield [
                EmbeddingRow(
                    key,
                    space_,
                    model,
                    version,
                    np.frombuffer(vector, "<f4"),
                    Facets.of_fields(category, price, json.loads(attributes)),
                )
                for key, space_, model, version, vector, category, price, attributes in rows
            ]

    def sample_keys(self, space: str, n: int, rng: np.random.Generator) -> list[int]:
        with self._reading() as db:
            (top,) = db.execute("SELECT max(key) FROM embeddings WHERE space = ?", (space,)).fetchone()
            if top is None:
                return []
            seek = "SELECT key FROM embeddings WHERE key >= ? AND space = ? ORDER BY key LIMIT 1"
            found = (
                db.execute(seek, (int(start), space)).fetchone() for start in rng.integers(0, top + 1, n)
            )
            return sorted({row[0] for row in found if row is not None})

    def keys_without(self, space: str) -> list[int]:
        rows = self._read(
            "SELECT key FROM products WHERE key NOT IN (SELECT key FROM embeddings WHERE space = ?)"
            " ORDER BY key",
            (space,),
        )
        return [key for (key,) in rows]

    def stored_images(self, keys: Sequence[int]) -> dict[int, bytes]:
        result: dict[int, bytes] = {}
        for start in range(0, len(keys), 500):
            chunk = [int(k) for k in keys[start : start + 500]]
            marks = ",".join("?" * len(chunk))
            result.update(self._read(f"SELECT key, image FROM products WHERE key IN ({marks})", chunk))
        return result

    def titles(self, keys: Sequence[int]) -> dict[int, str]:
        return {k: p.title for k, p in self.get_many(keys).items()}

    # -- where stores outside the process stand -------------------------------------------

    def store_state(self, store: str) -> StoreState | None:
        rows = self._read("SELECT space, seq, durable_seq FROM store_state WHERE store = ?", (store,))
        return StoreState(*rows[0]) if rows else None

    def record_store_state(self, store: str, state: StoreState) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO store_state VALUES (?, ?, ?, ?) ON CONFLICT (store) DO UPDATE SET"
                " seq = IIF(space = excluded.space, MAX(seq, excluded.seq), excluded.seq),"
                " durable_seq = IIF(space = excluded.space,"
                " MAX(durable_seq, excluded.durable_seq), excluded.durable_seq),"
                " space = excluded.space",
                (store, state.space, state.seq, state.durable_seq),
            )

    def forget_store_state(self, store: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM store_state WHERE store = ?", (store,))


_REGISTRY_SCHEMA = """
CREATE TABLE IF NOT EXISTS catalogs (
    id TEXT PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,               -- names the catalog's folder: a re-created id gets a new one
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    create_time REAL NOT NULL,
    deleting INTEGER NOT NULL DEFAULT 0     -- set before its folder is removed; resumed at start
);
"""
_CATALOG_COLUMNS = "id, uid, display_name, description, create_time"
REGISTRY_FILE = "catalogs.sqlite3"
CATALOG_FILE = "catalog.sqlite3"  # in each catalog's folder


class SqliteCatalogRegistry:
    """The catalogs of one data directory: `catalogs.sqlite3` lists them, and each keeps
    its database and indexes in `catalogs/<uid>/`, removed whole when it is deleted."""

    shared = False  # one gateway owns the data directory (server/catalog/lock.py)

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / REGISTRY_FILE
        self._lock = threading.Lock()
        try:
            private_dir(self.data_dir)
            self._db = _connect(self.path)
            self._db.executescript(_REGISTRY_SCHEMA)
        except (sqlite3.Error, OSError) as error:
            raise storage_failure(
                f"cannot open the catalog registry {self.path}", self.data_dir, error
            ) from error
        self._finish_deletes()

    def _finish_deletes(self) -> None:
        """Complete deletes a crash interrupted, and remove folders no catalog owns."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_CATALOG_COLUMNS} FROM catalogs WHERE deleting = 1").fetchall()
        for row in rows:
            self.delete(CatalogInfo(*row))
        owned = {uid for (uid,) in self._db.execute("SELECT uid FROM catalogs")}
        root = self.data_dir / "catalogs"
        for folder in root.iterdir() if root.is_dir() else []:
            if folder.name not in owned:
                _LOGGER.info("removing %s: no catalog owns it", folder)
                shutil.rmtree(folder, ignore_errors=True)

    def create(self, catalog_id: str, display_name: str = "", description: str = "") -> CatalogInfo:
        info = CatalogInfo(catalog_id, uuid.uuid4().hex[:16], display_name, description, time.time())
        try:
            with self._lock:
                self._db.execute(
                    f"INSERT INTO catalogs ({_CATALOG_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                    (info.id, info.uid, info.display_name, info.description, info.create_time),
                )
        except sqlite3.IntegrityError as error:
            raise AlreadyExistsError(f"catalog {info.name!r} already exists") from error
        except sqlite3.Error as error:
            what = f"cannot create catalog {info.name!r} in {self.path}"
            raise storage_failure(what, self.data_dir, error) from error
        return info

    def get(self, catalog_id: str) -> CatalogInfo | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_CATALOG_COLUMNS} FROM catalogs WHERE id = ? AND deleting = 0", (catalog_id,)
            ).fetchone()
        return CatalogInfo(*row) if row else None

    def list(self, after_id: str, limit: int) -> list[CatalogInfo]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_CATALOG_COLUMNS} FROM catalogs WHERE id > ? AND deleting = 0 ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [CatalogInfo(*row) for row in rows]

    def directory(self, info: CatalogInfo) -> Path:
        return self.data_dir / "catalogs" / info.uid

    def database(self, info: CatalogInfo) -> Path:
        """The catalog's SQLite file."""
        return self.directory(info) / CATALOG_FILE

    def databases(self) -> Sequence[tuple[CatalogInfo, Path]]:
        """Every catalog with its SQLite file, in id order."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_CATALOG_COLUMNS} FROM catalogs WHERE deleting = 0 ORDER BY id"
            ).fetchall()
        infos = [CatalogInfo(*row) for row in rows]
        return [(info, self.database(info)) for info in infos]

    def open(self, info: CatalogInfo) -> SqliteCatalogStore:
        return SqliteCatalogStore(self.database(info))

    def delete(self, info: CatalogInfo) -> None:
        with self._lock:
            self._db.execute("UPDATE catalogs SET deleting = 1 WHERE uid = ?", (info.uid,))
        shutil.rmtree(self.directory(info), ignore_errors=True)
        with self._lock:
            self._db.execute("DELETE FROM catalogs WHERE uid = ?", (info.uid,))
            # Its name and description leave the WAL too (secure_delete zeroed them in the file).
            self._db.execute(f"PRAGMA busy_timeout={int(CHECKPOINT_WAIT_S * 1000)}")
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error as error:
                _LOGGER.warning("%s: WAL not truncated after a catalog delete (%s)", self.path, error)
            finally:
                self._db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")

    def adopt_legacy(self, catalog_id: str) -> CatalogInfo | None:
        """A data directory of the single-catalog layout (`catalog.sqlite3` and `indexes/`
        at its top) becomes catalog `catalog_id`; None when there is none to adopt."""
        legacy = self.data_dir / "catalog.sqlite3"
        if not legacy.exists() or self.get(catalog_id) is not None:
            return None
        info = self.create(catalog_id, "Default catalog")
        target = private_dir(self.directory(info))
        for name in (CATALOG_FILE, f"{CATALOG_FILE}-wal", f"{CATALOG_FILE}-shm", "indexes"):
            if (self.data_dir / name).exists():
                os.replace(self.data_dir / name, target / name)
        _LOGGER.info("adopted the single-catalog data in %s as %s", self.data_dir, info.name)
        return info

    def close(self) -> None:
        self._db.close()
