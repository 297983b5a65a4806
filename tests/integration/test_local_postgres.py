"""LocalPostgres, the PostgreSQL the tests, `make demo-scale` and the fault tests start
(server/tools/local_postgres.py): a postmaster that dies before its first log line is
started again; one that says why it failed is not."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from server.tools.local_postgres import PostgresStartError
from tests.engines import local_postgres

pytestmark = pytest.mark.integration


@pytest.fixture()
def wrapped():
    """A private server, stopped, and a folder for a `postgres` wrapper that the service
    user may run and write in."""
    folder = Path(tempfile.mkdtemp(prefix="productsearch-pgbin-"))
    os.chmod(folder, 0o777)
    try:
        with local_postgres() as server:
            server.stop()
            real = server.bin
            yield server, folder, real / "postgres"
            server.bin = real
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def install(folder: Path, body: str) -> None:
    script = folder / "postgres"
    script.write_text(f"#!/bin/sh\necho call >> {folder}/calls\n{body}\n")
    script.chmod(0o755)


def calls(folder: Path) -> int:
    return len((folder / "calls").read_text().splitlines())


def test_a_postmaster_that_dies_before_its_first_log_line_is_started_again(wrapped):
    server, folder, real = wrapped
    install(folder, f'[ -e {folder}/died ] || {{ touch {folder}/died; exit 1; }}\nexec {real} "$@"')
    server.bin = folder
    server.start()
    assert server.running() and calls(folder) == 2


def test_a_postmaster_that_says_why_it_failed_is_not_started_again(wrapped):
    server, folder, _ = wrapped
    install(folder, 'echo "FATAL:  could not bind IPv4 address: Address already in use"\nexit 1')
    server.bin = folder
    with pytest.raises(PostgresStartError, match=r"status 1\).*\n(.*\n)*.*Address already in use"):
        server.start()
    assert not server.running() and calls(folder) == 1
