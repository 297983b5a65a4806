"""The shared catalog store: PostgreSQL, for gateways that scale out past one machine.

Several stateless gateway processes share one database, so the guarantees that SQLite got
from one writer connection in one process come from the database here:

- Every write is one transaction that first locks its catalog's row (`SELECT ... FOR
  UPDATE`), so writers of one catalog are serialised across all gateways; it bumps the
  catalog's `seq` by one and returns it, exactly like the SQLite store.
- Product keys (the vector stores' labels) come from a per-catalog counter on that locked
  row: stable across updates, never reused, numbered from 1 as in SQLite.
- Every write records what it changed in `changes` (key → seq, op of its latest write),
  in the same transaction: the outbox that vector stores on other machines follow
  (`catch_up`). It keeps only each key's latest write, so it never needs pruning.

Products reference their catalog by its uid (not its id), so a store left open on a deleted
catalog can never write into a new catalog of the same id. Deleting a catalog cascades to
all its rows and then VACUUMs the tables, so its space is reusable at once; its local
folder (embedded indexes) is removed too. Text columns compare bytewise (`COLLATE "C"`)
so that pages follow the same id order as SQLite whatever the server's locale.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import re
import select
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from server.catalog.sqlite import CatalogCorruptError, CatalogError, CatalogFullError
from server.catalog.store import EVERYTHING, CatchUp, Deleted
from server.domain import (
    AlreadyExistsError,
    CatalogInfo,
    EmbeddingRow,
    Facets,
    Filter,
    NotFoundError,
    Product,
    ProductWrite,
)
from server.files import private_dir
from server.index.store import StoreState

_LOGGER = logging.getLogger(__name__)

DEFAULT_SCHEMA = "productsearch"
POOL_SIZE = 4  # connections per registry (or stand-alone store); callers beyond wait
CONNECT_TIMEOUT_S = 10
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SCHEMA_LOCK = 0x70726F64  # advisory lock id: one gateway at a time creates the tables

_TABLES = """
CREATE TABLE IF NOT EXISTS catalogs (
    uid TEXT PRIMARY KEY,                   -- names the catalog's storage: a re-created id gets a new one
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    create_time DOUBLE PRECISION NOT NULL,
    seq BIGINT NOT NULL DEFAULT 0,          -- bumped by every write transaction
    last_key BIGINT NOT NULL DEFAULT 0,     -- the highest product key handed out: keys are never reused
    deleting BOOLEAN NOT NULL DEFAULT FALSE -- set before its folder is removed; resumed at open
);
CREATE TABLE IF NOT EXISTS products (
    catalog_uid TEXT NOT NULL REFERENCES catalogs(uid) ON DELETE CASCADE,
    key BIGINT NOT NULL,                    -- index label: stable across updates, never reused
    id TEXT COLLATE "C" NOT NULL,
    title TEXT NOT NULL,
    category TEXT COLLATE "C" NOT NULL,
    price DOUBLE PRECISION,
    attributes JSONB NOT NULL,              -- JSON object of strings
    image_uri TEXT NOT NULL,
    image BYTEA NOT NULL,                   -- normalised JPEG, to re-embed with another model
    thumbnail BYTEA NOT NULL,
    update_time DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (catalog_uid, key),
    UNIQUE (catalog_uid, id)
);
CREATE TABLE IF NOT EXISTS embeddings (
    catalog_uid TEXT NOT NULL,
    key BIGINT NOT NULL,
    space TEXT NOT NULL,
    model TEXT NOT NULL,
    model_version TEXT NOT NULL,
    vector BYTEA NOT NULL,                  -- float32, little-endian
    PRIMARY KEY (catalog_uid, key, space),
    FOREIGN KEY (catalog_uid, key) REFERENCES products(catalog_uid, key) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS embeddings_by_space ON embeddings (catalog_uid, space, key);
-- The outbox, compacted: one row per key, its latest write. Followers read a key's current
-- state, so its latest write is all any of them needs, wherever it stands; the table stays
-- as large as the keys ever written, not the writes.
CREATE TABLE IF NOT EXISTS changes (
    catalog_uid TEXT NOT NULL REFERENCES catalogs(uid) ON DELETE CASCADE,
    key BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
    PRIMARY KEY (catalog_uid, key)
);
CREATE INDEX IF NOT EXISTS changes_by_seq ON changes (catalog_uid, seq);
-- Where each vector store outside the gateways (a Milvus collection) stands (StoreState).
CREATE TABLE IF NOT EXISTS store_state (
    catalog_uid TEXT NOT NULL REFERENCES catalogs(uid) ON DELETE CASCADE,
    store TEXT NOT NULL,
    space TEXT NOT NULL,                    -- the IndexSpace it holds, as JSON
    seq BIGINT NOT NULL,                    -- the catalog seq it has applied
    durable_seq BIGINT NOT NULL,            -- of that, what its engine has made durable
    PRIMARY KEY (catalog_uid, store)
);
"""
TABLES = ("store_state", "changes", "embeddings", "products", "catalogs")

_PRODUCT_COLUMNS = "key, id, title, category, price, attributes, image_uri, update_time"


def storage_failure(what: str, error: psycopg.Error) -> CatalogError:
    """`error` as the CatalogError the API maps to a status: a full disk, damage the server
    detected, or else the database unavailable."""
    if isinstance(error, pg_errors.DiskFull):
        return CatalogFullError(f"{what}: the PostgreSQL server's disk is full ({error})")
    if isinstance(error, pg_errors.DataCorrupted | pg_errors.IndexCorrupted):
        damaged = CatalogCorruptError(f"{what}: PostgreSQL reports damaged data ({error})")
        _LOGGER.error("%s", damaged)
        return damaged
    return CatalogError(f"{what}: {type(error).__name__}: {error}")


class ConnectionPool:
    """At most `size` autocommit connections to one schema, opened on demand and reused;
    a caller beyond `size` waits for one. A connection that broke (a server restart) is
    dropped, and the next caller opens a new one."""

    def __init__(self, conninfo: str, schema: str = DEFAULT_SCHEMA, size: int = POOL_SIZE) -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"schema {schema!r}: lower-case letters, digits and _ only")
        self.conninfo = conninfo
        self.schema = schema
        self._slots = threading.BoundedSemaphore(size)
        self._idle: queue.SimpleQueue[psycopg.Connection] = queue.SimpleQueue()
        self._open: set[psycopg.Connection] = set()
        self._lock = threading.Lock()
        self._closed = False

    def _connect(self) -> psycopg.Connection:
        connection = psycopg.connect(
            self.conninfo,
            autocommit=True,  # a read is one statement; a write opens its own transaction
            connect_timeout=CONNECT_TIMEOUT_S,
            options=f"-c search_path={self.schema}",
            application_name="productsearch",
        )
        with self._lock:
            self._open.add(connection)
        return connection

    def dedicated(self) -> psycopg.Connection:
        """A connection outside the pool, for the caller to keep and close (a session lock)."""
        connection = self._connect()
        with self._lock:
            self._open.discard(connection)
        return connection

    def _discard(self, connection: psycopg.Connection) -> None:
        with self._lock:
            self._open.discard(connection)
        connection.close()

    def _borrow(self) -> psycopg.Connection:
        """An idle connection that still looks alive, else a new one. An idle connection
        has nothing to read unless the server closed it (a restart, an idle timeout), and
        that costs no round trip to check."""
        while True:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                return self._connect()
            if connection.closed:
                self._discard(connection)
                continue
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
            if not readable:
                return connection
            _LOGGER.info("dropping a pooled PostgreSQL connection the server closed")
            self._discard(connection)

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        if self._closed:
            raise CatalogError("the PostgreSQL catalog store is closed")
        with self._slots:
            connection = self._borrow()
            try:
                yield connection
            finally:
                # Back to the pool only when clean: not broken, no transaction left open.
                idle = connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
                if connection.broken or connection.closed or not idle or self._closed:
                    self._discard(connection)
                else:
                    self._idle.put(connection)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            connections, self._open = list(self._open), set()
        for connection in connections:
            connection.close()


def create_tables(pool: ConnectionPool) -> None:
    """The schema and its tables, if missing (idempotent; gateways starting together take
    turns through an advisory lock, since concurrent CREATE ... IF NOT EXISTS can clash)."""
    with pool.connection() as db, db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        db.execute(f"CREATE SCHEMA IF NOT EXISTS {pool.schema}")
        db.execute(_TABLES)


def _product(row: tuple, thumbnail: bytes = b"") -> Product:
    key, id_, title, category, price, attributes, image_uri, update_time = row
    return Product(
        id=id_,
        title=title,
        category=category,
        price=price,
        attributes=dict(attributes),
        image_uri=image_uri,
        thumbnail=bytes(thumbnail),
        update_time=update_time,
        key=key,
    )


def _where(condition: Filter) -> tuple[str, list[object]]:
    """`condition` as SQL conditions on the products table (appended with AND)."""
    clauses: list[str] = []
    parameters: list[object] = []
    if condition.categories:
        clauses.append("category = ANY(%s)")
        parameters.append(sorted(condition.categories))
    for key, value in condition.attributes:
        clauses.append("attributes @> %s")
        parameters.append(Jsonb({key: value}))
    if condition.min_price is not None:
        clauses.append("price >= %s")
        parameters.append(condition.min_price)
    if condition.max_price is not None:
        clauses.append("price <= %s")
        parameters.append(condition.max_price)
    return "".join(f" AND {clause}" for clause in clauses), parameters


_EMBEDDING_COLUMNS = "e.key, e.space, e.model, e.model_version, e.vector, p.category, p.price, p.attributes"


def _embedding_row(row: tuple) -> EmbeddingRow:
    key, space, model, version, vector, category, price, attributes = row
    facets = Facets.of_fields(category, price, dict(attributes))
    return EmbeddingRow(key, space, model, version, np.frombuffer(bytes(vector), "<f4"), facets)


def _vector(value: np.ndarray) -> bytes:
    return np.asarray(value, "<f4").tobytes()


class PostgresCatalogStore:
    """One catalog (the row `catalog_uid` of `catalogs`) in a shared PostgreSQL database.
    Thread-safe: each call borrows a connection of the pool. Opened by the registry, it
    shares the registry's pool (and closing it leaves the pool open); opened alone, with a
    conninfo, it has a pool of its own."""

    def __init__(
        self,
        conninfo: str | ConnectionPool,
        catalog_uid: str,
        *,
        schema: str = DEFAULT_SCHEMA,
    ) -> None:
        self.catalog_uid = catalog_uid
        self._lock_connection: psycopg.Connection | None = None
        self._lock_guard = threading.Lock()
        self._own_pool = isinstance(conninfo, str)
        self._pool = ConnectionPool(conninfo, schema) if isinstance(conninfo, str) else conninfo
        if self._own_pool:
            try:
                create_tables(self._pool)
            except psycopg.Error as error:
                self._pool.close()
                raise storage_failure(f"cannot open the catalog {catalog_uid}", error) from error

    def close(self) -> None:
        with self._lock_guard:
            if self._lock_connection is not None:
                self._lock_connection.close()  # lets go of a lock still held
        if self._own_pool:
            self._pool.close()

    def _read(self, sql: str, parameters: Sequence = ()) -> list:
        try:
            with self._pool.connection() as db:
                return db.execute(sql, parameters).fetchall()
        except psycopg.Error as error:
            raise storage_failure(f"catalog read failed ({self.catalog_uid})", error) from error

    # -- writes ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[tuple[psycopg.Connection, int, list[int]]]:
        """One write transaction on the locked catalog row: yields (connection, the new
        seq, [last key handed out]); the caller may raise the last key in the list. The
        seq and the key counter are stored at commit; anything raised rolls it all back."""
        try:
            with self._pool.connection() as db, db.transaction():
                row = db.execute(
                    "SELECT seq, last_key FROM catalogs WHERE uid = %s AND NOT deleting FOR UPDATE",
                    (self.catalog_uid,),
                ).fetchone()
                if row is None:
                    raise NotFoundError(f"catalog {self.catalog_uid} no longer exists")
                seq, last_key = row[0] + 1, [row[1]]
                yield db, seq, last_key
                db.execute(
                    "UPDATE catalogs SET seq = %s, last_key = %s WHERE uid = %s",
                    (seq, last_key[0], self.catalog_uid),
                )
        except psycopg.Error as error:
            raise storage_failure(f"catalog write failed ({self.catalog_uid})", error) from error

    def _record(self, db: psycopg.Connection, seq: int, keys: Sequence[int], op: str) -> None:
        """Append the write's changes to the outbox the vector stores follow."""
        with db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO changes (catalog_uid, seq, key, op) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (catalog_uid, key) DO UPDATE SET seq = excluded.seq, op = excluded.op",
                [(self.catalog_uid, seq, key, op) for key in dict.fromkeys(keys)],
            )

    def upsert(self, writes: Sequence[ProductWrite], model_versions: dict[str, tuple[str, str]]) -> int:
        now = time.time()
        with self._transaction() as (db, seq, last_key):
            keys = []
            for write in writes:
                p = write.product
                candidate = last_key[0] + 1  # used only when the id is new
                row = db.execute(
                    "INSERT INTO products (catalog_uid, key, id, title, category, price, attributes,"
                    " image_uri, image, thumbnail, update_time)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (catalog_uid, id) DO UPDATE SET title = excluded.title,"
                    " category = excluded.category, price = excluded.price,"
                    " attributes = excluded.attributes, image_uri = excluded.image_uri,"
                    " image = excluded.image, thumbnail = excluded.thumbnail,"
                    " update_time = excluded.update_time RETURNING key",
                    (
                        self.catalog_uid,
                        candidate,
                        p.id,
                        p.title,
                        p.category,
                        p.price,
                        Jsonb(p.attributes),
                        p.image_uri,
                        write.image_jpeg,
                        p.thumbnail,
                        now,
                    ),
                ).fetchone()
                assert row is not None  # INSERT ... ON CONFLICT DO UPDATE returns its row
                key = row[0]
                if key == candidate:
                    last_key[0] = candidate
                db.execute(
                    "DELETE FROM embeddings WHERE catalog_uid = %s AND key = %s", (self.catalog_uid, key)
                )
                with db.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO embeddings (catalog_uid, key, space, model, model_version, vector)"
                        " VALUES (%s, %s, %s, %s, %s, %s)",
                        [
                            (self.catalog_uid, key, space, *model_versions[space], _vector(v))
                            for space, v in write.embeddings.items()
                        ],
                    )
                keys.append(key)
            self._record(db, seq, keys, "upsert")
        for write, key in zip(writes, keys, strict=True):  # only once committed
            write.product.key, write.product.update_time = key, now
        return seq

    def delete(self, ids: Sequence[str]) -> Deleted:
        """Delete products (their images and embeddings with them)."""
        deleted: dict[str, int] = {}
        with self._transaction() as (db, seq, _):
            if ids:
                rows = db.execute(
                    "DELETE FROM products WHERE catalog_uid = %s AND id = ANY(%s) RETURNING id, key",
                    (self.catalog_uid, list(ids)),
                ).fetchall()
                deleted = {id_: key for id_, key in rows}
            self._record(db, seq, sorted(deleted.values()), "delete")
        return Deleted(deleted, seq)

    def replace_embeddings(self, rows: Sequence[EmbeddingRow]) -> int:
        with self._transaction() as (db, seq, _):
            changed = []
            for r in rows:
                # INSERT ... SELECT: a product deleted since it was read gets no orphan row.
                written = db.execute(
                    "INSERT INTO embeddings (catalog_uid, key, space, model, model_version, vector)"
                    " SELECT catalog_uid, key, %s, %s, %s, %s FROM products"
                    " WHERE catalog_uid = %s AND key = %s"
                    " ON CONFLICT (catalog_uid, key, space) DO UPDATE SET model = excluded.model,"
                    " model_version = excluded.model_version, vector = excluded.vector RETURNING key",
                    (r.space, r.model, r.model_version, _vector(r.vector), self.catalog_uid, int(r.key)),
                ).fetchone()
                if written:
                    changed.append(written[0])
            self._record(db, seq, changed, "upsert")
        return seq

    def delete_embeddings(self, space: str) -> None:
        with self._transaction() as (db, _, _):
            db.execute(
                "DELETE FROM embeddings WHERE catalog_uid = %s AND space = %s", (self.catalog_uid, space)
            )

    # -- reads ----------------------------------------------------------------------------

    def seq(self) -> int:
        rows = self._read("SELECT seq FROM catalogs WHERE uid = %s", (self.catalog_uid,))
        if not rows:
            raise NotFoundError(f"catalog {self.catalog_uid} no longer exists")
        return int(rows[0][0])

    def changes_since(self, seq: int, limit: int) -> list[tuple[int, int, str]]:
        """(seq, key, op) of the keys whose latest write came after `seq`, in seq then key
        order, at most `limit` rows; a write's rows are all committed or none are."""
        rows = self._read(
            "SELECT seq, key, op FROM changes WHERE catalog_uid = %s AND seq > %s ORDER BY seq, key LIMIT %s",
            (self.catalog_uid, seq, limit),
        )
        return [(int(s), int(k), op) for s, k, op in rows]

    def catch_up(self, after_seq: int, spaces: Sequence[str], max_writes: int) -> CatchUp:
        """What the writes after `after_seq` left, read in one snapshot: the keys they
        touched and, per space, those keys' embeddings as they are now (a key without one
        was deleted there). Covers at most `max_writes` writes."""
        try:
            with self._pool.connection() as db, db.transaction():
                db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                row = db.execute("SELECT seq FROM catalogs WHERE uid = %s", (self.catalog_uid,)).fetchone()
                if row is None:
                    raise NotFoundError(f"catalog {self.catalog_uid} no longer exists")
                seq = min(int(row[0]), after_seq + max_writes)
                keys = [
                    int(key)
                    for (key,) in db.execute(
                        "SELECT DISTINCT key FROM changes WHERE catalog_uid = %s AND seq > %s AND seq <= %s",
                        (self.catalog_uid, after_seq, seq),
                    ).fetchall()
                ]
                rows = {
                    space: [
                        _embedding_row(row)
                        for row in db.execute(
                            f"SELECT {_EMBEDDING_COLUMNS} FROM embeddings e JOIN products p"
                            " USING (catalog_uid, key) WHERE e.catalog_uid = %s AND e.space = %s"
                            " AND e.key = ANY(%s)",
                            (self.catalog_uid, space, keys),
                        ).fetchall()
                    ]
                    for space in spaces
                }
        except psycopg.Error as error:
            raise storage_failure(f"catalog read failed ({self.catalog_uid})", error) from error
        return CatchUp(seq, keys, rows)

    def try_lock(self, purpose: str) -> bool:
        """Take the catalog's lock for `purpose` ("writes", "training") across every
        gateway, if free: a session advisory lock on a connection of its own, so a gateway
        that dies lets go of it with its connection. Writes hold theirs while they commit
        and are applied to shared vector stores, so that those follow the catalog in commit
        order; training, while it writes a new model version."""
        with self._lock_guard:
            if self._lock_connection is None or self._lock_connection.closed:
                self._lock_connection = self._pool.dedicated()
            try:
                row = self._lock_connection.execute(
                    "SELECT pg_try_advisory_lock(%s)", (self._advisory_key(purpose),)
                ).fetchone()
            except psycopg.Error as error:
                self._lock_connection.close()
                raise storage_failure(f"catalog lock failed ({self.catalog_uid})", error) from error
            return bool(row and row[0])

    def unlock(self, purpose: str) -> None:
        with self._lock_guard:
            if self._lock_connection is None or self._lock_connection.closed:
                return  # the connection (and with it the lock) is gone already
            try:
                self._lock_connection.execute("SELECT pg_advisory_unlock(%s)", (self._advisory_key(purpose),))
            except psycopg.Error as error:  # a broken connection has released it
                _LOGGER.warning("catalog lock release failed (%s): closing its connection", error)
                self._lock_connection.close()

    def _advisory_key(self, purpose: str) -> int:
        """The advisory lock's bigint: from the catalog's uid and the lock's purpose."""
        digest = hashlib.sha256(f"{self.catalog_uid}/{purpose}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def count(self) -> int:
        return int(
            self._read("SELECT count(*) FROM products WHERE catalog_uid = %s", (self.catalog_uid,))[0][0]
        )

    def get(self, product_id: str, with_thumbnail: bool = True) -> Product | None:
        rows = self.get_many_by_id([product_id], with_thumbnail)
        return rows[0] if rows else None

    def get_many_by_id(self, ids: Sequence[str], with_thumbnail: bool = False) -> list[Product]:
        return self._select("id", list(ids), with_thumbnail)

    def get_many(self, keys: Sequence[int], with_thumbnail: bool = False) -> dict[int, Product]:
        return {p.key: p for p in self._select("key", [int(k) for k in keys], with_thumbnail)}

    def _select(self, column: str, values: list, with_thumbnail: bool) -> list[Product]:
        if not values:
            return []
        thumbnail = ", thumbnail" if with_thumbnail else ""
        rows = self._read(
            f"SELECT {_PRODUCT_COLUMNS}{thumbnail} FROM products"
            f" WHERE catalog_uid = %s AND {column} = ANY(%s)",
            (self.catalog_uid, values),
        )
        return [_product(row[:8], row[8] if with_thumbnail else b"") for row in rows]

    def list_page(self, after_id: str, limit: int, condition: Filter = EVERYTHING) -> list[Product]:
        where, parameters = _where(condition)
        rows = self._read(
            f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE catalog_uid = %s AND id > %s{where}"
            " ORDER BY id LIMIT %s",
            (self.catalog_uid, after_id, *parameters, limit),
        )
        return [_product(row) for row in rows]

    def iter_embeddings(self, space: str, batch: int = 4096) -> Iterator[list[EmbeddingRow]]:
        """Batches in key order, each read on its own: no transaction spans the caller's work."""
        after = -1
        while rows := self._read(
            f"SELECT {_EMBEDDING_COLUMNS} FROM embeddings e JOIN products p USING (catalog_uid, key)"
            " WHERE e.catalog_uid = %s AND e.space = %s AND e.key > %s ORDER BY e.key LIMIT %s",
            (self.catalog_uid, space, after, batch),
        ):
            after = rows[-1][0]
            yield [_embedding_row(row) for row in rows]

    def sample_keys(self, space: str, n: int, rng: np.random.Generator) -> list[int]:
        (top,) = self._read(
            "SELECT max(key) FROM embeddings WHERE catalog_uid = %s AND space = %s", (self.catalog_uid, space)
        )[0]
        if top is None:
            return []
        rows = self._read(
            "SELECT DISTINCT found.key FROM unnest(%s::bigint[]) AS start(key) CROSS JOIN LATERAL"
            " (SELECT e.key FROM embeddings e WHERE e.catalog_uid = %s AND e.space = %s"
            " AND e.key >= start.key ORDER BY e.key LIMIT 1) AS found ORDER BY found.key",
            ([int(k) for k in rng.integers(0, top + 1, n)], self.catalog_uid, space),
        )
        return [key for (key,) in rows]

    def keys_without(self, space: str) -> list[int]:
        rows = self._read(
            "SELECT p.key FROM products p WHERE p.catalog_uid = %s AND NOT EXISTS"
            " (SELECT 1 FROM embeddings e WHERE e.catalog_uid = p.catalog_uid AND e.key = p.key"
            " AND e.space = %s) ORDER BY p.key",
            (self.catalog_uid, space),
        )
        return [key for (key,) in rows]

    def stored_images(self, keys: Sequence[int]) -> dict[int, bytes]:
        if not keys:
            return {}
        rows = self._read(
            "SELECT key, image FROM products WHERE catalog_uid = %s AND key = ANY(%s)",
            (self.catalog_uid, [int(k) for k in keys]),
        )
        return {key: bytes(image) for key, image in rows}

    def store_state(self, store: str) -> StoreState | None:
        rows = self._read(
            "SELECT space, seq, durable_seq FROM store_state WHERE catalog_uid = %s AND store = %s",
            (self.catalog_uid, store),
        )
        return StoreState(*rows[0]) if rows else None

    def record_store_state(self, store: str, state: StoreState) -> None:
        """One statement, so gateways recording at once each keep the other's higher seqs."""
        self._write(
            "INSERT INTO store_state VALUES (%s, %s, %s, %s, %s) ON CONFLICT (catalog_uid, store)"
            " DO UPDATE SET seq = CASE WHEN store_state.space = excluded.space"
            " THEN GREATEST(store_state.seq, excluded.seq) ELSE excluded.seq END,"
            " durable_seq = CASE WHEN store_state.space = excluded.space"
            " THEN GREATEST(store_state.durable_seq, excluded.durable_seq) ELSE excluded.durable_seq END,"
            " space = excluded.space",
            (self.catalog_uid, store, state.space, state.seq, state.durable_seq),
        )

    def forget_store_state(self, store: str) -> None:
        self._write(
            "DELETE FROM store_state WHERE catalog_uid = %s AND store = %s", (self.catalog_uid, store)
        )

    def _write(self, sql: str, parameters: Sequence) -> None:
        try:
            with self._pool.connection() as db:
                db.execute(sql, parameters)
        except psycopg.Error as error:
            raise storage_failure(f"catalog write failed ({self.catalog_uid})", error) from error

    def titles(self, keys: Sequence[int]) -> dict[int, str]:
        if not keys:
            return {}
        rows = self._read(
            "SELECT key, title FROM products WHERE catalog_uid = %s AND key = ANY(%s)",
            (self.catalog_uid, [int(k) for k in keys]),
        )
        return dict(rows)


_CATALOG_COLUMNS = "id, uid, display_name, description, create_time"


class PostgresCatalogRegistry:
    """The catalogs of one PostgreSQL schema, shared by every gateway that names it; each
    gateway keeps the catalogs' local folders (embedded indexes) under its own `data_dir`."""

    shared = True

    def __init__(
        self, conninfo: str, data_dir: Path, *, schema: str = DEFAULT_SCHEMA, pool_size: int = POOL_SIZE
    ) -> None:
        self.data_dir = Path(data_dir)
        self._pool = ConnectionPool(conninfo, schema, pool_size)
        try:
            private_dir(self.data_dir)
            create_tables(self._pool)
        except psycopg.Error as error:
            self._pool.close()
            raise storage_failure(f"cannot open the catalog registry in schema {schema}", error) from error
        self._finish_deletes()

    def _rows(self, sql: str, parameters: Sequence = ()) -> list:
        try:
            with self._pool.connection() as db:
                return db.execute(sql, parameters).fetchall()
        except psycopg.Error as error:
            raise storage_failure("catalog registry query failed", error) from error

    def _finish_deletes(self) -> None:
        """Complete deletes a crash interrupted, and remove local folders no catalog owns."""
        for row in self._rows(f"SELECT {_CATALOG_COLUMNS} FROM catalogs WHERE deleting"):
            self.delete(CatalogInfo(*row))
        owned = {uid for (uid,) in self._rows("SELECT uid FROM catalogs")}
        root = self.data_dir / "catalogs"
        for folder in root.iterdir() if root.is_dir() else []:
            if folder.name not in owned:
                _LOGGER.info("removing %s: no catalog owns it", folder)
                shutil.rmtree(folder, ignore_errors=True)

    def create(self, catalog_id: str, display_name: str = "", description: str = "") -> CatalogInfo:
        info = CatalogInfo(catalog_id, uuid.uuid4().hex[:16], display_name, description, time.time())
        try:
            with self._pool.connection() as db:
                db.execute(
                    f"INSERT INTO catalogs ({_CATALOG_COLUMNS}) VALUES (%s, %s, %s, %s, %s)",
                    (info.id, info.uid, info.display_name, info.description, info.create_time),
                )
        except pg_errors.UniqueViolation as error:
            raise AlreadyExistsError(f"catalog {info.name!r} already exists") from error
        except psycopg.Error as error:
            raise storage_failure(f"cannot create catalog {info.name!r}", error) from error
        return info

    def get(self, catalog_id: str) -> CatalogInfo | None:
        rows = self._rows(
            f"SELECT {_CATALOG_COLUMNS} FROM catalogs WHERE id = %s AND NOT deleting", (catalog_id,)
        )
        return CatalogInfo(*rows[0]) if rows else None

    def list(self, after_id: str, limit: int) -> list[CatalogInfo]:
        rows = self._rows(
            f"SELECT {_CATALOG_COLUMNS} FROM catalogs WHERE id > %s AND NOT deleting ORDER BY id LIMIT %s",
            (after_id, limit),
        )
        return [CatalogInfo(*row) for row in rows]

    def open(self, info: CatalogInfo) -> PostgresCatalogStore:
        return PostgresCatalogStore(self._pool, info.uid)

    def directory(self, info: CatalogInfo) -> Path:
        return self.data_dir / "catalogs" / info.uid

    def delete(self, info: CatalogInfo) -> None:
        """Hide the catalog, remove its local folder, delete its rows (one transaction,
        cascading to products, embeddings and changes), then VACUUM the tables so that
        their space is reusable at once (VACUUM runs outside a transaction; plain, not
        FULL, so other catalogs are not locked out while it runs)."""
        self._rows("UPDATE catalogs SET deleting = TRUE WHERE uid = %s RETURNING uid", (info.uid,))
        shutil.rmtree(self.directory(info), ignore_errors=True)
        self._rows("DELETE FROM catalogs WHERE uid = %s RETURNING uid", (info.uid,))
        try:
            with self._pool.connection() as db:
                for table in TABLES:
                    db.execute(f"VACUUM {table}")
        except psycopg.Error as error:  # the rows are gone; autovacuum will get to them
            _LOGGER.warning("VACUUM after deleting %s failed: %s", info.name, error)

    def close(self) -> None:
        self._pool.close()
