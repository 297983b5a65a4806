"""DeduplicatingStore (unit tier): identical vectors share a point and are all found,
filters reach the products inside a shared point, snapshots keep who shares what."""

from __future__ import annotations

import numpy as np
import pytest

from server.domain import Facets, Filter
from server.index.dedup import DeduplicatingStore
from server.index.embedded import EmbeddedStore, HnswStore
from server.index.hnsw import IndexParams
from server.index.snapshot import IndexLoadError, SnapshotReader
from server.index.store import IndexSpace, VectorRecord

SPACE = IndexSpace(name="title", model="text_encoder", model_version="test", dim=64)
# exact_search_max=0: filtered searches go through the graph too, not only exact numpy.
PARAMS = IndexParams(M=8, ef_construction=64, ef_search=32, exact_search_max=0)


def unit(rng, n):
    v = rng.normal(size=(n, SPACE.dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def facets(key: int) -> Facets:
    return Facets(frozenset(["even" if key % 2 == 0 else "odd"]))


def records(keys, vectors):
    return [VectorRecord(int(k), v, facets(int(k))) for k, v in zip(keys, vectors, strict=True)]


def build() -> DeduplicatingStore:
    return DeduplicatingStore(HnswStore.create(SPACE, PARAMS))


@pytest.fixture
def catalog():
    """30 distinct "titles", each shared by 100 products, plus 500 unique products."""
    rng = np.random.default_rng(0)
    titles = unit(rng, 30)
    keys = np.arange(3500)
    vectors = np.concatenate([np.repeat(titles, 100, axis=0), unit(rng, 500)])
    store = build()
    for start in range(0, len(keys), 250):  # several batches, as the gateway writes them
        store.upsert(records(keys[start : start + 250], vectors[start : start + 250]), seq=start // 250 + 1)
    return store, titles, vectors


def test_every_group_of_duplicates_is_found(catalog):
    store, titles, _ = catalog
    assert store.count() == 3500 and store.stats().parameters["distinct_vectors"] == "530"
    for group, title in enumerate(titles):
        hits = store.search(title, 10)
        assert [key // 100 for key, _ in hits] == [group] * 10
        assert all(score > 0.9999 for _, score in hits)


def test_filters_reach_into_groups(catalog):
    """A point shared by even and odd products matches an "odd" filter, and only its odd
    products come back; the search widens past it to fill k."""
    store, titles, _ = catalog
    hits = store.search(titles[7], 80, Filter(categories=frozenset({"odd"})))
    assert len(hits) == 80
    assert all(key % 2 == 1 for key, _ in hits)
    assert {key for key, _ in hits[:50]} == set(range(701, 800, 2))


def test_the_same_key_twice_in_one_batch_keeps_the_last(catalog):
    store, titles, _ = catalog
    store.upsert(
        [VectorRecord(3400, titles[1], facets(3400)), VectorRecord(3400, titles[2], facets(3400))], 99
    )
    assert 3400 in {key for key, _ in store.search(titles[2], 101)}
    assert 3400 not in {key for key, _ in store.search(titles[1], 101)}


def test_deleting_every_member_removes_the_point(catalog):
    store, titles, _ = catalog
    assert store.delete(list(range(300, 400)), seq=50) == 100
    assert store.count() == 3400 and store.stats().parameters["distinct_vectors"] == "529"
    assert all(key // 100 != 3 for key, _ in store.search(titles[3], 50))
    store.delete([500], seq=51)  # one member of a group of 100: the rest still found
    hits = store.search(titles[5], 100)
    assert {key for key, _ in hits} == set(range(501, 600)) | {hits[-1][0]}
    assert store.applied_seq == 51


def test_updating_a_key_moves_it_between_groups(catalog):
    store, titles, _ = catalog
    store.upsert(records([0], titles[9][None]), seq=60)
    assert 0 in {key for key, _ in store.search(titles[9], 101)}
    assert 0 not in {key for key, _ in store.search(titles[0], 100)}
    np.testing.assert_allclose(store.fetch([0])[0], titles[9], atol=1e-6)


def test_snapshot_round_trip(catalog, tmp_path):
    store, titles, vectors = catalog
    EmbeddedStore(store, tmp_path).checkpoint()
    reader = SnapshotReader(tmp_path, SPACE.name)
    loaded = DeduplicatingStore.read_from(reader, HnswStore.read_from(reader, SPACE, PARAMS))
    assert reader.catalog_seq == store.applied_seq and loaded.count() == store.count()
    for query in [titles[4], vectors[3300]]:
        assert loaded.search(query, 20) == store.search(query, 20)
    odd = Filter(categories=frozenset({"odd"}))
    assert loaded.search(titles[4], 20, odd) == store.search(titles[4], 20, odd)
    loaded.upsert(records([9999], titles[4][None]), seq=70)  # new points after a load do not collide
    assert 9999 in {key for key, _ in loaded.search(titles[4], 101)}


def test_a_missing_member_list_fails_the_load(catalog, tmp_path):
    store, _, _ = catalog
    EmbeddedStore(store, tmp_path).checkpoint()
    next(tmp_path.glob("*.members.npy")).unlink()
    reader = SnapshotReader(tmp_path, SPACE.name)
    with pytest.raises(IndexLoadError):
        DeduplicatingStore.read_from(reader, HnswStore.read_from(reader, SPACE, PARAMS))
