"""One HNSW index per embedding space (hnswlib), with exact search where HNSW is weak.

Vectors are L2-normalised float32, so inner product is cosine similarity: the index uses
hnswlib's ``space="ip"`` and reports ``score = 1 - distance``. Keys are non-negative int64
product ids.

Besides the hnswlib graph, the index keeps its own row-major copy of the live vectors:
``hnswlib.Index.get_items`` costs ~60 µs per 512-d item in 0.8.0, far too slow for exact
search over filter candidates or for ``get_vectors``. This doubles the memory per vector
(and the snapshot on disk), in exchange for exact filtered search at numpy speed.

Deleted vectors do not reach the disk: hnswlib keeps a marked-deleted element's vector (it
still routes searches) and ``save_index`` writes it, so every snapshot's graph file has the
vectors of its deleted elements zeroed (`erase_deleted_vectors`) before it is hashed, and
the freed rows of our copy are zeroed at once. A zeroed element is a dead end for searches
until a new key reuses its slot (with 1 % of 20k clustered 1280-d vectors deleted, recall@10
at ef 64 went 0.885 → 0.881; with 10 %, 0.890 → 0.865).

Thread safety: hnswlib's ``add_items`` is not safe alongside ``knn_query`` or
``resize_index``, so every method takes one readers-writer lock (searches share it, writes
own it). hnswlib releases the GIL inside ``knn_query`` and ``add_items``, so searches run in
parallel from ``asyncio.to_thread`` workers.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import itertools
import logging
import math
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np

from server.index.snapshot import IndexLoadError, SnapshotReader, SnapshotWriter
from server.index.store import IndexSpace

_LOGGER = logging.getLogger(__name__)

# Vectors whose norm is further than this from 1 are rejected as not normalised (a bug
# upstream); closer ones are renormalised so inner product stays a cosine.
_NORM_TOLERANCE = 1e-2
# Rows gathered per matrix product in exact search: a copy small enough to stay in cache
# (4 MiB at 512-d); the gather, not the product, is what exact search costs.
_EXACT_CHUNK_ROWS = 2048
# Filter membership as a boolean mask indexed by key when keys are this dense, else a set.
_MASK_MIN_BYTES = 1 << 20
_MASK_BYTES_PER_CANDIDATE = 8
_SPACE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# hnswlib's index file (hnswalg.h saveIndex, stable since 0.5): a header of six size_t
# (offsetLevel0, max_elements, cur_element_count, size_data_per_element, label_offset,
# offsetData), int maxlevel, uint enterpoint, size_t maxM, maxM0, M, double mult, size_t
# ef_construction; then cur_element_count elements of [level-0 links | vector | label],
# the links led by a uint whose third byte carries the deleted mark.
_HNSW_HEADER_BYTES = 96
_HNSW_MAX_M0_AT = 64
_HNSW_DELETE_MARK = 0x01


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class IndexParams:
    """HNSW parameters and the filtered-search plan.

    ``exact_search_max``: filtered queries over at most this many candidates run exactly
    (numpy); larger candidate sets go through hnswlib's filter, with an exact fallback.
    """

    M: int = 16
    ef_construction: int = 200
    ef_search: int = 64
    initial_capacity: int = 1024
    exact_search_max: int = 20_000

    def __post_init__(self) -> None:
        for name, minimum in (("M", 2), ("ef_construction", 1), ("ef_search", 1), ("initial_capacity", 1)):
            _check_int(name, getattr(self, name), minimum)
        _check_int("exact_search_max", self.exact_search_max, 0)


DEFAULT_PARAMS = IndexParams()


class _Guard:
    """A context manager calling ``enter`` and ``exit``; class-based because it is on every query."""

    __slots__ = ("_enter", "_exit")

    def __init__(self, enter: Callable[[], None], exit_: Callable[[], None]) -> None:
        self._enter = enter
        self._exit = exit_

    def __enter__(self) -> None:
        self._enter()

    def __exit__(self, *exc_info: object) -> None:
        self._exit()


class _RWLock:
    """Readers-writer lock: many readers or one writer, writer-preferring.

    New readers wait while a writer waits, so a stream of searches cannot starve an
    upsert. Not reentrant: a thread must not take it again while holding it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0
        self._read = _Guard(self._acquire_read, self._release_read)
        self._write = _Guard(self._acquire_write, self._release_write)

    def read(self) -> _Guard:
        """``with lock.read():`` shared access."""
        return self._read

    def write(self) -> _Guard:
        """``with lock.write():`` exclusive access."""
        return self._write

    def _acquire_read(self) -> None:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1

    def _release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    def _acquire_write(self) -> None:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True

    def _release_write(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()


# Items in one add from which hnswlib builds with every core.
_BULK_ADD = 1024


class VectorIndex:
    """HNSW index over one embedding space: cosine top-k with filters, upserts, deletes, snapshots."""

    def __init__(self, space: IndexSpace, params: IndexParams = DEFAULT_PARAMS, num_threads: int = 1) -> None:
        if not isinstance(space, IndexSpace):
            raise TypeError(f"space must be an IndexSpace, got {type(space).__name__}")
        if not isinstance(params, IndexParams):
            raise TypeError(f"params must be IndexParams, got {type(params).__name__}")
        if num_threads != -1:
            _check_int("num_threads", num_threads, 1)
        self._space = space
        self._params = params
        self._num_threads = num_threads
        self._lock = _RWLock()
        self._save_lock = threading.Lock()  # one snapshot at a time per index
        capacity = params.initial_capacity
        self._index = hnswlib.Index(space="ip", dim=space.dim)
        # allow_replace_deleted: new keys reuse the slots of deleted ones instead of growing.
        self._index.init_index(
            max_elements=capacity,
            M=params.M,
            ef_construction=params.ef_construction,
            allow_replace_deleted=True,
        )
        self._index.set_ef(params.ef_search)
        self._index.set_num_threads(self._num_threads)
        self._ef = params.ef_search
        # Our copy of the vectors, by row; rows are independent of hnswlib's internal slots.
        self._vectors = np.zeros((capacity, space.dim), dtype=np.float32)
        self._row_keys = np.full(capacity, -1, dtype=np.int64)  # key by row, -1 = free
        self._row_of: dict[int, int] = {}  # live key -> row
        self._free_rows: list[int] = []
        self._rows_used = 0  # high-water mark of rows ever handed out
        self._max_key = -1
        # Deleted keys whose hnswlib slot may still carry the label (it is lost once
        # another key reuses the slot); re-adding one must unmark it, not add it.
        self._deleted: set[int] = set()

    @property
    def space(self) -> IndexSpace:
        """The embedding space this index holds."""
        return self._space

    @property
    def params(self) -> IndexParams:
        """Parameters in effect, with ``ef_search`` as currently set."""
        return dataclasses.replace(self._params, ef_search=self._ef)

    # -- writes --------------------------------------------------------------------------

    def upsert(self, keys: np.ndarray | Sequence[int], vectors: np.ndarray) -> None:
        """Add or replace vectors by key.

        ``vectors`` is float32-convertible ``[n, dim]``, L2-normalised. An existing key's
        vector is replaced; a deleted key comes back. Capacity doubles when full.
        """
        key_array = _as_keys(keys)
        if len(np.unique(key_array)) != len(key_array):
            raise ValueError("keys in one upsert must be unique")
        vecs = self._as_vectors(vectors, rows=len(key_array))
        if not len(key_array):
            return
        with self._lock.write():
            self._upsert_locked(key_array, vecs)

    def _add_threads(self, items: int) -> int:
        """A bulk add (a rebuild at start, a catch-up) uses every core: searches of this
        index wait for the write lock anyway, and one thread made a rebuild at 100k
        products take minutes. Everyday batches keep the configured threads."""
        return len(os.sched_getaffinity(0)) if items >= _BULK_ADD else self._num_threads

    def _upsert_locked(self, keys: np.ndarray, vecs: np.ndarray) -> None:
        update: list[int] = []  # positions of keys hnswlib holds live (after unmarking)
        new: list[int] = []  # positions of keys hnswlib does not know
        revived = 0
        for pos, key in enumerate(keys.tolist()):
            if key in self._row_of:
                update.append(pos)
            elif key in self._deleted:
                self._deleted.discard(key)
                try:
                    # With allow_replace_deleted, add_items refuses a deleted label: unmark it first.
                    self._index.unmark_deleted(key)
                except RuntimeError:
                    # "Label not found": another key has taken over its slot.
                    new.append(pos)
                else:
                    update.append(pos)
                    revived += 1
            else:
                new.append(pos)

        reusable = self._index.get_current_count() - len(self._row_of) - revived
        required = self._index.get_current_count() + max(0, len(new) - reusable)
        self._ensure_capacity(required)

        if update:
            idx = np.asarray(update)
            self._index.add_items(vecs[idx], keys[idx], num_threads=self._add_threads(len(idx)))
        if new:
            idx = np.asarray(new)
            # replace_deleted only for labels hnswlib does not hold: for a live label it would
            # take a free slot and leave the old one live too (a duplicate in results).
            self._index.add_items(
                vecs[idx], keys[idx], num_threads=self._add_threads(len(idx)), replace_deleted=True
            )

        rows = np.empty(len(keys), dtype=np.int64)
        for pos, key in enumerate(keys.tolist()):
            row = self._row_of.get(key)
            if row is None:
                row = self._free_rows.pop() if self._free_rows else self._take_new_row()
                self._row_of[key] = row
                self._row_keys[row] = key
            rows[pos] = row
        self._vectors[rows] = vecs
        self._max_key = max(self._max_key, int(keys.max()))

    def _take_new_row(self) -> int:
        row = self._rows_used
        self._rows_used += 1
        return row

    def _ensure_capacity(self, required: int) -> None:
        capacity = self._index.get_max_elements()
        if required <= capacity:
            return
        new_capacity = capacity
        while new_capacity < required:
            new_capacity *= 2
        _LOGGER.info("index %s: growing capacity %d -> %d", self._space.name, capacity, new_capacity)
        self._index.resize_index(new_capacity)
        self._resize_rows(new_capacity)

    def _resize_rows(self, capacity: int) -> None:
        if capacity <= len(self._row_keys):
            return
        vectors = np.zeros((capacity, self._space.dim), dtype=np.float32)
        vectors[: self._rows_used] = self._vectors[: self._rows_used]
        row_keys = np.full(capacity, -1, dtype=np.int64)
        row_keys[: self._rows_used] = self._row_keys[: self._rows_used]
        self._vectors, self._row_keys = vectors, row_keys

    def delete(self, keys: np.ndarray | Sequence[int]) -> int:
        """Delete keys; unknown or already deleted keys are ignored. Returns how many were present."""
        key_array = np.unique(_as_keys(keys))
        removed = 0
        with self._lock.write():
            for key in key_array.tolist():
                row = self._row_of.pop(key, None)
                if row is None:
                    continue
                self._index.mark_deleted(key)  # its slot is reused by the next new key
                self._vectors[row] = 0.0
                self._row_keys[row] = -1
                self._free_rows.append(row)
                self._deleted.add(key)
                removed += 1
            self._prune_deleted()
        return removed

    def _prune_deleted(self) -> None:
        # Labels evicted by slot reuse stay in _deleted until re-added; bound the set by
        # re-reading which labels hnswlib still holds once it is much larger than needed.
        reusable = self._index.get_current_count() - len(self._row_of)
        if len(self._deleted) > 2 * reusable + 1024:
            self._deleted = set(self._index.get_ids_list()) - self._row_of.keys()

    def set_ef(self, ef: int) -> None:
        """Set the HNSW search breadth (recall vs speed). Saved with the snapshot."""
        _check_int("ef", ef, 1)
        with self._lock.write():
            self._index.set_ef(ef)
            self._ef = ef

    # -- reads ---------------------------------------------------------------------------

    def __len__(self) -> int:
        """Live (not deleted) keys."""
        return len(self._row_of)  # one atomic dict read; no lock needed

    def __contains__(self, key: object) -> bool:
        return isinstance(key, (int, np.integer)) and int(key) in self._row_of

    def get_vectors(self, keys: np.ndarray | Sequence[int]) -> np.ndarray:
        """Vectors of live keys, ``[n, dim]`` float32, in the order given. Raises KeyError for others."""
        key_array = _as_keys(keys)
        with self._lock.read():
            rows = self._rows_for(key_array)
            missing = key_array[rows < 0]
            if len(missing):
                raise KeyError(f"{len(missing)} keys not in index {self._space.name}: {missing[:5].tolist()}")
            return self._vectors[rows]

    def fetch(self, keys: np.ndarray | Sequence[int]) -> dict[int, np.ndarray]:
        """The vectors of those keys that are live (one consistent read: no KeyError when a
        key is deleted meanwhile)."""
        key_array = _as_keys(keys)
        with self._lock.read():
            rows = self._rows_for(key_array)
            present = rows >= 0
            return {
                int(key): self._vectors[row].copy()
                for key, row in zip(key_array[present].tolist(), rows[present].tolist(), strict=True)
            }

    def search(
        self, query: np.ndarray, k: int, candidates: np.ndarray | Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """Top-k keys by cosine similarity to ``query``, best first, as ``(key, score)``.

        With ``candidates``, only those keys are considered (unknown or deleted ones are
        ignored), and the result still holds ``min(k, live matching keys)`` entries.
        """
        _check_int("k", k, 1)
        q = self._as_query(query)
        cand = None if candidates is None else _as_keys(candidates)
        with self._lock.read():
            if cand is None:
                return self._search_all(q, k)
            return self._search_filtered(q, k, cand)

    def search_many(
        self, queries: np.ndarray, k: int, candidates: np.ndarray | None = None
    ) -> list[list[tuple[int, float]]]:
        """Top-k of each row of `queries` ([n, dim], unit rows) in one hnswlib batch call on
        the index's threads; with `candidates`, through the graph with hnswlib's filter (no
        exact plan). What the engine does with a batch (bench/scale_bench.py): the gateway
        searches one query at a time."""
        _check_int("k", k, 1)
        batch = np.ascontiguousarray(queries, dtype=np.float32)
        with self._lock.read():
            want = min(k, len(self._row_of))
            if not want:
                return [[] for _ in batch]
            allowed = None if candidates is None else self._membership(_as_keys(candidates))
            labels, distances = self._index.knn_query(
                batch, k=want, num_threads=self._num_threads, filter=allowed
            )
        return [
            _pairs(row_labels, row_distances)
            for row_labels, row_distances in zip(labels, distances, strict=True)
        ]

    def _search_all(self, q: np.ndarray, k: int) -> list[tuple[int, float]]:
        want = min(k, len(self._row_of))
        if not want:
            return []
        try:
            labels, distances = self._index.knn_query(q, k=want, num_threads=self._num_threads)
        except RuntimeError:
            # hnswlib raises when it finds fewer than k (e.g. many deleted slots on the path).
            _LOGGER.warning("index %s: HNSW found fewer than %d, searching exactly", self._space.name, want)
            return self._exact(q, np.flatnonzero(self._row_keys[: self._rows_used] >= 0), want)
        return _pairs(labels[0], distances[0])

    def _search_filtered(self, q: np.ndarray, k: int, cand: np.ndarray) -> list[tuple[int, float]]:
        if not len(cand) or not self._row_of:
            return []
        if len(cand) <= self._params.exact_search_max:
            # Few candidates: exact numpy search beats a filtered graph walk, which must
            # wander far to meet enough allowed nodes and loses recall doing so.
            rows = np.unique(self._rows_for(cand))
            return self._exact(q, rows[rows >= 0], k)
        want = min(k, len(self._row_of))
        allowed = self._membership(cand)
        try:
            # hnswlib searches with max(ef, k), so ef is at least k here; it skips deleted
            # nodes before calling the filter.
            labels, distances = self._index.knn_query(
                q, k=want, num_threads=self._num_threads, filter=allowed
            )
        except RuntimeError:
            labels = None  # fewer than `want` found: too few live candidates, or HNSW missed them
        if labels is not None and labels.shape[1] == want:
            return _pairs(labels[0], distances[0])
        _LOGGER.debug("index %s: filtered HNSW search came up short, searching exactly", self._space.name)
        rows = np.unique(self._rows_for(cand))
        return self._exact(q, rows[rows >= 0], k)

    def _membership(self, cand: np.ndarray) -> Callable[[int], object]:
        """A fast ``label -> bool`` callable for hnswlib's filter."""
        mask_bytes = self._max_key + 1
        if mask_bytes <= max(_MASK_MIN_BYTES, _MASK_BYTES_PER_CANDIDATE * len(cand)):
            mask = np.zeros(mask_bytes, dtype=bool)
            mask[cand[cand <= self._max_key]] = True
            return mask.__getitem__  # every label in the graph is <= _max_key
        return set(cand.tolist()).__contains__

    def _rows_for(self, keys: np.ndarray) -> np.ndarray:
        """Row of each key, -1 where the key is not live."""
        rows = map(self._row_of.get, keys.tolist(), itertools.repeat(-1))
        return np.fromiter(rows, dtype=np.int64, count=len(keys))

    def _exact(self, q: np.ndarray, rows: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Exact top-k over the given rows of our vector copy, in chunks."""
        k = min(k, len(rows))
        if not k:
            return []
        best_scores: list[np.ndarray] = []
        best_rows: list[np.ndarray] = []
        for start in range(0, len(rows), _EXACT_CHUNK_ROWS):
            chunk = rows[start : start + _EXACT_CHUNK_ROWS]
            scores = self._vectors[chunk] @ q
            if len(scores) > k:
                top = np.argpartition(-scores, k - 1)[:k]
                scores, chunk = scores[top], chunk[top]
            best_scores.append(scores)
            best_rows.append(chunk)
        scores = np.concatenate(best_scores)
        chunk_rows = np.concatenate(best_rows)
        keys = self._row_keys[chunk_rows]
        order = np.lexsort((keys, -scores))[:k]  # by score, then key for a stable order
        return [(int(key), float(score)) for key, score in zip(keys[order], scores[order], strict=True)]

    def describe(self) -> dict[str, Any]:
        """Space, parameters, live count and capacity (for GetStats)."""
        with self._lock.read():
            slots = self._index.get_current_count()
            return {
                "space": dataclasses.asdict(self._space),
                "params": dataclasses.asdict(self.params),
                "count": len(self._row_of),
                "capacity": self._index.get_max_elements(),
                "deleted_slots": slots - len(self._row_of),
            }

    # -- snapshots -----------------------------------------------------------------------

    def save(self, directory: Path, catalog_seq: int) -> None:
        """Write a snapshot of this index to ``directory``, tagged with the catalog position.

        Atomic (server/index/snapshot.py): a crash leaves the previous snapshot intact.
        Searches continue meanwhile; writes wait.
        """
        _check_int("catalog_seq", catalog_seq, 0)
        writer = SnapshotWriter(directory, self._space.name, catalog_seq)
        self.write_into(writer)
        writer.commit()
        _LOGGER.info(
            "index %s: saved %d vectors at catalog_seq %d to %s",
            self._space.name,
            len(self),
            catalog_seq,
            directory,
        )

    def write_into(self, writer: SnapshotWriter) -> None:
        """Add the graph, keys and vectors (and their metadata) to a snapshot being written."""
        with self._save_lock, self._lock.read():
            live_rows = np.flatnonzero(self._row_keys[: self._rows_used] >= 0)
            # No holes: save views, not a gigabyte copy of the vectors.
            rows = slice(0, self._rows_used) if len(live_rows) == self._rows_used else live_rows
            keys = self._row_keys[rows]
            writer.add_file("graph", "hnsw", self._save_graph)
            writer.add_array("keys", keys)
            writer.add_array("vectors", self._vectors[rows])
            writer.meta.update(
                space=dataclasses.asdict(self._space),
                params=dataclasses.asdict(self.params),
                ef=self._ef,  # hnswlib's save_index does not keep ef
                count=len(keys),
                capacity=self._index.get_max_elements(),
                hnswlib=importlib.metadata.version("hnswlib"),
            )

    def _save_graph(self, path: Path) -> None:
        """hnswlib's index file, without the vectors of deleted elements."""
        self._index.save_index(str(path))
        if self._index.get_current_count() > len(self._row_of):
            erase_deleted_vectors(path, self._space.dim)

    @classmethod
    def load(
        cls, directory: Path, space: IndexSpace, params: IndexParams = DEFAULT_PARAMS, num_threads: int = 1
    ) -> tuple[VectorIndex, int]:
        """Load the snapshot of ``space`` from ``directory``; returns ``(index, catalog_seq)``.

        Raises IndexLoadError when files are missing, corrupt, or built for another space.
        """
        reader = SnapshotReader(directory, space.name)
        index = cls.read_from(reader, space, params, num_threads)
        _LOGGER.info(
            "index %s: loaded %d vectors at catalog_seq %d", space.name, len(index), reader.catalog_seq
        )
        return index, reader.catalog_seq

    @classmethod
    def read_from(
        cls,
        reader: SnapshotReader,
        space: IndexSpace,
        params: IndexParams = DEFAULT_PARAMS,
        num_threads: int = 1,
    ) -> VectorIndex:
        """The index stored in a snapshot. ``M`` and ``ef_construction`` come from the
        snapshot (the graph was built with them), as does ``ef``; ``initial_capacity`` and
        ``exact_search_max`` from ``params``."""
        body = reader.meta
        try:
            saved_space = body["space"]
            if saved_space != dataclasses.asdict(space):
                raise IndexLoadError(
                    f"snapshot in {reader.directory} was built for {saved_space}, not {space}"
                )
            saved = body["params"]
            if (saved["M"], saved["ef_construction"]) != (params.M, params.ef_construction):
                _LOGGER.warning(
                    "index %s: snapshot built with M=%s ef_construction=%s; keeping those",
                    space.name,
                    saved["M"],
                    saved["ef_construction"],
                )
            effective = dataclasses.replace(
                params, M=saved["M"], ef_construction=saved["ef_construction"], ef_search=body["ef"]
            )
            paths = {role: reader.path(role) for role in ("graph", "keys", "vectors")}
            index = cls(space, dataclasses.replace(effective, initial_capacity=1), num_threads)
            index._params = effective
            index._adopt(paths, body)
        except IndexLoadError:
            raise
        except (KeyError, TypeError, RuntimeError, ValueError, OSError) as exc:
            # A manifest from another version, or a file hnswlib/numpy cannot read.
            raise IndexLoadError(
                f"cannot load snapshot of {space.name} from {reader.directory}: {exc!r}"
            ) from exc
        return index

    def _adopt(self, paths: dict[str, Path], body: dict[str, Any]) -> None:
        """Replace this (empty) index's state with the verified snapshot files."""
        count = body["count"]
        keys = np.load(paths["keys"], allow_pickle=False)
        vectors = np.load(paths["vectors"], allow_pickle=False, mmap_mode="r")
        if keys.dtype != np.int64 or keys.shape != (count,) or vectors.shape != (count, self._space.dim):
            raise IndexLoadError(f"snapshot arrays do not match the manifest ({keys.shape}, {vectors.shape})")
        graph = hnswlib.Index(space="ip", dim=self._space.dim)
        graph.load_index(str(paths["graph"]), max_elements=0, allow_replace_deleted=True)
        graph.set_ef(body["ef"])
        graph.set_num_threads(self._num_threads)
        labels = set(graph.get_ids_list())
        live = set(keys.tolist())
        if len(live) != count or not live <= labels or graph.get_current_count() != len(labels):
            raise IndexLoadError(f"snapshot keys do not match the graph in {paths['graph']}")
        sample = keys[:: max(1, count // 16)][:16]
        if len(sample) and not np.array_equal(
            graph.get_items(sample), np.asarray(vectors[:: max(1, count // 16)][:16])
        ):
            raise IndexLoadError(f"snapshot vectors do not match the graph in {paths['graph']}")

        capacity = max(graph.get_max_elements(), 1)
        self._index = graph
        self._ef = body["ef"]
        self._vectors = np.zeros((capacity, self._space.dim), dtype=np.float32)
        self._vectors[:count] = vectors
        self._row_keys = np.full(capacity, -1, dtype=np.int64)
        self._row_keys[:count] = keys
        self._row_of = dict(zip(keys.tolist(), range(count), strict=True))
        self._free_rows = []
        self._rows_used = count
        self._max_key = max(labels, default=-1)
        self._deleted = labels - live

    # -- validation ----------------------------------------------------------------------

    def _as_query(self, query: object) -> np.ndarray:
        """Check and convert one query to float32 ``[dim]``, renormalised (on every search: kept lean)."""
        try:
            q = np.asarray(query, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"query must be numeric: {exc}") from exc
        dim = self._space.dim
        if q.shape != (dim,):
            if q.shape != (1, dim):
                raise ValueError(f"query must have shape ({dim},), got {q.shape}")
            q = q[0]
        # A sum of squares is finite only if every element is (huge values overflow and
        # then fail the norm check anyway): one dot product instead of isfinite + norm.
        norm2 = float(np.dot(q, q))
        if not math.isfinite(norm2):
            raise ValueError("query contains NaN or infinity")
        if abs(math.sqrt(norm2) - 1) > _NORM_TOLERANCE:
            raise ValueError("query must be L2-normalised (cosine similarity = inner product)")
        return q * np.float32(1 / math.sqrt(norm2))  # a copy: the caller may reuse its buffer

    def _as_vectors(self, vectors: object, rows: int | None) -> np.ndarray:
        """Check and convert to float32 ``[n, dim]``, renormalised. ``rows=None``: one query."""
        try:
            array = np.array(vectors, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"vectors must be numeric: {exc}") from exc
        dim = self._space.dim
        if rows is None:
            if array.shape not in ((dim,), (1, dim)):
                raise ValueError(f"query must have shape ({dim},), got {array.shape}")
            array = array.reshape(1, dim)
        elif array.shape != (rows, dim):
            raise ValueError(f"vectors must have shape ({rows}, {dim}), got {array.shape}")
        if not np.isfinite(array).all():
            raise ValueError("vectors contain NaN or infinity")
        norms = np.linalg.norm(array, axis=1, keepdims=True)
        if len(norms) and np.abs(norms - 1).max() > _NORM_TOLERANCE:
            raise ValueError("vectors must be L2-normalised (cosine similarity = inner product)")
        array /= norms
        return array


def erase_deleted_vectors(path: Path, dim: int) -> int:
    """Zero, in the hnswlib index file at `path`, the vector of every element marked
    deleted; returns how many. Raises RuntimeError when the file is not laid out as
    expected (the snapshot is then not saved: the next start rebuilds from the catalog)."""
    header = np.fromfile(path, dtype="<u8", count=_HNSW_HEADER_BYTES // 8)
    if len(header) != _HNSW_HEADER_BYTES // 8:
        raise RuntimeError(f"{path}: not an hnswlib index file")
    offset_links, _, count, element_bytes, label_at, vector_at = (int(v) for v in header[:6])
    max_m0 = int(header[_HNSW_MAX_M0_AT // 8])
    size = Path(path).stat().st_size
    if (
        offset_links != 0
        or vector_at != 4 + 4 * max_m0
        or label_at != vector_at + 4 * dim
        or element_bytes != label_at + 8
        or size < _HNSW_HEADER_BYTES + count * element_bytes
    ):
        raise RuntimeError(f"{path}: unexpected hnswlib file layout (hnswlib changed its format?)")
    if not count:
        return 0
    shape = (count, element_bytes)
    elements = np.memmap(path, dtype=np.uint8, mode="r+", offset=_HNSW_HEADER_BYTES, shape=shape)
    try:
        deleted = np.flatnonzero(elements[:, 2] & _HNSW_DELETE_MARK)
        elements[deleted, vector_at:label_at] = 0
        elements.flush()
    finally:
        del elements
    return len(deleted)


def _as_keys(keys: object) -> np.ndarray:
    """Keys as a 1-D int64 array; non-negative because hnswlib labels are unsigned."""
    array = np.asarray(keys)
    if array.ndim == 0:
        raise ValueError("keys must be a sequence of ints, not a scalar")
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise ValueError(f"keys must be a 1-D integer array, got {array.dtype} {array.shape}")
    if array.dtype.kind == "u" and array.max() > np.iinfo(np.int64).max:
        raise ValueError("keys must fit in int64")
    array = array.astype(np.int64, copy=False)
    if array.min() < 0:
        raise ValueError("keys must be non-negative")
    return array


def _pairs(labels: np.ndarray, distances: np.ndarray) -> list[tuple[int, float]]:
    # space="ip": distance = 1 - <q, v>, so the cosine score is 1 - distance.
    return [
        (label, 1.0 - distance) for label, distance in zip(labels.tolist(), distances.tolist(), strict=True)
    ]
