"""The gateway with its catalogs in a real PostgreSQL server (`--catalog-store`), vectors in
hnswlib: the same calls give the same answers as on SQLite, products survive a gateway
that starts on a fresh data directory (its index is rebuilt from PostgreSQL), and a second
gateway on the same database sees the catalogs and products of the first."""

from __future__ import annotations

import uuid

import grpc
import psycopg
import pytest

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.app import create_server
from server.config import Config
from server.tools import fashion_mnist
from tests.gateway_helpers import all_ids, fmnist_product, requests

pytestmark = pytest.mark.integration

N_PRODUCTS = 60


@pytest.fixture(scope="module")
def database(postgres) -> str:
    """A database of its own, so this module sees only its own catalogs."""
    name = f"gateway_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return postgres.url_for(name)


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
