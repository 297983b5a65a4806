"""Products with (nearly) identical embeddings share one HNSW point.

Catalogs are full of exact duplicates: the same title on hundreds of products, the same
photo from many sellers. hnswlib fills a point's neighbour lists with its duplicates (they
are at distance 0), the duplicates form islands, and greedy search stops finding whole
groups: with 300 products titled "Dress" and 300 titled "Pullover", `连衣裙` returned only
pullovers. So this index puts one point in the graph per distinct vector and keeps which
products share it; a search asks the graph for points and expands them to products.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from server.index import DEFAULT_PARAMS, IndexLoadError, IndexParams, IndexSpace, VectorIndex

_LOGGER = logging.getLogger(__name__)

# Cosine above which two vectors are one point. Identical inputs embed to vectors equal up
# to float noise (batch composition changes the last bits), far above this.
DUPLICATE_COSINE = 0.99999


class DeduplicatingIndex:
    """The VectorIndex interface over product keys, with one graph point per distinct vector."""

    def __init__(self, points: VectorIndex) -> None:
        self._points = points
        self._point_of: dict[int, int] = {}  # product key → point id
        self._members: dict[int, set[int]] = {}  # point id → product keys
        self._next_point = 0  # point ids are never reused: no deleted-label revival in hnswlib
        self._lock = threading.Lock()  # guards the two dicts; the point index has its own lock

    @classmethod
    def create(cls, space: IndexSpace, params: IndexParams = DEFAULT_PARAMS) -> DeduplicatingIndex:
        return cls(VectorIndex(space, params))

    @property
    def space(self) -> IndexSpace:
        return self._points.space

    def __len__(self) -> int:
        return len(self._point_of)

    def __contains__(self, key: object) -> bool:
        return key in self._point_of

    # -- writes ---------------------------------------------------------------------------

    def upsert(self, keys: Sequence[int] | np.ndarray, vectors: np.ndarray) -> None:
        keys = [int(k) for k in keys]
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys for {len(vectors)} vectors")
        with self._lock:
            self._detach(keys)
            new_points: list[int] = []
            new_vectors: list[np.ndarray] = []
            for key, vector in zip(keys, vectors, strict=True):
                point = self._duplicate_of(vector, new_points, new_vectors)
                if point is None:
                    point = self._next_point
                    self._next_point += 1
                    new_points.append(point)
                    new_vectors.append(vector)
                    self._members[point] = set()
                self._members[point].add(key)
                self._point_of[key] = point
            if new_points:
                self._points.upsert(np.array(new_points), np.stack(new_vectors))

    def _duplicate_of(self, vector: np.ndarray, batch_points: list[int], batch_vectors: list[np.ndarray]):
        """The point holding a vector equal to `vector`, in the graph or earlier in this batch."""
        if batch_vectors:
            scores = np.stack(batch_vectors) @ vector
            best = int(scores.argmax())
            if scores[best] >= DUPLICATE_COSINE:
                return batch_points[best]
        if len(self._points):
            ((point, score),) = self._points.search(vector, 1)
            if score >= DUPLICATE_COSINE:
                return point
        return None

    def delete(self, keys: Sequence[int] | np.ndarray) -> int:
        with self._lock:
            return self._detach([int(k) for k in keys])

    def _detach(self, keys: list[int]) -> int:
        """Take keys off their points; points left without products leave the graph."""
        emptied, detached = [], 0
        for key in keys:
            point = self._point_of.pop(key, None)
            if point is None:
                continue
            detached += 1
            members = self._members[point]
            members.discard(key)
            if not members:
                del self._members[point]
                emptied.append(point)
        if emptied:
            self._points.delete(emptied)
        return detached

    def set_ef(self, ef: int) -> None:
        self._points.set_ef(ef)

    # -- reads ----------------------------------------------------------------------------

    def search(
        self, query: np.ndarray, k: int, candidates: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k product keys, best first; each point's products share its score (ties in
        key order). With `candidates`, only those keys."""
        allowed = None
        with self._lock:
            if candidates is not None:
                allowed = {int(c) for c in candidates}
                points = {self._point_of.get(c) for c in allowed} - {None}
                if not points:
                    return []
                candidate_points = np.fromiter(points, dtype=np.int64, count=len(points))
        # Outside our lock: searches run in parallel in the point index.
        if allowed is None:
            found = self._points.search(query, k)
        else:
            found = self._points.search(query, k, candidate_points)
        hits: list[tuple[int, float]] = []
        with self._lock:
            for point, score in found:
                members = self._members.get(point, set())
                for key in sorted(members if allowed is None else allowed.intersection(members)):
                    hits.append((key, score))
                    if len(hits) == k:
                        return hits
        return hits

    def get_vectors(self, keys: Sequence[int]) -> np.ndarray:
        with self._lock:
            points = [self._point_of[int(k)] for k in keys]
        return self._points.get_vectors(points)

    def describe(self) -> dict[str, Any]:
        """The point index's description, with `count` in products."""
        description = self._points.describe()
        description["distinct_vectors"] = description["count"]
        description["count"] = len(self._point_of)
        return description

    # -- snapshots ------------------------------------------------------------------------

    def save(self, directory: Path, catalog_seq: int) -> None:
        """The point index's snapshot plus which products share each point."""
        with self._lock:
            pairs = np.array(sorted(self._point_of.items()), dtype=np.int64).reshape(-1, 2)
            self._points.save(directory, catalog_seq)
            path = _members_path(directory, self.space, catalog_seq)
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as handle:
                np.save(handle, pairs, allow_pickle=False)
            tmp.replace(path)
            for stale in Path(directory).glob(f"{self.space.name}.members.*.npy"):
                if stale != path:
                    stale.unlink(missing_ok=True)

    @classmethod
    def load(
        cls, directory: Path, space: IndexSpace, params: IndexParams = DEFAULT_PARAMS
    ) -> tuple[DeduplicatingIndex, int]:
        """Raises IndexLoadError unless the point snapshot and its member list agree."""
        points, seq = VectorIndex.load(directory, space, params)
        path = _members_path(directory, space, seq)
        try:
            pairs = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise IndexLoadError(f"member list {path} missing or unreadable: {error}") from error
        index = cls(points)
        for key, point in pairs.tolist():
            index._point_of[key] = point
            index._members.setdefault(point, set()).add(key)
        if len(index._members) != len(points) or any(p not in points for p in index._members):
            raise IndexLoadError(f"member list {path} does not match the snapshot")
        index._next_point = max(index._members, default=-1) + 1
        return index, seq


def _members_path(directory: Path, space: IndexSpace, catalog_seq: int) -> Path:
    return Path(directory) / f"{space.name}.members.{catalog_seq}.npy"
