"""Access and admission: API keys and roles, TLS and mutual TLS, secure by default beyond
loopback, RESOURCE_EXHAUSTED instead of unbounded queueing — against a real gateway."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.api.access import new_key, parse_keys
from server.api.admission import AdmissionLimits
from server.app import create_server
from server.config import Config, Limits
from server.models.images import encode_png
from server.tools import fashion_mnist
from tests.gateway_helpers import fmnist_product, requests

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


# -- a real gateway with keys, mutual TLS and tight admission ---------------------------------


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    folder = tmp_path_factory.mktemp("certs")
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl(
        "req",
        "-x509",
        *curve,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        cwd=folder,
    )
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        openssl(
            "req", *curve, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=folder
        )
        extension = ["-extfile", "san.ext"] if name == "server" else []
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", *extension, cwd=folder,
        )  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    return {role: new_key(f"{role}-caller", role) for role in ("search", "write", "admin")}


@pytest.fixture(scope="module")
async def gateway(tmp_path_factory, model_repository, certs, keys):
    admission = AdmissionLimits(max_in_flight=2, max_queued=2, queue_wait_s=0.2)
    config = Config(
        data_dir=tmp_path_factory.mktemp("access"),
        model_repository=model_repository,
        port=0,
        http_port=0,
        api_keys=tuple(k for _, line in keys.values() for k in parse_keys(line, "test")),
        tls_cert=certs / "server.pem",
        tls_key=certs / "server.key",
        tls_client_ca=certs / "ca.pem",
        limits=Limits(admission=admission),
    )
    gateway = await create_server(config)
    yield gateway
    await gateway.stop()


def credentials(certs: Path, client_certificate: bool = True) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=(certs / "ca.pem").read_bytes(),
        private_key=(certs / "client.key").read_bytes() if client_certificate else None,
        certificate_chain=(certs / "client.pem").read_bytes() if client_certificate else None,
    )


@pytest.fixture(scope="module")
async def channel(gateway, certs):
    async with grpc.aio.secure_channel(gateway.address, credentials(certs)) as channel:
        yield channel


def bearer(keys, role: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {keys[role][0]}"),)


async def code_of(call) -> grpc.StatusCode:
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_health_needs_no_key(channel):
    response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_calls_without_a_valid_key_are_unauthenticated(channel, keys):
    stub = pb_grpc.ProductSearchStub(channel)
    request = pb.SearchByTextRequest(text="运动鞋")
    assert await code_of(stub.SearchByText(request, timeout=10)) == grpc.StatusCode.UNAUTHENTICATED
    for metadata in (
        (("authorization", "Bearer psk_guess"),),
        (("authorization", f"Basic {keys['admin'][0]}"),),
    ):
        call = stub.SearchByText(request, metadata=metadata, timeout=10)
        assert await code_of(call) == grpc.StatusCode.UNAUTHENTICATED
    assert (
        await code_of(stub.SearchByText(request, metadata=bearer(keys, "search"), timeout=10))
        == grpc.StatusCode.OK
    )


async def test_roles_limit_what_a_key_may_do(channel, keys):
    stub = pb_grpc.ProductSearchStub(channel)
    train = fashion_mnist.load("train")
    product = fmnist_product(train, 7, "access")
    before = await stub.GetStats(pb.GetStatsRequest(), metadata=bearer(keys, "search"), timeout=10)

    refused = stub.UpsertProducts(requests([product]), metadata=bearer(keys, "search"), timeout=30)
    assert await code_of(refused) == grpc.StatusCode.PERMISSION_DENIED
    delete = pb.DeleteProductsRequest(ids=[product.id])
    assert await code_of(stub.DeleteProducts(delete, metadata=bearer(keys, "search"), timeout=10)) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    after = await stub.GetStats(pb.GetStatsRequest(), metadata=bearer(keys, "search"), timeout=10)
    assert after.product_count == before.product_count  # nothing was written

    upserted = await stub.UpsertProducts(requests([product]), metadata=bearer(keys, "write"), timeout=60)
    assert upserted.upserted == 1
    train_call = stub.TrainProjection(pb.TrainProjectionRequest(), metadata=bearer(keys, "write"), timeout=60)
    assert await code_of(train_call) == grpc.StatusCode.PERMISSION_DENIED
    # An admin passes the access check; training then needs more titled products.
    train_call = stub.TrainProjection(pb.TrainProjectionRequest(), metadata=bearer(keys, "admin"), timeout=60)
    assert await code_of(train_call) == grpc.StatusCode.FAILED_PRECONDITION


async def test_tls_is_required_and_so_is_a_client_certificate(gateway, certs, keys):
    request = pb.SearchByTextRequest(text="bag")
    async with grpc.aio.insecure_channel(gateway.address) as plaintext:
        call = pb_grpc.ProductSearchStub(plaintext).SearchByText(
            request, metadata=bearer(keys, "search"), timeout=5
        )
        assert await code_of(call) == grpc.StatusCode.UNAVAILABLE
    async with grpc.aio.secure_channel(
        gateway.address, credentials(certs, client_certificate=False)
    ) as anonymous:
        call = pb_grpc.ProductSearchStub(anonymous).SearchByText(
            request, metadata=bearer(keys, "search"), timeout=5
        )
        assert await code_of(call) == grpc.StatusCode.UNAVAILABLE


async def test_a_spike_beyond_the_admission_limits_gets_resource_exhausted(channel, keys):
    stub = pb_grpc.ProductSearchStub(channel)
    image = encode_png(fashion_mnist.load("test").rgb(0))
    request = pb.SearchByImageRequest(image=image, options=pb.SearchOptions(top_k=10))
    codes = await asyncio.gather(
        *(
            code_of(stub.SearchByImage(request, metadata=bearer(keys, "search"), timeout=30))
            for _ in range(16)
        )
    )
    # 2 running + 2 waiting at most: most of 16 simultaneous calls are turned away at once.
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert codes.count(grpc.StatusCode.OK) >= 2 and codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= 8
    assert await code_of(stub.SearchByImage(request, metadata=bearer(keys, "search"), timeout=30)) == (
        grpc.StatusCode.OK
    )


def https_get(url: str, certs: Path, headers: dict[str, str]) -> int:
    context = ssl.create_default_context(cafile=certs / "ca.pem")
    context.load_cert_chain(certs / "client.pem", certs / "client.key")
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), context=context, timeout=10
        ):
            return 200
    except urllib.error.HTTPError as error:
        return error.code


async def test_the_console_speaks_https_and_needs_a_key(gateway, certs, keys):
    url = gateway.console.url + "api/stats"
    assert url.startswith("https://")
    get = lambda headers: asyncio.to_thread(https_get, url, certs, headers)  # noqa: E731
    assert await get({}) == 401
    assert await get({"Authorization": "Bearer psk_guess"}) == 401
    assert await get({"Authorization": f"Bearer {keys['search'][0]}"}) == 200
    assert await get({"Cookie": f"productsearch_key={keys['search'][0]}"}) == 200


async def test_cli_client_sends_the_key_over_tls(gateway, certs, keys):
    command = [sys.executable, "-m", "server.tools.cli", "stats", "--server", gateway.address]
    command += ["--tls-ca", str(certs / "ca.pem"), "--tls-client-cert", str(certs / "client.pem")]
    command += ["--tls-client-key", str(certs / "client.key")]

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([*command, *extra], cwd=ROOT, capture_output=True, text=True, timeout=60)

    allowed = await asyncio.to_thread(run, "--api-key", keys["search"][0])
    assert allowed.returncode == 0, allowed.stderr
    refused = await asyncio.to_thread(run)
    assert refused.returncode == 1 and "UNAUTHENTICATED" in refused.stderr
