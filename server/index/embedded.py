"""The embedded vector engine: hnswlib in the gateway's process, snapshots on local disk.

`HnswStore` is the VectorStore over one hnswlib index (server/index/hnsw.py) plus the
postings of its vectors' facets, so that a filter becomes a candidate set: small sets are
searched exactly, larger ones through hnswlib's filter (with an exact fallback).

`open_embedded` opens one space of one catalog: the stack of stores it needs (identical
vectors share a point; copy detection stores several descriptors per product), loaded from
its snapshot when that snapshot is as recent as the catalog, else rebuilt from the catalog.
The returned `EmbeddedStore` writes a new snapshot when closed, and removes its snapshot
on disk when products are deleted (that snapshot is behind the catalog from then on, so it
would never be loaded, and it still holds the deleted products' vectors and facets).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from server.domain import NO_FACETS, CatalogInfo, Facets, Filter
from server.index.copies import CopyStore
from server.index.dedup import DeduplicatingStore
from server.index.hnsw import IndexParams, VectorIndex
from server.index.postings import FacetPostings
from server.index.snapshot import IndexLoadError, SnapshotReader, SnapshotWriter, remove_snapshot
from server.index.store import EVERYTHING, EmbeddingSource, IndexSpace, StoreStats, VectorRecord, VectorStore

_LOGGER = logging.getLogger(__name__)

# Vectors equal to within this are the same: an upsert that changes only facets (a shared
# point gaining a product of another category) leaves the graph alone.
_SAME_VECTOR = 1e-6


class HnswStore:
    """A VectorStore on one in-process hnswlib index, with facet postings for filters."""

    engine = "hnswlib"

    def __init__(self, index: VectorIndex, postings: FacetPostings | None = None, applied_seq: int = 0):
        self._index = index
        self._postings = postings or FacetPostings()
        self._applied_seq = applied_seq

    @classmethod
    def create(cls, space: IndexSpace, params: IndexParams) -> HnswStore:
        return cls(VectorIndex(space, params))

    @property
    def space(self) -> IndexSpace:
        return self._index.space

    @property
    def applied_seq(self) -> int:
        return self._applied_seq

    def refresh_applied_seq(self) -> int:
        return self._applied_seq

    def upsert(self, records: Sequence[VectorRecord], seq: int) -> None:
        if records:
            keys = np.array([r.key for r in records], dtype=np.int64)
            vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in records])
            stored = self._index.fetch(keys)
            changed = [
                i
                for i, key in enumerate(keys.tolist())
                if key not in stored or np.abs(stored[key] - vectors[i]).max() > _SAME_VECTOR
            ]
            if changed:
                self._index.upsert(keys[changed], vectors[changed])
            for record in records:
                self._set_facets(record.key, record.facets)
        self._applied_seq = max(self._applied_seq, seq)

    def _set_facets(self, key: int, facets: Facets) -> None:
        if facets == NO_FACETS:  # nothing a filter can match: not worth a posting (copy labels)
            self._postings.remove(key)
        else:
            self._postings.set(key, facets)

    def delete(self, keys: Collection[int], seq: int) -> int:
        for key in keys:
            self._postings.remove(key)
        removed = self._index.delete(list(keys)) if keys else 0
        self._applied_seq = max(self._applied_seq, seq)
        return removed

    def search(
        self, query: np.ndarray, k: int, condition: Filter = EVERYTHING, exclude: Collection[int] = ()
    ) -> list[tuple[int, float]]:
        candidates = self._postings.candidates(condition)
        if not exclude:
            return self._index.search(query, k, candidates)
        if candidates is not None:
            candidates = np.setdiff1d(candidates, np.fromiter(exclude, np.int64), assume_unique=True)
            return self._index.search(query, k, candidates)
        hits = self._index.search(query, k + len(exclude))
        return [hit for hit in hits if hit[0] not in exclude][:k]

    def fetch(self, keys: Collection[int]) -> dict[int, np.ndarray]:
        return self._index.fetch(list(keys))

    def count(self) -> int:
        return len(self._index)

    def stats(self) -> StoreStats:
        description = self._index.describe()
        params = description["params"]
        return StoreStats(
            self.space,
            self.engine,
            description["count"],
            {
                "M": str(params["M"]),
                "ef_construction": str(params["ef_construction"]),
                "ef_search": str(params["ef_search"]),
                "exact_search_max": str(params["exact_search_max"]),
                "capacity": str(description["capacity"]),
                "deleted_slots": str(description["deleted_slots"]),
            },
        )

    def set_ef(self, ef: int) -> None:
        self._index.set_ef(ef)

    def close(self) -> None:
        """Nothing to release: the snapshot is written by EmbeddedStore."""

    def drop(self) -> None:
        self._index = VectorIndex(self.space, self._index.params)
        self._postings = FacetPostings()

    # -- snapshots ------------------------------------------------------------------------

    def write_into(self, writer: SnapshotWriter) -> None:
        self._index.write_into(writer)
        writer.add_json("facets", [[key, facets.to_json()] for key, facets in self._postings.items()])

    @classmethod
    def read_from(cls, reader: SnapshotReader, space: IndexSpace, params: IndexParams) -> HnswStore:
        index = VectorIndex.read_from(reader, space, params)
        index.set_ef(params.ef_search)  # the configured ef wins over the saved one
        postings = FacetPostings()
        try:
            for key, value in reader.json("facets"):
                if key not in index:
                    raise IndexLoadError(f"facets of key {key} but no such vector in {reader.directory}")
                postings.set(int(key), Facets.from_json(value))
        except (TypeError, ValueError) as error:
            raise IndexLoadError(
                f"facets of {space.name} in {reader.directory} unreadable: {error}"
            ) from error
        return cls(index, postings, reader.catalog_seq)


class _Snapshotting(VectorStore, Protocol):
    def write_into(self, writer: SnapshotWriter) -> None: ...


class EmbeddedStore:
    """The stack of one embedded space (see `open_embedded`) and where it is snapshotted:
    every call goes to the stack; `close()` writes a snapshot at the applied sequence."""

    def __init__(self, stack: _Snapshotting, directory: Path) -> None:
        self.stack = stack
        self.directory = Path(directory)

    @property
    def space(self) -> IndexSpace:
        return self.stack.space

    @property
    def applied_seq(self) -> int:
        return self.stack.applied_seq

    def refresh_applied_seq(self) -> int:
        return self.stack.applied_seq

    def upsert(self, records: Sequence[VectorRecord], seq: int) -> None:
        self.stack.upsert(records, seq)

    def delete(self, keys: Collection[int], seq: int) -> int:
        removed = self.stack.delete(keys, seq)
        if keys:
            try:
                remove_snapshot(self.directory, self.space.name)
            except OSError as error:
                _LOGGER.warning("stale snapshot in %s not removed (%s)", self.directory, error)
        return removed

    def search(
        self, query: np.ndarray, k: int, condition: Filter = EVERYTHING, exclude: Collection[int] = ()
    ) -> list[tuple[int, float]]:
        return self.stack.search(query, k, condition, exclude)

    def fetch(self, keys: Collection[int]) -> dict[int, np.ndarray]:
        return self.stack.fetch(keys)

    def count(self) -> int:
        return self.stack.count()

    def stats(self) -> StoreStats:
        return self.stack.stats()

    def checkpoint(self) -> None:
        """Write a snapshot now, if the data directory lets us: a snapshot only spares the
        next start a rebuild from the catalog, so a full or read-only disk must not stop
        the gateway. Callers hold off writes meanwhile."""
        started = time.perf_counter()
        try:
            writer = SnapshotWriter(self.directory, self.space.name, self.applied_seq)
            self.stack.write_into(writer)
            writer.commit()
        except (OSError, RuntimeError) as error:
            _LOGGER.warning(
                "index snapshot not saved to %s (%s): the next start rebuilds it", self.directory, error
            )
            return
        _LOGGER.info(
            "%s index: snapshot of %d at seq %d in %.1f s",
            self.space.name,
            self.count(),
            self.applied_seq,
            time.perf_counter() - started,
        )

    def close(self) -> None:
        self.checkpoint()
        self.stack.close()

    def drop(self) -> None:
        self.stack.drop()


def _create(space: IndexSpace, params: IndexParams, copies: bool) -> _Snapshotting:
    points = DeduplicatingStore(HnswStore.create(space, params))
    return CopyStore(points) if copies else points


def _read(reader: SnapshotReader, space: IndexSpace, params: IndexParams, copies: bool) -> _Snapshotting:
    points = DeduplicatingStore.read_from(reader, HnswStore.read_from(reader, space, params))
    return CopyStore(points) if copies else points


def open_embedded(
    directory: Path, space: IndexSpace, params: IndexParams, catalog: EmbeddingSource, copies: bool = False
) -> tuple[EmbeddedStore, list[int]]:
    """Open one space: its snapshot when it is at the catalog's sequence, else a rebuild
    from the catalog's stored embeddings. Returns the store and the keys to embed again
    (stored by another model version, or never described in this space)."""
    seq = catalog.seq()
    try:
        reader = SnapshotReader(directory, space.name)
        if reader.catalog_seq == seq:
            store = EmbeddedStore(_read(reader, space, params, copies), directory)
            _LOGGER.info("%s index: loaded snapshot of %d vectors", space.name, store.count())
            return store, []
        _LOGGER.info(
            "%s index: snapshot at seq %d, catalog at %d: rebuilding", space.name, reader.catalog_seq, seq
        )
    except IndexLoadError as error:
        _LOGGER.info("%s index: %s: rebuilding from the catalog", space.name, error)
    store = EmbeddedStore(_create(space, params, copies), directory)
    stale: list[int] = []
    if copies:  # products stored before copy detection existed
        stale.extend(catalog.keys_without(space.name))
    model = (space.model, space.model_version)
    for rows in catalog.iter_embeddings(space.name):
        stale.extend(row.key for row in rows if (row.model, row.model_version) != model)
        current = [
            VectorRecord(r.key, r.vector, r.facets) for r in rows if (r.model, r.model_version) == model
        ]
        store.upsert(current, seq)
    store.upsert([], seq)  # an empty catalog is at its sequence too
    _LOGGER.info("%s index: rebuilt with %d vectors (%d to re-embed)", space.name, store.count(), len(stale))
    store.checkpoint()
    return store, stale


class EmbeddedVectors:
    """The embedded VectorBackend: each catalog's spaces in its own folder."""

    def __init__(self, directory_of: Callable[[CatalogInfo], Path], params: IndexParams) -> None:
        self.directory_of = directory_of
        self.params = params

    def open(
        self, catalog: CatalogInfo, space: IndexSpace, source: EmbeddingSource, copies: bool
    ) -> tuple[EmbeddedStore, list[int]]:
        return open_embedded(
            self.directory_of(catalog) / "indexes" / space.name, space, self.params, source, copies
        )
