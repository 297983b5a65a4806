"""Run the gateway as a child process (`productsearch serve`) and wait for it: for
benchmarks, load tests and end-to-end tests that need a real, separate server."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def spawn_gateway(
    port: int, data_dir: Path, repository: Path, extra_args: Sequence[str] = (), **popen
) -> subprocess.Popen:
    """Start `productsearch serve` on 127.0.0.1:`port` with the embedded Triton, with
    `extra_args` (e.g. --http-port, --api-keys) added."""
    command = [
        sys.executable,
        "-m",
        "server.tools.cli",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--model-repository",
        str(repository),
        *extra_args,
    ]
    return subprocess.Popen(command, **popen)


def wait_serving(address: str, process: subprocess.Popen | None = None, timeout_s: float = 300) -> None:
    """Block until grpc.health.v1 says SERVING; fail early if `process` exits."""
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"gateway exited with {process.returncode} before serving")
            try:
                response = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass  # not listening yet
            time.sleep(0.5)
    raise TimeoutError(f"gateway at {address} not serving after {timeout_s:.0f} s")
