"""Restarts, concurrency and model changes: acknowledged products are never lost."""

from __future__ import annotations

import asyncio
import random

import grpc
import pytest

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.app import create_server
from server.config import Config
from server.tools import fashion_mnist
from tests.gateway_helpers import all_ids, catalog_dir, fmnist_product, requests

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def train():
    return fashion_mnist.load("train")


def config(data_dir, triton, **overrides) -> Config:
    return Config(data_dir=data_dir, port=0, triton_url=triton.url, **overrides)


async def assert_each_finds_itself(stub, products) -> None:
    for product in products:
        response = await stub.SearchByImage(
            pb.SearchByImageRequest(image=product.image, options=pb.SearchOptions(top_k=5))
        )
        ids = [h.product.id for h in response.hits]
        assert product.id in ids, f"{product.id} not found by its own image"
        assert len(ids) == len(set(ids))


@pytest.mark.parametrize("damage", ["none", "delete_snapshot", "corrupt_snapshot", "stale_snapshot"])
async def test_products_survive_a_restart(tmp_path, triton, train, damage):
    products = [fmnist_product(train, i, "p") for i in range(60)]
    gateway = await create_server(config(tmp_path, triton))
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        stub = pb_grpc.ProductSearchStub(channel)
        assert (await stub.UpsertProducts(requests(products))).upserted == 60
        await stub.DeleteProducts(pb.DeleteProductsRequest(ids=[products[0].id]))
    await gateway.stop()

    folder = catalog_dir(tmp_path)
    snapshot = folder / "indexes" / "image"
    if damage == "delete_snapshot":
        for path in snapshot.iterdir():
            path.unlink()
    elif damage == "corrupt_snapshot":
        for path in snapshot.iterdir():
            data = bytearray(path.read_bytes())
            data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
            path.write_bytes(bytes(data))
    elif damage == "stale_snapshot":
        # A write the snapshot never saw, as after a crash between commit and snapshot.
        from server.catalog.sqlite import SqliteCatalogStore

        catalog = SqliteCatalogStore(folder / "catalog.sqlite3")
        catalog.delete([products[1].id])
        catalog.close()

    gateway = await create_server(config(tmp_path, triton))
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            gone = {products[0].id} | ({products[1].id} if damage == "stale_snapshot" else set())
            kept = [p for p in products if p.id not in gone]
            assert sorted(await all_ids(stub)) == sorted(p.id for p in kept)
            await assert_each_finds_itself(stub, kept[:15])
            stats = await stub.GetStats(pb.GetStatsRequest())
            assert {i.space: i.count for i in stats.indexes} == {
                "image": len(kept),
                "title": len(kept),
                "copy": len(kept),
            }
    finally:
        await gateway.stop()


async def test_concurrent_writers_and_searchers(tmp_path, triton, train):
    gateway = await create_server(config(tmp_path, triton, upsert_batch=8))
    writers, per_writer = 8, 24
    batches = [
        [fmnist_product(train, 1000 + w * per_writer + i, f"w{w}") for i in range(per_writer)]
        for w in range(writers)
    ]
    # Every writer also rewrites a product shared by all: it must end up once, not eight times.
    shared = [fmnist_product(train, 5, "shared") for _ in range(writers)]
    errors: list[BaseException] = []

    async def write(stub, products):
        for start in range(0, len(products), 6):
            response = await stub.UpsertProducts(requests(products[start : start + 6]))
            assert response.failed == 0, response.statuses

    async def search(stub, seed):
        rng = random.Random(seed)
        for _ in range(6):
            product = rng.choice(rng.choice(batches))
            if rng.random() < 0.5:
                await stub.SearchByImage(pb.SearchByImageRequest(image=product.image))
            else:
                await stub.SearchByText(pb.SearchByTextRequest(text=product.title))

    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            tasks = [write(stub, [*batch, shared[w]]) for w, batch in enumerate(batches)]
            tasks += [search(stub, s) for s in range(32)]
            for result in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(result, BaseException):
                    errors.append(result)
            assert not errors, errors[:3]
            expected = {p.id for batch in batches for p in batch} | {shared[0].id}
            ids = await all_ids(stub)
            assert len(ids) == len(set(ids)) and set(ids) == expected
            stats = await stub.GetStats(pb.GetStatsRequest())
            assert {i.space: i.count for i in stats.indexes} == {
                "image": len(expected),
                "title": len(expected),
                "copy": len(expected),
            }
            await assert_each_finds_itself(stub, [p for batch in batches for p in batch[::6]] + shared[:1])
    finally:
        await gateway.stop()


async def test_switching_image_model_re_embeds_the_catalog(tmp_path, triton, train):
    products = [fmnist_product(train, 300 + i, "m") for i in range(20)]
    gateway = await create_server(config(tmp_path, triton))
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        assert (await pb_grpc.ProductSearchStub(channel).UpsertProducts(requests(products))).upserted == 20
    await gateway.stop()

    gateway = await create_server(config(tmp_path, triton, image_model="efficientnet_lite2"))
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            stats = await stub.GetStats(pb.GetStatsRequest())
            image_index = next(i for i in stats.indexes if i.space == "image")
            assert image_index.model == "efficientnet_lite2" and image_index.count == 20
            await assert_each_finds_itself(stub, products[:8])
    finally:
        await gateway.stop()


async def test_a_catalog_from_before_copy_detection_gets_descriptors(tmp_path, triton, train):
    """Products stored without copy descriptors (an older gateway) are described at start,
    from their stored images; a deleted product is no longer found as a copy."""
    import shutil
    import sqlite3

    products = [fmnist_product(train, 400 + i, "old") for i in range(20)]
    gateway = await create_server(config(tmp_path, triton))
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        assert (await pb_grpc.ProductSearchStub(channel).UpsertProducts(requests(products))).upserted == 20
    await gateway.stop()
    folder = catalog_dir(tmp_path)
    with sqlite3.connect(folder / "catalog.sqlite3") as db:
        assert db.execute("DELETE FROM embeddings WHERE space = 'copy'").rowcount == 20
    shutil.rmtree(folder / "indexes" / "copy")

    gateway = await create_server(config(tmp_path, triton))
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            stats = await stub.GetStats(pb.GetStatsRequest())
            assert {i.space: i.count for i in stats.indexes}["copy"] == 20
            for product in products[:5]:
                response = await stub.FindDuplicates(pb.FindDuplicatesRequest(image=product.image))
                assert [h.product.id for h in response.hits] == [product.id]
            await stub.DeleteProducts(pb.DeleteProductsRequest(ids=[products[0].id]))
            response = await stub.FindDuplicates(pb.FindDuplicatesRequest(image=products[0].image))
            assert not response.hits
    finally:
        await gateway.stop()
    with sqlite3.connect(folder / "catalog.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM embeddings WHERE space = 'copy'").fetchone() == (19,)


async def test_a_single_catalog_data_directory_becomes_the_default_catalog(tmp_path, triton, train):
    """The data directory of a gateway from before catalogs (catalog.sqlite3 and indexes/
    at its top) is adopted as catalogs/default, with its products and snapshots."""
    import shutil

    products = [fmnist_product(train, 500 + i, "legacy") for i in range(12)]
    gateway = await create_server(config(tmp_path / "new", triton))
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        assert (await pb_grpc.ProductSearchStub(channel).UpsertProducts(requests(products))).upserted == 12
    await gateway.stop()
    legacy = tmp_path / "legacy"
    shutil.copytree(catalog_dir(tmp_path / "new"), legacy)  # catalog.sqlite3 + indexes/, as it was

    gateway = await create_server(config(legacy, triton))
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            assert sorted(await all_ids(stub)) == sorted(p.id for p in products)
            await assert_each_finds_itself(stub, products[:4])
            listed = await stub.ListCatalogs(pb.ListCatalogsRequest())
            assert [(c.name, c.product_count) for c in listed.catalogs] == [("catalogs/default", 12)]
    finally:
        await gateway.stop()
    assert not (legacy / "catalog.sqlite3").exists() and not (legacy / "indexes").exists()
