"""The `productsearch` CLI end to end: `serve` with the embedded Triton (the default),
`index`, `search` with a contact sheet, `stats`, `delete`, then a clean SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image

from server.triton_runtime import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def wait_serving(address: str, server: subprocess.Popen, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert server.poll() is None, server.stderr.read()
            try:
                if (
                    health.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    == health_pb2.HealthCheckResponse.SERVING
                ):
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.5)
    raise AssertionError("gateway not serving in time")


def test_cli_end_to_end(tmp_path, model_repository):
    port = free_port()
    address = f"127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            "--model-repository",
            str(model_repository),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_serving(address, server)
        triton_pids = children(server.pid)
        assert triton_pids, "no embedded Triton child"

        indexed = cli("index", "--server", address, "--fashion-mnist", "--limit", "100")
        assert indexed.returncode == 0, indexed.stderr
        assert "done; 0 failed" in indexed.stdout

        sheet = tmp_path / "hits.png"
        found = cli("search", "--server", address, "--text", "运动鞋", "--contact-sheet", str(sheet))
        assert found.returncode == 0, found.stderr
        first_hit = next(line for line in found.stdout.splitlines() if line.strip().startswith("1 "))
        assert "Sneaker" in first_hit
        assert Image.open(sheet).size[0] == 5 * 160

        stats = cli("stats", "--server", address)
        assert "product_count: 100" in stats.stdout

        product_id = first_hit.split()[2]
        deleted = cli("delete", "--server", address, product_id, "no-such-id")
        assert "deleted 1; not found: no-such-id" in deleted.stdout

        missing = cli("search", "--server", address, "--similar", "no-such-id")
        assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert code == 0, server.stderr.read()
    for pid in triton_pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
