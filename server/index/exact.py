"""Brute-force search over every stored vector: the reference that the congruence tests
compare every other VectorStore with (and a correct store for small catalogs)."""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence

import numpy as np

from server.domain import Facets, Filter
from server.index.store import EVERYTHING, IndexSpace, StoreStats, VectorRecord


class ExactStore:
    engine = "exact"

    def __init__(self, space: IndexSpace) -> None:
        self._space = space
        self._vectors: dict[int, np.ndarray] = {}
        self._facets: dict[int, Facets] = {}
        self._applied_seq = 0
        self._lock = threading.Lock()
        self._matrix: tuple[np.ndarray, np.ndarray] | None = None  # (keys, vectors), rebuilt after writes

    @property
    def space(self) -> IndexSpace:
        return self._space

    @property
    def applied_seq(self) -> int:
        return self._applied_seq

    def refresh_applied_seq(self) -> int:
        return self._applied_seq

    def upsert(self, records: Sequence[VectorRecord], seq: int) -> None:
        with self._lock:
            for record in records:
                vector = np.asarray(record.vector, dtype=np.float32)
                if vector.shape != (self._space.dim,):
                    raise ValueError(f"vectors must have shape ({self._space.dim},), got {vector.shape}")
                self._vectors[record.key] = vector / np.linalg.norm(vector)
                self._facets[record.key] = record.facets
            self._applied_seq = max(self._applied_seq, seq)
            self._matrix = None

    def delete(self, keys: Collection[int], seq: int) -> int:
        with self._lock:
            removed = sum(self._vectors.pop(key, None) is not None for key in keys)
            for key in keys:
                self._facets.pop(key, None)
            self._applied_seq = max(self._applied_seq, seq)
            self._matrix = None
            return removed

    def search(
        self, query: np.ndarray, k: int, condition: Filter = EVERYTHING, exclude: Collection[int] = ()
    ) -> list[tuple[int, float]]:
        with self._lock:
            if self._matrix is None:
                keys = np.fromiter(self._vectors, np.int64, len(self._vectors))
                vectors = (
                    np.stack(list(self._vectors.values())) if len(keys) else np.zeros((0, self._space.dim))
                )
                self._matrix = keys, vectors.astype(np.float32)
            keys, vectors = self._matrix
            if not condition.is_empty() or exclude:
                allowed = [
                    i
                    for i, key in enumerate(keys.tolist())
                    if key not in exclude and self._facets[key].matches(condition)
                ]
                keys, vectors = keys[allowed], vectors[allowed]
        scores = vectors @ np.asarray(query, dtype=np.float32)
        order = np.lexsort((keys, -scores))[:k]  # by score, then key
        return [(int(key), float(score)) for key, score in zip(keys[order], scores[order], strict=True)]

    def fetch(self, keys: Collection[int]) -> dict[int, np.ndarray]:
        with self._lock:
            return {key: self._vectors[key].copy() for key in keys if key in self._vectors}

    def count(self) -> int:
        return len(self._vectors)

    def stats(self) -> StoreStats:
        return StoreStats(self._space, self.engine, self.count())

    def close(self) -> None:
        """Nothing to persist: it lives in memory."""

    def drop(self) -> None:
        with self._lock:
            self._vectors.clear()
            self._facets.clear()
