"""The gateway with its catalogs in a real PostgreSQL server (`--catalog-store`), vectors in
hnswlib: the same calls give the same answers as on SQLite, products survive a gateway
that starts on a fresh data directory (its index is rebuilt from PostgreSQL), and a second
gateway on the same database sees the catalogs and products of the first."""

from __future__ import annotations

import asyncio

import grpc
import psycopg
import pytest

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.app import create_server
from server.config import Config
from server.tools import fashion_mnist
from tests.engines import new_database
from tests.gateway_helpers import all_ids, fmnist_product, requests

pytestmark = pytest.mark.integration

N_PRODUCTS = 60


@pytest.fixture(scope="module")
def database(postgres) -> str:
    """A database of its own, so this module sees only its own catalogs."""
    return new_database(postgres, "gateway")


@pytest.fixture(scope="module")
def products() -> list[pb.Product]:
    split = fashion_mnist.load("test")
    return [fmnist_product(split, i, "pg") for i in range(N_PRODUCTS)]


def config(tmp_path, triton, database: str, **settings) -> Config:
    return Config(data_dir=tmp_path, port=0, triton_url=triton.url, catalog_store=database, **settings)


async def search(stub, product: pb.Product, **options) -> list[str]:
    response = await stub.SearchByImage(
        pb.SearchByImageRequest(image=product.image, options=pb.SearchOptions(top_k=10, **options))
    )
    return [hit.product.id for hit in response.hits]


async def test_products_live_in_postgres_and_outlive_the_gateway(
    tmp_path_factory, triton, database, products
):
    first = await create_server(config(tmp_path_factory.mktemp("gw1"), triton, database))
    try:
        async with grpc.aio.insecure_channel(first.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            response = await stub.UpsertProducts(requests(products))
            assert response.upserted == N_PRODUCTS, response.statuses
            deleted = await stub.DeleteProducts(pb.DeleteProductsRequest(ids=[products[1].id]))
            assert deleted.deleted == 1
            before = await search(stub, products[0])
            sneakers = pb.Filter(categories=["Sneaker"])
            filtered = await search(stub, products[0], filter=sneakers)
            await stub.CreateCatalog(pb.CreateCatalogRequest(catalog_id="shop-b"))
    finally:
        await first.stop()

    with psycopg.connect(database) as connection:  # the rows are where the gateway said
        (count,) = connection.execute(
            "SELECT count(*) FROM productsearch.products p JOIN productsearch.catalogs c"
            " ON c.uid = p.catalog_uid WHERE c.id = 'default'"
        ).fetchone()
    assert count == N_PRODUCTS - 1

    # A gateway on a fresh data directory: nothing local, everything from PostgreSQL.
    second = await create_server(config(tmp_path_factory.mktemp("gw2"), triton, database))
    try:
        async with grpc.aio.insecure_channel(second.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            assert sorted(await all_ids(stub)) == sorted(p.id for p in products if p.id != products[1].id)
            assert await search(stub, products[0]) == before
            assert await search(stub, products[0], filter=sneakers) == filtered
            assert products[0].id == before[0]
            catalogs = await stub.ListCatalogs(pb.ListCatalogsRequest())
            assert [c.name for c in catalogs.catalogs] == ["catalogs/default", "catalogs/shop-b"]
            stats = await stub.GetStats(pb.GetStatsRequest())
            assert stats.product_count == N_PRODUCTS - 1
    finally:
        await second.stop()


async def test_an_unreachable_database_refuses_the_start(tmp_path, triton, postgres):
    from server.catalog.sqlite import CatalogError

    unreachable = postgres.url_for("no_such_database")
    with pytest.raises(CatalogError, match="no_such_database"):
        await create_server(config(tmp_path, triton, unreachable))


async def converged(check, timeout_s: float = 10.0) -> None:
    """Wait until `check()` (async, returns bool) holds: a follow interval or a few."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "the gateways did not converge"
        await asyncio.sleep(0.1)


async def test_two_gateways_share_catalogs_and_products(tmp_path_factory, triton, postgres, products):
    """Each gateway keeps its own hnswlib index and follows the shared catalog: a write
    through one is found through the other within the follow interval; both end with the
    same products, each once, after they race on the same ids."""
    url = new_database(postgres, "pair")
    gateways = [
        await create_server(config(tmp_path_factory.mktemp(f"pair{i}"), triton, url, follow_interval_s=0.2))
        for i in range(2)
    ]
    try:
        async with (
            grpc.aio.insecure_channel(gateways[0].address) as channel_a,
            grpc.aio.insecure_channel(gateways[1].address) as channel_b,
        ):
            a, b = pb_grpc.ProductSearchStub(channel_a), pb_grpc.ProductSearchStub(channel_b)
            first, second = products[:30], products[30:]
            assert (await a.UpsertProducts(requests(first))).upserted == 30
            query = first[3]

            async def b_finds_it() -> bool:
                return (await search(b, query))[:1] == [query.id]

            await converged(b_finds_it)
            # Both write at once, the same ids among others; each gateway applies the other's.
            racing = [*second, *first[:10]]
            answers = await asyncio.gather(
                a.UpsertProducts(requests(racing)), b.UpsertProducts(requests(racing[::-1]))
            )
            assert [r.upserted for r in answers] == [len(racing)] * 2
            deleted = await b.DeleteProducts(pb.DeleteProductsRequest(ids=[query.id]))
            assert deleted.deleted == 1
            expected = sorted(p.id for p in products if p.id != query.id)

            async def both_agree() -> bool:
                hits = [await search(stub, products[40]) for stub in (a, b)]
                return hits[0] == hits[1] and query.id not in hits[0]

            await converged(both_agree)
            for stub in (a, b):
                assert sorted(await all_ids(stub)) == expected
                response = await stub.SearchByImage(
                    pb.SearchByImageRequest(image=products[40].image, options=pb.SearchOptions(top_k=1000))
                )
                found = [hit.product.id for hit in response.hits]
                assert sorted(found) == expected  # every product once, the deleted one nowhere

            # A catalog created through one gateway is there at once through the other, and
            # gone from it within the follow interval once deleted.
            await a.CreateCatalog(pb.CreateCatalogRequest(catalog_id="shared-shop"))
            shop = "catalogs/shared-shop"
            shop_product = pb.UpsertProductsRequest(product=products[5], catalog=shop)
            assert (await b.UpsertProducts(iter([shop_product]))).upserted == 1
            await a.DeleteCatalog(pb.DeleteCatalogRequest(name=shop, force=True))

            async def b_lost_it() -> bool:
                listed = await b.ListCatalogs(pb.ListCatalogsRequest())
                return shop not in [c.name for c in listed.catalogs]

            await converged(b_lost_it)
            with pytest.raises(grpc.aio.AioRpcError) as gone:
                await b.GetCatalog(pb.GetCatalogRequest(name=shop))
            assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        for gateway in gateways:
            await gateway.stop()


async def test_catalog_locks_exclude_other_gateways_and_die_with_them(tmp_path, postgres):
    """The cross-gateway locks (writes, training) of server/service/follow.py: a second
    gateway's store waits while one holds it, and a gateway that dies lets go."""
    from server.catalog.postgres import PostgresCatalogRegistry
    from server.service.catalogs import Catalog
    from server.service.follow import TRAINING, WRITES, across_gateways

    url = new_database(postgres, "locks")
    registries = [PostgresCatalogRegistry(url, tmp_path / f"r{i}") for i in range(2)]
    try:
        info = registries[0].create("shop")
        mine, theirs = (registry.open(info) for registry in registries)
        async with across_gateways(Catalog(info, mine, {}), TRAINING) as shared:
            assert shared
            assert not theirs.try_lock(TRAINING)
            assert theirs.try_lock(WRITES)  # another purpose, another lock
            theirs.unlock(WRITES)
        assert theirs.try_lock(TRAINING)
        theirs.close()  # a gateway that dies: its connection, and the lock, go
        # The server ends the closed connection's backend a moment later (longer on a busy
        # machine): the lock goes with it, within seconds.
        for _ in range(100):
            if mine.try_lock(TRAINING):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the dead gateway's training lock was not released within 10 s")
        mine.unlock(TRAINING)
        mine.close()
    finally:
        for registry in registries:
            registry.close()
