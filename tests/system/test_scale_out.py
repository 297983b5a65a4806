"""Stateless gateways over the engines built to scale (marked `milvus`: they run in a
loopback-only network namespace, `make test-milvus`): a real PostgreSQL server for the
catalog, a real Milvus server for the vectors, one Triton, and several gateways.

- A write acknowledged by one gateway is found through another at once (a shared Milvus
  read at Strong consistency; no follow interval involved).
- kill -9 of one of two gateways while clients stream upserts to both: afterwards every
  acknowledged product is searchable exactly once, through the survivor and a new gateway.
- Milvus killed and restarted, PostgreSQL restarted: acknowledged products stay, deleted
  ones do not come back, and the gateways serve again.
- Gateways starting together on a collection to rebuild take turns: one rebuilds, the
  other opens what it rebuilt.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import grpc
import pytest
from google.rpc import code_pb2

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.app import create_server
from server.config import Config
from server.tools import fashion_mnist
from server.tools.child import spawn_gateway, wait_serving
from server.triton.runtime import free_port
from tests.engines import new_database
from tests.gateway_helpers import all_ids_blocking, fmnist_product, requests

pytestmark = pytest.mark.milvus

CALL_TIMEOUT_S = 60


@pytest.fixture
def database(postgres) -> str:
    """A database of its own for each test: the gateways see only their own catalogs."""
    return new_database(postgres, "scale")


@pytest.fixture(scope="module")
def split() -> fashion_mnist.Split:
    return fashion_mnist.load("test")


def every_hit(stub, image: bytes) -> list[str]:
    """The ids of every product a search can reach (top_k = the API's maximum)."""
    response = stub.SearchByImage(
        pb.SearchByImageRequest(image=image, options=pb.SearchOptions(top_k=1000)), timeout=CALL_TIMEOUT_S
    )
    return [hit.product.id for hit in response.hits]


def assert_whole(stub, acknowledged: set[str], sent: set[str], query: bytes) -> None:
    """Every acknowledged product is there and found exactly once; nothing unsent is."""
    ids = all_ids_blocking(stub)
    assert acknowledged <= set(ids) <= sent, "lost or invented products"
    hits = every_hit(stub, query)
    assert len(hits) == len(set(hits)), f"found twice: {[i for i, n in Counter(hits).items() if n > 1]}"
    assert set(hits) == set(ids), "the vector store and the catalog disagree"


async def test_a_write_through_one_gateway_is_found_through_another_at_once(
    tmp_path_factory, triton, milvus, database, split
):
    gateways = [
        await create_server(
            Config(
                data_dir=tmp_path_factory.mktemp(f"gw{i}"),
                port=0,
                triton_url=triton.url,
                catalog_store=database,
                vector_store=milvus.uri,
                follow_interval_s=3600,  # not following: only the shared store can show it
            )
        )
        for i in range(2)
    ]
    try:
        async with (
            grpc.aio.insecure_channel(gateways[0].address) as channel_a,
            grpc.aio.insecure_channel(gateways[1].address) as channel_b,
        ):
            a, b = pb_grpc.ProductSearchStub(channel_a), pb_grpc.ProductSearchStub(channel_b)
            products = [fmnist_product(split, i, "now") for i in range(40)]
            assert (await a.UpsertProducts(requests(products))).upserted == len(products)
            for product in products[:5]:
                response = await b.SearchByImage(pb.SearchByImageRequest(image=product.image))
                assert response.hits[0].product.id == product.id
            stats = await b.GetStats(pb.GetStatsRequest())
            assert {index.engine for index in stats.indexes} == {"milvus"}
            assert {index.space: index.count for index in stats.indexes}["image"] == len(products)
            await b.DeleteProducts(pb.DeleteProductsRequest(ids=[products[0].id]))
            response = await a.SearchByImage(pb.SearchByImageRequest(image=products[0].image))
            assert products[0].id not in [hit.product.id for hit in response.hits]
    finally:
        for gateway in gateways:
            await gateway.stop()


class Child:
    """A gateway process on the shared engines."""

    def __init__(self, folder: Path, repository: Path, engines: list[str]) -> None:
        self.port = free_port()
        self.log = (folder / f"gateway-{self.port}.log").open("wb")
        self.process = spawn_gateway(
            self.port, folder / f"data-{self.port}", repository, engines, stdout=self.log, stderr=self.log
        )
        wait_serving(f"127.0.0.1:{self.port}", self.process, timeout_s=120)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = pb_grpc.ProductSearchStub(self.channel)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(30)

    def stop(self) -> None:
        self.channel.close()
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(60)
        self.log.close()


def test_kill_9_of_one_gateway_mid_stream_then_engine_restarts(
    tmp_path, model_repository, triton, milvus, postgres, database, split
):
    engines = [
        "--triton-url",
        triton.url,
        "--catalog-store",
        database,
        "--vector-store",
        milvus.uri,
    ]
    children = [Child(tmp_path, model_repository, engines) for _ in range(2)]
    sent: set[str] = set()
    acknowledged: set[str] = set()
    lock = threading.Lock()
    failures: Counter[str] = Counter()
    try:

        def stream(child: Child, client: int) -> None:
            # Clients of both gateways write overlapping ids: the same product from two sides.
            for start in range(0, 200, 4):
                products = [fmnist_product(split, i, f"s{client % 2}") for i in range(start, start + 4)]
                with lock:
                    sent.update(p.id for p in products)
                try:
                    response = child.stub.UpsertProducts(requests(products), timeout=CALL_TIMEOUT_S)
                except grpc.RpcError as error:  # cut by the kill: nothing of it acknowledged
                    with lock:
                        failures[error.code().name] += 1
                    return
                with lock:
                    for status in response.statuses:
                        if status.code == code_pb2.OK:
                            acknowledged.add(status.id)
                        else:
                            failures[f"status {status.code}"] += 1

        threads = [threading.Thread(target=stream, args=(children[c % 2], c), daemon=True) for c in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        children[0].kill()  # mid-stream, possibly between a commit and its Milvus apply
        for thread in threads:
            thread.join(180)
        assert len(acknowledged) >= 40, f"only {len(acknowledged)} acknowledged before the kill"
        assert set(failures) <= {"UNAVAILABLE", "CANCELLED"}, failures
        print(f"acknowledged {len(acknowledged)} of {len(sent)} sent; streams cut: {dict(failures)}")
        query = fmnist_product(split, 0, "q").image
        survivor = children[1]
        assert_whole(survivor.stub, acknowledged, sent, query)
        children.append(Child(tmp_path, model_repository, engines))  # a fresh gateway agrees
        assert_whole(children[-1].stub, acknowledged, sent, query)

        # A delete, then Milvus killed and restarted: nothing acknowledged lost, nothing
        # deleted back; the gateways serve again once Milvus is back.
        gone = sorted(acknowledged)[:3]
        survivor.stub.DeleteProducts(pb.DeleteProductsRequest(ids=gone), timeout=CALL_TIMEOUT_S)
        acknowledged -= set(gone)
        sent -= set(gone)
        milvus.kill()
        milvus.start()
        deadline = time.monotonic() + 120
        while True:
            try:
                assert_whole(survivor.stub, acknowledged, sent, query)
                break
            except grpc.RpcError as error:  # while Milvus loads its collections again
                assert error.code() == grpc.StatusCode.UNAVAILABLE, error
                assert time.monotonic() < deadline, "the gateway did not serve again after Milvus came back"
                time.sleep(1)

        # PostgreSQL restarted: its connections are re-opened, writes and reads go on.
        postgres.restart()
        late = fmnist_product(split, 500, "late")
        deadline = time.monotonic() + 60
        while True:
            try:
                response = survivor.stub.UpsertProducts(requests([late]), timeout=CALL_TIMEOUT_S)
                if response.upserted == 1:
                    break
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.UNAVAILABLE, error
            assert time.monotonic() < deadline, "no write succeeded after PostgreSQL restarted"
            time.sleep(1)
        acknowledged.add(late.id)
        sent.add(late.id)
        for child in children[1:]:
            assert_whole(child.stub, acknowledged, sent, query)
    finally:
        for child in children:
            child.stop()


def test_a_collection_behind_a_shared_catalog_is_caught_up_not_rebuilt(tmp_path, milvus, database):
    """A gateway that opens a collection the catalog has moved past (a writer died between
    its commit and its Milvus write) must not empty it for the gateways serving from it:
    it opens it where it stands, and following brings it up to the catalog."""
    import asyncio

    import numpy as np

    from server.catalog.postgres import PostgresCatalogRegistry
    from server.domain import Product, ProductWrite
    from server.index.hnsw import IndexParams
    from server.index.milvus import MilvusVectors
    from server.index.store import IndexSpace
    from server.service.catalogs import Catalog
    from server.service.follow import catch_up

    space = IndexSpace("image", "test-model", "v1", 8)
    rng = np.random.default_rng(0)

    def writes(start: int, n: int) -> list[ProductWrite]:
        vectors = rng.normal(size=(n, space.dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return [
            ProductWrite(Product(id=f"p{start + i}", category="Bag"), b"jpeg", {"image": vectors[i]})
            for i in range(n)
        ]

    versions = {"image": (space.model, space.model_version)}
    registry = PostgresCatalogRegistry(database, tmp_path / "data")
    try:
        info = registry.create("behind")
        store = registry.open(info)
        store.upsert(writes(0, 10), versions)
        first, _ = MilvusVectors(milvus.uri, IndexParams()).open(info, space, store, False)
        assert (first.applied_seq, first.count()) == (1, 10)
        store.upsert(writes(10, 10), versions)  # committed, never applied: its gateway died
        store.delete(["p0"])

        second, stale = MilvusVectors(milvus.uri, IndexParams()).open(info, space, store, False)
        assert (second.applied_seq, second.count(), stale) == (1, 10, [])  # not emptied
        assert asyncio.run(catch_up(Catalog(info, store, {"image": second}))) == 2
        assert (second.applied_seq, second.count()) == (3, 19)
        assert first.count() == 19  # the same collection, seen by the other gateway
    finally:
        registry.close()


def test_gateways_that_start_together_rebuild_a_collection_once(tmp_path, milvus, database, monkeypatch):
    """Two gateways opening a catalog whose collection is missing (a restored catalog, a new
    model space) must not both drop and refill it: one rebuilds under the catalog's lock,
    the other waits and opens what the first rebuilt."""
    import numpy as np

    from server.catalog.postgres import PostgresCatalogRegistry
    from server.domain import Product, ProductWrite
    from server.index import milvus as milvus_module
    from server.index.hnsw import IndexParams
    from server.index.milvus import MilvusVectors, MilvusVectorStore
    from server.index.store import IndexSpace

    monkeypatch.setattr(milvus_module, "REBUILD_WAIT_S", 300.0)  # wait the whole rebuild out
    space = IndexSpace("image", "test-model", "v1", 8)
    vectors = np.random.default_rng(1).normal(size=(2000, space.dim)).astype(np.float32)
    writes = [
        ProductWrite(Product(id=f"p{i}", category="Bag"), b"jpeg", {"image": v})
        for i, v in enumerate(vectors)
    ]
    registries = [PostgresCatalogRegistry(database, tmp_path / name) for name in ("a", "b")]
    creates: list[str] = []
    create = MilvusVectorStore.create.__func__  # type: ignore[attr-defined]

    def slow_create(cls, *args, **kwargs):  # a rebuild long enough for the other to arrive
        creates.append(threading.current_thread().name)
        time.sleep(1.0)
        return create(cls, *args, **kwargs)

    monkeypatch.setattr(MilvusVectorStore, "create", classmethod(slow_create))
    try:
        info = registries[0].create("together")
        registries[0].open(info).upsert(writes, {"image": (space.model, space.model_version)})
        stores = [registry.open(info) for registry in registries]
        start = threading.Barrier(2)
        opened: dict[str, tuple] = {}

        def open_as(name: str, store) -> None:
            start.wait()
            opened[name] = MilvusVectors(milvus.uri, IndexParams()).open(info, space, store, False)

        threads = [
            threading.Thread(target=open_as, args=(name, store), name=name)
            for name, store in zip(("a", "b"), stores, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert sorted(opened) == ["a", "b"]
        assert len(creates) == 1, f"rebuilt by {creates}"
        for vector_store, stale in opened.values():
            assert (vector_store.count(), stale) == (2000, [])
            assert (
                vector_store.search(vectors[7] / np.linalg.norm(vectors[7]), 1)[0][0]
                == stores[0].get("p7").key
            )
    finally:
        for registry in registries:
            registry.close()


def test_an_open_kept_waiting_by_a_rebuild_is_unavailable(tmp_path, milvus, database, monkeypatch):
    """A gateway does not block on another's long rebuild: its open answers UNAVAILABLE
    (a starting gateway tries again every few seconds), and rebuilds once the lock is free."""
    from server.catalog.postgres import PostgresCatalogRegistry
    from server.domain import UnavailableError
    from server.index import milvus as milvus_module
    from server.index.hnsw import IndexParams
    from server.index.milvus import MilvusVectors, collection_name, rebuild_lock_purpose
    from server.index.store import IndexSpace

    monkeypatch.setattr(milvus_module, "REBUILD_WAIT_S", 0.5)
    space = IndexSpace("image", "test-model", "v1", 8)
    registries = [PostgresCatalogRegistry(database, tmp_path / name) for name in ("a", "b")]
    try:
        info = registries[0].create("waiting")
        rebuilding, waiting = (registry.open(info) for registry in registries)
        purpose = rebuild_lock_purpose(collection_name(info.id, space.name))
        assert rebuilding.try_lock(purpose)
        vectors = MilvusVectors(milvus.uri, IndexParams())
        with pytest.raises(UnavailableError, match="another gateway is rebuilding"):
            vectors.open(info, space, waiting, False)
        rebuilding.unlock(purpose)
        store, stale = vectors.open(info, space, waiting, False)
        assert (store.count(), stale) == (0, [])
    finally:
        for registry in registries:
            registry.close()
