"""The Milvus vector store beyond the congruence suite (tests/unit/test_vector_stores.py):
filters on awkward strings, where a store stands after it is reopened by another client,
acknowledged vectors across a server restart, dropping, and catching up from the catalog.
Marked `milvus`: they run in a loopback-only network namespace (`make test-milvus`); the
last test runs outside one and checks that LocalMilvus refuses to start there."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pymilvus import MilvusException

from server.domain import EmbeddingRow, Facets, Filter, Product, UnavailableError
from server.index import milvus_points
from server.index.copies import CopyStore
from server.index.dedup import DUPLICATE_COSINE
from server.index.exact import ExactStore
from server.index.hnsw import IndexParams
from server.index.milvus import (
    LEGACY_META,
    MilvusVectors,
    MilvusVectorStore,
    collection_name,
    expression,
    serves_persisted,
    space_json,
)
from server.index.milvus_points import MATCH_ALL, MAX_POINT_VALUES, _Load, covers, point_facets
from server.index.store import IndexSpace, StoreState, VectorRecord
from server.models.copy_descriptor import DIM, HYPOTHESES
from server.tools.local_milvus import LocalMilvus, NotIsolatedError, loopback_only
from tests.engines import seal_milvus, unique_catalog

SPACE = IndexSpace(name="image", model="test-model", model_version="v1", dim=16)
PARAMS = IndexParams(M=16, ef_construction=100, ef_search=64)
AWKWARD = [
    'say "hi"',
    "back\\slash",
    "it's",
    'both \\" of them',
    "end\\",
    "new\nline\ttab",
    "红色",
    "] or (1",
    "",
]


def unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)


class Catalog:
    """A fake catalog at `seq` holding `rows`; it records whether a store read it. `states`:
    where its stores stand, shared with an earlier fake of the same catalog."""

    def __init__(
        self,
        seq: int,
        rows: list[EmbeddingRow],
        without: list[int] | None = None,
        states: dict[str, StoreState] | None = None,
    ) -> None:
        self._seq, self.rows, self.without, self.read = seq, rows, without or [], False
        self.states = {} if states is None else states

    def seq(self) -> int:
        return self._seq

    def iter_embeddings(self, space: str) -> Iterator[list[EmbeddingRow]]:
        self.read = True
        yield from (self.rows[i : i + 100] for i in range(0, len(self.rows), 100))

    def keys_without(self, space: str) -> list[int]:
        self.read = True
        return self.without

    def store_state(self, store: str) -> StoreState | None:
        return self.states.get(store)

    def record_store_state(self, store: str, state: StoreState) -> None:
        held = self.states.get(store)
        if held is not None and held.space == state.space:
            seqs = max(held.seq, state.seq), max(held.durable_seq, state.durable_seq)
            state = StoreState(state.space, *seqs)
        self.states[store] = state

    def forget_store_state(self, store: str) -> None:
        self.states.pop(store, None)


def rows(n: int, version: str = "v1", seed: int = 0) -> list[EmbeddingRow]:
    vectors = unit(np.random.default_rng(seed).normal(size=(n, SPACE.dim)))
    return [
        EmbeddingRow(
            key, "image", "test-model", version, vectors[key], Facets.of_fields("Shoe", 1.0 * key, {})
        )
        for key in range(n)
    ]


@pytest.fixture
def backend(milvus: LocalMilvus) -> Iterator[MilvusVectors]:
    opened = MilvusVectors(milvus.uri, PARAMS)
    yield opened
    opened.close()


@pytest.mark.milvus
def test_filters_on_awkward_strings_match_exactly(backend: MilvusVectors) -> None:
    catalog = unique_catalog()
    store = MilvusVectorStore.create(backend.client, collection_name(catalog.id, SPACE.name), SPACE, PARAMS)
    reference = ExactStore(SPACE)
    vectors = unit(np.random.default_rng(3).normal(size=(len(AWKWARD) ** 2, SPACE.dim)))
    records = [
        VectorRecord(
            i,
            vectors[i],
            Facets.of(Product(id=str(i), category=c, price=float(i), attributes={a: c, "plain": a})),
        )
        for i, (c, a) in enumerate((c, a) for c in AWKWARD for a in AWKWARD)
    ]
    for each in (store, reference):
        each.upsert(records, 1)
    query = vectors[0]
    for text in AWKWARD:
        for condition in (
            Filter(categories=frozenset({text})),
            Filter(attributes=(("plain", text),)),
            Filter(attributes=((text, text),)),
            Filter(categories=frozenset({"it's", "红色"}), attributes=((text, "it's"),), max_price=60.5),
        ):
            expected = reference.search(query, 100, condition)
            assert expected, f"the test must select something: {condition}"
            assert [k for k, _ in store.search(query, 100, condition)] == [k for k, _ in expected], (
                expression(condition)
            )


@pytest.mark.milvus
def test_a_reopened_store_has_the_vectors_and_the_sequence(
    milvus: LocalMilvus, backend: MilvusVectors
) -> None:
    catalog, stored = unique_catalog(), rows(300)
    first = Catalog(7, stored)
    store, stale = backend.open(catalog, SPACE, first, copies=False)
    assert stale == [] and store.applied_seq == 7 and store.count() == 300
    store.upsert([VectorRecord(1000, stored[0].vector)], 8)
    assert store.delete([1, 2, 999_999], 9) == 2
    store.close()

    other = MilvusVectors(milvus.uri, PARAMS)  # another gateway: a new client
    try:
        assert first.states[collection_name(catalog.id, SPACE.name)].seq == 9
        source = Catalog(9, stored, states=first.states)
        reopened, stale = other.open(catalog, SPACE, source, copies=False)
        assert not source.read and stale == [], "a collection at the catalog's sequence is not rebuilt"
        assert reopened.applied_seq == 9 and reopened.count() == 299
        np.testing.assert_allclose(reopened.fetch([1000])[1000], stored[0].vector, atol=1e-6)
        assert reopened.search(stored[0].vector, 2) == [
            (0, pytest.approx(1.0, abs=1e-5)),
            (1000, pytest.approx(1.0, abs=1e-5)),
        ]
    finally:
        other.close()


@pytest.mark.milvus
def test_a_store_takes_in_what_another_gateway_applied(milvus: LocalMilvus, backend: MilvusVectors) -> None:
    catalog, stored = unique_catalog(), rows(20)
    source = Catalog(7, stored)
    mine, _ = backend.open(catalog, SPACE, source, copies=False)
    other = MilvusVectors(milvus.uri, PARAMS)  # another gateway on the same collection
    try:
        theirs, stale = other.open(catalog, SPACE, Catalog(7, stored, states=source.states), copies=False)
        assert stale == [] and theirs.count() == 20
        theirs.upsert([VectorRecord(500, stored[0].vector)], 8)
        assert mine.applied_seq == 7, "nothing is read until asked"
        assert mine.refresh_applied_seq() == 8 and mine.applied_seq == 8
        mine.upsert([VectorRecord(501, stored[1].vector)], 9)
        assert CopyStore(theirs).refresh_applied_seq() == 9, "a wrapper asks the store it wraps"
        # The recorded state of another space (another model version) is not this store's.
        name = collection_name(catalog.id, SPACE.name)
        source.states[name] = StoreState(space_json(dataclasses.replace(SPACE, model_version="v2")), 30, 30)
        again = MilvusVectorStore(backend.client, name, SPACE, PARAMS, source, 3)
        assert again.refresh_applied_seq() == 3
    finally:
        other.close()


@pytest.mark.milvus
def test_large_groups_of_identical_vectors_are_all_found(backend: MilvusVectors) -> None:
    """Ten titles shared by 200 products each, among 2,000 unique ones: as one row each,
    these strand Milvus' HNSW (bench/milvus_duplicates.py: 5 to 9 of 10 groups found)."""
    rng = np.random.default_rng(11)
    titles, others = unit(rng.normal(size=(10, SPACE.dim))), unit(rng.normal(size=(2000, SPACE.dim)))
    colours = ["red", "blue"]
    grouped = [
        EmbeddingRow(
            k,
            "image",
            "test-model",
            "v1",
            titles[k % 10],
            Facets.of_fields("Dress", 1.0, {"c": colours[k % 20 // 10]}),
        )
        for k in range(2000)
    ]
    unique = [EmbeddingRow(2000 + i, "image", "test-model", "v1", v) for i, v in enumerate(others)]
    catalog = unique_catalog()
    store, _ = backend.open(catalog, SPACE, Catalog(1, grouped + unique), copies=False)
    seal_milvus(backend.client, collection_name(catalog.id, SPACE.name))
    assert store.count() == 4000 and store.stats().parameters["distinct_vectors"] == "2010"
    for group, title in enumerate(titles):
        query = unit(title + rng.normal(size=SPACE.dim) * 0.02)
        assert [k for k, _ in store.search(query, 10)] == list(range(group, 100, 10)), group
        blue = store.search(query, 5, Filter(attributes=(("c", "blue"),)))
        assert [k for k, _ in blue] == [k for k in range(group, 2000, 10) if k % 20 >= 10][:5]
    # A rebuild groups in its own process; a write afterwards finds the point it made.
    green = Facets.of_fields("Dress", 1.0, {"c": "green"})
    store.upsert([VectorRecord(9000, titles[3], green)], 2)
    assert store.stats().parameters["distinct_vectors"] == "2010"
    greens = store.search(titles[3], 5, Filter(attributes=(("c", "green"),)))
    assert greens == [(9000, pytest.approx(1.0, abs=1e-5))]
    assert store.delete(list(range(0, 2000, 10)), 3) == 200, "group 0 emptied"
    assert all(k >= 2000 or k % 10 for k, _ in store.search(titles[0], 10)), "no deleted product comes back"


@pytest.mark.milvus
def test_a_group_growing_one_seller_at_a_time_stays_findable(backend: MilvusVectors) -> None:
    """Sixty products join one vector in writes of their own, each with a seller of its own
    and a price: its point is rewritten a bounded number of times (server/index/
    milvus_points.py `point_facets`), then matches every filter, and the members still
    filter each product."""
    rng = np.random.default_rng(12)
    shared, others = unit(rng.normal(size=(1, SPACE.dim)))[0], unit(rng.normal(size=(2000, SPACE.dim)))
    catalog = unique_catalog()
    unique = [EmbeddingRow(2000 + i, "image", "test-model", "v1", v) for i, v in enumerate(others)]
    store, _ = backend.open(catalog, SPACE, Catalog(1, unique), copies=False)
    for k in range(60):
        facets = Facets.of_fields("Dress", 3.0 * (k + 1), {"seller": f"s{k}"})
        store.upsert([VectorRecord(k, shared, facets)], 2 + k)
    seal_milvus(backend.client, collection_name(catalog.id, SPACE.name))
    assert [k for k, _ in store.search(shared, 60)] == list(range(60))
    assert [k for k, _ in store.search(shared, 3, Filter(attributes=(("seller", "s41"),)))] == [41]
    cheap = store.search(shared, 100, Filter(max_price=9.0))
    assert [k for k, _ in cheap] == [0, 1, 2]
    assert store.stats().parameters["distinct_vectors"] == "2001"


def test_point_facets_cover_their_members_and_stop_growing() -> None:
    red, blue = Facets.of_fields("Dress", 5.0, {"c": "red"}), Facets.of_fields("Shoe", 70.0, {"c": "blue"})
    first = point_facets(None, [red])
    assert covers(first, red) and first.price_range == (4.0, 16.0)
    assert covers(point_facets(first, [Facets.of_fields("Dress", 12.0, {"c": "red"})]), first)
    grown = point_facets(first, [blue])
    assert covers(grown, red) and covers(grown, blue) and grown.price_range == (4.0, 256.0)
    assert not covers(first, blue) and covers(grown, Facets.of_fields("Shoe", 200.0, {}))
    many = [Facets.of_fields("Dress", 1.0, {"seller": f"s{i}"}) for i in range(MAX_POINT_VALUES)]
    assert point_facets(None, many) == MATCH_ALL
    assert covers(MATCH_ALL, blue) and point_facets(MATCH_ALL, [red]) == MATCH_ALL


class FakePoints:
    """A fake of the points collection (unit-test double): records what is written."""

    space = SPACE

    def __init__(self) -> None:
        self.written: dict[int, VectorRecord] = {}

    def upsert(self, records: list[VectorRecord], seq: int, existing: object = None) -> None:
        assert seq == 0 and existing == (), "a rebuild writes new rows only, recording no seq"
        for record in records:
            assert record.key not in self.written, "each point is written once"
            self.written[record.key] = record


def test_a_rebuild_groups_duplicates_across_batches_in_process() -> None:
    rng = np.random.default_rng(3)
    titles, others = unit(rng.normal(size=(3, SPACE.dim))), unit(rng.normal(size=(50, SPACE.dim)))
    load, points_of = _Load(SPACE.dim), {}
    for batch in range(4):  # every title in every batch, with float noise as batching leaves
        keys = [100 * batch + t for t in range(3)] + [1000 + 10 * batch + i for i in range(10)]
        vectors = np.concatenate([unit(titles + 1e-7), others[10 * batch : 10 * batch + 10]])
        facets = [Facets.of_fields("Dress", 5.0, {"seller": f"s{k}"}) for k in keys]
        written = [VectorRecord(k, v, f) for k, v, f in zip(keys, vectors, facets, strict=True)]
        got = load.add(written, vectors)
        points_of.update(zip(keys, got, strict=True))
    assert [points_of[100 * b + t] for b in range(4) for t in range(3)] == [0, 1, 2] * 4
    assert all(points_of[k] == k for k in range(1000, 1040))
    fake = FakePoints()
    load.write_points(fake)  # type: ignore[arg-type]
    assert sorted(fake.written) == [0, 1, 2, *range(1000, 1040)]
    np.testing.assert_allclose(fake.written[1].vector, titles[1], atol=1e-5)
    sellers = {value for _, value in fake.written[2].facets.attributes}
    assert sellers == {"s2", "s102", "s202", "s302"} and fake.written[2].facets.price_range == (4.0, 16.0)


class FakeMembers:
    """A fake of the members collection (unit-test double): product key → point."""

    def __init__(self) -> None:
        self.point_of: dict[int, int] = {}

    def write(self, rows: list[tuple[int, int, Facets]], existing: object) -> None:
        for key, point, _ in rows:
            assert key not in self.point_of, "a rebuild writes each product once"
            self.point_of[key] = point


def test_a_rebuild_groups_equal_vectors_and_keeps_others_apart() -> None:
    """Equal vectors (and float noise) join one point; a vector just under
    DUPLICATE_COSINE, however close, and vectors sharing a hash bucket stay apart."""
    rng = np.random.default_rng(6)
    vectors = unit(rng.normal(size=(8, SPACE.dim)))
    vectors[2] = vectors[1]
    vectors[[5, 7]] = unit(vectors[0] + 1e-7)
    across = rng.normal(size=SPACE.dim)
    across = unit(across - (across @ vectors[3]) * vectors[3])  # orthogonal to vectors[3]
    vectors[6] = unit(vectors[3] + 0.005 * across)  # cosine 0.9999875
    assert 0.99998 < vectors[6] @ vectors[3] < DUPLICATE_COSINE
    load = _Load(SPACE.dim)
    got = load.add([VectorRecord(k, v, Facets()) for k, v in enumerate(vectors)], vectors)
    assert got == [0, 1, 1, 3, 4, 0, 6, 0]
    load._planes[:] = 0  # every vector in one bucket: found by comparing, not by the hash
    more = unit(rng.normal(size=(3, SPACE.dim)))
    got = load.add([VectorRecord(10 + k, v, Facets()) for k, v in enumerate(more)], more)
    assert got == [10, 11, 12]
    assert load.add([VectorRecord(20, more[1], Facets())], more[1:2]) == [11]


def test_a_rebuild_holds_a_bounded_window_of_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(milvus_points, "LOAD_BYTES", 25 * 4 * SPACE.dim)  # 25 vectors a window
    rng = np.random.default_rng(4)
    title, others = unit(rng.normal(size=SPACE.dim)), unit(rng.normal(size=(90, SPACE.dim)))
    points, members = FakePoints(), FakeMembers()
    store = milvus_points.MilvusPointsStore(points, members)  # type: ignore[arg-type]
    flushed: list[int] = []
    with store.loading():
        for batch in range(10):  # the title in every batch of ten
            keys = [100 * batch] + [1000 + 9 * batch + i for i in range(9)]
            vectors = np.concatenate([title[None], others[9 * batch : 9 * batch + 9]])
            store.upsert([VectorRecord(k, v, Facets()) for k, v in zip(keys, vectors, strict=True)], 0)
            flushed.append(len(points.written))
    assert flushed == [0, 0, 28, 28, 28, 56, 56, 56, 84, 84]  # a window: 28 points (≥ 25), 3 batches
    assert len(points.written) == 94  # the last window when the block ends
    assert sorted(members.point_of) == sorted([100 * b for b in range(10)] + list(range(1000, 1090)))
    title_points = {members.point_of[100 * b] for b in range(10)}
    assert title_points == {0, 300, 600, 900}  # one point per window, keyed by its first product
    assert all(members.point_of[k] == k for k in range(1000, 1090))
    assert set(members.point_of.values()) == set(points.written)


def test_a_failed_member_write_fails_the_rebuild() -> None:
    """The members are written by another thread during a rebuild: its failure still
    reaches the rebuilding caller, at a later upsert or when the block ends."""

    class FailingMembers(FakeMembers):
        """A fake of the members collection whose second write fails."""

        def write(self, rows: list[tuple[int, int, Facets]], existing: object) -> None:
            if self.point_of:
                raise MilvusException(message="insert failed")
            super().write(rows, existing)

    rng = np.random.default_rng(5)
    store = milvus_points.MilvusPointsStore(FakePoints(), FailingMembers())  # type: ignore[arg-type]
    with pytest.raises(UnavailableError, match="insert failed"), store.loading():
        for batch in range(3):
            vectors = unit(rng.normal(size=(4, SPACE.dim)))
            store.upsert([VectorRecord(10 * batch + i, v, Facets()) for i, v in enumerate(vectors)], 0)


def test_a_store_opens_once_the_query_node_serves_every_persisted_row() -> None:
    persisted = {1: 100, 2: 100, 9: 300}
    assert serves_persisted(persisted, {1, 2, 9}, {1: 100, 2: 100, 9: 300})
    # After a restart: a sealed segment not loaded yet, a growing one replayed from the log.
    assert not serves_persisted(persisted, {1, 2, 50}, {1: 100, 2: 100})
    # Compaction: 9 merged from 5, 6 and 7 (deleted rows dropped), not swapped in yet.
    assert serves_persisted(persisted, {1, 2, 5, 6, 7}, {1: 100, 2: 100, 5: 120, 6: 120, 7: 90})
    assert not serves_persisted(persisted, {1, 5, 6, 7}, {1: 100, 5: 120, 6: 120, 7: 90})


def test_a_point_that_matches_all_passes_every_filter_expression() -> None:
    everything = 'json_contains(attributes["a:*"], "all")'
    dresses = Filter(categories=frozenset({"Dress"}), max_price=5.0)
    where = expression(dresses, exclude=[3], match_all=everything)
    assert where == (
        '((array_contains_any(categories, ["Dress"])) and (has_price == true) and (price_low <= 5.0) '
        f"or {everything}) and (key not in [3])"
    )
    assert expression(Filter(), match_all=everything) == ""


@pytest.mark.milvus
def test_open_catches_up_and_returns_the_keys_to_embed_again(backend: MilvusVectors) -> None:
    catalog, first = unique_catalog(), Catalog(3, rows(50))
    backend.open(catalog, SPACE, first, copies=False)
    newer = rows(50)[:40] + rows(50, version="v0")[40:]  # ten stored by an older model
    source = Catalog(5, newer, states=first.states)
    store, stale = backend.open(catalog, SPACE, source, copies=False)
    assert source.read and sorted(stale) == list(range(40, 50))
    assert store.count() == 40 and store.applied_seq == 5
    # The same id, a new catalog (deleted and created again): never the old vectors.
    again = type(catalog)(catalog.id, "another-uid")
    store, _ = backend.open(again, SPACE, Catalog(5, []), copies=False)
    assert store.count() == 0 and store.applied_seq == 5


@pytest.mark.milvus
def test_copy_detection_works_over_milvus(backend: MilvusVectors) -> None:
    space = IndexSpace(name="copy", model="gray16", model_version="1", dim=DIM)
    descriptors = unit(np.random.default_rng(5).normal(size=(20, HYPOTHESES, DIM)))
    source = Catalog(
        2,
        [EmbeddingRow(k, "copy", "gray16", "1", descriptors[k].reshape(-1)) for k in range(20)],
        without=[99],
    )
    store, stale = backend.open(unique_catalog(), space, source, copies=True)
    assert isinstance(store, CopyStore) and stale == [99] and store.count() == 20
    found = store.search(descriptors[7][3][None, :], 3)
    assert found[0] == (7, pytest.approx(1.0, abs=1e-5))
    assert store.delete([7, 8, 500], 3) == 2 and store.count() == 18


@pytest.mark.milvus
def test_acknowledged_vectors_survive_a_restart_and_a_kill(
    milvus: LocalMilvus, backend: MilvusVectors
) -> None:
    """Milvus lost unflushed rows when it restarted twice (milvus.py, "Durability"): what
    the catalog acknowledged is back after the next open whichever rows Milvus kept."""
    catalog, stored = unique_catalog(), rows(200)
    source = Catalog(1, stored)
    store, _ = backend.open(catalog, SPACE, source, copies=False)
    store.upsert([VectorRecord(500, stored[5].vector)], 2)  # acknowledged, never flushed
    uri = milvus.uri
    milvus.restart()
    assert milvus.uri == uri, "a restarted server keeps its port"
    store.upsert([VectorRecord(501, stored[6].vector)], 3)
    milvus.kill()  # a crash: nothing flushed since the restart
    milvus.start()
    written = [
        EmbeddingRow(key, "image", "test-model", "v1", stored[i].vector, stored[i].facets)
        for key, i in ((500, 5), (501, 6))
    ]
    after = MilvusVectors(milvus.uri, PARAMS)
    try:
        reopened, stale = after.open(
            catalog, SPACE, Catalog(3, stored + written, states=source.states), copies=False
        )
        assert stale == [] and reopened.count() == 202 and reopened.applied_seq == 3
        assert sorted(reopened.fetch([500, 501])) == [500, 501]
    finally:
        after.close()


@pytest.mark.milvus
def test_a_closed_store_is_durable_and_reopens_without_a_replay(
    milvus: LocalMilvus, backend: MilvusVectors
) -> None:
    catalog, stored = unique_catalog(), rows(30)
    first = Catalog(1, stored)
    name = collection_name(catalog.id, SPACE.name)
    store, _ = backend.open(catalog, SPACE, first, copies=False)
    store.upsert([VectorRecord(500, stored[5].vector)], 2)
    assert first.states[name] == StoreState(space_json(SPACE), 2, 1), "not flushed yet"
    store.close()
    assert first.states[name] == StoreState(space_json(SPACE), 2, 2)
    milvus.restart()
    source = Catalog(2, stored, states=first.states)
    reopened, _ = MilvusVectors(milvus.uri, PARAMS).open(catalog, SPACE, source, copies=False)
    assert not source.read and reopened.count() == 31


@pytest.mark.milvus
def test_drop_removes_the_collection_and_its_sequence(backend: MilvusVectors) -> None:
    catalog, source = unique_catalog(), Catalog(4, rows(10))
    name = collection_name(catalog.id, SPACE.name)
    store, _ = backend.open(catalog, SPACE, source, copies=False)
    assert backend.client.has_collection(name) and name in source.states
    store.drop()
    assert not backend.client.has_collection(name) and name not in source.states


@pytest.mark.milvus
def test_the_meta_collection_of_older_versions_is_dropped(
    milvus: LocalMilvus, backend: MilvusVectors
) -> None:
    backend.client.create_collection(LEGACY_META, dimension=2)
    MilvusVectors(milvus.uri, PARAMS).close()
    assert not backend.client.has_collection(LEGACY_META)


def test_collection_names_are_distinct_and_valid() -> None:
    pairs = [("a-b", "c"), ("a", "b-c"), ("a-b", "c_d"), ("a", "s"), ("a-s", "x"), ("a", "_s_"), ("a", "-s-")]
    names = [collection_name(c, s) for c, s in pairs]
    assert len(set(names)) == len(names)
    assert all(n.replace("_", "").isalnum() and n.isascii() for n in names)


def test_local_milvus_refuses_outside_a_loopback_only_namespace(tmp_path: Path) -> None:
    if loopback_only():
        pytest.skip("this process is in a loopback-only namespace")
    server = LocalMilvus(tmp_path)
    with pytest.raises(NotIsolatedError, match="loopback-only"):
        server.start()
    assert not server.running and not (tmp_path / "milvus").exists()
