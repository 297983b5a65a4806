"""The catalog store: SQLite in WAL mode, the source of truth for products and their
embeddings. HNSW indexes are snapshots derived from it.

A write returns only after its transaction is committed with `synchronous=FULL`, so an
acknowledged product survives a crash of the process or the machine. Every write bumps
`seq`, which index snapshots record to tell whether they are current.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from server.domain import EmbeddingRow, Product, ProductWrite

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
"""

_PRODUCT_COLUMNS = "key, id, title, category, price, attributes, image_uri, update_time"


class CatalogError(RuntimeError):
    """The store cannot be opened or written (read-only or full disk, corruption)."""


class CatalogFullError(CatalogError):
    """The data directory's file system is full: writes fail until space is freed."""


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


class Catalog:
    """Thread-safe: one serialised writer connection, one reader connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        try:
            self._writer = self._connect()
            self._writer.executescript(_SCHEMA)
        except sqlite3.Error as error:
            raise self._failure(f"cannot open the catalog {self.path}", error) from error

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")  # a commit survives power loss, not just a crash
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    @property
    def _reader(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        return connection

    def close(self) -> None:
        self._writer.close()

    # -- writes ---------------------------------------------------------------------------

    def upsert(self, writes: Sequence[ProductWrite], model_versions: dict[str, tuple[str, str]]) -> list[int]:
        """Insert or replace products (by id) with their embeddings in one transaction;
        returns their keys. `model_versions` maps a space to (model, version). Embedding
        spaces a product no longer has (an emptied title) are removed."""
        now = time.time()
        keys = []
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
                keys.append(key)
            self._bump_seq(db)
        return keys

    def delete(self, ids: Sequence[str]) -> dict[str, int]:
        """Delete products by id; returns the keys of those that existed."""
        deleted = {}
        with self._transaction() as db:
            for id_ in ids:
                row = db.execute("DELETE FROM products WHERE id = ? RETURNING key", (id_,)).fetchone()
                if row:
                    deleted[id_] = row[0]
            self._bump_seq(db)
        return deleted

    def replace_embeddings(self, rows: Sequence[EmbeddingRow]) -> None:
        """Store re-computed embeddings (after a model change)."""
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?)",
                [
                    (r.key, r.space, r.model, r.model_version, np.asarray(r.vector, "<f4").tobytes())
                    for r in rows
                ],
            )
            self._bump_seq(db)

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
                    raise self._failure("catalog write failed", error) from error
                raise

    def _failure(self, what: str, error: sqlite3.Error) -> CatalogError:
        """`error` as a CatalogError that names the data directory and, when SQLite or a
        write probe there says so, why: full (CatalogFullError) or read-only."""
        folder = self.path.parent
        name = getattr(error, "sqlite_errorname", "") or "sqlite error"
        probe = _write_probe(folder)
        if name == "SQLITE_FULL" or probe in (errno.ENOSPC, errno.EDQUOT):
            return CatalogFullError(f"{what}: data directory {folder} is full ({error}); free space there")
        if name.startswith("SQLITE_READONLY") or probe in (errno.EROFS, errno.EACCES, errno.EPERM):
            return CatalogError(
                f"{what}: data directory {folder} is read-only ({error}); make it writable, then restart"
            )
        return CatalogError(f"{what} in data directory {folder}: {error} ({name})")

    @staticmethod
    def _bump_seq(db: sqlite3.Connection) -> None:
        db.execute("UPDATE meta SET value = value + 1 WHERE name = 'seq'")

    # -- reads ----------------------------------------------------------------------------

    def seq(self) -> int:
        return self._reader.execute("SELECT value FROM meta WHERE name = 'seq'").fetchone()[0]

    def count(self) -> int:
        return self._reader.execute("SELECT COUNT(*) FROM products").fetchone()[0]

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
            for row in self._reader.execute(
                f"SELECT {_PRODUCT_COLUMNS}{thumbnail} FROM products WHERE {column} IN ({marks})", chunk
            ):
                products.append(_product(row[:8], row[8] if with_thumbnail else b""))
        return products

    def list_page(self, after_id: str, limit: int) -> list[Product]:
        """Products with id > `after_id`, in id order."""
        rows = self._reader.execute(
            f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        )
        return [_product(row) for row in rows]

    def iter_products(self) -> Iterator[Product]:
        """Every product, without thumbnails (for the in-memory filter index)."""
        for row in self._reader.execute(f"SELECT {_PRODUCT_COLUMNS} FROM products"):
            yield _product(row)

    def iter_embeddings(self, space: str, batch: int = 4096) -> Iterator[list[EmbeddingRow]]:
        cursor = self._reader.execute(
            "SELECT key, space, model, model_version, vector FROM embeddings WHERE space = ? ORDER BY key",
            (space,),
        )
        while rows := cursor.fetchmany(batch):
            yield [EmbeddingRow(k, s, m, v, np.frombuffer(b, "<f4")) for k, s, m, v, b in rows]

    def keys_without(self, space: str) -> list[int]:
        """Keys of products that have no embedding in `space` (stored before it existed)."""
        rows = self._reader.execute(
            "SELECT key FROM products WHERE key NOT IN (SELECT key FROM embeddings WHERE space = ?)"
            " ORDER BY key",
            (space,),
        )
        return [key for (key,) in rows]

    def stored_images(self, keys: Sequence[int]) -> dict[int, bytes]:
        result = {}
        for start in range(0, len(keys), 500):
            chunk = [int(k) for k in keys[start : start + 500]]
            marks = ",".join("?" * len(chunk))
            result.update(
                self._reader.execute(f"SELECT key, image FROM products WHERE key IN ({marks})", chunk)
            )
        return result

    def titles(self, keys: Sequence[int]) -> dict[int, str]:
        return {k: p.title for k, p in self.get_many(keys).items()}
