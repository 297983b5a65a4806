"""Scale benchmark: the embedded engines (SQLite + hnswlib) against the shared ones
(PostgreSQL + Milvus) at N products, in one run, on this machine.

1. Vector stores directly, no gateway: `HnswStore` (hnswlib in process) and
   `MilvusPointsStore` (embedded Milvus 2.3.5 standalone: one point per distinct vector in
   one collection, product keys in a members collection, as gateways use it), same M /
   efConstruction, on N
   clustered unit vectors (bench/index_bench.py's generator) whose facets put 10 % and 1 %
   of them in the filtered categories. Build time (Milvus: insert, then flush and wait for
   every sealed segment's HNSW index); single-query QPS and latency and recall@10 against
   exact numpy search over the matching subset, per ef, unfiltered, 10 % and 1 % filters;
   then concurrent clients (Milvus 8 threads, hnswlib 2), with the engine's CPU time per
   query.
2. Gateways end to end: one Triton (efficientnet_lite0 + text_encoder), a PostgreSQL
   server, Milvus; gateway processes on SQLite + hnswlib, PostgreSQL + hnswlib and
   PostgreSQL + Milvus, then 2 and 3 gateways on PostgreSQL + Milvus (clients round
   robin). A small Fashion-MNIST catalog indexed through each configuration;
   SearchByText / SearchByImage latency and throughput at concurrency 1 and 16, with the
   CPU time each process tree spent per request.
3. Start-up and recovery at N products: the catalog written directly through the catalog
   store (synthetic vectors in the exact spaces the gateway expects: the image model's
   name and manifest version, copy descriptors), then an embedded gateway (rebuild from
   SQLite) and a PostgreSQL + Milvus gateway (rebuild into Milvus) started, written to
   once, killed with SIGKILL, and replaced: time until the replacement serves.

Embedded Milvus listens on every interface: run this only in a loopback-only network
namespace (`make bench-scale` does: `unshare -n`, root).

    python -m bench.scale_bench --sizes 100000 --output bench/SCALE_RESULTS.md
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import gc
import importlib.metadata
import logging
import os
import platform
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.gateway_bench import index_catalog, queries
from bench.index_bench import clustered
from bench.machine import describe_machine
from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.domain import (
    COPY_SPACE,
    DEFAULT_CATALOG,
    IMAGE_SPACE,
    TITLE_SPACE,
    Facets,
    Filter,
    Product,
    ProductWrite,
)
from server.index.embedded import HnswStore
from server.index.hnsw import IndexParams, VectorIndex
from server.index.milvus import MilvusVectors, MilvusVectorStore, expression, members_name
from server.index.milvus_points import MilvusMembers, MilvusPointsStore
from server.index.store import EVERYTHING, IndexSpace, VectorRecord
from server.models.copy_descriptor import DESCRIPTOR_MODEL, DESCRIPTOR_VERSION, HYPOTHESES
from server.models.copy_descriptor import DIM as COPY_DIM
from server.models.images import encode_jpeg
from server.models.manifest import model_version, read_manifest
from server.tools import fashion_mnist
from server.tools.child import spawn_gateway
from server.tools.cli import products_from_fashion_mnist
from server.tools.local_milvus import LocalMilvus, seal_collection
from server.tools.local_postgres import LocalPostgres, binaries
from server.triton.runtime import EmbeddedTriton, free_port

_LOGGER = logging.getLogger("scale_bench")

K = 10
CHUNK = 20_000  # vectors generated (and written) at a time: the bench never holds all N
IMAGE_MODEL = "efficientnet_lite0"
TEXT_MODEL = "text_encoder"
CATEGORIES = 100  # product key % 100 names its category: c00 … c99
FILTERS: dict[str, frozenset[str]] = {
    "none": frozenset(),
    "10 %": frozenset(f"c{i:02d}" for i in range(10)),
    "1 %": frozenset({"c00"}),
}
_MATCH_BELOW = {"none": CATEGORIES, "10 %": 10, "1 %": 1}  # key % 100 below this matches
GIB = 1024**3
_TICK = os.sysconf("SC_CLK_TCK")
# DESIGN.md, "Anchors measured": Triton 2.51 python backend + PyTorch fp16 VGG16 on one
# H100, gRPC uint8 224², 16 clients at batch 1 (the slower of its two runs).
GPU_IMAGES_PER_S = 1571


# -- data ------------------------------------------------------------------------------


class Dataset:
    """N clustered unit vectors, generated chunk by chunk from fixed seeds (so every pass
    sees the same vectors without holding them all), and held-out queries."""

    def __init__(self, size: int, dim: int, clusters: int, queries: int) -> None:
        self.size, self.dim = size, dim
        rng = np.random.default_rng((size, dim))
        self.centres = rng.standard_normal((clusters, dim)).astype(np.float32)
        self.centres /= np.linalg.norm(self.centres, axis=1, keepdims=True)
        self.queries = clustered(queries, dim, np.random.default_rng((size, dim, 1)), self.centres)

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for number, start in enumerate(range(0, self.size, CHUNK)):
            rows = min(CHUNK, self.size - start)
            rng = np.random.default_rng((self.size, self.dim, 2, number))
            yield np.arange(start, start + rows, dtype=np.int64), clustered(rows, self.dim, rng, self.centres)


def category(key: int) -> str:
    return f"c{key % CATEGORIES:02d}"


_FACETS = [Facets.of_fields(f"c{i:02d}", None, {}) for i in range(CATEGORIES)]


def records(keys: np.ndarray, vectors: np.ndarray) -> list[VectorRecord]:
    return [VectorRecord(int(k), v, _FACETS[int(k) % CATEGORIES]) for k, v in zip(keys, vectors, strict=True)]


def ground_truth(data: Dataset) -> dict[str, np.ndarray]:
    """Per filter, the exact top-K keys of every query over the matching vectors."""
    q = len(data.queries)
    best = {name: (np.full((q, 0), -np.inf, np.float32), np.zeros((q, 0), np.int64)) for name in FILTERS}
    for keys, vectors in data.chunks():
        scores = data.queries @ vectors.T
        for name in FILTERS:
            mask = keys % CATEGORIES < _MATCH_BELOW[name]
            if not mask.any():
                continue
            s, k = scores[:, mask], keys[mask]
            top = np.argpartition(-s, min(K, s.shape[1]) - 1, axis=1)[:, :K]
            all_s = np.concatenate([best[name][0], np.take_along_axis(s, top, axis=1)], axis=1)
            all_k = np.concatenate([best[name][1], k[top]], axis=1)
            keep = np.argsort(-all_s, axis=1)[:, :K]
            best[name] = (np.take_along_axis(all_s, keep, axis=1), np.take_along_axis(all_k, keep, axis=1))
    return {name: rows for name, (_, rows) in best.items()}


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    hits = sum(len(set(got) & set(want.tolist())) for got, want in zip(found, truth, strict=True))
    return hits / truth.size


# -- CPU time of process trees ------------------------------------------------------------


def _process_table() -> dict[int, tuple[int, float]]:
    """pid → (parent pid, CPU seconds used) for every process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK)
    return table


def tree_cpu(roots: Sequence[int]) -> float:
    """CPU seconds used so far by these processes and their living descendants."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    total, stack, seen = 0.0, list(roots), set()
    while stack:
        pid = stack.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        total += table[pid][1]
        stack.extend(children.get(pid, []))
    return total


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds spent by named process trees (and this process) between start and stop."""

    def __init__(self, trees: Mapping[str, Sequence[int]]) -> None:
        self.trees = trees
        self.before: dict[str, float] = {}

    def start(self) -> None:
        self.before = {name: tree_cpu(pids) for name, pids in self.trees.items()}
        self.before["client"] = own_cpu()

    def stop(self) -> dict[str, float]:
        after = {name: tree_cpu(pids) for name, pids in self.trees.items()}
        after["client"] = own_cpu()
        return {name: after[name] - self.before[name] for name in after}


def rss_bytes(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


# -- 1. vector stores ---------------------------------------------------------------------


@dataclass
class Build:
    size: int
    store: str
    insert_s: float
    index_s: float
    rss_bytes: int


@dataclass
class Query:
    size: int
    store: str
    filter: str
    matching: int
    path: str
    ef: int
    threads: int
    qps: float
    p50_ms: float
    p99_ms: float
    recall: float
    cpu_ms: float = float("nan")  # engine CPU per query (Milvus' process tree; concurrent rows)
    batch: int = 1  # queries per call (p50 / p99 are then per call)


Search = Callable[[np.ndarray, Filter], list[tuple[int, float]]]
SearchMany = Callable[[np.ndarray, Filter], list[list[int]]]  # [n, dim] → each row's keys
Pass = Callable[[Filter], tuple[float, np.ndarray, list[list[int]]]]  # (QPS, latencies ms, keys found)


def run_queries(
    search: Search, data: Dataset, condition: Filter, threads: int
) -> tuple[float, np.ndarray, list[list[int]]]:
    """(QPS, latencies ms, keys found) over every query once, on `threads` client threads."""
    found: list[list[int]] = [[] for _ in data.queries]
    latencies = np.zeros(len(data.queries))

    def work(offset: int) -> None:
        for i in range(offset, len(data.queries), threads):
            t0 = time.perf_counter()
            hits = search(data.queries[i], condition)
            latencies[i] = (time.perf_counter() - t0) * 1000
            found[i] = [key for key, _ in hits]

    started = time.perf_counter()
    if threads == 1:
        work(0)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, range(threads)))
    return len(data.queries) / (time.perf_counter() - started), latencies, found


def measure(
    search: Search,
    data: Dataset,
    truth: dict[str, np.ndarray],
    store: str,
    ef: int,
    threads: int,
    path_of: Callable[[str], str],
    cpu: CpuMeter | None = None,
) -> list[Query]:
    """One row per filter: every query once, one per call (after 10 to warm up)."""

    def warm_up(condition: Filter) -> None:
        for q in data.queries[:10]:
            search(q, condition)

    def timed(condition: Filter) -> tuple[float, np.ndarray, list[list[int]]]:
        return run_queries(search, data, condition, threads)

    return _rows(warm_up, timed, data, truth, store, ef, threads, 1, path_of, cpu)


def measure_batched(
    search_many: SearchMany,
    data: Dataset,
    truth: dict[str, np.ndarray],
    store: str,
    ef: int,
    batch: int,
    path_of: Callable[[str], str],
    cpu: CpuMeter | None = None,
) -> list[Query]:
    """One row per filter: every query once, `batch` queries per call of the engine's own
    batch search (after one call to warm up); latencies are per call."""

    def warm_up(condition: Filter) -> None:
        search_many(data.queries[:batch], condition)

    def timed(condition: Filter) -> tuple[float, np.ndarray, list[list[int]]]:
        found: list[list[int]] = []
        latencies = []
        started = time.perf_counter()
        for start in range(0, len(data.queries), batch):
            t0 = time.perf_counter()
            found += search_many(data.queries[start : start + batch], condition)
            latencies.append((time.perf_counter() - t0) * 1000)
        return len(data.queries) / (time.perf_counter() - started), np.array(latencies), found

    return _rows(warm_up, timed, data, truth, store, ef, 1, batch, path_of, cpu)


def _rows(
    warm_up: Callable[[Filter], None],
    timed: Pass,
    data: Dataset,
    truth: dict[str, np.ndarray],
    store: str,
    ef: int,
    threads: int,
    batch: int,
    path_of: Callable[[str], str],
    cpu: CpuMeter | None,
) -> list[Query]:
    """A Query row per filter from one timed pass over every query (engine CPU metered)."""
    rows = []
    for name in FILTERS:
        condition = Filter(categories=FILTERS[name]) if FILTERS[name] else EVERYTHING
        warm_up(condition)
        if cpu is not None:
            cpu.start()
        qps, latencies, found = timed(condition)
        cpu_ms = 1000 * cpu.stop()["engine"] / len(data.queries) if cpu is not None else float("nan")
        rows.append(
            Query(
                data.size,
                store,
                name,
                data.size * _MATCH_BELOW[name] // CATEGORIES,
                path_of(name),
                ef,
                threads,
                qps,
                float(np.percentile(latencies, 50)),
                float(np.percentile(latencies, 99)),
                recall(found, truth[name]),
                cpu_ms,
                batch,
            )
        )
        _LOGGER.info("%s", rows[-1])
    return rows


def bench_hnsw(
    args: argparse.Namespace,
    data: Dataset,
    truth: dict[str, np.ndarray],
    space: IndexSpace,
    params: IndexParams,
) -> tuple[Build, list[Query]]:
    """hnswlib in this process, through the store the embedded gateway uses."""
    index = VectorIndex(space, params, num_threads=args.build_threads)
    store = HnswStore(index)
    started = time.perf_counter()
    for keys, vectors in data.chunks():
        store.upsert(records(keys, vectors), 1)
    build = Build(data.size, "HnswStore", time.perf_counter() - started, 0.0, rss_bytes(os.getpid()))
    _LOGGER.info("%s", build)

    def path(name: str) -> str:
        matching = data.size * _MATCH_BELOW[name] // CATEGORIES
        if name == "none":
            return "graph"
        return "exact" if matching <= params.exact_search_max else "graph + filter"

    def search(q: np.ndarray, condition: Filter) -> list[tuple[int, float]]:
        return store.search(q, K, condition)

    rows = []
    for ef in args.efs:
        store.set_ef(ef)
        rows += measure(search, data, truth, "HnswStore", ef, 1, path)
    store.set_ef(args.concurrent_ef)
    rows += measure(search, data, truth, "HnswStore", args.concurrent_ef, args.hnsw_threads, path)

    keys = np.arange(data.size, dtype=np.int64)
    matching = {FILTERS[n]: keys[keys % CATEGORIES < _MATCH_BELOW[n]] for n in FILTERS if FILTERS[n]}

    def search_many(queries: np.ndarray, condition: Filter) -> list[list[int]]:
        found = index.search_many(queries, K, matching.get(condition.categories))
        return [[key for key, _ in hits] for hits in found]

    def batch_path(name: str) -> str:
        return f"graph{'' if name == 'none' else ' + filter'}, {args.build_threads} threads"

    rows += measure_batched(search_many, data, truth, "HnswStore", args.concurrent_ef, args.batch, batch_path)
    return build, rows


def bench_stores(args: argparse.Namespace, size: int, milvus: LocalMilvus) -> tuple[list[Build], list[Query]]:
    data = Dataset(size, args.dim, args.clusters, args.queries)
    started = time.perf_counter()
    truth = ground_truth(data)
    _LOGGER.info("%d: exact ground truth in %.1f s", size, time.perf_counter() - started)
    space = IndexSpace(name="bench", model="synthetic", model_version="0", dim=args.dim)
    params = IndexParams(M=args.M, ef_construction=args.ef_construction, initial_capacity=size)
    builds: list[Build] = []
    build, rows = bench_hnsw(args, data, truth, space, params)
    builds.append(build)
    gc.collect()  # the store is gone: its memory goes back before Milvus loads

    # Milvus, through the store the gateway uses
    backend = MilvusVectors(milvus.uri, params, timeout_s=600)
    name = f"scale_bench_{size}"
    try:
        members = MilvusMembers.create(backend.client, members_name(name))
        store = MilvusPointsStore(MilvusVectorStore.create(backend.client, name, space, params), members)
        started = time.perf_counter()
        with store.loading():  # as a gateway's rebuild writes: duplicates grouped in process
            for keys, vectors in data.chunks():
                store.upsert(records(keys, vectors), 0)  # seq 0: no state recorded
        insert_s = time.perf_counter() - started
        started = time.perf_counter()
        seal_collection(backend.client, name, size, args.index_timeout_s)
        builds.append(
            Build(size, "MilvusPointsStore", insert_s, time.perf_counter() - started, milvus.rss_bytes())
        )
        _LOGGER.info("%s", builds[-1])

        def milvus_path(name: str) -> str:
            return "graph" if name == "none" else "graph + expression (ef × 4)"

        cpu = CpuMeter({"engine": milvus.pids})
        runs = [(ef, 1) for ef in args.efs] + [(args.concurrent_ef, args.milvus_threads)]
        for ef, threads in runs:
            at_ef = MilvusPointsStore(
                MilvusVectorStore(backend.client, name, space, dataclasses.replace(params, ef_search=ef)),
                members,
            )

            def milvus_search(q: np.ndarray, condition: Filter, s: MilvusPointsStore = at_ef) -> list:
                return s.search(q, K, condition)

            rows += measure(milvus_search, data, truth, "MilvusPointsStore", ef, threads, milvus_path, cpu)

        def milvus_many(queries: np.ndarray, condition: Filter) -> list[list[int]]:
            # Every vector here is distinct, so each point is its one product: no members read.
            where = expression(condition)
            ef = args.concurrent_ef * (4 if where else 1)
            found = backend.client.search(
                name,
                data=queries.tolist(),
                limit=K,
                filter=where,
                search_params={"metric_type": "IP", "params": {"ef": max(ef, 2 * K)}},
                consistency_level="Strong",
            )
            return [[int(hit["id"]) for hit in hits] for hits in found]

        def milvus_batch_path(name: str) -> str:
            return "points collection, one request" + ("" if name == "none" else " + expression (ef × 4)")

        rows += measure_batched(
            milvus_many,
            data,
            truth,
            "MilvusPointsStore",
            args.concurrent_ef,
            args.batch,
            milvus_batch_path,
            cpu,
        )
    finally:
        for collection in (name, members_name(name)):
            with contextlib.suppress(Exception):
                backend.client.drop_collection(collection)
        backend.close()
    return builds, rows


# -- gateways -------------------------------------------------------------------------------


class Gateway:
    """A `productsearch serve` process (server/tools/child.py), its log in `folder`."""

    def __init__(self, name: str, folder: Path, repository: Path, flags: list[str]) -> None:
        self.name = name
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log_path = folder / f"gateway-{name}.log"
        self._log = self.log_path.open("ab")
        self.started = time.perf_counter()
        self.process = spawn_gateway(
            self.port, folder / f"data-{name}", repository, flags, stdout=self._log, stderr=self._log
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_serving(self, probe: pb.SearchByImageRequest, timeout_s: float) -> tuple[float, float]:
        """Seconds from spawn to SERVING, and to the first answered search."""
        deadline = time.monotonic() + timeout_s
        serving = None
        with grpc.insecure_channel(self.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            stub = pb_grpc.ProductSearchStub(channel)
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"gateway {self.name} exited ({self.process.returncode}):\n{self.log_tail()}"
                    )
                try:
                    if serving is None:
                        status = health.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                        if status == health_pb2.HealthCheckResponse.SERVING:
                            serving = time.perf_counter() - self.started
                    if serving is not None:
                        stub.SearchByImage(probe, timeout=10)
                        return serving, time.perf_counter() - self.started
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise TimeoutError(f"gateway {self.name} not serving after {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_says(self, text: str) -> bool:
        return text in self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(60)
        self._log.close()

    def stop(self, timeout_s: float = 600) -> float:
        """SIGTERM and wait (an embedded gateway writes its snapshot); seconds it took."""
        started = time.perf_counter()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(60)
        self._log.close()
        return time.perf_counter() - started


@dataclass
class Cell:
    config: str
    gateways: int
    rpc: str
    concurrency: int
    requests: int
    seconds: float
    errors: Counter[str]
    latency_ms: np.ndarray
    embedding_ms: np.ndarray
    index_ms: np.ndarray
    cpu_s: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def drive(
    addresses: list[str], rpc: str, requests: list, concurrency: int, seconds: float, max_requests: int
) -> tuple[int, float, Counter[str], list[float], list[float], list[float]]:
    """Concurrent callers for `seconds` (or `max_requests`), each call to the next gateway
    in turn."""
    channels = [grpc.aio.insecure_channel(a) for a in addresses]
    calls = [getattr(pb_grpc.ProductSearchStub(c), rpc) for c in channels]
    latencies: list[float] = []
    embeddings: list[float] = []
    indexes: list[float] = []
    errors: Counter[str] = Counter()
    counter = [0]
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < stop_at and counter[0] < max_requests:
            i = counter[0]
            counter[0] += 1
            t0 = time.perf_counter()
            try:
                response = await calls[i % len(calls)](requests[i % len(requests)], timeout=60)
            except grpc.aio.AioRpcError as error:
                errors[error.code().name] += 1
                continue
            latencies.append((time.perf_counter() - t0) * 1000)
            embeddings.append(response.embedding_ms)
            indexes.append(response.index_ms)

    try:
        started = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        elapsed = time.perf_counter() - started
    finally:
        for channel in channels:
            await channel.close()
    return len(latencies), elapsed, errors, latencies, embeddings, indexes


def measure_gateways(
    args: argparse.Namespace,
    config: str,
    gateways: list[Gateway],
    trees: Mapping[str, Sequence[int]],
    requests: dict[str, list],
) -> list[Cell]:
    addresses = [g.address for g in gateways]
    meter = CpuMeter({"gateways": [g.pid for g in gateways], **trees})
    cells = []
    for rpc, batch in requests.items():
        asyncio.run(drive(addresses, rpc, batch, 4, args.warmup_s, 10**9))
        for concurrency in (1, 16):
            meter.start()
            done, elapsed, errors, lat, emb, idx = asyncio.run(
                drive(addresses, rpc, batch, concurrency, args.gateway_seconds, args.max_requests)
            )
            cpu = meter.stop()
            cells.append(
                Cell(
                    config,
                    len(gateways),
                    rpc,
                    concurrency,
                    done,
                    elapsed,
                    errors,
                    np.array(lat),
                    np.array(emb),
                    np.array(idx),
                    cpu,
                )
            )
            _LOGGER.info(
                "%s × %d %s c=%d: %.1f req/s, errors %s",
                config,
                len(gateways),
                rpc,
                concurrency,
                cells[-1].rate,
                dict(errors),
            )
    return cells


def create_database(postgres: LocalPostgres, name: str) -> str:
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return postgres.url_for(name)


def bench_gateways(
    args: argparse.Namespace,
    folder: Path,
    triton: EmbeddedTriton,
    postgres: LocalPostgres,
    milvus: LocalMilvus,
) -> tuple[list[Cell], dict[str, float]]:
    requests = queries()
    base = ["--triton-url", triton.url, "--image-model", IMAGE_MODEL]
    configs = {
        "SQLite + hnswlib": (base, {}),
        "PostgreSQL + hnswlib": (
            [*base, "--catalog-store", create_database(postgres, "gw_hnswlib")],
            {"postgres": [postgres.pid or 0]},
        ),
        "PostgreSQL + Milvus": (
            [*base, "--catalog-store", create_database(postgres, "gw_milvus"), "--vector-store", milvus.uri],
            {"postgres": [postgres.pid or 0], "milvus": milvus.pids},
        ),
    }
    probe = requests["SearchByImage"][0]
    cells: list[Cell] = []
    indexing: dict[str, float] = {}
    for config, (flags, engines) in configs.items():
        trees = {"triton": [triton.pid or 0], **engines}
        tag = config.split()[0].lower() + "-" + config.split()[-1].lower()
        gateways = [Gateway(f"{tag}-1", folder, args.repository, flags)]
        try:
            gateways[0].wait_serving(probe, 300)
            indexing[config] = asyncio.run(_index(gateways[0].address, args.catalog))
            _LOGGER.info("%s: indexed %d products at %.1f/s", config, args.catalog, indexing[config])
            cells += measure_gateways(args, config, gateways, trees, requests)
            if "Milvus" in config:
                for n in (2, 3):
                    gateways.append(Gateway(f"{tag}-{n}", folder, args.repository, flags))
                    gateways[-1].wait_serving(probe, 300)
                    cells += measure_gateways(args, config, gateways, trees, requests)
        finally:
            for gateway in gateways:
                gateway.stop(120)
    return cells, indexing


async def _index(address: str, size: int) -> float:
    async with grpc.aio.insecure_channel(address) as channel:
        return await index_catalog(pb_grpc.ProductSearchStub(channel), size)


# -- 3. start-up and recovery -----------------------------------------------------------------


@dataclass
class Recovery:
    size: int
    config: str
    event: str
    serving_s: float
    first_search_s: float
    rss_bytes: int
    note: str = ""


@dataclass
class Load:
    size: int
    store: str
    seconds: float


def synthetic_writes(size: int, dim: int) -> Iterator[list[ProductWrite]]:
    """N products with an image embedding (dim of the image model) and copy descriptors,
    no title (so no title space), in batches; one small real JPEG as image and thumbnail."""
    jpeg = encode_jpeg(fashion_mnist.load("test").rgb(0), 256, quality=85)
    data = Dataset(size, dim, 1000, 1)
    copy_rng = np.random.default_rng((size, 3))
    for keys, vectors in data.chunks():
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            descriptors = copy_rng.standard_normal((len(part), HYPOTHESES, COPY_DIM), dtype=np.float32)
            descriptors /= np.linalg.norm(descriptors, axis=2, keepdims=True)
            yield [
                ProductWrite(
                    Product(id=f"syn-{k:08d}", category=category(int(k)), thumbnail=jpeg),
                    jpeg,
                    {IMAGE_SPACE: vectors[start + i], COPY_SPACE: descriptors[i].ravel()},
                )
                for i, k in enumerate(part.tolist())
            ]


def spaces_of(repository: Path) -> tuple[dict[str, tuple[str, str]], int]:
    """(model, version) per space as the gateway will expect them, and the image dimension."""
    versions = {
        IMAGE_SPACE: (IMAGE_MODEL, model_version(repository, IMAGE_MODEL)),
        TITLE_SPACE: (TEXT_MODEL, model_version(repository, TEXT_MODEL)),
        COPY_SPACE: (DESCRIPTOR_MODEL, DESCRIPTOR_VERSION),
    }
    return versions, int(read_manifest(repository)[IMAGE_MODEL]["settings"]["embedding_dim"])


def fill(store: Any, size: int, repository: Path) -> None:
    versions, dim = spaces_of(repository)
    for writes in synthetic_writes(size, dim):
        store.upsert(writes, versions)


def one_write(address: str) -> None:
    product = next(products_from_fashion_mnist("test", 10, titles=True))
    with grpc.insecure_channel(address) as channel:
        response = pb_grpc.ProductSearchStub(channel).UpsertProducts(
            iter([pb.UpsertProductsRequest(product=product)]), timeout=120
        )
    if response.upserted != 1:
        raise RuntimeError(f"the write before the kill failed: {response}")


def embedded_need_bytes(size: int, dim: int) -> int:
    """What an embedded gateway holds at N products: the image space (hnswlib's copy and
    ours, plus the graph) and the copy space (HYPOTHESES descriptors per product)."""
    per_vector = 2 * 4 * dim + 200
    per_copy = HYPOTHESES * (2 * 4 * COPY_DIM + 200)
    return size * (per_vector + per_copy)


def bench_recovery(
    args: argparse.Namespace,
    size: int,
    folder: Path,
    triton: EmbeddedTriton,
    postgres: LocalPostgres,
    milvus: LocalMilvus,
) -> tuple[list[Recovery], list[Load], list[str]]:
    from server.catalog.postgres import PostgresCatalogRegistry
    from server.catalog.sqlite import SqliteCatalogRegistry

    probe = queries()["SearchByImage"][0]
    rows: list[Recovery] = []
    loads: list[Load] = []
    notes: list[str] = []
    base = ["--triton-url", triton.url, "--image-model", IMAGE_MODEL]
    _, dim = spaces_of(args.repository)
    timeout = args.recovery_timeout_s

    # Embedded: SQLite + hnswlib
    need, available = embedded_need_bytes(size, dim), mem_available()
    if need > 0.8 * available:
        notes.append(
            f"{size:,}: embedded recovery skipped: a gateway would hold ≈ {need / GIB:.1f} GiB of "
            f"indexes, {available / GIB:.1f} GiB available"
        )
    else:
        data_dir = folder / f"data-embedded-{size}"
        started = time.perf_counter()
        registry = SqliteCatalogRegistry(data_dir)
        try:
            store = registry.open(registry.create(DEFAULT_CATALOG, "Default catalog", ""))
            fill(store, size, args.repository)
            store.close()
        finally:
            registry.close()
        loads.append(Load(size, "SQLite", time.perf_counter() - started))
        flags = [*base]
        name = f"embedded-{size}"
        gateway = Gateway(name, folder, args.repository, flags)
        try:
            serving, first = gateway.wait_serving(probe, timeout)
            rows.append(
                Recovery(
                    size,
                    "SQLite + hnswlib",
                    "first start, no snapshot: rebuild from SQLite",
                    serving,
                    first,
                    rss_bytes(gateway.pid),
                )
            )
            if gateway.log_says("re-embedding"):
                notes.append(
                    f"{size:,}: the embedded gateway re-embedded products: synthetic spaces did not match"
                )
            one_write(gateway.address)  # the snapshot written at open is behind the catalog now
            gateway.kill()
            gateway = Gateway(name, folder, args.repository, flags)
            serving, first = gateway.wait_serving(probe, timeout)
            rows.append(
                Recovery(
                    size,
                    "SQLite + hnswlib",
                    "after SIGKILL (a write since the snapshot): rebuild from SQLite",
                    serving,
                    first,
                    rss_bytes(gateway.pid),
                )
            )
            stop_s = gateway.stop(timeout)
            gateway = Gateway(name, folder, args.repository, flags)
            serving, first = gateway.wait_serving(probe, timeout)
            rows.append(
                Recovery(
                    size,
                    "SQLite + hnswlib",
                    "after SIGTERM: snapshot load",
                    serving,
                    first,
                    rss_bytes(gateway.pid),
                    f"the stop took {stop_s:.1f} s (snapshot written)",
                )
            )
        finally:
            gateway.stop(timeout)
        shutil.rmtree(data_dir, ignore_errors=True)

    # Shared: PostgreSQL + Milvus
    url = create_database(postgres, f"recovery_{size}")
    started = time.perf_counter()
    pg_registry = PostgresCatalogRegistry(url, folder / f"loader-{size}")
    try:
        fill(
            pg_registry.open(pg_registry.create(DEFAULT_CATALOG, "Default catalog", "")),
            size,
            args.repository,
        )
    finally:
        pg_registry.close()
    loads.append(Load(size, "PostgreSQL", time.perf_counter() - started))
    flags = [*base, "--catalog-store", url, "--vector-store", milvus.uri]
    gateway = Gateway(f"shared-{size}-1", folder, args.repository, flags)
    try:
        serving, first = gateway.wait_serving(probe, timeout)
        rows.append(
            Recovery(
                size,
                "PostgreSQL + Milvus",
                "first start, empty Milvus: rebuild into Milvus",
                serving,
                first,
                rss_bytes(gateway.pid),
                f"Milvus RSS {milvus.rss_bytes() / GIB:.2f} GiB",
            )
        )
        if gateway.log_says("re-embedding"):
            notes.append(f"{size:,}: the Milvus gateway re-embedded products: synthetic spaces did not match")
        one_write(gateway.address)
        gateway.kill()
        gateway = Gateway(f"shared-{size}-2", folder, args.repository, flags)
        serving, first = gateway.wait_serving(probe, timeout)
        rebuilt = gateway.log_says("rebuilding")
        rows.append(
            Recovery(
                size,
                "PostgreSQL + Milvus",
                "after SIGKILL: a new gateway (nothing to rebuild)",
                serving,
                first,
                rss_bytes(gateway.pid),
                "REBUILT (unexpected)" if rebuilt else "",
            )
        )
    finally:
        gateway.stop(timeout)
    with contextlib.suppress(Exception):  # free Milvus for the next size
        from pymilvus import MilvusClient

        client = MilvusClient(uri=milvus.uri)
        for collection in client.list_collections():
            if collection.startswith("productsearch_"):
                client.drop_collection(collection)
        client.close()
    return rows, loads, notes


# -- report -----------------------------------------------------------------------------------


def pct(values: np.ndarray, q: float) -> str:
    return f"{np.percentile(values, q):.1f}" if len(values) else "-"


def render(args: argparse.Namespace, results: dict[str, Any], elapsed_s: float) -> str:
    builds: list[Build] = results["builds"]
    searches: list[Query] = results["queries"]
    cells: list[Cell] = results["cells"]
    recoveries: list[Recovery] = results["recoveries"]
    loads: list[Load] = results["loads"]
    lines = [
        "# Scale: embedded (SQLite + hnswlib) vs shared engines (PostgreSQL + Milvus)",
        "",
        f"- command: `{args.command}` (`make bench-scale`: inside `unshare -n`, loopback only)",
        f"- machine: {describe_machine()}. **Every process of every configuration — gateways, Triton, "
        "PostgreSQL, Milvus and the load generator — shares these cores**: more gateways cannot add CPU "
        "here; what the multi-gateway rows show is the overhead and that nothing falls over",
        f"- date: {datetime.date.today().isoformat()}; whole run {elapsed_s / 60:.1f} min",
        f"- software: hnswlib {importlib.metadata.version('hnswlib')}, embedded Milvus "
        f"{importlib.metadata.version('milvus')} (standalone, time tick 20 ms) with pymilvus "
        f"{importlib.metadata.version('pymilvus')}, PostgreSQL {binaries().parent.name} (Debian), "
        f"numpy {np.__version__}, Python {platform.python_version()}",
        f"- sizes: {', '.join(f'{s:,}' for s in args.sizes)} vectors; dim {args.dim}; {args.clusters} "
        f"Gaussian clusters (bench/index_bench.py's generator); {args.queries} held-out queries; "
        f"k = {K}; HNSW M {args.M}, efConstruction {args.ef_construction} on both engines",
        "",
    ]
    if builds:
        lines += [
            "## 1. Vector stores directly (no gateway)",
            "",
            "Facets: product key % 100 is its category; the 10 % filter asks for 10 categories, the 1 % "
            "filter for one. Recall@10 is against exact numpy search over the matching vectors. "
            f"`HnswStore` is built with {args.build_threads} threads (the gateway's own rebuild "
            "uses every core: section 3); filtered sets of at most "
            f"{IndexParams().exact_search_max:,} candidates are searched exactly (its planner). "
            "`MilvusPointsStore` (server/index/milvus_points.py, what gateways use) reads at Strong "
            "consistency (every gateway sees every acknowledged write): a search asks the points "
            "collection, widening ef × 4 for filtered searches (ef is at least 2 k = 20 there), "
            "then the members collection for the points' products (a second read). The build "
            "writes as a gateway's rebuild does (`loading`: duplicates grouped in process, each "
            "point written once); a later write looks each new vector up among the stored points "
            "(one batched search).",
            "",
            "### Build",
            "",
            "| vectors | store | insert s | index s | total s | vectors/s | RSS GiB |",
            "|---:|---|---:|---:|---:|---:|---:|",
        ]
        for b in builds:
            total = b.insert_s + b.index_s
            lines.append(
                f"| {b.size:,} | {b.store} | {b.insert_s:.1f} | {b.index_s:.1f} | {total:.1f} | "
                f"{b.size / total:,.0f} | {b.rss_bytes / GIB:.2f} |"
            )
        lines += [
            "",
            "Insert: `upsert` of every vector (Milvus: growing segments, written to its log). Index "
            "(Milvus only): flush, wait until every sealed segment has its HNSW index, then until the "
            "query node serves every row from indexed sealed segments (that swap alone took ~20 s at "
            "5,000 vectors; searches before it missed rows). RSS: this process after the hnswlib build "
            "(the store only: the bench keeps one chunk of vectors at a time); Milvus' process after "
            "its index.",
            "",
            "### Queries",
            "",
            "| vectors | store | filter | matching | path | ef | client threads | queries / call | QPS "
            f"| p50 ms | p99 ms | recall@{K} | engine CPU ms / query |",
            "|---:|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for q in searches:
            cpu = f"{q.cpu_ms:.1f}" if q.cpu_ms == q.cpu_ms else ""
            lines.append(
                f"| {q.size:,} | {q.store} | {q.filter} | {q.matching:,} | {q.path} | {q.ef} | {q.threads} "
                f"| {q.batch} | {q.qps:,.0f} | {q.p50_ms:.2f} | {q.p99_ms:.2f} | {q.recall:.3f} | {cpu} |"
            )
        lines += [
            "",
            "Engine CPU: Milvus' process tree over the pass (including its background work, e.g. time "
            "ticks); for hnswlib the client thread is the engine (≈ 1000 / QPS ms at 1 thread). "
            f"Batched rows ({args.batch} queries / call): each engine's own batch search — hnswlib's "
            "`knn_query` over a matrix of queries (filtered through the graph with its filter, not the "
            "planner's exact path), Milvus' search request with several vectors on the points "
            "collection — p50 / p99 per call; the gateway itself searches one query at a time.",
            "",
        ]
    if cells:
        lines += [
            "## 2. Gateways end to end",
            "",
            f"One embedded Triton (python backend + ONNX Runtime CPU: {IMAGE_MODEL}, {TEXT_MODEL}) shared "
            "by every gateway (`--triton-url`); each gateway a `productsearch serve` process. Catalog: "
            f"{args.catalog} titled Fashion-MNIST products indexed through the (first) gateway of each "
            "configuration. Clients: one asyncio process, one channel per gateway, calls spread round "
            f"robin; {args.gateway_seconds:g} s (at most {args.max_requests} requests) per row after a "
            f"{args.warmup_s:g} s warm-up. CPU ms / request: CPU time of each process tree during the row "
            "divided by the requests answered (gateways: all of them together; Triton: server and its "
            "python-backend stubs; client: this load generator).",
            "",
            "| configuration | indexing products/s |",
            "|---|---:|",
            *[f"| {config} | {rate:.1f} |" for config, rate in results["indexing"].items()],
            "",
            "| configuration | gateways | RPC | concurrency | requests/s | latency p50 / p99 ms | embedding "
            "p50 ms | index p50 ms | CPU ms / request: gateways · Triton · PostgreSQL · Milvus · client "
            "| requests | errors |",
            "|---|---:|---|---:|---:|---:|---:|---:|---|---:|---:|",
        ]
        for c in cells:
            n = max(c.requests, 1)
            cpu = " · ".join(
                f"{1000 * c.cpu_s[part] / n:.1f}" if part in c.cpu_s else "–"
                for part in ("gateways", "triton", "postgres", "milvus", "client")
            )
            errors = ", ".join(f"{count} {code}" for code, count in c.errors.most_common()) or "0"
            lines.append(
                f"| {c.config} | {c.gateways} | {c.rpc} | {c.concurrency} | {c.rate:.1f} | "
                f"{pct(c.latency_ms, 50)} / {pct(c.latency_ms, 99)} | {pct(c.embedding_ms, 50)} | "
                f"{pct(c.index_ms, 50)} | {cpu} | {c.requests} | {errors} |"
            )
        lines.append("")
    if recoveries or results["recovery_notes"]:
        lines += [
            "## 3. Start-up and recovery after a crash",
            "",
            "The catalog is written directly through the catalog store's `upsert` (SQLite / PostgreSQL), "
            "as `ProductWrite` rows with synthetic vectors in the spaces the gateway expects: the image "
            f"space as {IMAGE_MODEL} at its manifest version (dim from the manifest) and {HYPOTHESES} × "
            f"{COPY_DIM}-d copy descriptors ({DESCRIPTOR_MODEL} v{DESCRIPTOR_VERSION}); no titles, so no "
            "title vectors. Then each gateway (`--triton-url`, "
            "so Triton's own start is not counted) is started, takes one write through UpsertProducts "
            "(Triton embeds it), is killed with SIGKILL and replaced. Times run from spawning the process "
            "(Python start and imports included) to health SERVING, and to the first answered "
            "SearchByImage. An embedded gateway snapshots its indexes when it stops cleanly and after a "
            "rebuild at start; the write after that makes the snapshot stale, so the gateway that "
            f"follows a crash rebuilds from SQLite (the copy space holds {HYPOTHESES} points per product).",
            "",
            "| vectors | catalog written directly | seconds |",
            "|---:|---|---:|",
            *[f"| {x.size:,} | {x.store} | {x.seconds:.1f} |" for x in loads],
            "",
            "| vectors | configuration | event | to SERVING s | to first search s | gateway RSS GiB | note |",
            "|---:|---|---|---:|---:|---:|---|",
            *[
                f"| {r.size:,} | {r.config} | {r.event} | {r.serving_s:.1f} | {r.first_search_s:.1f} | "
                f"{r.rss_bytes / GIB:.2f} | {r.note} |"
                for r in recoveries
            ],
            "",
            *[f"- {note}" for note in results["recovery_notes"]],
            "",
        ]
    lines += ["## Reading", "", *reading(args, results), ""]
    lines += [
        "## Paper estimate: 3-node Milvus + N gateways + M Triton GPUs",
        "",
        *estimate(args, results),
        "",
    ]
    return "\n".join(lines) + "\n"


def _cell(cells: list[Cell], config: str, gateways: int, rpc: str, concurrency: int) -> Cell | None:
    return next(
        (
            c
            for c in cells
            if (c.config, c.gateways, c.rpc, c.concurrency) == (config, gateways, rpc, concurrency)
        ),
        None,
    )


def reading(args: argparse.Namespace, results: dict[str, Any]) -> list[str]:
    out = []
    searches: list[Query] = [q for q in results["queries"] if q.batch == 1]
    batched: list[Query] = [q for q in results["queries"] if q.batch > 1 and q.filter == "none"]
    for q in batched:
        one = next(
            (
                s
                for s in searches
                if (s.size, s.store, s.filter, s.ef, s.threads) == (q.size, q.store, "none", q.ef, 1)
            ),
            None,
        )
        if one:
            out.append(
                f"- {q.store} at {q.size:,}, {q.batch} queries per call: {q.qps:,.0f} QPS "
                f"({q.qps / one.qps:.1f}× one query per call), recall {q.recall:.3f}."
            )
    for size in args.sizes:
        at = [q for q in searches if q.size == size and q.threads == 1 and q.filter == "none"]
        h = next((q for q in at if q.store == "HnswStore" and q.ef == args.concurrent_ef), None)
        m = next((q for q in at if q.store == "MilvusPointsStore" and q.ef == args.concurrent_ef), None)
        if h and m:
            out.append(
                f"- **{size:,} vectors, one query at a time, ef {args.concurrent_ef}**: hnswlib in process "
                f"{h.qps:,.0f} QPS (p50 {h.p50_ms:.2f} ms, recall {h.recall:.3f}) vs Milvus {m.qps:,.0f} QPS "
                f"(p50 {m.p50_ms:.1f} ms, recall {m.recall:.3f}): a Milvus search is a network call that, at "
                "Strong consistency, waits for the next time tick (20 ms here), so its latency is mostly "
                "that floor, not the graph walk."
            )
        conc = {
            (q.store, q.filter): q
            for q in searches
            if q.size == size and q.threads > 1 and q.ef == args.concurrent_ef
        }
        mc = conc.get(("MilvusPointsStore", "none"))
        if mc and m:
            out.append(
                f"- With {mc.threads} concurrent clients Milvus answers {mc.qps:,.0f} QPS at {size:,} "
                f"({mc.qps / m.qps:.1f}× one client; p50 {mc.p50_ms:.1f} ms), {mc.cpu_ms:.1f} CPU-ms per "
                "query in its process tree: concurrency hides the time-tick wait, the CPU is what remains."
            )
        for name in ("10 %", "1 %"):
            hf = next(
                (
                    q
                    for q in searches
                    if (q.size, q.store, q.filter, q.ef, q.threads)
                    == (size, "HnswStore", name, args.concurrent_ef, 1)
                ),
                None,
            )
            mf = next(
                (
                    q
                    for q in searches
                    if (q.size, q.store, q.filter, q.ef, q.threads)
                    == (size, "MilvusPointsStore", name, args.concurrent_ef, 1)
                ),
                None,
            )
            if hf and mf:
                out.append(
                    f"- {name} filter at {size:,}: hnswlib ({hf.path}) recall {hf.recall:.3f} at "
                    f"{hf.qps:,.0f} QPS; Milvus (expression, ef {4 * args.concurrent_ef}) recall "
                    f"{mf.recall:.3f} at {mf.qps:,.0f} QPS."
                )
    cells: list[Cell] = results["cells"]
    if cells:
        base = _cell(cells, "SQLite + hnswlib", 1, "SearchByText", 1)
        mil = _cell(cells, "PostgreSQL + Milvus", 1, "SearchByText", 1)
        if base and mil:
            out.append(
                f"- **Gateway, text search at concurrency 1**: {pct(base.latency_ms, 50)} ms p50 embedded vs "
                f"{pct(mil.latency_ms, 50)} ms on PostgreSQL + Milvus (index p50 {pct(base.index_ms, 50)} vs "
                f"{pct(mil.index_ms, 50)} ms): the shared engines cost latency per query, most of it Milvus' "
                "Strong read."
            )
        rows = [_cell(cells, "PostgreSQL + Milvus", n, "SearchByText", 16) for n in (1, 2, 3)]
        if all(rows):
            rates = " / ".join(f"{r.rate:.0f}" for r in rows if r)
            errors = sum(sum(r.errors.values()) for r in rows if r)
            out.append(
                f"- 1 / 2 / 3 gateways on PostgreSQL + Milvus, 16 concurrent text searches: {rates} req/s, "
                f"{errors} errors. On 2 shared cores more gateways add processes, not CPU; the rows show "
                "what spreading the load costs and that it keeps answering."
            )
    recoveries: list[Recovery] = results["recoveries"]
    for size in args.sizes:
        crash = {r.config: r for r in recoveries if r.size == size and "SIGKILL" in r.event}
        if len(crash) == 2:
            e, s = crash["SQLite + hnswlib"], crash["PostgreSQL + Milvus"]
            out.append(
                f"- **Recovery at {size:,} products**: an embedded gateway serves again "
                f"{e.first_search_s:.0f} s after a crash (it rebuilds both indexes from SQLite); "
                f"a new gateway on PostgreSQL + Milvus serves {s.first_search_s:.0f} s after it is started — "
                "the vectors stay in Milvus, so that is process start-up plus opening the collections, "
                "whatever N, and with several gateways the others go on serving meanwhile."
            )
    return out or ["- (no figures)"]


def estimate(args: argparse.Namespace, results: dict[str, Any]) -> list[str]:
    """A paper estimate from the CPU costs measured here and DESIGN.md's GPU anchor."""
    cells: list[Cell] = results["cells"]
    searches: list[Query] = results["queries"]
    text = _cell(cells, "PostgreSQL + Milvus", 1, "SearchByText", 16)
    image = _cell(cells, "PostgreSQL + Milvus", 1, "SearchByImage", 16)
    size = max(args.sizes) if args.sizes else 0
    milvus_q = next(
        (
            q
            for q in searches
            if (q.size, q.store, q.filter, q.threads)
            == (size, "MilvusPointsStore", "none", args.milvus_threads)
            and q.ef == args.concurrent_ef
        ),
        None,
    )
    if not (text and image and milvus_q) or not text.requests or not image.requests:
        return ["- Needs sections 1 and 2 of the same run."]
    cores = args.node_cores
    gw_ms = 1000 * max(text.cpu_s["gateways"] / text.requests, image.cpu_s["gateways"] / image.requests)
    pg_ms = 1000 * max(
        text.cpu_s.get("postgres", 0) / text.requests, image.cpu_s.get("postgres", 0) / image.requests
    )
    milvus_ms = milvus_q.cpu_ms
    per = {
        "gateways": lambda n, m: n * cores * 1000 / gw_ms,
        f"Milvus (3 query nodes, {size:,} vectors)": lambda n, m: 3 * cores * 1000 / milvus_ms,
        "Triton GPUs (image queries)": lambda n, m: m * GPU_IMAGES_PER_S,
        "PostgreSQL (one primary)": lambda n, m: cores * 1000 / pg_ms if pg_ms > 0 else float("inf"),
    }
    out = [
        "**An estimate on paper, not a measurement.** Inputs, all from this run unless said: "
        f"gateway CPU {gw_ms:.1f} ms per search (the larger of text and image search, PostgreSQL + Milvus, "
        f"1 gateway, concurrency 16 — it includes PNG decoding and gRPC both ways); Milvus CPU "
        f"{milvus_ms:.1f} ms per query at {size:,} × {args.dim}-d, ef {args.concurrent_ef} "
        f"({args.milvus_threads} clients, section 1); PostgreSQL CPU {pg_ms:.2f} ms per search (catalog "
        "lookups of the hits, "
        f"{args.catalog:,} products); Triton: DESIGN.md's anchor of {GPU_IMAGES_PER_S:,} img/s per H100 "
        "(Triton python backend + PyTorch fp16, **VGG16**, 16 clients at batch 1 — Lite0 on a GPU was "
        "not measured; it is lighter, and at batch 1 the per-request overhead dominates, so the anchor is "
        f"taken as is). Assumed: nodes of {cores} cores (`--node-cores`), CPU cost scaling linearly with "
        "cores (one gateway process per core: a gateway's event loop is one core), Milvus with 3 replicas "
        "(each query node holds the whole collection: at 1M × 1280-d ≈ 5 GiB of vectors + graph), text "
        "queries far cheaper on the GPU than image ones (not counted against it).",
        "",
        "| gateway nodes N | Triton GPUs M | gateways q/s | Milvus q/s | Triton img/s | PostgreSQL q/s | "
        "image searches/s served | bottleneck |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for n, m in ((1, 1), (2, 1), (4, 2), (8, 4), (16, 8)):
        caps = {name: f(n, m) for name, f in per.items()}
        bottleneck = min(caps, key=lambda name: caps[name])
        values = list(caps.values())
        out.append(
            f"| {n} | {m} | {values[0]:,.0f} | {values[1]:,.0f} | {values[2]:,.0f} | {values[3]:,.0f} | "
            f"{caps[bottleneck]:,.0f} | {bottleneck} |"
        )
    out += [
        "",
        "Where it breaks next: once GPUs and gateways are added in step, the fixed 3-node Milvus (CPU per "
        "query grows with N and with filters, which widen ef × 4) and then the single PostgreSQL primary "
        "(every search reads its hits' products; read replicas or a cache would be next) cap the "
        "system. Latency does not scale away: each Milvus read at Strong consistency waits for a time tick "
        "(20 ms here), so p50 stays at tens of ms however many nodes there are. Not included: network "
        "hops between machines, Milvus' own proxy and coordinator costs beyond one standalone process, "
        "and writes.",
    ]
    return out


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000", help="comma-separated vector counts")
    parser.add_argument("--dim", type=int, default=1280, help="vector dimension (1280: EfficientNet-Lite0)")
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=300, help="held-out queries per row")
    parser.add_argument("--efs", default="16,64,256", help="ef values, one query at a time")
    parser.add_argument(
        "--concurrent-ef", type=int, default=64, help="ef of the concurrent rows (gateway default)"
    )
    parser.add_argument("--M", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=200)
    parser.add_argument("--build-threads", type=int, default=2, help="hnswlib build threads (section 1)")
    parser.add_argument("--hnsw-threads", type=int, default=2, help="concurrent clients of hnswlib")
    parser.add_argument("--milvus-threads", type=int, default=8, help="concurrent clients of Milvus")
    parser.add_argument("--batch", type=int, default=50, help="queries per call in the batched rows")
    parser.add_argument("--index-timeout-s", type=float, default=7200)
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument(
        "--catalog", type=int, default=2000, help="Fashion-MNIST products per gateway configuration"
    )
    parser.add_argument("--gateway-seconds", type=float, default=10.0, help="per gateway row")
    parser.add_argument("--max-requests", type=int, default=5000, help="per gateway row")
    parser.add_argument("--warmup-s", type=float, default=2.0)
    parser.add_argument("--recovery-sizes", help="sizes for section 3 (default: --sizes)")
    parser.add_argument("--recovery-timeout-s", type=float, default=7200)
    parser.add_argument("--sections", default="1,2,3", help="which sections to run")
    parser.add_argument("--node-cores", type=int, default=16, help="cores per node, for the paper estimate")
    parser.add_argument("--output", type=Path, help="Markdown file to write (default: stdout)")
    args = parser.parse_args()
    args.command = "python -m bench.scale_bench " + shlex.join(sys.argv[1:])
    args.sizes = [int(x) for x in args.sizes.split(",")]
    args.efs = [int(x) for x in args.efs.split(",")]
    args.recovery_sizes = (
        [int(x) for x in args.recovery_sizes.split(",")] if args.recovery_sizes else args.sizes
    )
    sections = {int(x) for x in args.sections.split(",")}
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("server").setLevel(logging.WARNING)

    results: dict[str, Any] = {
        "builds": [],
        "queries": [],
        "cells": [],
        "indexing": {},
        "recoveries": [],
        "loads": [],
        "recovery_notes": [],
    }
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    folder.chmod(0o755)  # PostgreSQL runs as its own user (server/tools/local_postgres.py)
    failure: BaseException | None = None
    try:
        with contextlib.ExitStack() as engines:
            milvus = engines.enter_context(LocalMilvus(folder / "milvus"))
            _LOGGER.info("Milvus pid %d at %s (%.0f s)", milvus.pid, milvus.uri, milvus.start_seconds)
            if 1 in sections:
                for size in args.sizes:
                    builds, rows = bench_stores(args, size, milvus)
                    results["builds"] += builds
                    results["queries"] += rows
            if sections & {2, 3}:
                postgres = engines.enter_context(LocalPostgres(folder / "postgres"))
                triton = EmbeddedTriton(args.repository, [IMAGE_MODEL, TEXT_MODEL])
                t0 = time.perf_counter()
                triton.start()
                engines.callback(triton.stop)
                _LOGGER.info("Triton pid %s at %s (%.0f s)", triton.pid, triton.url, time.perf_counter() - t0)
                if 2 in sections:
                    results["cells"], results["indexing"] = bench_gateways(
                        args, folder, triton, postgres, milvus
                    )
                if 3 in sections:
                    for size in args.recovery_sizes:
                        recovered, loads, notes = bench_recovery(args, size, folder, triton, postgres, milvus)
                        results["recoveries"] += recovered
                        results["loads"] += loads
                        results["recovery_notes"] += notes
    except (Exception, KeyboardInterrupt) as error:  # what was measured before is still written
        _LOGGER.exception("the run failed")
        failure = error
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report = render(args, results, time.perf_counter() - started)
    if failure is not None:
        report += (
            f"\n## The run failed\n\nIt stopped at `{type(failure).__name__}: {failure}`; "
            "the tables above hold what it measured before that.\n"
        )
    if args.output:
        args.output.write_text(report)
        _LOGGER.info("wrote %s", args.output)
    else:
        sys.stdout.write(report)
    if failure is not None:
        sys.exit(1)


if __name__ == "__main__":
    main()
