"""One point per distinct vector on Milvus, shared by every gateway.

Catalogs repeat vectors: hundreds of products titled "Dress", one photo from many sellers.
Identical vectors fill each other's HNSW neighbour lists and form islands that a search
cannot enter (`python -m bench.milvus_duplicates`: with 10 titles of 200 products, 5 to 9 of
10 queries found their group). The embedded index keeps one point per distinct vector in
process (server/index/dedup.py); gateways sharing Milvus need that state in Milvus:

- the points: a `MilvusVectorStore` whose keys are point ids (the key of the product that
  first had the vector) and whose facets cover its products' facets (`point_facets`);
- the members: a collection of its own, product key → point, with each product's own
  facets, so that a filter is checked per product there.

Writes run under the catalog's write lock across gateways (server/service/follow.py), so
the read-modify-write of members and points is never interleaved with another gateway's.
A new vector joins the point whose vector has cosine ≥ DUPLICATE_COSINE (one batched
search per write), else becomes a point of its own: applying the same change twice finds
the point it made the first time. A search asks for points and expands them to their
products (each point's products share its score, in key order), widening until it has k.

A rebuild (`loading`) writes into empty collections and groups duplicates in this process
instead: looking each vector up among the stored points took a 100k-product rebuild 27 min
(its copy space holds 400k descriptors, searched brute force while their segments grow),
against 102 s without the points store. It holds at most LOAD_BYTES of distinct vectors at
once: when that fills, the points so far are written and a new window begins, so equal
vectors further apart in the rebuild than a window make a point per window (each product
is still found once; a group of any size is still a handful of points).
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import functools
import math
import os
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

import hnswlib
import numpy as np
from pymilvus import DataType, MilvusClient

from server.domain import Facets, Filter
from server.index.dedup import DUPLICATE_COSINE, earlier_duplicate
from server.index.milvus import (
    CONSISTENCY,
    TOPK_MAX,
    MilvusVectorStore,
    _engine_errors,
    add_facet_fields,
    expression,
    facet_fields,
    reloading,
    replace_rows,
)
from server.index.store import EVERYTHING, IndexSpace, StoreStats, VectorRecord

_KEYS_PER_QUERY = 1000  # keys (or points) in one `in [...]` expression
# A point's facets: the union of its products' (a superset is harmless: members filter each
# product), widened so that it is rewritten rarely (`point_facets`), or MATCH_ALL.
MAX_POINT_VALUES = 8  # categories and attributes a point names before it matches all filters
PRICE_STEP = 4.0  # a point's price range is widened to powers of this
MATCH_ALL = Facets(attributes=frozenset({("*", "all")}))  # what a point that every filter selects holds
_QUERY_LIMIT = 16384  # rows one query returns at most
_LOAD_WRITE = 4096  # points per write at the end of a rebuild window
_GROUP_ROWS = 1024  # vectors compared with each other at once while grouping a rebuild (`_Load.add`)
_WRITES_AHEAD = 2  # a rebuild's member writes (a batch each) that may wait for Milvus
# Distinct vectors a rebuild holds in process at once (its HNSW graph adds ~15 %): at 1M
# products the copy space alone has 6M descriptors (6 GiB), beside a Milvus on the same host.
LOAD_BYTES = 2 * 2**30


class MilvusMembers:
    """Product key → point, with the product's own facets (filter fields and their JSON)."""

    def __init__(self, client: MilvusClient, name: str) -> None:
        self._client = client
        self.name = name

    @classmethod
    def create(cls, client: MilvusClient, name: str) -> MilvusMembers:
        if client.has_collection(name):
            client.drop_collection(name)
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.INT64, is_primary=True)
        schema.add_field("point", DataType.INT64)
        schema.add_field("facets", DataType.JSON)
        add_facet_fields(schema)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)  # Milvus 2.3 wants one in each collection
        index = client.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="L2")
        client.create_collection(name, schema=schema, index_params=index, consistency_level=CONSISTENCY)
        client.load_collection(name)
        return cls(client, name)

    def write(self, members: Sequence[tuple[int, int, Facets]], existing: Collection[int]) -> None:
        """Write product → point rows; `existing`: the keys that have a row already."""
        rows = [
            {
                "key": int(key),
                "point": int(point),
                "facets": {"f": facets.to_json()},
                "vector": [0.0, 0.0],
                **facet_fields(key, facets),
            }
            for key, point, facets in members
        ]
        replaced = [row["key"] for row in rows if row["key"] in existing]
        replace_rows(self._client, self.name, rows, replaced, _KEYS_PER_QUERY)

    def remove(self, keys: Collection[int]) -> None:
        ordered = sorted(keys)
        for start in range(0, len(ordered), _KEYS_PER_QUERY):
            self._client.delete(self.name, ids=ordered[start : start + _KEYS_PER_QUERY])

    def points_of(self, keys: Collection[int]) -> dict[int, int]:
        return {int(r["key"]): int(r["point"]) for r in self._query("key", keys, "", ["key", "point"])}

    def facets_of(self, points: Collection[int]) -> dict[int, list[Facets]]:
        """Each point's members' facets (points without members are left out)."""
        found: dict[int, list[Facets]] = {}
        for row in self._query("point", points, "", ["point", "facets"]):
            found.setdefault(int(row["point"]), []).append(Facets.from_json(row["facets"]["f"]))
        return found

    def members_of(
        self, points: Collection[int], condition: Filter = EVERYTHING, exclude: Collection[int] = ()
    ) -> dict[int, list[int]]:
        """Each point's products that match `condition` and are not excluded, in key order."""
        found: dict[int, list[int]] = {}
        for row in self._query("point", points, expression(condition, exclude), ["key", "point"]):
            found.setdefault(int(row["point"]), []).append(int(row["key"]))
        return {point: sorted(keys) for point, keys in found.items()}

    def _query(
        self, field: str, values: Collection[int], where: str, fields: list[str]
    ) -> list[dict[str, Any]]:
        ordered = sorted({int(v) for v in values})
        rows: list[dict[str, Any]] = []
        for start in range(0, len(ordered), _KEYS_PER_QUERY):
            chunk = ", ".join(map(str, ordered[start : start + _KEYS_PER_QUERY]))
            condition = f"{field} in [{chunk}]" + (f" and {where}" if where else "")
            query = functools.partial(
                self._client.query,
                self.name,
                filter=condition,
                output_fields=fields,
                limit=_QUERY_LIMIT,
                consistency_level=CONSISTENCY,
            )
            rows.extend(reloading(self._client, self.name, query))
        return rows

    def count(self) -> int:
        rows = self._client.query(
            self.name, filter="", output_fields=["count(*)"], consistency_level=CONSISTENCY
        )
        return int(rows[0]["count(*)"])

    def drop(self) -> None:
        self._client.drop_collection(self.name)


class MilvusPointsStore:
    """The VectorStore interface over product keys, one Milvus point per distinct vector."""

    engine = "milvus"

    def __init__(self, points: MilvusVectorStore, members: MilvusMembers) -> None:
        self._points = points
        self._members = members
        self._load: _Load | None = None  # while `loading`
        self._writes: _Writes | None = None  # while `loading`
        points.match_all = expression(Filter(attributes=tuple(MATCH_ALL.attributes)))

    @property
    def space(self) -> IndexSpace:
        return self._points.space

    @property
    def applied_seq(self) -> int:
        return self._points.applied_seq

    def refresh_applied_seq(self) -> int:
        return self._points.refresh_applied_seq()

    # -- writes ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def loading(self) -> Iterator[None]:
        """Upserts into the new, empty collections (a rebuild, each key once) group their
        duplicates in this process and write only the members; the points are written once,
        with their final facets, when their window fills (LOAD_BYTES) or the block ends.
        Nothing is read from Milvus meanwhile, and the members are written by another thread
        while the caller reads and groups the next batch (`_Writes`)."""
        self._load, self._writes = _Load(self.space.dim), _Writes()
        try:
            yield
            self._finish_load(self._load, self._writes)
        finally:
            self._writes.close()
            self._load = self._writes = None

    @_engine_errors
    def _finish_load(self, load: _Load, writes: _Writes) -> None:
        load.write_points(self._points)
        writes.wait()

    @_engine_errors
    def upsert(self, records: Sequence[VectorRecord], seq: int) -> None:
        records = list({r.key: r for r in records}.values())  # the same key twice: the last wins
        if not records:
            self._points.upsert([], seq)
            return
        vectors = np.stack([_unit(r.vector) for r in records])
        if self._load is not None and self._writes is not None:
            points = self._load.add(records, vectors)
            members = [(r.key, p, r.facets) for r, p in zip(records, points, strict=True)]
            self._writes.submit(self._members.write, members, ())
            if self._load.full:
                self._load.write_points(self._points)
                self._load = _Load(self.space.dim)
            return
        before = self._members.points_of([r.key for r in records])
        earlier = earlier_duplicate(vectors)
        stored = self._stored_duplicates(vectors, earlier)
        new_ids = self._new_points(
            [r.key for r, e, d in zip(records, earlier, stored, strict=True) if e < 0 and d is None]
        )
        point_of_row: list[int] = []
        new_vectors: dict[int, np.ndarray] = {}
        for row, record in enumerate(records):
            if earlier[row] >= 0:
                point = point_of_row[earlier[row]]
            elif stored[row] is not None:
                point = stored[row]
            else:
                point = new_ids[record.key]
                new_vectors[point] = vectors[row]
            point_of_row.append(point)
        self._members.write(
            [(r.key, p, r.facets) for r, p in zip(records, point_of_row, strict=True)], existing=before
        )
        self._describe(set(point_of_row) | set(before.values()), new_vectors, seq)

    def _stored_duplicates(self, vectors: np.ndarray, earlier: np.ndarray) -> list[int | None]:
        """For each row without an earlier duplicate in the batch, the stored point with
        the same vector (one search of every such row)."""
        found: list[int | None] = [None] * len(vectors)
        rows = [row for row in range(len(vectors)) if earlier[row] < 0]
        for start in range(0, len(rows), _KEYS_PER_QUERY):
            chunk = rows[start : start + _KEYS_PER_QUERY]
            for row, hit in zip(chunk, self._points.nearest(vectors[chunk]), strict=True):
                if hit is not None and hit[1] >= DUPLICATE_COSINE:
                    found[row] = hit[0]
        return found

    def _new_points(self, keys: list[int]) -> dict[int, int]:
        """A point id for each key's new vector, never used for another vector: the key
        itself, unless that point exists (the product made it, its vector changed, others
        keep it); then the key with a generation above the 40 bits product keys use."""
        ids = {key: key for key in keys}
        generation = 0
        while taken := self._points.present(ids.values()):
            generation += 1
            ids = {key: (key | (generation << 40) if point in taken else point) for key, point in ids.items()}
        return ids

    def _describe(self, points: set[int], new_vectors: dict[int, np.ndarray], seq: int) -> None:
        """Write new points, and the touched ones whose stored facets no longer cover their
        members'; drop those left empty. A point is rewritten as rarely as may be (see
        `point_facets`): Milvus keeps a deleted row in its segment's HNSW graph until
        compaction, so each rewrite leaves an identical deleted copy there, and identical
        vectors strand HNSW. When every write rewrote its points, a Milvus-tier run found a
        point, rewritten once per rebuild batch (20 times), missing from a search while
        count(*) counted it; a trial of 10 rows rewritten 19 times among 2,000 missed 1 of
        40 searches at 64-d, none of 80 at 16-d, so the cause is likely, not proven."""
        facets = self._members.facets_of(points)
        empty = [p for p in points if p not in facets]
        if empty:
            self._points.delete(empty, seq)
        stored = self._points.facets([p for p in facets if p not in new_vectors])
        wanted = {
            point: point_facets(stored.get(point), members)
            for point, members in facets.items()
            if point in new_vectors or not covers(stored[point], Facets.union(members))
        }
        known = self._points.fetch([p for p in wanted if p not in new_vectors])
        vectors = {**known, **new_vectors}
        records = [VectorRecord(p, vectors[p], wanted[p]) for p in sorted(wanted)]
        self._points.upsert(records, seq, existing=known.keys())

    @_engine_errors
    def delete(self, keys: Collection[int], seq: int) -> int:
        before = self._members.points_of(keys)
        self._members.remove(list(before))
        self._describe(set(before.values()), {}, seq)
        return len(before)

    # -- reads ----------------------------------------------------------------------------

    @_engine_errors
    def search(
        self, query: np.ndarray, k: int, condition: Filter = EVERYTHING, exclude: Collection[int] = ()
    ) -> list[tuple[int, float]]:
        """Top-k product keys, best first; each point's products share its score (in key
        order). Asks for more points while they run out before k products do."""
        if k <= 0:
            return []
        ask = k
        while True:
            found = self._points.search(query, ask, condition)
            members = self._members.members_of([p for p, _ in found], condition, exclude)
            hits = [(key, score) for point, score in found for key in members.get(point, [])]
            if len(hits) >= k or len(found) < ask or ask >= TOPK_MAX:
                hits.sort(key=lambda hit: (-hit[1], hit[0]))
                return hits[:k]
            ask = min(4 * ask, TOPK_MAX)

    @_engine_errors
    def fetch(self, keys: Collection[int]) -> dict[int, np.ndarray]:
        points = self._members.points_of(keys)
        vectors = self._points.fetch(set(points.values()))
        return {key: vectors[point] for key, point in points.items() if point in vectors}

    @_engine_errors
    def count(self) -> int:
        return self._members.count()

    def stats(self) -> StoreStats:
        stats = self._points.stats()
        parameters = {**stats.parameters, "distinct_vectors": str(stats.count), "members": self._members.name}
        return StoreStats(stats.space, stats.engine, self.count(), parameters)

    def close(self) -> None:
        self._points.close()

    @_engine_errors
    def drop(self) -> None:
        self._points.drop()
        self._members.drop()


class _Writes:
    """A rebuild's member writes, run in one thread beside the reading and grouping of the
    next batch: in a 1M-product rebuild the loop waited on Milvus' inserts for about a
    quarter of its time (py-spy). At most WRITES_AHEAD wait; a failed write raises from the
    next `submit` or from `wait`."""

    def __init__(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="milvus-load")
        self._pending: collections.deque[concurrent.futures.Future[None]] = collections.deque()

    def submit(self, write: Callable[..., None], *args: Any) -> None:
        while len(self._pending) >= _WRITES_AHEAD:
            self._pending.popleft().result()
        self._pending.append(self._executor.submit(write, *args))

    def wait(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class _Load:
    """A window of a rebuild's points, grouped in this process (`MilvusPointsStore.loading`):
    the distinct vectors in an HNSW index to find duplicates in, each point's facets. Raw
    hnswlib rather than `VectorIndex`, which keeps a second copy of every vector."""

    def __init__(self, dim: int) -> None:
        self._capacity = max(1, LOAD_BYTES // (4 * dim))
        self._index = hnswlib.Index(space="ip", dim=dim)
        self._index.init_index(max_elements=min(_LOAD_WRITE, self._capacity), M=16, ef_construction=64)
        self._index.set_num_threads(len(os.sched_getaffinity(0)))
        self._facets: dict[int, Facets] = {}  # point → what it will be written with

    def add(self, records: Sequence[VectorRecord], vectors: np.ndarray) -> list[int]:
        """The point of each record (unit `vectors`), in slices of _GROUP_ROWS: equal vectors
        within a slice are found by a matrix product, which grows with the slice's square
        (a rebuild's copy-space batch holds 6,144 descriptors: 0.46 s a batch in one
        product, 0.06 s in slices), those of earlier slices by the index."""
        points: list[int] = []
        for start in range(0, len(records), _GROUP_ROWS):
            end = start + _GROUP_ROWS
            points.extend(self._add_slice(records[start:end], vectors[start:end]))
        return points

    def _add_slice(self, records: Sequence[VectorRecord], vectors: np.ndarray) -> list[int]:
        """The point of each record: an equal vector's earlier in the slice, else a stored
        one's, else a new point keyed by the record's key."""
        earlier = earlier_duplicate(vectors)
        first = [row for row in range(len(records)) if earlier[row] < 0]
        stored: dict[int, int] = {}
        if first and self._facets:
            labels, distances = self._index.knn_query(vectors[first], k=1)
            stored = {
                row: int(label)
                for row, label, distance in zip(first, labels[:, 0], distances[:, 0], strict=True)
                if 1.0 - float(distance) >= DUPLICATE_COSINE
            }
        new = [row for row in first if row not in stored]
        if new:
            grown = self._index.get_current_count() + len(new)
            if grown > self._index.get_max_elements():
                doubled = min(2 * self._index.get_max_elements(), self._capacity)
                self._index.resize_index(max(grown, doubled))
            self._index.add_items(vectors[new], [records[row].key for row in new])
        points: list[int] = []
        for row, record in enumerate(records):
            point = points[earlier[row]] if earlier[row] >= 0 else stored.get(row, record.key)
            points.append(point)
            self._facets[point] = point_facets(self._facets.get(point), [record.facets])
        return points

    @property
    def full(self) -> bool:
        return self._index.get_current_count() >= self._capacity

    def write_points(self, points: MilvusVectorStore) -> None:
        ordered = sorted(self._facets)
        for start in range(0, len(ordered), _LOAD_WRITE):
            chunk = ordered[start : start + _LOAD_WRITE]
            vectors = np.asarray(self._index.get_items(chunk), dtype=np.float32)
            points.upsert(
                [VectorRecord(p, v, self._facets[p]) for p, v in zip(chunk, vectors, strict=True)],
                0,
                existing=(),
            )


def covers(stored: Facets, wanted: Facets) -> bool:
    """Whether every filter that matches `wanted` matches `stored`."""
    if stored == MATCH_ALL:
        return True
    if not (wanted.categories <= stored.categories and wanted.attributes <= stored.attributes):
        return False
    if wanted.price_range is None:
        return True
    if stored.price_range is None:
        return False
    return stored.price_range[0] <= wanted.price_range[0] and wanted.price_range[1] <= stored.price_range[1]


def point_facets(stored: Facets | None, members: Sequence[Facets]) -> Facets:
    """The facets to write with a point: its members' and what it held (never narrowed,
    as members filter each product themselves), the price range widened to powers of
    PRICE_STEP, and MATCH_ALL once they name more than MAX_POINT_VALUES categories and
    attributes. So a point is rewritten a bounded number of times however its group grows."""
    union = Facets.union([*members, *([stored] if stored is not None else [])])
    if stored == MATCH_ALL or len(union.categories) + len(union.attributes) > MAX_POINT_VALUES:
        return MATCH_ALL
    if union.price_range is None:
        return union
    low, high = union.price_range
    return Facets(union.categories, union.attributes, (_step_down(low), _step_up(high)))


def _step_down(price: float) -> float:
    return 0.0 if price <= 0 else PRICE_STEP ** math.floor(math.log(price, PRICE_STEP))


def _step_up(price: float) -> float:
    return price if price <= 0 else PRICE_STEP ** math.ceil(math.log(price, PRICE_STEP))


def _unit(vector: Any) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    return vector / max(float(np.linalg.norm(vector)), 1e-12)
