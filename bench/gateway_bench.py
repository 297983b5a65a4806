"""Gateway latency and throughput over gRPC on loopback, with the embedded Triton.

Starts `productsearch serve` in a child process, indexes Fashion-MNIST products through
UpsertProducts (indexing throughput), then drives SearchByText and SearchByImage at
several concurrencies. Gateway overhead per request = client-measured latency minus the
server-reported embedding time (the Triton call) minus the index time.

    python -m bench.gateway_bench --output bench/GATEWAY_RESULTS.md
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

from bench.machine import describe_machine
from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.models.images import encode_png
from server.tools import fashion_mnist
from server.tools.child import spawn_gateway, wait_serving
from server.tools.cli import chunks, products_from_fashion_mnist
from server.triton.runtime import free_port

CONCURRENCY = (1, 16, 64)


@dataclass
class Run:
    rpc: str
    concurrency: int
    requests: int
    errors: Counter[str]  # status code name → count
    seconds: float
    latency_ms: np.ndarray
    overhead_ms: np.ndarray
    embedding_ms: np.ndarray
    index_ms: np.ndarray


async def index_catalog(stub, size: int) -> float:
    """Products per second through UpsertProducts, streams of 256."""
    products = list(products_from_fashion_mnist("train", size, titles=True))
    started = time.perf_counter()
    for chunk in chunks(iter(products), 256):
        response = await stub.UpsertProducts(iter([pb.UpsertProductsRequest(product=p) for p in chunk]))
        assert response.failed == 0, response.statuses[:3]
    return size / (time.perf_counter() - started)


async def drive(stub, rpc: str, requests: list, concurrency: int, seconds: float) -> Run:
    call = getattr(stub, rpc)
    latencies, overheads, embeddings, indexes = [], [], [], []
    errors: Counter[str] = Counter()
    stop_at = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        i = offset
        while time.perf_counter() < stop_at:
            request = requests[i % len(requests)]
            i += concurrency
            t0 = time.perf_counter()
            try:
                response = await call(request, timeout=30)
            except grpc.aio.AioRpcError as error:
                errors[error.code().name] += 1
                continue
            ms = (time.perf_counter() - t0) * 1000
            latencies.append(ms)
            embeddings.append(response.embedding_ms)
            indexes.append(response.index_ms)
            overheads.append(ms - response.embedding_ms - response.index_ms)

    started = time.perf_counter()
    await asyncio.gather(*[worker(w) for w in range(concurrency)])
    return Run(
        rpc,
        concurrency,
        len(latencies),
        errors,
        time.perf_counter() - started,
        np.array(latencies),
        np.array(overheads),
        np.array(embeddings),
        np.array(indexes),
    )


def queries() -> dict[str, list]:
    test = fashion_mnist.load("test")
    texts = fashion_mnist.CATEGORIES_ZH + [c.lower() for c in fashion_mnist.CATEGORIES_EN]
    return {
        "SearchByText": [pb.SearchByTextRequest(text=t) for t in texts],
        "SearchByImage": [pb.SearchByImageRequest(image=encode_png(test.rgb(i))) for i in range(200)],
    }


async def measure(address: str, size: int, seconds: float) -> tuple[float, list[Run]]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.ProductSearchStub(channel)
        rate = await index_catalog(stub, size)
        runs = []
        for rpc, requests in queries().items():
            await drive(stub, rpc, requests, 4, 2.0)  # warm-up
            for concurrency in CONCURRENCY:
                runs.append(await drive(stub, rpc, requests, concurrency, seconds))
                print(
                    f"{rpc} c={concurrency}: {runs[-1].requests / runs[-1].seconds:.1f} req/s",
                    file=sys.stderr,
                )
        return rate, runs


def error_cells(errors: Counter[str]) -> str:
    return ", ".join(f"{count} {code}" for code, count in errors.most_common()) or "0"


def render(rate: float, runs: list[Run], args: argparse.Namespace) -> str:
    def pct(values: np.ndarray, q: float) -> str:
        return f"{np.percentile(values, q):.1f}" if len(values) else "-"

    rows = [
        f"| {r.rpc} | {r.concurrency} | {r.requests / r.seconds:.1f} | {pct(r.latency_ms, 50)} / "
        f"{pct(r.latency_ms, 99)} | {pct(r.embedding_ms, 50)} | {pct(r.index_ms, 50)} | "
        f"{pct(r.overhead_ms, 50)} / {pct(r.overhead_ms, 99)} | {r.requests} | {error_cells(r.errors)} |"
        for r in runs
    ]
    return (
        "# Gateway latency and throughput\n\n"
        f"- command: `python -m bench.gateway_bench --catalog {args.catalog} --seconds {args.seconds:g}` "
        "(`make bench`)\n"
        f"- machine: {describe_machine()}; the load generator shares the cores with the gateway and Triton\n"
        f"- date: {datetime.date.today().isoformat()}\n"
        f"- catalog: {args.catalog} titled Fashion-MNIST products; image model efficientnet_lite0, embedded "
        "Triton (python backend + ONNX Runtime CPU); one gRPC channel; top_k 10\n"
        "- overhead = client latency − server-reported embedding time (the Triton call, including "
        "queueing in Triton's dynamic batcher) − index time; it includes gRPC both ways, validation, "
        "image decoding, the catalog lookup and the client's own Python\n\n"
        f"**Indexing throughput:** {rate:.1f} products/s (UpsertProducts streams of 256; each product "
        "decoded, thumbnailed, embedded by image and title, committed to SQLite, added to two indexes)\n\n"
        "| RPC | concurrency | requests/s | latency p50 / p99 ms | embedding p50 ms | index p50 ms "
        "| gateway overhead p50 / p99 ms | requests | errors |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--catalog", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as data_dir:
        server = spawn_gateway(
            port, Path(data_dir), args.repository, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_serving(f"127.0.0.1:{port}", server)
        try:
            rate, runs = asyncio.run(measure(f"127.0.0.1:{port}", args.catalog, args.seconds))
        finally:
            server.terminate()
            server.wait(60)
    report = render(rate, runs, args)
    print(report)
    if args.output:
        args.output.write_text(report)


if __name__ == "__main__":
    main()
