"""Shared engines for the congruence suites: real servers started once per session.

PostgreSQL (server/tools/local_postgres.py) runs from Debian's package in a folder under
/tmp (as root it runs as the `postgres` user, which pytest's 0700 tmp folders shut out),
without fsync: a test never survives a machine crash, and a crash of the server alone
loses nothing even so. Tests keep apart through a schema or a catalog of their own."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from server.domain import CatalogInfo
from server.tools.local_milvus import LocalMilvus
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


def seal_milvus(client: Any, name: str, timeout_s: float = 120.0) -> None:
    """Flush a collection and wait until its sealed segments have their HNSW index: growing
    segments are searched by brute force, so only then does a search go through the graph."""
    client.flush(name)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        index = client.describe_index(name, "vector")
        if index["total_rows"] and not index["pending_index_rows"] and index["indexed_rows"]:
            time.sleep(2.0)  # the query node swaps in the indexed segments
            return
        time.sleep(0.5)
    raise TimeoutError(f"{name}: index not built in {timeout_s} s: {client.describe_index(name, 'vector')}")
