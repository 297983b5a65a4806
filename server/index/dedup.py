"""Products with (nearly) identical embeddings share one point, over any VectorStore.

Catalogs are full of exact duplicates: the same title on hundreds of products, the same
photo from many sellers. HNSW fills a point's neighbour lists with its duplicates (they
are at distance 0), the duplicates form islands, and greedy search stops finding whole
groups: with 300 products titled "Dress" and 300 titled "Pullover", `连衣裙` returned only
pullovers. So this store puts one point per distinct vector into the store it wraps and
keeps which products share it; a search asks for points and expands them to products.

A point carries the union of its products' facets, so the wrapped store's filter can only
over-match; each product is checked against the filter again here, and the search widens
until it has k products or the points run out.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence

import numpy as np

from server.domain import NO_FACETS, Facets, Filter
from server.index.snapshot import IndexLoadError, SnapshotReader, SnapshotWriter, snapshotting
from server.index.store import EVERYTHING, IndexSpace, StoreStats, VectorRecord, VectorStore

# Cosine above which two vectors are one point. Identical inputs embed to vectors equal up
# to float noise (batch composition changes the last bits), far above this.
DUPLICATE_COSINE = 0.99999


class DeduplicatingStore:
    """The VectorStore interface over product keys, one point per distinct vector in `points`."""

    def __init__(self, points: VectorStore) -> None:
        self._points = points
        self._point_of: dict[int, int] = {}  # product key → point id
        self._members: dict[int, set[int]] = {}  # point id → product keys
        self._facets: dict[int, Facets] = {}  # product key → its own facets
        self._next_point = 0  # point ids are never reused: no deleted-label revival in hnswlib
        self._lock = threading.Lock()  # guards the dicts; the point store has its own lock

    @property
    def space(self) -> IndexSpace:
        return self._points.space

    @property
    def applied_seq(self) -> int:
        return self._points.applied_seq

    def refresh_applied_seq(self) -> int:
        return self._points.applied_seq  # its member lists live in this process only

    # -- writes ---------------------------------------------------------------------------

    def upsert(self, records: Sequence[VectorRecord], seq: int) -> None:
        records = list({r.key: r for r in records}.values())  # the same key twice: the last wins
        if not records:
            self._points.upsert([], seq)
            return
        vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in records])
        earlier = earlier_duplicate(vectors)
        with self._lock:
            touched = self._detach([r.key for r in records], seq)
            point_of_row: list[int] = []
            new_vectors: dict[int, np.ndarray] = {}
            for row, record in enumerate(records):
                if earlier[row] >= 0:
                    point = point_of_row[earlier[row]]
                else:
                    point = self._stored_duplicate(vectors[row])
                if point is None:
                    point = self._next_point
                    self._next_point += 1
                    new_vectors[point] = vectors[row]
                    self._members[point] = set()
                point_of_row.append(point)
                self._members[point].add(record.key)
                self._point_of[record.key] = point
                self._facets[record.key] = record.facets
                touched.add(point)
            self._describe(touched, new_vectors, seq)

    def _stored_duplicate(self, vector: np.ndarray) -> int | None:
        """The stored point holding a vector equal to `vector`."""
        found = self._points.search(vector, 1)
        if found and found[0][1] >= DUPLICATE_COSINE:
            return found[0][0]
        return None

    def _describe(self, points: set[int], new_vectors: dict[int, np.ndarray], seq: int) -> None:
        """Write the points whose members changed, each with its members' facets."""
        live = sorted(p for p in points if p in self._members)
        known = self._points.fetch([p for p in live if p not in new_vectors])
        vectors = {**known, **new_vectors}
        self._points.upsert(
            [
                VectorRecord(p, vectors[p], Facets.union(self._facets[k] for k in self._members[p]))
                for p in live
            ],
            seq,
        )

    def delete(self, keys: Collection[int], seq: int) -> int:
        with self._lock:
            before = len(self._point_of)
            touched = self._detach(list(keys), seq)
            self._describe(touched, {}, seq)
            return before - len(self._point_of)

    def _detach(self, keys: list[int], seq: int) -> set[int]:
        """Take keys off their points; points left without products leave the store.
        Returns the points that keep other products (their facets changed)."""
        touched: set[int] = set()
        emptied: list[int] = []
        for key in keys:
            point = self._point_of.pop(key, None)
            self._facets.pop(key, None)
            if point is None:
                continue
            members = self._members[point]
            members.discard(key)
            if members:
                touched.add(point)
            else:
                del self._members[point]
                touched.discard(point)
                emptied.append(point)
        self._points.delete(emptied, seq)
        return touched

    # -- reads ----------------------------------------------------------------------------

    def search(
        self, query: np.ndarray, k: int, condition: Filter = EVERYTHING, exclude: Collection[int] = ()
    ) -> list[tuple[int, float]]:
        """Top-k product keys, best first; each point's products share its score (ties in
        key order)."""
        ask = k + len(exclude)
        while True:
            found = self._points.search(query, ask, condition)  # outside our lock: parallel
            hits: list[tuple[int, float]] = []
            with self._lock:
                for point, score in found:
                    for key in sorted(self._members.get(point, ())):
                        if key in exclude or not self._facets[key].matches(condition):
                            continue
                        hits.append((key, score))
                        if len(hits) == k:
                            return hits
            if len(found) < ask:  # every matching point seen
                return hits
            ask *= 2

    def fetch(self, keys: Collection[int]) -> dict[int, np.ndarray]:
        with self._lock:
            points = {key: self._point_of[key] for key in keys if key in self._point_of}
        vectors = self._points.fetch(set(points.values()))
        return {key: vectors[point] for key, point in points.items() if point in vectors}

    def count(self) -> int:
        return len(self._point_of)

    def stats(self) -> StoreStats:
        inner = self._points.stats()
        parameters = {**inner.parameters, "distinct_vectors": str(inner.count)}
        return StoreStats(inner.space, inner.engine, self.count(), parameters)

    def close(self) -> None:
        self._points.close()

    def drop(self) -> None:
        with self._lock:
            self._point_of.clear()
            self._members.clear()
            self._facets.clear()
        self._points.drop()

    # -- snapshots ------------------------------------------------------------------------

    def write_into(self, writer: SnapshotWriter) -> None:
        """The point store's snapshot plus which products share each point, and their facets."""
        with self._lock:
            pairs = np.array(sorted(self._point_of.items()), dtype=np.int64).reshape(-1, 2)
            facets = [[key, f.to_json()] for key, f in self._facets.items() if f != NO_FACETS]
            snapshotting(self._points).write_into(writer)
            writer.add_array("members", pairs)
            writer.add_json("member_facets", facets)

    @classmethod
    def read_from(cls, reader: SnapshotReader, points: VectorStore) -> DeduplicatingStore:
        """Raises IndexLoadError unless the point snapshot and its member list agree."""
        pairs = reader.array("members")
        store = cls(points)
        try:
            for key, point in pairs.reshape(-1, 2).tolist():
                store._point_of[key] = point
                store._members.setdefault(point, set()).add(key)
                store._facets[key] = NO_FACETS
            for key, value in reader.json("member_facets"):
                if key not in store._point_of:
                    raise IndexLoadError(f"facets for product {key}, which has no point")
                store._facets[key] = Facets.from_json(value)
        except (TypeError, ValueError) as error:
            raise IndexLoadError(f"member list in {reader.directory} unreadable: {error}") from error
        sample = sorted(store._members)[:: max(1, len(store._members) // 16)]
        if len(store._members) != points.count() or len(points.fetch(sample)) != len(sample):
            raise IndexLoadError(f"member list in {reader.directory} does not match the snapshot")
        store._next_point = max(store._members, default=-1) + 1
        return store


def earlier_duplicate(vectors: np.ndarray) -> np.ndarray:
    """For each row, the first earlier row with an equal vector, or -1. One matrix product
    per batch: a rebuild reads batches of thousands, and comparing row by row made the
    rebuild quadratic in the batch size."""
    same = np.tril((vectors @ vectors.T) >= DUPLICATE_COSINE, k=-1)  # earlier rows only
    return np.where(same.any(axis=1), same.argmax(axis=1), -1)
