"""Copy detection's store: each product keeps several descriptors (one per crop
hypothesis, server/models/copy_descriptor.py), in any VectorStore.

Each descriptor is a point labelled key * hypotheses + hypothesis; a product's copy score
is its best cosine over its hypotheses and the query's variants (itself, mirrored).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from server.domain import Filter
from server.index.snapshot import SnapshotWriter, snapshotting
from server.index.store import EVERYTHING, IndexSpace, StoreStats, VectorRecord, VectorStore
from server.models.copy_descriptor import DIM, HYPOTHESES

_UPSERT_CHUNK = 1024  # products per write below: a deduplicating store compares a batch in one Gram matrix


class CopyStore:
    """Product keys → their HYPOTHESES descriptors. Records carry a product's descriptors
    flattened, [HYPOTHESES * DIM], as the catalog stores them; queries are [Q, DIM]."""

    def __init__(self, labels: VectorStore) -> None:
        self._labels = labels

    @property
    def space(self) -> IndexSpace:
        return self._labels.space

    @property
    def applied_seq(self) -> int:
        return self._labels.applied_seq

    def refresh_applied_seq(self) -> int:
        return self._labels.refresh_applied_seq()

    def upsert(self, records: Sequence[VectorRecord], seq: int) -> None:
        records = list({r.key: r for r in records}.values())  # the same key twice: the last wins
        for start in range(0, max(len(records), 1), _UPSERT_CHUNK):
            chunk = records[start : start + _UPSERT_CHUNK]
            self._labels.upsert(
                [
                    VectorRecord(label, vector)
                    for record in chunk
                    for label, vector in zip(
                        _labels_of([record.key]),
                        np.asarray(record.vector, dtype=np.float32).reshape(HYPOTHESES, DIM),
                        strict=True,
                    )
                ],
                seq,
            )

    def delete(self, keys: Collection[int], seq: int) -> int:
        return self._labels.delete(_labels_of(list(keys)), seq) // HYPOTHESES

    def search(
        self, query: np.ndarray, k: int, condition: Filter = EVERYTHING, exclude: Collection[int] = ()
    ) -> list[tuple[int, float]]:
        """Top-k product keys by their best cosine to any of the query variants ([Q, DIM],
        e.g. from `query_descriptors`) under any hypothesis; best first, ties by key.
        Descriptors carry no facets: only the empty filter matches.

        The index finds the products; their scores are then taken from all their stored
        descriptors: an approximate walk may reach a copy through a lesser hypothesis (a CI
        run found one at 0.983 whose best was 1.0), which would put it under the threshold."""
        variants = np.atleast_2d(query)
        best: dict[int, float] = {}
        excluded = _labels_of(list(exclude))
        for variant in variants:
            # Each product may fill HYPOTHESES of the labels found.
            for label, score in self._labels.search(variant, k * HYPOTHESES, condition, excluded):
                key = label // HYPOTHESES
                if score > best.get(key, -2.0):
                    best[key] = score
        found = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]
        stored = self.fetch([key for key, _ in found])
        exact = [
            (
                key,
                float((stored[key].reshape(HYPOTHESES, DIM) @ variants.T).max()) if key in stored else score,
            )
            for key, score in found
        ]
        return sorted(exact, key=lambda item: (-item[1], item[0]))

    def fetch(self, keys: Collection[int]) -> dict[int, np.ndarray]:
        keys = list(keys)
        found = self._labels.fetch(_labels_of(keys))
        return {
            key: np.concatenate([found[label] for label in _labels_of([key])])
            for key in keys
            if all(label in found for label in _labels_of([key]))
        }

    def count(self) -> int:
        return self._labels.count() // HYPOTHESES

    def stats(self) -> StoreStats:
        inner = self._labels.stats()
        parameters = {**inner.parameters, "descriptors": str(inner.count), "hypotheses": str(HYPOTHESES)}
        return StoreStats(inner.space, inner.engine, self.count(), parameters)

    def close(self) -> None:
        self._labels.close()

    def drop(self) -> None:
        self._labels.drop()

    def write_into(self, writer: SnapshotWriter) -> None:
        snapshotting(self._labels).write_into(writer)


def _labels_of(keys: Sequence[int]) -> list[int]:
    return [key * HYPOTHESES + hypothesis for key in keys for hypothesis in range(HYPOTHESES)]
