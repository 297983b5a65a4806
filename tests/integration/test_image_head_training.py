"""The catalog-trained image head through the gateway and its embedded Triton: trained
through the API, served as a new Triton version, rolled out while searches and writes go
on, kept across a restart, and replaced by a retrain."""

from __future__ import annotations

import asyncio

import grpc
import numpy as np
import pytest

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.app import create_server
from server.config import Config
from server.models import image_head, trained
from server.service import heads
from server.tools import fashion_mnist
from tests.gateway_helpers import fmnist_product, precision_at_k, requests

pytestmark = pytest.mark.integration
MODEL = image_head.model_name("default")


@pytest.fixture(scope="module")
def root(tmp_path_factory, model_repository):
    """A data directory and a private model repository (training writes versions there)."""
    root = tmp_path_factory.mktemp("image-head")
    trained.private_repository(model_repository, root / "models")
    return root


def config(root) -> Config:
    return Config(data_dir=root / "data", model_repository=root / "models", port=0)


@pytest.fixture(scope="module")
def queries():
    """Query images no catalog holds: the Fashion-MNIST test split, 20 per category."""
    test = fashion_mnist.load("test")
    return [
        (fmnist_product(test, int(i), "query").image, test.labels[i])
        for i in fashion_mnist.stratified(test, 20, 1)
    ]


async def precision(stub, queries) -> float:
    found = []
    for image, label in queries:
        response = await stub.SearchByImage(
            pb.SearchByImageRequest(image=image, options=pb.SearchOptions(top_k=10))
        )
        found.append(precision_at_k(response.hits, fashion_mnist.CATEGORIES_EN[label]))
    return float(np.mean(found))


async def head_models(stub) -> list[pb.ModelInfo]:
    stats = await stub.GetStats(pb.GetStatsRequest())
    return [m for m in stats.models if m.name == MODEL]


async def wait_for_version(stub, version: int, timeout_s: float = 120.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while [m.version for m in await head_models(stub)] != [str(version)]:
        assert loop.time() < deadline, f"image head version {version} not searched with in {timeout_s} s"
        await asyncio.sleep(0.2)


async def test_train_roll_out_restart_and_retrain(root, queries, monkeypatch):
    monkeypatch.setattr(heads, "RETIRE_GRACE_S", 0.5)
    train = fashion_mnist.load("train")
    products = [fmnist_product(train, int(i), "p") for i in fashion_mnist.stratified(train, 100, seed=5)]
    late = [fmnist_product(train, int(i), "late") for i in fashion_mnist.stratified(train, 3, seed=6)]

    gateway = await create_server(config(root))
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.TrainImageHead(pb.TrainImageHeadRequest())
            assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION

            assert (await stub.UpsertProducts(requests(products))).failed == 0
            before = await precision(stub, queries)

            result = await stub.TrainImageHead(pb.TrainImageHeadRequest(), timeout=600)
            assert (result.version, result.model, result.products, result.categories) == (1, MODEL, 1000, 10)
            assert result.precision_at_10_after > result.precision_at_10_before

            # While it rolls out: searches answer and writes are embedded with the new version too.
            searching = asyncio.gather(*[precision(stub, queries[:20]) for _ in range(3)])
            assert (await stub.UpsertProducts(requests(late))).failed == 0
            await searching
            await wait_for_version(stub, 1)
            after = await precision(stub, queries)
            assert after > before, (before, after)
            for product in late:  # written during the roll-out: in the head's space
                similar = await stub.SearchSimilar(pb.SearchSimilarRequest(product_id=product.id))
                assert similar.hits and all(s.signal == "image" for h in similar.hits for s in h.signals)
            stats = await stub.GetStats(pb.GetStatsRequest())
            head_index = [i for i in stats.indexes if i.space == image_head.space_name(1)]
            assert head_index and head_index[0].count == len(products) + len(late)
    finally:
        await gateway.stop()

    gateway = await create_server(config(root))  # a restart opens on the served version
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            assert [m.version for m in await head_models(stub)] == ["1"]
            assert await precision(stub, queries) == pytest.approx(after, abs=0.02)

            second = await stub.TrainImageHead(pb.TrainImageHeadRequest(), timeout=600)
            assert second.version == 2
            await wait_for_version(stub, 2)
            await asyncio.sleep(1.0)  # the retired space is dropped after its grace period
            stats = await stub.GetStats(pb.GetStatsRequest())
            assert {i.space for i in stats.indexes} >= {image_head.space_name(2)}
            assert image_head.space_name(1) not in {i.space for i in stats.indexes}
    finally:
        await gateway.stop()

    # A crash before version 2 was marked served: the restart opens on version 1 (its rows
    # were dropped, so it is embedded again) and resumes moving to version 2.
    (root / "models" / MODEL / "2" / heads.SERVED_MARK).unlink()
    gateway = await create_server(config(root))
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            assert [m.version for m in await head_models(stub)] in (["1"], ["2"])
            await wait_for_version(stub, 2)
            assert await precision(stub, queries[:50]) > 0.5
    finally:
        await gateway.stop()
