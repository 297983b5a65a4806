"""Shared engines for the congruence suites: real servers started once per session.

PostgreSQL (server/tools/local_postgres.py) runs from Debian's package in a folder under
/tmp (as root it runs as the `postgres` user, which pytest's 0700 tmp folders shut out),
without fsync: a test never survives a machine crash, and a crash of the server alone
loses nothing even so. Tests keep apart through a schema or a catalog of their own."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from server.domain import CatalogInfo
from server.tools.local_milvus import LocalMilvus, seal_collection
from server.tools.local_postgres import LocalPostgres


@contextmanager
def local_postgres() -> Iterator[LocalPostgres]:
    folder = Path(tempfile.mkdtemp(prefix="productsearch-pg-"))
    try:
        with LocalPostgres(folder, fsync=False) as server:
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def unique_schema() -> str:
    """A schema name no other test uses: a registry there sees only its own catalogs."""
    return f"test_{uuid.uuid4().hex[:12]}"


@contextmanager
def local_milvus() -> Iterator[LocalMilvus]:
    """Embedded Milvus (server/tools/local_milvus.py), only in a loopback-only network
    namespace (`make test-milvus`); its data in a folder under /tmp, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="productsearch-milvus-"))
    try:
        with LocalMilvus(folder) as server:
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def unique_catalog(prefix: str = "t") -> CatalogInfo:
    """A catalog no other test uses: its collections in a shared Milvus are its own."""
    return CatalogInfo(f"{prefix}-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex[:16])


def seal_milvus(client: Any, name: str, timeout_s: float = 300.0) -> None:
    """Flush a collection and wait until the query node serves all of it from sealed
    segments with their HNSW index: growing segments are searched by brute force, so only
    then does a search go through the graph (server/tools/local_milvus.py)."""
    client.flush(name)
    # Live rows: the collection's row_count also counts deleted ones until compaction.
    rows = int(
        client.query(name, filter="", output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"]
    )
    seal_collection(client, name, rows, timeout_s)


def new_database(server: LocalPostgres, prefix: str) -> str:
    """A fresh database on `server` (its conninfo): gateways on it see only their own catalogs."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server.url_for(name)
