"""Catalogs through the real gateway (real Triton, hnswlib, SQLite): two catalogs in one
gateway are isolated — search, list, get, duplicates, delete, trained projections and API
keys — and a deleted catalog's data leaves the disk."""

from __future__ import annotations

import grpc
import pytest

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.api.access import new_key, parse_keys
from server.app import create_server
from server.config import Config
from server.tools import fashion_mnist
from tests.gateway_helpers import catalog_dir, fmnist_product

pytestmark = pytest.mark.integration

SHOP_A, SHOP_B = "catalogs/shop-a", "catalogs/shop-b"


@pytest.fixture(scope="module")
def train():
    return fashion_mnist.load("train")


def config(data_dir, triton, **overrides) -> Config:
    return Config(data_dir=data_dir, port=0, triton_url=triton.url, **overrides)


def upserts(catalog: str, products: list[pb.Product]):
    for product in products:
        yield pb.UpsertProductsRequest(product=product, catalog=catalog)


async def create(stub, catalog_id: str, display_name: str = "") -> pb.Catalog:
    request = pb.CreateCatalogRequest(catalog_id=catalog_id, catalog=pb.Catalog(display_name=display_name))
    return (await stub.CreateCatalog(request)).catalog


async def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value.code()


@pytest.fixture(scope="module")
def shops(train):
    """Shop A sells sneakers and bags, shop B dresses and coats; both have a product with
    the id "sku-1", and shop A's first sneaker photo is also in shop B (another seller)."""

    def pick(categories, name, count):
        labels = [fashion_mnist.CATEGORIES_EN.index(c) for c in categories]
        chosen = [i for i in range(len(train.labels)) if train.labels[i] in labels][:count]
        return [fmnist_product(train, i, name) for i in chosen]

    shop_a = pick(["Sneaker", "Bag"], "a", 60)
    copy = pb.Product(id="b-copy", category="Sneaker", image=shop_a[0].image)
    shop_b = [*pick(["Dress", "Coat"], "b", 60), copy]
    shop_a[1].id, shop_b[1].id = "sku-1", "sku-1"
    return shop_a, shop_b


@pytest.fixture(scope="module")
async def gateway(tmp_path_factory, triton, shops):
    gateway = await create_server(config(tmp_path_factory.mktemp("catalogs"), triton))
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        stub = pb_grpc.ProductSearchStub(channel)
        for catalog_id, products in zip(("shop-a", "shop-b"), shops, strict=True):
            await create(stub, catalog_id, display_name=f"Shop {catalog_id[-1].upper()}")
            response = await stub.UpsertProducts(upserts(f"catalogs/{catalog_id}", products))
            assert response.upserted == len(products), response.statuses
    yield gateway
    await gateway.stop()


@pytest.fixture
async def stub(gateway):
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        yield pb_grpc.ProductSearchStub(channel)


async def test_searches_see_only_their_catalog(stub, shops):
    shop_a, shop_b = shops
    a_ids, b_ids = {p.id for p in shop_a}, {p.id for p in shop_b}
    for text in ("运动鞋", "dress"):
        for catalog, ids in ((SHOP_A, a_ids), (SHOP_B, b_ids)):
            hits = (await stub.SearchByText(pb.SearchByTextRequest(text=text, catalog=catalog))).hits
            assert len(hits) == 10 and {h.product.id for h in hits} <= ids, (text, catalog)
    query = pb.SearchByImageRequest(image=shop_a[5].image, catalog=SHOP_B, options=pb.SearchOptions(top_k=50))
    assert not {h.product.id for h in (await stub.SearchByImage(query)).hits} & (a_ids - {"sku-1"})
    similar = await stub.SearchSimilar(pb.SearchSimilarRequest(product_id=shop_a[5].id, catalog=SHOP_A))
    assert {h.product.id for h in similar.hits} <= a_ids
    assert (
        await code_of(stub.SearchSimilar(pb.SearchSimilarRequest(product_id=shop_a[5].id, catalog=SHOP_B)))
    ) == (grpc.StatusCode.NOT_FOUND)


async def test_the_same_id_is_a_different_product_in_each_catalog(stub, shops):
    shop_a, shop_b = shops
    in_a = (await stub.GetProduct(pb.GetProductRequest(id="sku-1", catalog=SHOP_A))).product
    in_b = (await stub.GetProduct(pb.GetProductRequest(id="sku-1", catalog=SHOP_B))).product
    assert (in_a.category, in_b.category) == (shop_a[1].category, shop_b[1].category)
    assert in_a.category != in_b.category


async def test_duplicates_and_listings_stay_in_their_catalog(stub, shops):
    shop_a, shop_b = shops
    copies_in_b = await stub.FindDuplicates(pb.FindDuplicatesRequest(image=shop_a[0].image, catalog=SHOP_B))
    assert [h.product.id for h in copies_in_b.hits] == ["b-copy"]
    copies_in_a = await stub.FindDuplicates(pb.FindDuplicatesRequest(image=shop_a[0].image, catalog=SHOP_A))
    assert [h.product.id for h in copies_in_a.hits] == [shop_a[0].id]
    for catalog, products in ((SHOP_A, shop_a), (SHOP_B, shop_b)):
        listed, token = [], ""
        while True:
            page = await stub.ListProducts(
                pb.ListProductsRequest(catalog=catalog, page_size=25, page_token=token)
            )
            listed += [p.id for p in page.products]
            if not (token := page.next_page_token):
                break
        assert sorted(listed) == sorted(p.id for p in products)
        stats = await stub.GetStats(pb.GetStatsRequest(catalog=catalog))
        assert stats.catalog.name == catalog and stats.product_count == len(products)
        assert {i.space: i.count for i in stats.indexes}["image"] == len(products)
        assert {i.engine for i in stats.indexes} == {"hnswlib"}
        assert all({"M", "ef_search", "capacity"} <= set(i.parameters) for i in stats.indexes)
    # A page token belongs to its listing: shop A's token means nothing in shop B.
    page = await stub.ListProducts(pb.ListProductsRequest(catalog=SHOP_A, page_size=5))
    foreign = pb.ListProductsRequest(catalog=SHOP_B, page_size=5, page_token=page.next_page_token)
    assert await code_of(stub.ListProducts(foreign)) == grpc.StatusCode.INVALID_ARGUMENT
    junk = pb.ListProductsRequest(catalog=SHOP_A, page_token="not-a-token")
    assert await code_of(stub.ListProducts(junk)) == grpc.StatusCode.INVALID_ARGUMENT


async def test_deleting_products_of_one_catalog_leaves_the_other(stub, shops):
    deleted = await stub.DeleteProducts(pb.DeleteProductsRequest(ids=["sku-1"], catalog=SHOP_A))
    assert deleted.deleted == 1
    assert (
        await code_of(stub.GetProduct(pb.GetProductRequest(id="sku-1", catalog=SHOP_A)))
        == grpc.StatusCode.NOT_FOUND
    )
    assert (await stub.GetProduct(pb.GetProductRequest(id="sku-1", catalog=SHOP_B))).product.id == "sku-1"


async def test_catalog_names_ids_and_lifecycle_errors(stub):
    listed = await stub.ListCatalogs(pb.ListCatalogsRequest(page_size=2))
    assert [c.name for c in listed.catalogs] == ["catalogs/default", SHOP_A] and listed.next_page_token
    rest = await stub.ListCatalogs(pb.ListCatalogsRequest(page_size=2, page_token=listed.next_page_token))
    assert [c.name for c in rest.catalogs] == [SHOP_B] and not rest.next_page_token
    got = (await stub.GetCatalog(pb.GetCatalogRequest(name=SHOP_A))).catalog
    assert got.display_name == "Shop A" and got.product_count > 0 and got.create_time > 0

    for bad in ("Shop-A", "-a", "a-", "a" * 64, "a/b", "", "ünï"):
        assert await code_of(stub.CreateCatalog(pb.CreateCatalogRequest(catalog_id=bad))) == (
            grpc.StatusCode.INVALID_ARGUMENT
        ), bad
    assert await code_of(stub.CreateCatalog(pb.CreateCatalogRequest(catalog_id="shop-a"))) == (
        grpc.StatusCode.ALREADY_EXISTS
    )
    assert (
        await code_of(stub.GetCatalog(pb.GetCatalogRequest(name="catalogs/nope")))
        == grpc.StatusCode.NOT_FOUND
    )
    for name in ("shop-a", "catalogs/a/products/b", "catalogs/", "catalogs/Shop_A"):
        request = pb.SearchByTextRequest(text="bag", catalog=name)
        assert await code_of(stub.SearchByText(request)) == grpc.StatusCode.INVALID_ARGUMENT, name
    assert await code_of(stub.DeleteCatalog(pb.DeleteCatalogRequest(name=SHOP_B))) == (
        grpc.StatusCode.FAILED_PRECONDITION
    ), "a catalog with products needs force"
    assert await code_of(
        stub.DeleteCatalog(pb.DeleteCatalogRequest(name="catalogs/default", force=True))
    ) == (grpc.StatusCode.FAILED_PRECONDITION)


async def test_a_stream_keeps_to_one_catalog(stub, shops):
    shop_a, _ = shops
    mixed = [
        pb.UpsertProductsRequest(product=shop_a[10], catalog=SHOP_A),
        pb.UpsertProductsRequest(product=shop_a[11], catalog=SHOP_B),
    ]
    response = await stub.UpsertProducts(iter(mixed))
    assert [s.code for s in response.statuses] == [0, grpc.StatusCode.INVALID_ARGUMENT.value[0]]
    assert "catalog" in response.statuses[1].message


async def test_projections_are_trained_and_served_per_catalog(tmp_path, model_repository, train):
    """Keyword → untitled image search is trained from one catalog's titles and serves that
    catalog only; deleting the catalog unloads its model and removes its files."""
    repository = tmp_path / "models"
    from server.models import trained
    from tests.conftest import REPOSITORY

    trained.private_repository(REPOSITORY, repository)
    # An embedded Triton of its own: it serves the projections written into `repository`.
    gateway = await create_server(Config(data_dir=tmp_path / "data", port=0, model_repository=repository))
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            order = fashion_mnist.stratified(train, 40, seed=5)
            titled = [fmnist_product(train, int(i), "t") for i in order[:200]]
            untitled = [fmnist_product(train, int(i), "u", titled=False) for i in order[200:400]]
            for product in untitled:
                product.attributes["listing"] = "untitled"
            for catalog_id in ("trained", "untrained"):
                await create(stub, catalog_id)
                response = await stub.UpsertProducts(upserts(f"catalogs/{catalog_id}", titled + untitled))
                assert response.upserted == 400
            trained = await stub.TrainProjection(
                pb.TrainProjectionRequest(catalog="catalogs/trained", method="ridge")
            )
            assert trained.model == "text_to_image__trained" and trained.pairs == 200

            untitled_only = pb.SearchOptions(filter=pb.Filter(attributes={"listing": "untitled"}))
            for catalog, signals in (("catalogs/trained", {"image"}), ("catalogs/untrained", set())):
                request = pb.SearchByTextRequest(text="sneaker", catalog=catalog, options=untitled_only)
                hits = (await stub.SearchByText(request)).hits
                assert {s.signal for h in hits for s in h.signals} == signals, catalog
                if signals:  # only the projection can find untitled products
                    assert sum(h.product.category == "Sneaker" for h in hits) >= 6, catalog  # chance: 1

            stats = await stub.GetStats(pb.GetStatsRequest(catalog="catalogs/trained"))
            assert "text_to_image__trained" in {m.name for m in stats.models}
            assert (repository / "text_to_image__trained").is_dir()
            await stub.DeleteCatalog(pb.DeleteCatalogRequest(name="catalogs/trained", force=True))
            assert not (repository / "text_to_image__trained").exists()
            assert not await gateway.embedder.ready(["text_to_image__trained"])
            still = await stub.SearchByText(
                pb.SearchByTextRequest(text="运动鞋", catalog="catalogs/untrained")
            )
            assert len(still.hits) == 10
    finally:
        await gateway.stop()


async def test_deleting_a_catalog_frees_its_disk_and_survives_a_restart(tmp_path, triton, train):
    products = [fmnist_product(train, i, "d") for i in range(40)]
    gateway = await create_server(config(tmp_path, triton))
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        stub = pb_grpc.ProductSearchStub(channel)
        for catalog_id in ("keep", "drop"):
            await create(stub, catalog_id)
            assert (await stub.UpsertProducts(upserts(f"catalogs/{catalog_id}", products))).upserted == 40
    await gateway.stop()
    dropped = catalog_dir(tmp_path, "drop")
    assert (dropped / "catalog.sqlite3").stat().st_size > 0 and (dropped / "indexes" / "image").is_dir()

    gateway = await create_server(config(tmp_path, triton))
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            listed = await stub.ListCatalogs(pb.ListCatalogsRequest())
            assert {c.name: c.product_count for c in listed.catalogs} == {
                "catalogs/default": 0,
                "catalogs/drop": 40,
                "catalogs/keep": 40,
            }
            await stub.DeleteCatalog(pb.DeleteCatalogRequest(name="catalogs/drop", force=True))
            assert not dropped.exists(), "a deleted catalog's files are gone"
            gone = pb.SearchByTextRequest(text="bag", catalog="catalogs/drop")
            assert await code_of(stub.SearchByText(gone)) == grpc.StatusCode.NOT_FOUND
            recreated = await create(stub, "drop")
            assert recreated.product_count == 0
            assert not (await stub.SearchByText(gone)).hits
            kept = await stub.SearchByText(pb.SearchByTextRequest(text="bag", catalog="catalogs/keep"))
            assert len(kept.hits) == 10
    finally:
        await gateway.stop()


async def test_keys_limited_to_a_catalog(tmp_path, triton, train):
    writer_a, line_a = new_key("shop-a-writer", "write", ["shop-a"])
    admin_a, line_admin_a = new_key("shop-a-admin", "admin", ["shop-a"])
    admin, line_admin = new_key("ops", "admin")
    keys = tuple(parse_keys("\n".join([line_a, line_admin_a, line_admin]), "test"))
    gateway = await create_server(config(tmp_path, triton, api_keys=keys))

    def as_(key):
        return (("authorization", f"Bearer {key}"),)

    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            for catalog_id in ("shop-a", "shop-b"):
                await stub.CreateCatalog(pb.CreateCatalogRequest(catalog_id=catalog_id), metadata=as_(admin))
            product = fmnist_product(train, 7, "k")
            ok = await stub.UpsertProducts(upserts(SHOP_A, [product]), metadata=as_(writer_a))
            assert ok.upserted == 1
            calls = [
                stub.UpsertProducts(upserts(SHOP_B, [product]), metadata=as_(writer_a)),
                stub.SearchByText(pb.SearchByTextRequest(text="bag", catalog=SHOP_B), metadata=as_(writer_a)),
                stub.GetProduct(
                    pb.GetProductRequest(id=product.id), metadata=as_(writer_a)
                ),  # the default catalog
                stub.GetCatalog(pb.GetCatalogRequest(name=SHOP_B), metadata=as_(writer_a)),
                stub.GetCatalog(pb.GetCatalogRequest(name="catalogs/no-such"), metadata=as_(writer_a)),
                stub.DeleteCatalog(pb.DeleteCatalogRequest(name=SHOP_B, force=True), metadata=as_(admin_a)),
                stub.CreateCatalog(pb.CreateCatalogRequest(catalog_id="shop-c"), metadata=as_(admin_a)),
            ]
            for call in calls:
                assert await code_of(call) == grpc.StatusCode.PERMISSION_DENIED
            found = await stub.GetProduct(
                pb.GetProductRequest(id=product.id, catalog=SHOP_A), metadata=as_(writer_a)
            )
            assert found.product.id == product.id
            visible = await stub.ListCatalogs(pb.ListCatalogsRequest(), metadata=as_(writer_a))
            assert [c.name for c in visible.catalogs] == [SHOP_A]
            everything = await stub.ListCatalogs(pb.ListCatalogsRequest(), metadata=as_(admin))
            assert [c.name for c in everything.catalogs] == ["catalogs/default", SHOP_A, SHOP_B]
    finally:
        await gateway.stop()
