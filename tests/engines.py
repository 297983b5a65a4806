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
