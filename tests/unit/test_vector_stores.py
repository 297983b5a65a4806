"""Congruence of the VectorStore implementations (unit tier): the same calls against each
store — brute force, hnswlib (planning filters exactly or through the graph), the
deduplicating wrapper over either, the embedded store reopened from its snapshot, and Milvus
(growing segments, searched by brute force, and sealed ones through their HNSW index; marked
`milvus`: they run in a loopback-only network namespace, `make test-milvus`) — give the same
results as the brute-force reference (qdrant-client's congruence tests are the model). A new
engine joins by adding a factory to STORES."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from server.catalog.sqlite import SqliteCatalogStore
from server.domain import Facets, Filter, Product, ProductWrite
from server.index.dedup import DeduplicatingStore
from server.index.embedded import EmbeddedStore, HnswStore, open_embedded
from server.index.exact import ExactStore
from server.index.hnsw import IndexParams
from server.index.milvus import MilvusVectors, MilvusVectorStore, collection_name, members_name
from server.index.milvus_points import MilvusMembers, MilvusPointsStore
from server.index.store import IndexSpace, VectorRecord, VectorStore
from tests.engines import seal_milvus, unique_catalog

SPACE = IndexSpace(name="image", model="test-model", model_version="v1", dim=32)
CATEGORIES = ["Dress", "Shirt", "Sneaker", "Bag", "Coat"]
COLOURS = ["red", "blue", "black"]
K = 10

FILTERS = {
    "none": Filter(),
    "category": Filter(categories=frozenset({"Sneaker"})),
    "two categories": Filter(categories=frozenset({"Dress", "Bag"})),
    "attribute": Filter(attributes=(("colour", "red"),)),
    "category and attribute": Filter(categories=frozenset({"Coat"}), attributes=(("colour", "blue"),)),
    "price range": Filter(min_price=20.0, max_price=40.0),
    "everything at once": Filter(
        categories=frozenset({"Shirt", "Coat"}), attributes=(("colour", "black"),), max_price=70.0
    ),
    "nothing matches": Filter(categories=frozenset({"Hat"})),
}


def unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)


def make_records(seed: int = 0, n: int = 3000) -> list[VectorRecord]:
    """Clustered vectors; 600 of them in 20 groups of identical vectors whose products
    differ in category, colour and price (what the deduplicating store must sort out)."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(12, SPACE.dim)))
    vectors = unit(centres[rng.integers(0, 12, n)] + 0.35 * rng.normal(size=(n, SPACE.dim)))
    groups = unit(rng.normal(size=(20, SPACE.dim)))
    vectors[:600] = np.repeat(groups, 30, axis=0)
    records = []
    for key in range(n):
        price = None if key % 7 == 0 else float(rng.integers(1, 100))
        product = Product(
            id=f"p{key}",
            category=CATEGORIES[int(rng.integers(0, len(CATEGORIES)))],
            price=price,
            attributes={"colour": COLOURS[int(rng.integers(0, len(COLOURS)))]},
        )
        records.append(VectorRecord(key * 3 + 1, vectors[key], Facets.of(product)))  # keys need not be dense
    return records


def hnsw(exact_search_max: int) -> Callable[[Path], VectorStore]:
    params = IndexParams(M=16, ef_construction=100, ef_search=64, exact_search_max=exact_search_max)
    return lambda _: HnswStore.create(SPACE, params)


def write(store: VectorStore, records: list[VectorRecord]) -> None:
    """The same history for every store: batches, an update that moves products between
    groups, and deletes."""
    seq = 0
    for start in range(0, len(records), 500):
        seq += 1
        store.upsert(records[start : start + 500], seq)
    moved = [VectorRecord(r.key, records[2000].vector, r.facets) for r in records[100:110]]
    store.upsert(moved, seq + 1)
    store.delete([r.key for r in records[::13]] + [999_999], seq + 2)


def reopened_embedded(tmp_path: Path) -> VectorStore:
    """The embedded stack written, snapshotted, and opened again from disk."""
    params = IndexParams(M=16, ef_construction=100, ef_search=64, exact_search_max=0)
    store = EmbeddedStore(DeduplicatingStore(HnswStore.create(SPACE, params)), tmp_path / "image")
    write(store, make_records())
    store.checkpoint()
    source = _CatalogAtSeq(store.applied_seq)
    reopened, stale = open_embedded(tmp_path / "image", SPACE, params, source)
    assert stale == [] and not source.read, "a current snapshot must load, not rebuild"
    return reopened


class _CatalogAtSeq:
    """A fake catalog for this unit test: it is at `seq`, and records whether the store read it."""

    def __init__(self, seq: int) -> None:
        self._seq, self.read = seq, False

    def seq(self) -> int:
        return self._seq

    def iter_embeddings(self, space: str):
        self.read = True
        return iter(())

    def keys_without(self, space: str) -> list[int]:
        self.read = True
        return []


STORES: dict[str, Callable[[Path], VectorStore]] = {
    "hnswlib, filters planned exactly": hnsw(exact_search_max=1_000_000),
    "hnswlib, filters through the graph": hnsw(exact_search_max=0),
    "deduplicating over brute force": lambda _: DeduplicatingStore(ExactStore(SPACE)),
    "deduplicating over hnswlib": lambda _: DeduplicatingStore(hnsw(0)(_)),
}


MILVUS_PARAMS = IndexParams(M=16, ef_construction=100, ef_search=64)
# Milvus, with and without sealing: growing segments are searched by brute force, sealed
# ones through their HNSW index. The store the gateway uses: one point per distinct vector
# (server/index/milvus_points.py).
MILVUS_STORES = {"milvus, growing segments": False, "milvus, sealed with its HNSW index": True}


def milvus_store(milvus, sealed: bool) -> VectorStore:
    """Fresh collections in the session's Milvus, written as the others are."""
    client = MilvusVectors(milvus.uri, MILVUS_PARAMS).client
    catalog = unique_catalog()
    name = collection_name(catalog.id, SPACE.name)
    points = MilvusVectorStore.create(client, name, SPACE, MILVUS_PARAMS)
    store = MilvusPointsStore(points, MilvusMembers.create(client, members_name(name)))
    write(store, make_records())
    if sealed:
        seal_milvus(client, name)
    return store


@pytest.fixture(scope="module")
def reference() -> ExactStore:
    store = ExactStore(SPACE)
    write(store, make_records())
    return store


@pytest.fixture(
    scope="module",
    params=[
        *STORES,
        "embedded, reopened from its snapshot",
        *(pytest.param(name, marks=pytest.mark.milvus) for name in MILVUS_STORES),
    ],
)
def store(request, tmp_path_factory) -> VectorStore:
    if request.param in MILVUS_STORES:
        return milvus_store(request.getfixturevalue("milvus"), MILVUS_STORES[request.param])
    tmp_path = tmp_path_factory.mktemp("store")
    if request.param in STORES:
        built = STORES[request.param](tmp_path)
        write(built, make_records())
        return built
    return reopened_embedded(tmp_path)


def queries(n: int = 25) -> np.ndarray:
    rng = np.random.default_rng(1)
    return unit(rng.normal(size=(n, SPACE.dim)))


def test_counts_and_vectors_agree(store: VectorStore, reference: ExactStore) -> None:
    assert store.count() == reference.count()
    keys = [1, 4, 301, 331, 2000 * 3 + 1, 999_999]
    expected = reference.fetch(keys)
    found = store.fetch(keys)
    assert found.keys() == expected.keys()
    for key, vector in expected.items():
        np.testing.assert_allclose(found[key], vector, atol=1e-6)
    assert store.applied_seq == reference.applied_seq


@pytest.mark.parametrize("name", FILTERS)
def test_searches_agree_with_brute_force(store: VectorStore, reference: ExactStore, name: str) -> None:
    condition = FILTERS[name]
    recalls = []
    for query in queries():
        expected = reference.search(query, K, condition)
        found = store.search(query, K, condition)
        assert len(found) == len(expected), "top_k hits whenever that many products match"
        for key, score in found:
            facets_ok = reference._facets[key].matches(condition)
            assert facets_ok, f"{key} does not match {condition}"
            assert score == pytest.approx(float(reference.fetch([key])[key] @ query), abs=1e-5)
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
        if expected:
            # Ties (identical vectors) may pick other keys of equal score: compare by score.
            kth = expected[-1][1]
            recalls.append(np.mean([score >= kth - 1e-5 for _, score in found]))
    assert not recalls or np.mean(recalls) >= 0.95


def test_exclusion_leaves_out_keys_and_still_fills_k(store: VectorStore, reference: ExactStore) -> None:
    query = reference.fetch([301])[301]  # a member of a group of 30 identical vectors
    excluded = {301, 304, 307}
    found = store.search(query, K, Filter(), excluded)
    assert len(found) == K and not excluded & {key for key, _ in found}
    assert found[0][1] == pytest.approx(1.0, abs=1e-5)


def test_stats_speak_of_products() -> None:
    store = DeduplicatingStore(ExactStore(SPACE))
    write(store, make_records())
    stats = store.stats()
    assert stats.count == store.count() and int(stats.parameters["distinct_vectors"]) < stats.count


@pytest.mark.parametrize("backend", ["embedded", pytest.param("milvus", marks=pytest.mark.milvus)])
def test_catalog_rebuild_gives_the_same_store(
    tmp_path: Path, reference: ExactStore, backend: str, request: pytest.FixtureRequest
) -> None:
    """Rebuilt from a real SQLite catalog (no snapshot, an empty collection), the store
    answers as the reference does, and it is current with the catalog's sequence."""
    catalog = SqliteCatalogStore(tmp_path / "catalog.sqlite3")
    everything = make_records()
    present = reference.fetch([r.key for r in everything])
    records = [r for r in everything if r.key in present]
    writes = [
        ProductWrite(
            Product(
                id=f"p{r.key}",
                category=next(iter(r.facets.categories)),
                price=None if r.facets.price_range is None else r.facets.price_range[0],
                attributes=dict(r.facets.attributes),
            ),
            b"jpeg",
            {"image": present[r.key]},
        )
        for r in records
    ]
    catalog.upsert(writes, {"image": (SPACE.model, SPACE.model_version)})
    if backend == "milvus":
        milvus = MilvusVectors(request.getfixturevalue("milvus").uri, MILVUS_PARAMS)
        store, stale = milvus.open(unique_catalog(), SPACE, catalog, copies=False)
    else:
        store, stale = open_embedded(tmp_path / "indexes", SPACE, IndexParams(exact_search_max=0), catalog)
    assert stale == [] and store.applied_seq == catalog.seq() and store.count() == reference.count()
    key_of = {w.product.id: w.product.key for w in writes}  # the catalog numbers products itself
    for query in queries(5):
        for condition in FILTERS.values():
            expected = [(key_of[f"p{k}"], s) for k, s in reference.search(query, K, condition)]
            found = store.search(query, K, condition)
            assert [round(s, 4) for _, s in found] == [round(s, 4) for _, s in expected]
    catalog.close()
