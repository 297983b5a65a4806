"""DeduplicatingIndex (unit tier): identical vectors share a point and are all found."""

from __future__ import annotations

import numpy as np
import pytest

from server.dedup_index import DeduplicatingIndex
from server.index import IndexLoadError, IndexParams, IndexSpace

SPACE = IndexSpace(name="title", model="text_encoder", model_version="test", dim=64)
# exact_search_max=0: filtered searches go through the graph too, not only exact numpy.
PARAMS = IndexParams(M=8, ef_construction=64, ef_search=32, exact_search_max=0)


def unit(rng, n):
    v = rng.normal(size=(n, SPACE.dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def catalog():
    """30 distinct "titles", each shared by 100 products, plus 500 unique products."""
    rng = np.random.default_rng(0)
    titles = unit(rng, 30)
    keys = np.arange(3500)
    vectors = np.concatenate([np.repeat(titles, 100, axis=0), unit(rng, 500)])
    index = DeduplicatingIndex.create(SPACE, PARAMS)
    for start in range(0, len(keys), 250):  # several batches, as the gateway writes them
        index.upsert(keys[start : start + 250], vectors[start : start + 250])
    return index, titles, vectors


def test_every_group_of_duplicates_is_found(catalog):
    index, titles, _ = catalog
    assert len(index) == 3500 and index.describe()["distinct_vectors"] == 530
    for group, title in enumerate(titles):
        hits = index.search(title, 10)
        assert [key // 100 for key, _ in hits] == [group] * 10
        assert all(score > 0.9999 for _, score in hits)


def test_filters_reach_into_groups(catalog):
    index, titles, _ = catalog
    candidates = np.array([705, 799, 3100, 3200])  # two members of group 7, two unique products
    hits = index.search(titles[7], 3, candidates)
    assert [key for key, _ in hits[:2]] == [705, 799]
    assert len(hits) == 3 and {key for key, _ in hits} <= set(candidates.tolist())


def test_deleting_every_member_removes_the_point(catalog):
    index, titles, _ = catalog
    assert index.delete(list(range(300, 400))) == 100
    assert len(index) == 3400 and index.describe()["distinct_vectors"] == 529
    assert all(key // 100 != 3 for key, _ in index.search(titles[3], 50))
    index.delete([500])  # one member of a group of 100: the rest still found
    hits = index.search(titles[5], 100)
    assert {key for key, _ in hits} == set(range(501, 600)) | {hits[-1][0]}


def test_updating_a_key_moves_it_between_groups(catalog):
    index, titles, _ = catalog
    index.upsert([0], titles[9][None])
    assert 0 in {key for key, _ in index.search(titles[9], 101)}
    assert 0 not in {key for key, _ in index.search(titles[0], 100)}
    np.testing.assert_allclose(index.get_vectors([0])[0], titles[9], atol=1e-6)


def test_snapshot_round_trip(catalog, tmp_path):
    index, titles, vectors = catalog
    index.save(tmp_path, catalog_seq=7)
    loaded, seq = DeduplicatingIndex.load(tmp_path, SPACE, PARAMS)
    assert seq == 7 and len(loaded) == len(index)
    for query in [titles[4], vectors[3300]]:
        assert loaded.search(query, 20) == index.search(query, 20)
    loaded.upsert([9999], titles[4][None])  # new points after a load do not collide
    assert 9999 in {key for key, _ in loaded.search(titles[4], 101)}


def test_a_missing_member_list_fails_the_load(catalog, tmp_path):
    index, _, _ = catalog
    index.save(tmp_path, catalog_seq=1)
    next(tmp_path.glob("*.members.*.npy")).unlink()
    with pytest.raises(IndexLoadError):
        DeduplicatingIndex.load(tmp_path, SPACE, PARAMS)
