"""Access and admission (unit tier): key lines, roles of methods, keys limited to
catalogs, secure by default beyond loopback, admission bounds."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from server.api.access import (
    ENV_KEYS,
    KeyFileError,
    KeyRing,
    Role,
    load_keys,
    new_key,
    parse_keys,
    required_role,
)
from server.api.admission import Admission, BusyError
from server.app import InsecureExposureError, check_exposure
from server.config import Config

ROOT = Path(__file__).resolve().parents[2]


def test_key_lines_are_parsed_and_bad_lines_named():
    key, line = new_key("ci", "write")
    (entry,) = parse_keys(f"# comment\n\n{line}  # trailing comment\n", "keys.txt")
    assert entry.name == "ci" and entry.role == Role.WRITE and key not in line
    for bad in ("ci write", "ci owner sha256:" + "0" * 64, "ci write sha256:abc", "ci write md5:" + "0" * 64):
        with pytest.raises(KeyFileError, match=r"keys\.txt:2"):
            parse_keys(f"{line}\n{bad}", "keys.txt")


def test_keys_come_from_a_file_and_the_environment(tmp_path):
    search_key, search_line = new_key("reader", "search")
    admin_key, admin_line = new_key("ops", "admin")
    (tmp_path / "keys").write_text(search_line + "\n")
    keys = load_keys(tmp_path / "keys", {ENV_KEYS: admin_line + ";"})
    ring = KeyRing(keys)
    assert ring.find(search_key).role == Role.SEARCH and ring.find(admin_key).role == Role.ADMIN
    assert ring.find("psk_wrong") is None
    assert load_keys(None, {}) == ()


def test_key_ring_answers_the_right_status():
    key, line = new_key("reader", "search")
    ring = KeyRing(parse_keys(line, "test"))
    assert ring.check(f"Bearer {key}", Role.SEARCH).name == "reader"
    assert ring.check(f"bearer {key}", Role.SEARCH).name == "reader"
    assert ring.check(None, Role.SEARCH)[0] == grpc.StatusCode.UNAUTHENTICATED
    assert ring.check(f"Basic {key}", Role.SEARCH)[0] == grpc.StatusCode.UNAUTHENTICATED
    assert ring.check("Bearer psk_guess", Role.SEARCH)[0] == grpc.StatusCode.UNAUTHENTICATED
    code, message = ring.check(f"Bearer {key}", Role.WRITE)
    assert code == grpc.StatusCode.PERMISSION_DENIED and "reader" in message and key not in message


def test_keys_may_be_limited_to_catalogs():
    key, line = new_key("shop-a-writer", "write", ["shop-a", "shop-b"])
    assert line.endswith(" catalogs=shop-a,shop-b")
    (entry,) = parse_keys(line, "test")
    assert entry.catalogs == frozenset({"shop-a", "shop-b"}) and entry.role == Role.WRITE
    principal = KeyRing([entry]).check(f"Bearer {key}", Role.WRITE).principal
    assert principal.may_use("shop-a") and not principal.may_use("default")
    (unlimited,) = parse_keys(new_key("ops", "admin")[1], "test")
    assert unlimited.catalogs is None and unlimited.principal.may_use("anything")
    for bad in (line.replace("catalogs=", "catalog="), line.rsplit(" ", 1)[0] + " catalogs="):
        with pytest.raises(KeyFileError):
            parse_keys(bad, "keys.txt")


def test_roles_of_methods():
    service = "/productsearch.v1.ProductSearch/"
    assert required_role(service + "SearchByText") == Role.SEARCH
    assert required_role(service + "GetStats") == Role.SEARCH
    assert required_role(service + "ExplainMatch") == Role.SEARCH  # a read, like the searches
    assert required_role(service + "UpsertProducts") == Role.WRITE
    assert required_role(service + "DeleteProducts") == Role.WRITE
    assert required_role(service + "TrainProjection") == Role.ADMIN
    assert required_role(service + "TrainImageHead") == Role.ADMIN
    assert required_role(service + "CreateCatalog") == Role.ADMIN
    assert required_role(service + "DeleteCatalog") == Role.ADMIN
    assert required_role(service + "ListCatalogs") == Role.SEARCH
    assert required_role("/grpc.health.v1.Health/Check") is None
    assert required_role("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo") == Role.SEARCH


def test_secure_by_default_beyond_loopback(tmp_path):
    _, line = new_key("k", "search")
    keys = tuple(parse_keys(line, "test"))
    for host in ("127.0.0.1", "localhost", "::1"):
        check_exposure(Config(host=host))
    with pytest.raises(InsecureExposureError, match=r"TLS .* and API keys"):
        check_exposure(Config(host="0.0.0.0"))
    with pytest.raises(InsecureExposureError, match="TLS"):
        check_exposure(Config(host="0.0.0.0", api_keys=keys))
    with pytest.raises(InsecureExposureError, match="API keys"):
        check_exposure(Config(host="10.1.2.3", api_keys=(), tls_cert=tmp_path / "c", tls_key=tmp_path / "k"))
    (tmp_path / "c").write_text("cert")
    (tmp_path / "k").write_text("key")
    check_exposure(Config(host="0.0.0.0", api_keys=keys, tls_cert=tmp_path / "c", tls_key=tmp_path / "k"))
    check_exposure(Config(host="0.0.0.0", insecure=True))


def test_half_configured_tls_refuses_to_start(tmp_path):
    """A certificate without its key (or a client CA alone) must not serve plaintext, on
    loopback too and even with --insecure."""
    _, line = new_key("k", "search")
    keys = tuple(parse_keys(line, "test"))
    cert, key, ca = (tmp_path / name for name in ("c", "k", "ca"))
    for path in (cert, key, ca):
        path.write_text("pem")
    for config in (
        Config(tls_cert=cert),
        Config(tls_key=key),
        Config(tls_client_ca=ca),
        Config(tls_cert=cert, tls_client_ca=ca),
        Config(host="0.0.0.0", api_keys=keys, tls_cert=cert),
        Config(host="0.0.0.0", insecure=True, tls_key=key),
    ):
        with pytest.raises(InsecureExposureError, match="incomplete TLS configuration"):
            check_exposure(config)
    with pytest.raises(InsecureExposureError, match="no such file"):
        check_exposure(Config(tls_cert=cert, tls_key=tmp_path / "missing"))
    check_exposure(Config(tls_cert=cert, tls_key=key, tls_client_ca=ca))


def test_the_cli_refuses_half_configured_tls_before_starting_anything(tmp_path):
    (tmp_path / "cert.pem").write_text("pem")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.tools.cli",
            "serve",
            "--port",
            "0",
            "--tls-cert",
            str(tmp_path / "cert.pem"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        done.returncode == 2 and "incomplete TLS configuration" in done.stderr and "--tls-key" in done.stderr
    )


def test_the_cli_refuses_an_exposed_plaintext_gateway_before_starting_anything():
    done = subprocess.run(
        [sys.executable, "-m", "server.tools.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--insecure" in done.stderr


async def test_admission_bounds_running_and_waiting_calls():
    admission = Admission(max_in_flight=1, max_queued=1)
    release = asyncio.Event()

    async def hold():
        async with admission.slot(0.2):
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())  # queued behind the holder
    await asyncio.sleep(0)
    with pytest.raises(BusyError, match="waiting"):  # the queue is full: refused at once
        async with admission.slot(5):
            pass
    with pytest.raises(BusyError, match="no free slot"):  # the queued one gives up after 0.2 s
        await waiter
    release.set()
    await holder
    async with admission.slot(5):  # the slot is free again
        pass
    assert admission.rejected == 2 and admission.queued == 0
