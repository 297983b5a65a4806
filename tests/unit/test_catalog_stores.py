"""The CatalogStore and CatalogRegistry contract (unit tier), run against every
implementation in STORES / REGISTRIES (SQLite today; a shared engine joins by adding a
factory): sequence numbers, products, embeddings with facets, filtered pages against
brute force, deletes, and the registry's catalogs and folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.catalog.sqlite import SqliteCatalogRegistry, SqliteCatalogStore
from server.catalog.store import CatalogRegistry, CatalogStore
from server.domain import AlreadyExistsError, EmbeddingRow, Facets, Filter, Product, ProductWrite

STORES: dict[str, Callable[[Path], CatalogStore]] = {
    "sqlite": lambda folder: SqliteCatalogStore(folder / "catalog.sqlite3"),
}
REGISTRIES: dict[str, Callable[[Path], CatalogRegistry]] = {
    "sqlite": SqliteCatalogRegistry,
}
VERSIONS = {"image": ("lite0", "v1"), "title": ("text", "v1")}
CATEGORIES = ["", "Sneaker", "运动鞋", "Bag"]
COLOURS = ["red", "blue", "红"]


def write(product: Product, dim: int = 4, titled: bool = True) -> ProductWrite:
    rng = np.random.default_rng(abs(hash(product.id)) % 2**32)
    embeddings = {"image": rng.normal(size=dim).astype(np.float32)}
    if titled:
        embeddings["title"] = rng.normal(size=dim).astype(np.float32)
    return ProductWrite(product, f"jpeg of {product.id}".encode(), embeddings)


@pytest.fixture(params=list(STORES))
def store(request, tmp_path) -> CatalogStore:
    opened = STORES[request.param](tmp_path)
    yield opened
    opened.close()


def test_every_write_bumps_the_sequence_and_returns_it(store):
    assert store.seq() == 0 and store.count() == 0
    products = [Product(id=f"p{i}", title=f"t{i}", category="Bag", price=float(i)) for i in range(5)]
    assert store.upsert([write(p) for p in products], VERSIONS) == 1 == store.seq()
    assert len({p.key for p in products}) == 5 and all(p.update_time > 0 for p in products)
    deleted = store.delete(["p0", "p9"])
    assert deleted.keys == {"p0": products[0].key} and deleted.seq == 2 == store.seq()
    rows = [EmbeddingRow(products[1].key, "image", "lite2", "v9", np.ones(4, np.float32))]
    assert store.replace_embeddings(rows) == 3 == store.seq() and store.count() == 4


def test_products_round_trip_and_keep_their_key(store):
    product = Product(
        id="sku-1", title="红色运动鞋", category="Sneaker", price=59.5, attributes={"colour": "红"}
    )
    product.thumbnail = b"thumb"
    store.upsert([write(product)], VERSIONS)
    key = product.key
    got = store.get("sku-1")
    assert (got.id, got.title, got.category, got.price, got.attributes, got.thumbnail, got.key) == (
        "sku-1",
        "红色运动鞋",
        "Sneaker",
        59.5,
        {"colour": "红"},
        b"thumb",
        key,
    )
    assert store.get("sku-1", with_thumbnail=False).thumbnail == b""
    assert store.get("nope") is None
    replaced = Product(id="sku-1", title="", category="Bag")
    store.upsert([write(replaced, titled=False)], VERSIONS)
    assert replaced.key == key, "an update keeps the key (the vector stores' label)"
    assert store.get_many([key])[key].category == "Bag"
    assert store.titles([key]) == {key: ""}
    assert store.stored_images([key, 999]) == {key: b"jpeg of sku-1"}
    assert [r.key for rows in store.iter_embeddings("title") for r in rows] == [], "an emptied title leaves"
    assert store.keys_without("title") == [key] and store.keys_without("image") == []


def test_embeddings_come_with_their_products_facets(store):
    products = [
        Product(id="a", category="Sneaker", price=10.0, attributes={"colour": "red"}),
        Product(id="b", category="Bag", price=None),
    ]
    writes = [write(p) for p in products]
    store.upsert(writes, VERSIONS)
    rows = [row for batch in store.iter_embeddings("image", batch=1) for row in batch]
    assert [r.key for r in rows] == sorted(p.key for p in products)
    by_key = {r.key: r for r in rows}
    for product, written in zip(products, writes, strict=True):
        row = by_key[product.key]
        assert (row.model, row.model_version) == VERSIONS["image"]
        np.testing.assert_array_equal(row.vector, written.embeddings["image"])
        assert row.facets == Facets.of(product)


def test_replacing_embeddings_of_a_deleted_product_adds_nothing(store):
    product = Product(id="gone")
    store.upsert([write(product)], VERSIONS)
    store.delete(["gone"])
    store.replace_embeddings([EmbeddingRow(product.key, "image", "lite2", "v2", np.ones(4, np.float32))])
    assert [r for rows in store.iter_embeddings("image") for r in rows] == []


def test_pages_follow_id_order(store):
    store.upsert([write(Product(id=f"id-{i:03d}")) for i in range(25)], VERSIONS)
    first = store.list_page("", 10)
    assert [p.id for p in first] == [f"id-{i:03d}" for i in range(10)]
    assert [p.id for p in store.list_page(first[-1].id, 100)] == [f"id-{i:03d}" for i in range(10, 25)]


catalog_products = st.builds(
    lambda n, category, price, colour: Product(
        id=f"p{n:02d}",
        category=category,
        price=price,
        attributes={} if colour is None else {"colour": colour},
    ),
    n=st.integers(0, 30),
    category=st.sampled_from(CATEGORIES),
    price=st.one_of(st.none(), st.sampled_from([0.0, 9.99, 10.0, 250.0])),
    colour=st.one_of(st.none(), st.sampled_from(COLOURS)),
)
filters = st.builds(
    Filter,
    categories=st.frozensets(st.sampled_from([*CATEGORIES, "Hat"]), max_size=2),
    min_price=st.one_of(st.none(), st.sampled_from([0.0, 10.0])),
    max_price=st.one_of(st.none(), st.sampled_from([9.99, 10.0, 100.0])),
    attributes=st.one_of(st.just(()), st.sampled_from(COLOURS).map(lambda c: (("colour", c),))),
)


@pytest.mark.parametrize("name", list(STORES))
@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(products=st.lists(catalog_products, max_size=20, unique_by=lambda p: p.id), condition=filters)
def test_filtered_pages_match_brute_force(tmp_path_factory, name, products, condition):
    store = STORES[name](tmp_path_factory.mktemp("filtered"))
    try:
        if products:
            store.upsert([write(p) for p in products], VERSIONS)
        expected = sorted(p.id for p in products if Facets.of(p).matches(condition))
        found, after = [], ""
        while page := store.list_page(after, 3, condition):
            found += [p.id for p in page]
            after = page[-1].id
        assert found == expected
    finally:
        store.close()


@pytest.fixture(params=list(REGISTRIES))
def registry(request, tmp_path) -> CatalogRegistry:
    opened = REGISTRIES[request.param](tmp_path / "data")
    yield opened
    opened.close()


def test_catalogs_are_created_listed_and_deleted_with_their_folder(registry):
    created = [registry.create(f"shop-{c}", f"Shop {c.upper()}", "") for c in "bca"]
    assert len({c.uid for c in created}) == 3 and all(c.create_time > 0 for c in created)
    with pytest.raises(AlreadyExistsError):
        registry.create("shop-a", "again", "")
    assert [c.id for c in registry.list("", 10)] == ["shop-a", "shop-b", "shop-c"]
    assert [c.id for c in registry.list("shop-a", 1)] == ["shop-b"]
    shop_a = registry.get("shop-a")
    assert shop_a.display_name == "Shop A" and shop_a.name == "catalogs/shop-a"
    store = registry.open(shop_a)
    store.upsert([write(Product(id="x"))], VERSIONS)
    store.close()
    folder = registry.directory(shop_a)
    assert folder.is_dir() and any(folder.iterdir())
    registry.delete(shop_a)
    assert registry.get("shop-a") is None and not folder.exists()
    again = registry.create("shop-a", "", "")
    assert again.uid != shop_a.uid, "a re-created catalog never sees the old one's files"
    assert registry.open(again).count() == 0


def test_an_interrupted_delete_is_finished_at_the_next_open(tmp_path):
    registry = SqliteCatalogRegistry(tmp_path)
    info = registry.create("doomed", "", "")
    registry.open(info).close()
    stray = tmp_path / "catalogs" / "0123abcd"  # a folder no catalog owns (a crash mid-create)
    stray.mkdir(parents=True)
    registry._db.execute("UPDATE catalogs SET deleting = 1 WHERE id = 'doomed'")  # crash mid-delete
    registry.close()
    reopened = SqliteCatalogRegistry(tmp_path)
    assert reopened.get("doomed") is None and reopened.list("", 10) == []
    assert not registry.directory(info).exists() and not stray.exists()
    reopened.close()
