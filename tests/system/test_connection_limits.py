"""A gateway child under the usual open-file limit of 1,024, flooded with half-open
connections on both ports: catalog reads and writes keep working (no "unable to open
database file"), the gateway closes what is beyond its caps at once and the console's
silent connections after 10 s, and new callers get in once the flood is gone.

grpc-python never times out a plaintext connection that sends no HTTP/2 preface (neither
server_handshake_timeout_ms nor max_connection_idle_ms applies, measured): those hold
gRPC connection slots until the peer closes them — a per-client connection limit in front
of the gateway is the remedy (README: Security and limits)."""

from __future__ import annotations

import json
import resource
import signal
import socket
import time
import urllib.request
from pathlib import Path

import grpc
import pytest

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.tools import fashion_mnist
from server.tools.child import spawn_gateway, wait_serving
from server.triton.runtime import free_port
from tests.gateway_helpers import fmnist_product, requests

pytestmark = pytest.mark.integration

FLOOD = 1100  # per port: more than the open-file limit of the gateway
CLOSED_WITHIN_S = 30  # the console closes a connection that sends no request within 10 s


def limit_files_to_1024() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


def flood(port: int) -> list[socket.socket]:
    sockets = []
    for _ in range(FLOOD):
        connection = socket.create_connection(("127.0.0.1", port), timeout=5)
        connection.setblocking(False)
        sockets.append(connection)
    return sockets


def closed_by_peer(connection: socket.socket) -> bool:
    try:
        return connection.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_half_open_connections_use_up_nothing(tmp_path, model_repository):
    wanted = FLOOD * 2 + 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    port, http_port = free_port(), free_port()
    log = tmp_path / "gateway.log"
    with log.open("w") as output:
        process = spawn_gateway(
            port,
            tmp_path / "data",
            model_repository,
            ["--http-port", str(http_port)],
            stdout=output,
            stderr=output,
            preexec_fn=limit_files_to_1024,
        )
    sockets: list[socket.socket] = []
    try:
        wait_serving(f"127.0.0.1:{port}", process, timeout_s=240)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            product = fmnist_product(fashion_mnist.load("test"), 0, "fd")
            assert stub.UpsertProducts(requests([product]), timeout=60).upserted == 1

            sockets = flood(port) + flood(http_port)
            # The connection made before the flood keeps working, reads and writes alike.
            for _ in range(20):
                assert (
                    stub.GetProduct(pb.GetProductRequest(id=product.id), timeout=10).product.id == product.id
                )
            again = fmnist_product(fashion_mnist.load("test"), 1, "fd")
            assert stub.UpsertProducts(requests([again]), timeout=60).upserted == 1

            grpc_flood, console_flood = sockets[:FLOOD], sockets[FLOOD:]
            deadline = time.monotonic() + CLOSED_WITHIN_S
            while time.monotonic() < deadline and not all(closed_by_peer(s) for s in console_flood):
                time.sleep(0.5)
            assert all(closed_by_peer(s) for s in console_flood), "silent console connections left open"
            refused = sum(closed_by_peer(s) for s in grpc_flood)
            assert refused >= FLOOD - 512, f"only {refused} gRPC connections beyond the cap closed"
            for connection in sockets:
                connection.close()
            sockets = []
            time.sleep(1)

        # New callers get in on both ports.
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            assert stub.GetProduct(pb.GetProductRequest(id=product.id), timeout=10).product.id == product.id
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/stats", timeout=10) as reply:
            assert json.load(reply)["product_count"] == 2
        text = log.read_text(errors="replace")
        assert "unable to open database file" not in text and "Too many open files" not in text, text[-3000:]
    finally:
        for connection in sockets:
            connection.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except Exception:
            process.kill()
    assert process.returncode == 0, Path(log).read_text()[-3000:]
