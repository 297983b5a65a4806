"""The CatalogStore and CatalogRegistry contract (unit tier), run against every
implementation in STORES / REGISTRIES (SQLite, and PostgreSQL on a real private server,
marked integration): sequence numbers, products, embeddings with facets, filtered pages
against brute force, deletes, and the registry's catalogs and folders. Then what only the
shared engine has: the changes outbox, two gateways on one catalog, deletes that leave no
rows."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.catalog.postgres import TABLES, PostgresCatalogRegistry, PostgresCatalogStore
from server.catalog.sqlite import SqliteCatalogRegistry, SqliteCatalogStore
from server.catalog.store import CatalogRegistry, CatalogStore
from server.domain import (
    AlreadyExistsError,
    EmbeddingRow,
    Facets,
    Filter,
    NotFoundError,
    Product,
    ProductWrite,
)
from server.files import private_dir
from server.index.store import StoreState
from tests.engines import unique_schema


def postgres_store(folder: Path, request: pytest.FixtureRequest) -> CatalogStore:
    """A new catalog of its own in the session's server (catalogs are the unit of isolation)."""
    catalogs = request.getfixturevalue("postgres_catalogs")
    return catalogs.open(catalogs.create(f"c-{uuid.uuid4().hex}", "", ""))


# Each factory gets a fresh folder and the test's request (for engines behind a fixture).
STORES: dict[str, Callable[[Path, pytest.FixtureRequest], CatalogStore]] = {
    "sqlite": lambda folder, request: SqliteCatalogStore(folder / "catalog.sqlite3"),
    "postgres": postgres_store,
}
REGISTRIES: dict[str, Callable[[Path, pytest.FixtureRequest], CatalogRegistry]] = {
    "sqlite": lambda folder, request: SqliteCatalogRegistry(folder),
    "postgres": lambda folder, request: PostgresCatalogRegistry(
        request.getfixturevalue("postgres").url, folder, schema=unique_schema()
    ),
}
SERVERS = {"postgres"}  # engines that need a server: the integration tier


def engines(names) -> list:
    return [pytest.param(name, marks=pytest.mark.integration) if name in SERVERS else name for name in names]


@pytest.fixture(scope="session")
def postgres_catalogs(postgres, tmp_path_factory):
    """The session's registry that postgres_store opens its catalogs in."""
    registry = PostgresCatalogRegistry(postgres.url, tmp_path_factory.mktemp("pg-catalogs"), schema="stores")
    yield registry
    registry.close()


VERSIONS = {"image": ("lite0", "v1"), "title": ("text", "v1")}
CATEGORIES = ["", "Sneaker", "运动鞋", "Bag"]
COLOURS = ["red", "blue", "红"]


def write(product: Product, dim: int = 4, titled: bool = True) -> ProductWrite:
    rng = np.random.default_rng(abs(hash(product.id)) % 2**32)
    embeddings = {"image": rng.normal(size=dim).astype(np.float32)}
    if titled:
        embeddings["title"] = rng.normal(size=dim).astype(np.float32)
    return ProductWrite(product, f"jpeg of {product.id}".encode(), embeddings)


@pytest.fixture(params=engines(STORES))
def store(request, tmp_path) -> CatalogStore:
    opened = STORES[request.param](tmp_path, request)
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


def test_sampled_keys_are_distinct_keys_of_the_space_spread_over_it(store):
    products = [Product(id=f"s{i:03d}") for i in range(300)]
    store.upsert([write(p, titled=i % 3 == 0) for i, p in enumerate(products)], VERSIONS)
    store.delete([f"s{i:03d}" for i in range(0, 300, 2)])
    titled = {p.key for i, p in enumerate(products) if i % 3 == 0 and i % 2}
    keys = store.sample_keys("title", 40, np.random.default_rng(0))
    assert len(keys) == len(set(keys)) and set(keys) <= titled
    assert len(keys) >= 20, "40 draws over 50 keys find most of them"
    assert min(keys) < sorted(titled)[10] and max(keys) > sorted(titled)[-10], "the whole range"
    assert store.sample_keys("nothing", 10, np.random.default_rng(0)) == []


def test_replacing_embeddings_of_a_deleted_product_adds_nothing(store):
    product = Product(id="gone")
    store.upsert([write(product)], VERSIONS)
    store.delete(["gone"])
    store.replace_embeddings([EmbeddingRow(product.key, "image", "lite2", "v2", np.ones(4, np.float32))])
    assert [r for rows in store.iter_embeddings("image") for r in rows] == []


def test_store_states_keep_the_higher_seqs_of_one_space(store):
    assert store.store_state("milvus-collection") is None
    store.record_store_state("milvus-collection", StoreState("space a", 5, 3))
    store.record_store_state("milvus-collection", StoreState("space a", 4, 4))  # a gateway behind
    store.record_store_state("other", StoreState("space a", 9, 9))
    assert store.store_state("milvus-collection") == StoreState("space a", 5, 4)
    store.record_store_state("milvus-collection", StoreState("space b", 1, 0))  # rebuilt in another
    assert store.store_state("milvus-collection") == StoreState("space b", 1, 0)
    seq = store.seq()
    store.forget_store_state("milvus-collection")
    assert store.store_state("milvus-collection") is None and store.store_state("other") is not None
    assert store.seq() == seq, "recording a state is not a catalog write"


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


@pytest.mark.parametrize("name", engines(STORES))
@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(products=st.lists(catalog_products, max_size=20, unique_by=lambda p: p.id), condition=filters)
def test_filtered_pages_match_brute_force(tmp_path_factory, request, name, products, condition):
    store = STORES[name](tmp_path_factory.mktemp("filtered"), request)
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


@pytest.fixture(params=engines(REGISTRIES))
def registry(request, tmp_path) -> CatalogRegistry:
    opened = REGISTRIES[request.param](tmp_path / "data", request)
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
    (private_dir(folder) / "index.bin").write_bytes(b"an embedded index")
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


@pytest.mark.integration
def test_an_interrupted_postgres_delete_is_finished_at_the_next_open(postgres, tmp_path):
    schema = unique_schema()
    registry = PostgresCatalogRegistry(postgres.url, tmp_path, schema=schema)
    info = registry.create("doomed", "", "")
    registry.open(info).upsert([write(Product(id="x"))], VERSIONS)
    private_dir(registry.directory(info))
    stray = tmp_path / "catalogs" / "0123abcd"  # a folder no catalog owns (a crash mid-create)
    stray.mkdir(parents=True)
    registry._rows("UPDATE catalogs SET deleting = TRUE WHERE id = 'doomed' RETURNING id")  # crash mid-delete
    assert registry.get("doomed") is None, "a catalog being deleted is gone for callers at once"
    registry.close()
    reopened = PostgresCatalogRegistry(postgres.url, tmp_path, schema=schema)
    assert reopened.list("", 10) == [] and rows_of(reopened, info.uid) == dict.fromkeys(TABLES, 0)
    assert not registry.directory(info).exists() and not stray.exists()
    reopened.close()


# -- PostgreSQL only: the outbox, several gateways, deletes ------------------------------------


def rows_of(registry: PostgresCatalogRegistry, uid: str) -> dict[str, int]:
    """How many rows each table holds for catalog `uid`."""
    column = {"catalogs": "uid"}
    return {
        table: registry._rows(
            f"SELECT count(*) FROM {table} WHERE {column.get(table, 'catalog_uid')} = %s", (uid,)
        )[0][0]
        for table in TABLES
    }


@pytest.fixture
def gateways(postgres, tmp_path):
    """Two registries on one schema, each with its own connections: two gateway processes."""
    schema = unique_schema()
    pair = [PostgresCatalogRegistry(postgres.url, tmp_path / f"gateway-{n}", schema=schema) for n in (1, 2)]
    yield pair
    for registry in pair:
        registry.close()


@pytest.mark.integration
def test_the_outbox_keeps_each_keys_latest_write_in_seq_order(gateways):
    registry = gateways[0]
    store = registry.open(registry.create("shop", "", ""))
    products = [Product(id=f"p{i}") for i in range(3)]
    assert store.upsert([write(p) for p in products], VERSIONS) == 1
    a, b, c = (p.key for p in products)
    assert store.upsert([write(Product(id="p1", title="again"))], VERSIONS) == 2
    assert store.delete(["p2", "p0", "nope"]).seq == 3
    store.replace_embeddings([EmbeddingRow(b, "image", "lite2", "v2", np.ones(4, np.float32))])
    assert store.upsert([write(Product(id="p0"))], VERSIONS) == 5
    reborn = store.get("p0").key
    assert reborn not in (a, b, c), "a deleted product's key is never handed out again"
    everything = [(3, a, "delete"), (3, c, "delete"), (4, b, "upsert"), (5, reborn, "upsert")]
    assert store.changes_since(0, 100) == everything, "each key's latest write only"
    assert store.changes_since(3, 100) == everything[2:]
    assert store.changes_since(0, 2) == everything[:2] and store.changes_since(5, 100) == []
    assert store.delete(["nope"]).seq == 6 and store.changes_since(5, 100) == [], "a no-op write has no rows"


@pytest.mark.integration
def test_two_gateways_see_each_others_writes_and_never_lose_one(gateways):
    first, second = gateways
    info = first.create("shared", "", "")
    assert second.get("shared") == info
    stores = [first.open(info), second.open(second.get("shared"))]
    stores[0].upsert([write(Product(id="from-1", title="one"))], VERSIONS)
    assert stores[1].get("from-1").title == "one" and stores[1].seq() == 1
    stores[1].delete(["from-1"])
    assert stores[0].get("from-1") is None and stores[0].seq() == 2

    per_thread = 25
    seqs: list[list[int]] = [[], []]
    products: list[list[Product]] = [[], []]
    start = threading.Barrier(2)

    def writer(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            product = Product(id=f"g{n}-{i:02d}", category=f"gateway {n}")
            seqs[n].append(stores[n].upsert([write(product)], VERSIONS))
            products[n].append(product)

    threads = [threading.Thread(target=writer, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seqs[0] + seqs[1]) == list(range(3, 3 + 2 * per_thread)), "distinct, consecutive"
    assert all(s == sorted(s) for s in seqs), "each gateway's own writes in order"
    assert stores[0].count() == stores[1].count() == 2 * per_thread
    keys = [p.key for n in (0, 1) for p in products[n]]
    assert len(set(keys)) == 2 * per_thread
    changes = stores[1].changes_since(2, 1000)
    assert [s for s, _, _ in changes] == list(range(3, 3 + 2 * per_thread))
    assert sorted(k for _, k, _ in changes) == sorted(keys)
    by_seq = {s: k for s, k, _ in changes}
    for n in (0, 1):
        assert [by_seq[s] for s in seqs[n]] == [p.key for p in products[n]]


@pytest.mark.integration
def test_deleting_a_catalog_leaves_no_rows_and_stale_stores_cannot_write(gateways):
    first, second = gateways
    doomed, kept = first.create("doomed", "", ""), first.create("kept", "", "")
    for info in (doomed, kept):
        store = first.open(info)
        store.upsert([write(Product(id=f"p{i}")) for i in range(5)], VERSIONS)
        store.delete(["p0"])
        store.record_store_state("collection", StoreState("space", 3, 3))
    stale = second.open(second.get("doomed"))
    first.delete(doomed)
    assert rows_of(first, doomed.uid) == dict.fromkeys(TABLES, 0)
    assert rows_of(first, kept.uid) == {
        "store_state": 1,
        "changes": 5,
        "embeddings": 8,
        "products": 4,
        "catalogs": 1,
    }
    with pytest.raises(NotFoundError):
        stale.upsert([write(Product(id="late"))], VERSIONS)
    again = first.create("doomed", "", "")
    assert first.open(again).count() == 0 and stale.count() == 0, "the stale store never sees the new one"
    assert first.open(again).upsert([write(Product(id="new"))], VERSIONS) == 1


@pytest.mark.integration
def test_a_store_opened_alone_has_connections_of_its_own(postgres, tmp_path):
    schema = unique_schema()
    registry = PostgresCatalogRegistry(postgres.url, tmp_path, schema=schema)
    info = registry.create("alone", "", "")
    registry.close()
    store = PostgresCatalogStore(postgres.url, info.uid, schema=schema)
    assert store.upsert([write(Product(id="x"))], VERSIONS) == 1 and store.count() == 1
    store.close()


@pytest.mark.integration
def test_stores_reconnect_after_the_server_restarts(postgres, gateways):
    registry = gateways[0]
    store = registry.open(registry.create("shop", "", ""))
    store.upsert([write(Product(id="before"))], VERSIONS)
    postgres.restart()
    assert store.get("before") is not None and store.upsert([write(Product(id="after"))], VERSIONS) == 2
    assert store.count() == 2
