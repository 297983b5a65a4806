"""Unit tests for server.index.hnsw: HNSW vs brute force, snapshots, updates, filters, threads.

Data are synthetic clustered unit vectors (what embeddings of a catalog look like: groups
of near neighbours), small dimensions to keep the file fast on 2 cores.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from server.index.hnsw import IndexParams, VectorIndex, _RWLock
from server.index.snapshot import IndexLoadError
from server.index.store import IndexSpace

SPACE = IndexSpace(name="image", model="efficientnet_lite0", model_version="0123abcd", dim=32)
K = 10


@functools.lru_cache
def _centres(dim: int, clusters: int) -> np.ndarray:
    centres = np.random.default_rng(dim).standard_normal((clusters, dim)).astype(np.float32)
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


def clustered(n: int, dim: int, rng: np.random.Generator, clusters: int = 200) -> np.ndarray:
    """Unit vectors around fixed random centres (per dim, so every draw, queries included,
    comes from the same catalog distribution); noise of about the centres' norm."""
    noise = rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    x = _centres(dim, clusters)[rng.integers(clusters, size=n)] + noise
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(keys: np.ndarray, vectors: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    scores = vectors @ query
    order = np.lexsort((keys, -scores))[:k]
    return keys[order].tolist()


def recall(results: list[list[tuple[int, float]]], truth: list[list[int]]) -> float:
    hits = sum(len({key for key, _ in got} & set(want)) for got, want in zip(results, truth, strict=True))
    return hits / max(1, sum(len(want) for want in truth))


def assert_well_formed(result: list[tuple[int, float]], k: int) -> None:
    keys = [key for key, _ in result]
    scores = [score for _, score in result]
    assert len(result) <= k
    assert len(set(keys)) == len(keys), "duplicate keys in one result"
    assert scores == sorted(scores, reverse=True)


def make_index(
    n: int, dim: int = SPACE.dim, seed: int = 0, params: IndexParams | None = None
) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = clustered(n, dim, rng)
    keys = np.arange(n, dtype=np.int64) * 3 + 7  # sparse, not row numbers
    space = dataclasses.replace(SPACE, dim=dim)
    index = VectorIndex(space, params or IndexParams(ef_construction=100), num_threads=2)
    index.upsert(keys, vectors)
    return index, keys, vectors


# -- recall ------------------------------------------------------------------------------


@pytest.mark.slow
def test_recall_at_100k_vs_exact() -> None:
    # 100k vectors at dim 128 (not 512) so the build takes ~20 s on 2 cores.
    rng = np.random.default_rng(1)
    n, dim = 100_000, 128
    data = clustered(n + 200, dim, rng)
    vectors, queries = data[:n], data[n:]
    keys = np.arange(n, dtype=np.int64)
    index = VectorIndex(
        dataclasses.replace(SPACE, dim=dim), IndexParams(ef_construction=100, ef_search=64), num_threads=2
    )
    for start in range(0, n, 25_000):  # in batches, as a catalog replay would
        index.upsert(keys[start : start + 25_000], vectors[start : start + 25_000])
    assert len(index) == n

    results = [index.search(q, K) for q in queries]
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :K].tolist()
    assert recall(results, truth) >= 0.95
    for q, result in zip(queries, results, strict=True):
        assert len(result) == K
        assert_well_formed(result, K)
        got = np.array([key for key, _ in result])
        np.testing.assert_allclose([s for _, s in result], vectors[got] @ q, atol=1e-4)


def test_search_small_and_empty_index() -> None:
    index = VectorIndex(SPACE)
    query = clustered(1, SPACE.dim, np.random.default_rng(2))[0]
    assert index.search(query, K) == []
    assert index.search(query, K, candidates=[1, 2]) == []
    index.upsert([5, 6, 7], clustered(3, SPACE.dim, np.random.default_rng(3)))
    assert sorted(key for key, _ in index.search(query, K)) == [5, 6, 7]  # k > count: all of them


# -- snapshots ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, VectorIndex, np.ndarray]:
    index, keys, _ = make_index(3000, seed=4)
    index.delete(keys[:200])  # deleted slots must survive the round trip as reusable
    index.set_ef(123)
    directory = tmp_path_factory.mktemp("snapshot")
    index.save(directory, catalog_seq=42)
    queries = clustered(50, SPACE.dim, np.random.default_rng(5))
    return directory, index, queries


def test_save_load_round_trip(saved: tuple[Path, VectorIndex, np.ndarray]) -> None:
    directory, original, queries = saved
    loaded, seq = VectorIndex.load(directory, SPACE, IndexParams())
    assert seq == 42
    assert len(loaded) == len(original)
    assert loaded.params.ef_search == 123  # hnswlib's own file does not keep ef
    assert loaded.describe() == original.describe()
    for q in queries:
        assert loaded.search(q, K) == original.search(q, K)
    some = np.array([1009, 6007, 8998])
    np.testing.assert_array_equal(loaded.get_vectors(some), original.get_vectors(some))
    assert 7 not in loaded  # deleted before saving

    # Deleted slots are still reusable after loading, and writes work.
    capacity = loaded.describe()["capacity"]
    fresh = clustered(200, SPACE.dim, np.random.default_rng(6))
    loaded.upsert(np.arange(200) + 100_000, fresh)
    assert loaded.describe()["capacity"] == capacity
    assert loaded.search(fresh[0], 1)[0][0] == 100_000


def test_save_replaces_previous_snapshot(saved: tuple[Path, VectorIndex, np.ndarray], tmp_path: Path) -> None:
    _, index, _ = saved
    index.save(tmp_path, catalog_seq=1)
    index.save(tmp_path, catalog_seq=2)
    _, seq = VectorIndex.load(tmp_path, SPACE)
    assert seq == 2
    assert len(list(tmp_path.iterdir())) == 4  # manifest + one set of data files, no leftovers


@pytest.mark.parametrize(
    "change",
    [{"dim": 64}, {"model": "vgg16"}, {"model_version": "ffff0000"}, {"name": "title"}],
    ids=["dim", "model", "model_version", "name"],
)
def test_load_refuses_other_space(saved: tuple[Path, VectorIndex, np.ndarray], change: dict) -> None:
    directory, _, _ = saved
    with pytest.raises(IndexLoadError):  # "name": no snapshot of that space in the directory
        VectorIndex.load(directory, dataclasses.replace(SPACE, **change))


@pytest.mark.parametrize("role", ["graph", "keys", "vectors", "manifest"])
def test_load_detects_corruption(
    saved: tuple[Path, VectorIndex, np.ndarray], tmp_path: Path, role: str
) -> None:
    directory, _, _ = saved
    path = _copy_snapshot(directory, tmp_path, role)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4] = bytes(b ^ 0xFF for b in data[middle : middle + 4])
    path.write_bytes(bytes(data))
    with pytest.raises(IndexLoadError):
        VectorIndex.load(tmp_path, SPACE)


def test_load_detects_tampered_ef(saved: tuple[Path, VectorIndex, np.ndarray], tmp_path: Path) -> None:
    directory, _, _ = saved
    manifest = _copy_snapshot(directory, tmp_path, "manifest")
    body = json.loads(manifest.read_text())
    body["ef"] = 124  # still valid JSON: only the manifest's own checksum catches it
    manifest.write_text(json.dumps(body))
    with pytest.raises(IndexLoadError, match="corrupt"):
        VectorIndex.load(tmp_path, SPACE)


@pytest.mark.parametrize("role", ["graph", "keys", "vectors", "manifest"])
def test_load_missing_file(saved: tuple[Path, VectorIndex, np.ndarray], tmp_path: Path, role: str) -> None:
    directory, _, _ = saved
    _copy_snapshot(directory, tmp_path, role).unlink()
    with pytest.raises(IndexLoadError):
        VectorIndex.load(tmp_path, SPACE)


def test_load_from_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(IndexLoadError, match="no snapshot"):
        VectorIndex.load(tmp_path / "nowhere", SPACE)


def _copy_snapshot(source: Path, target: Path, role: str) -> Path:
    """Copy a snapshot; return the path of the file playing `role` in the copy."""
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    manifest = target / f"{SPACE.name}.json"
    if role == "manifest":
        return manifest
    return target / json.loads(manifest.read_text())["files"][role]["file"]


# -- updates and deletes -----------------------------------------------------------------


def test_upsert_replaces_existing_vector() -> None:
    index, keys, vectors = make_index(2000, seed=7)
    key = int(keys[100])
    replacement = vectors[1500]  # make it a twin of another key's vector
    index.upsert([key], replacement[None, :])
    assert len(index) == 2000
    np.testing.assert_allclose(index.get_vectors([key])[0], replacement, atol=1e-6)
    top = {k for k, _ in index.search(replacement, 2)}
    assert top == {key, int(keys[1500])}
    # Scores come from the new vector: the old one no longer finds the key at similarity 1.
    for k, score in index.search(vectors[100], K):
        assert score == pytest.approx(float(index.get_vectors([k])[0] @ vectors[100]), abs=1e-5)


def test_delete_removes_from_results() -> None:
    index, keys, vectors = make_index(2000, seed=8)
    gone = keys[:50]
    assert index.delete(np.concatenate([gone, gone[:5], [999_999]])) == 50  # duplicates, unknown ignored
    assert index.delete(gone) == 0
    assert len(index) == 1950
    assert int(gone[0]) not in index
    with pytest.raises(KeyError):
        index.get_vectors(gone[:1])
    for q in vectors[:50]:
        result = index.search(q, K)
        assert len(result) == K
        assert not {k for k, _ in result} & set(gone.tolist())


def test_deleted_slots_are_reused() -> None:
    n = 1000
    index, keys, vectors = make_index(n, seed=9, params=IndexParams(initial_capacity=n, ef_construction=100))
    assert index.describe()["capacity"] == n
    index.delete(keys[:300])
    fresh_keys = np.arange(300, dtype=np.int64) + 50_000
    fresh = clustered(300, SPACE.dim, np.random.default_rng(10))
    index.upsert(fresh_keys, fresh)
    stats = index.describe()
    assert stats["capacity"] == n  # the 300 new vectors took the 300 freed slots
    assert stats["count"] == n and stats["deleted_slots"] == 0

    all_keys = np.concatenate([keys[300:], fresh_keys])
    all_vectors = np.concatenate([vectors[300:], fresh])
    queries = clustered(100, SPACE.dim, np.random.default_rng(11))
    results = [index.search(q, K) for q in queries]
    for result in results:
        assert len(result) == K
        assert_well_formed(result, K)  # no duplicate labels from slot replacement
    truth = [brute_force(all_keys, all_vectors, q, K) for q in queries]
    assert recall(results, truth) >= 0.95


def test_re_adding_deleted_keys() -> None:
    n = 500
    index, keys, vectors = make_index(n, seed=12, params=IndexParams(initial_capacity=n))
    a, b = int(keys[10]), int(keys[20])
    index.delete([a, b])
    # The index is full: new key 1 must take a freed slot, evicting a or b's label from hnswlib.
    extra = clustered(3, SPACE.dim, np.random.default_rng(13))
    index.upsert([1], extra[:1])
    index.upsert([a, b], extra[1:])  # one still held as deleted by hnswlib, one evicted
    assert len(index) == n + 1
    assert index.describe()["capacity"] == 2 * n  # one more than fits
    for key, vector in zip([1, a, b], extra, strict=True):
        assert key in index
        result = index.search(vector, K)
        assert result[0][0] == key and result[0][1] == pytest.approx(1.0, abs=1e-5)
        assert_well_formed(result, K)
    # Many keys deleted at once, re-added, then their old slots reused by new keys: a
    # re-added key must keep its own slot (unmark), or the slot's reuse would drop the
    # key from hnswlib's label table while its vector stays live.
    index.delete(keys[100:200])
    index.upsert(keys[100:200], vectors[100:200])
    index.upsert(
        np.arange(100, dtype=np.int64) + 90_000, clustered(100, SPACE.dim, np.random.default_rng(23))
    )
    assert index.delete(keys[100:200]) == 100
    for q in vectors[100:120]:
        assert not {k for k, _ in index.search(q, K)} & set(keys[100:200].tolist())
    index.upsert(keys[100:200], vectors[100:200])
    assert index.search(vectors[150], 1)[0][0] == keys[150]
    assert len(index) == n + 101
    # Deleting and re-adding the same key repeatedly does not leak slots.
    for _ in range(5):
        index.delete([a])
        index.upsert([a], vectors[10:11])
    assert len(index) == n + 101
    assert index.describe()["deleted_slots"] == 0


def test_growth_past_initial_capacity() -> None:
    index = VectorIndex(SPACE, IndexParams(initial_capacity=16))
    rng = np.random.default_rng(14)
    vectors = clustered(1500, SPACE.dim, rng)
    keys = np.arange(1500, dtype=np.int64)
    for start, size in [(0, 10), (10, 7), (17, 400), (417, 1083)]:
        index.upsert(keys[start : start + size], vectors[start : start + size])
    stats = index.describe()
    assert stats["count"] == 1500
    assert stats["capacity"] == 2048  # doubled from 16
    queries = clustered(50, SPACE.dim, rng)
    results = [index.search(q, K) for q in queries]
    assert recall(results, [brute_force(keys, vectors, q, K) for q in queries]) >= 0.95
    np.testing.assert_allclose(index.get_vectors(keys[[0, 16, 1499]]), vectors[[0, 16, 1499]], atol=1e-6)


# -- filtered search ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def filtered(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One 20k index, loaded twice: once planning every filter exactly, once through hnswlib."""
    index, keys, vectors = make_index(20_000, dim=64, seed=15)
    deleted = keys[::50]
    index.delete(deleted)
    directory = tmp_path_factory.mktemp("filtered")
    index.save(directory, catalog_seq=0)
    space = dataclasses.replace(SPACE, dim=64)
    live = np.setdiff1d(keys, deleted)
    return {
        "exact": VectorIndex.load(directory, space, IndexParams(exact_search_max=1_000_000))[0],
        "hnsw": VectorIndex.load(directory, space, IndexParams(exact_search_max=0))[0],
        "keys": keys,
        "vectors": vectors,
        "live": live,
        "deleted": deleted,
        "queries": clustered(40, 64, np.random.default_rng(16)),
    }


class _Spy:
    """Counts calls to an index's exact search."""

    def __init__(self, index: VectorIndex, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        exact = index._exact

        def counting(*args: object) -> list[tuple[int, float]]:
            self.calls += 1
            return exact(*args)

        monkeypatch.setattr(index, "_exact", counting)


@pytest.mark.parametrize("path", ["exact", "hnsw"])
@pytest.mark.parametrize("selectivity", [0.005, 0.05, 0.3])
def test_filtered_search_matches_brute_force(
    filtered: dict, path: str, selectivity: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    index: VectorIndex = filtered[path]
    spy = _Spy(index, monkeypatch)
    keys, vectors, live = filtered["keys"], filtered["vectors"], filtered["live"]
    rng = np.random.default_rng(17)
    chosen = rng.choice(len(keys), int(selectivity * len(keys)), replace=False)
    # Candidates as a caller might pass them: deleted and unknown keys mixed in.
    candidates = np.concatenate([keys[chosen], filtered["deleted"][:20], [10**9, 10**9 + 1]])
    matching = np.isin(keys, np.intersect1d(keys[chosen], live))
    results, truth = [], []
    for q in filtered["queries"]:
        result = index.search(q, K, candidates=candidates)
        assert len(result) == min(K, int(matching.sum()))
        assert_well_formed(result, K)
        assert {k for k, _ in result} <= set(keys[matching].tolist())
        results.append(result)
        truth.append(brute_force(keys[matching], vectors[matching], q, K))
    if path == "exact":
        # Exact: every score is the true similarity, and nothing better was left out.
        for q, result, want in zip(filtered["queries"], results, truth, strict=True):
            got = [k for k, _ in result]
            np.testing.assert_allclose([s for _, s in result], _scores(keys, vectors, q, got), atol=1e-5)
            assert result[-1][1] >= _scores(keys, vectors, q, want)[-1] - 1e-5
        assert spy.calls == len(filtered["queries"])
    else:
        assert recall(results, truth) >= 0.95
        assert spy.calls < len(filtered["queries"]) // 4  # mostly answered by hnswlib itself


def _scores(keys: np.ndarray, vectors: np.ndarray, q: np.ndarray, wanted: list[int]) -> list[float]:
    position = {int(k): i for i, k in enumerate(keys)}
    return [float(vectors[position[k]] @ q) for k in wanted]


@pytest.mark.parametrize("path", ["exact", "hnsw"])
def test_filtered_search_with_fewer_matches_than_k(filtered: dict, path: str) -> None:
    index: VectorIndex = filtered[path]
    keys, live = filtered["keys"], filtered["live"]
    few = np.concatenate([live[:7], filtered["deleted"][:3], [10**9]])
    q = filtered["queries"][0]
    result = index.search(q, K, candidates=few)
    assert sorted(k for k, _ in result) == sorted(live[:7].tolist())  # all 7, HNSW misses or not
    assert_well_formed(result, K)
    assert index.search(q, K, candidates=filtered["deleted"]) == []
    assert index.search(q, K, candidates=np.array([], dtype=np.int64)) == []
    # Candidates covering everything behave like an unfiltered search.
    assert len(index.search(q, K, candidates=keys)) == K


# -- concurrency -------------------------------------------------------------------------


def test_concurrent_searches_and_writes_stay_consistent() -> None:
    dim = SPACE.dim
    rng = np.random.default_rng(18)
    index = VectorIndex(SPACE, IndexParams(initial_capacity=64, ef_construction=64), num_threads=1)
    base_keys = np.arange(1000, dtype=np.int64)
    index.upsert(base_keys, clustered(1000, dim, rng))
    queries = clustered(64, dim, rng)
    stop = threading.Event()
    errors: list[BaseException] = []
    searches = [0]

    def searcher(seed: int) -> None:
        local = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                q = queries[local.integers(len(queries))]
                candidates = local.choice(1000, 50, replace=False) if local.random() < 0.3 else None
                result = index.search(q, K, candidates=candidates)
                assert_well_formed(result, K)
                assert len(result) == K  # base keys 0..999 are never deleted
                searches[0] += 1
        except BaseException as exc:
            errors.append(exc)

    # Each writer owns a key range, so its final state is known without the index.
    expected: dict[int, np.ndarray] = dict(zip(base_keys.tolist(), index.get_vectors(base_keys), strict=True))
    model_lock = threading.Lock()

    def writer(worker: int) -> None:
        local = np.random.default_rng(100 + worker)
        owned = np.arange(10_000 * (worker + 1), 10_000 * (worker + 1) + 400, dtype=np.int64)
        state: dict[int, np.ndarray] = {}
        try:
            for _ in range(60):
                batch = local.choice(owned, 20, replace=False)
                if local.random() < 0.35:
                    index.delete(batch)
                    for key in batch.tolist():
                        state.pop(key, None)
                else:
                    vectors = clustered(len(batch), dim, local)
                    index.upsert(batch, vectors)
                    state.update(zip(batch.tolist(), vectors, strict=True))
            with model_lock:
                expected.update(state)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=searcher, args=(s,)) for s in range(4)]
    threads += [threading.Thread(target=writer, args=(w,)) for w in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads[4:]:
        thread.join(timeout=120)
    stop.set()
    for thread in threads[:4]:
        thread.join(timeout=30)
    assert not errors, errors
    assert searches[0] > 0

    model_keys = np.array(sorted(expected), dtype=np.int64)
    model_vectors = np.stack([expected[k] for k in model_keys.tolist()])
    assert len(index) == len(model_keys)
    assert all(int(k) in index for k in model_keys)
    np.testing.assert_allclose(index.get_vectors(model_keys), model_vectors, atol=1e-6)
    assert index.describe()["capacity"] >= len(model_keys)
    results = [index.search(q, K) for q in queries]
    truth = [brute_force(model_keys, model_vectors, q, K) for q in queries]
    assert recall(results, truth) >= 0.95


def test_searches_wait_for_writes_and_writes_for_searches() -> None:
    index, _, vectors = make_index(200, seed=24)
    done = threading.Event()

    def search() -> None:
        index.search(vectors[0], K)
        done.set()

    with index._lock.write():  # as if an upsert were running
        thread = threading.Thread(target=search)
        thread.start()
        assert not done.wait(0.1)
    assert done.wait(10)
    thread.join()

    done.clear()
    more = clustered(1, SPACE.dim, np.random.default_rng(25))

    def upsert() -> None:
        index.upsert([123_456], more)
        done.set()

    with index._lock.read():  # as if a search were running
        thread = threading.Thread(target=upsert)
        thread.start()
        assert not done.wait(0.1)
    assert done.wait(10)
    thread.join()
    assert 123_456 in index


def test_rwlock_prefers_waiting_writer() -> None:
    lock = _RWLock()
    order: list[str] = []
    reader_in = threading.Event()
    release_reader = threading.Event()

    def first_reader() -> None:
        with lock.read():
            reader_in.set()
            release_reader.wait(10)
            order.append("reader 1 out")

    def writer() -> None:
        with lock.write():
            order.append("writer")

    def second_reader() -> None:
        with lock.read():
            order.append("reader 2")

    threads = [threading.Thread(target=first_reader)]
    threads[0].start()
    assert reader_in.wait(10)
    threads.append(threading.Thread(target=writer))
    threads[1].start()
    _wait_until(lambda: lock._writers_waiting == 1)
    threads.append(threading.Thread(target=second_reader))
    threads[2].start()
    time.sleep(0.05)
    assert order == []  # the second reader queues behind the waiting writer
    release_reader.set()
    for thread in threads:
        thread.join(10)
    assert order == ["reader 1 out", "writer", "reader 2"]


def _wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.001)


# -- bad inputs --------------------------------------------------------------------------


@pytest.fixture
def small() -> VectorIndex:
    index, _, _ = make_index(100, seed=19)
    return index


def test_rejects_bad_vectors(small: VectorIndex) -> None:
    good = clustered(2, SPACE.dim, np.random.default_rng(20))
    with pytest.raises(ValueError, match="shape"):
        small.upsert([1, 2], clustered(2, SPACE.dim + 1, np.random.default_rng(20)))
    with pytest.raises(ValueError, match="shape"):
        small.upsert([1, 2, 3], good)
    for bad_value in (np.nan, np.inf):
        bad = good.copy()
        bad[1, 3] = bad_value
        with pytest.raises(ValueError, match="NaN"):
            small.upsert([1, 2], bad)
    with pytest.raises(ValueError, match="normalised"):
        small.upsert([1, 2], good * 3)
    with pytest.raises(ValueError, match="normalised"):
        small.upsert([1, 2], np.zeros_like(good))
    with pytest.raises(ValueError):
        small.upsert([1, 2], [["a"] * SPACE.dim] * 2)
    assert len(small) == 100  # nothing half-applied


def test_rejects_bad_keys(small: VectorIndex) -> None:
    good = clustered(2, SPACE.dim, np.random.default_rng(21))
    for keys in ([-1, 2], [1, 1], [1.5, 2.0], 5, [[1, 2]]):
        with pytest.raises(ValueError):
            small.upsert(keys, good)
    with pytest.raises(ValueError):
        small.delete([-3])
    with pytest.raises(ValueError):
        small.search(good[0], K, candidates=[-1, 2])


def test_rejects_bad_queries(small: VectorIndex) -> None:
    q = clustered(1, SPACE.dim, np.random.default_rng(22))[0]
    for k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k must"):
            small.search(q, k)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        small.search(q[:-1], K)
    with pytest.raises(ValueError, match="NaN"):
        small.search(np.full(SPACE.dim, np.nan), K)
    with pytest.raises(ValueError):
        small.set_ef(0)
    assert small.search(q.astype(np.float64)[None, :], 1)  # float64, [1, dim]: converted


def test_params_and_space_are_validated() -> None:
    with pytest.raises(ValueError):
        IndexParams(M=1)
    with pytest.raises(ValueError):
        IndexParams(exact_search_max=-1)
    with pytest.raises(ValueError):
        IndexSpace(name="image/../x", model="m", model_version="v", dim=8)
    with pytest.raises(ValueError):
        IndexSpace(name="image", model="m", model_version="v", dim=0)
