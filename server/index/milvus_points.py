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
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

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
_HASH_BITS = 24  # hyperplanes of a rebuild's duplicate hash (`_Load`)
_BUCKET_CHECK = 256  # vectors of one hash compared with a new one at most
_WRITES_AHEAD = 2  # a rebuild's member writes (a batch each) that may wait for Milvus
# Distinct vectors a rebuild holds in process at once (its hash table adds ~10 % at 256-d): at 1M
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
    quarter of its time (py-spy). At most _WRITES_AHEAD wait; a failed write raises from the
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
    the distinct vectors, a hash table to find equal ones in, each point's facets.

    The hash is the side of _HASH_BITS random hyperplanes a vector lies on (sign random
    projection): equal vectors, and those apart by float noise, share it; two vectors at
    cosine DUPLICATE_COSINE (0.0045 rad) differ on a plane with probability 0.0045 / π, so
    on one of 24 planes 3.4 % of the time, and are then kept as two points (harmless: each
    product is still found). An HNSW graph did this before and took 59 % of a 1M-product
    rebuild's copy space inserting 6M random descriptors (py-spy, 2026-12-07)."""

    def __init__(self, dim: int) -> None:
        self._capacity = max(1, LOAD_BYTES // (4 * dim))
        self._dim = dim
        self._blocks: list[np.ndarray] = []  # the distinct vectors, _LOAD_WRITE rows a block
        self._points: list[int] = []  # the point of each row
        self._planes = np.random.default_rng(0).normal(size=(dim, _HASH_BITS)).astype(np.float32)
        self._buckets: dict[int, int | list[int]] = {}  # hash → its row, or rows
        self._facets: dict[int, Facets] = {}  # point → what it will be written with

    def add(self, records: Sequence[VectorRecord], vectors: np.ndarray) -> list[int]:
        """The point of each record (unit `vectors`): an equal vector's seen before in the
        window, else a new point keyed by the record's key."""
        hashes = ((vectors @ self._planes > 0) @ (1 << np.arange(_HASH_BITS))).tolist()
        points: list[int] = []
        for record, vector, code in zip(records, vectors, hashes, strict=True):
            point = self._find(vector, code)
            if point is None:
                point = record.key
                self._insert(point, vector, code)
            points.append(point)
            self._facets[point] = point_facets(self._facets.get(point), [record.facets])
        return points

    def _find(self, vector: np.ndarray, code: int) -> int | None:
        """The point of an equal vector with this hash; at most _BUCKET_CHECK are compared
        (near-equal catalogs fill buckets: a missed one only adds a point)."""
        bucket = self._buckets.get(code)
        if bucket is None:
            return None
        rows = [bucket] if isinstance(bucket, int) else bucket[:_BUCKET_CHECK]
        scores = np.stack([self._blocks[r // _LOAD_WRITE][r % _LOAD_WRITE] for r in rows]) @ vector
        best = int(np.argmax(scores))
        return self._points[rows[best]] if scores[best] >= DUPLICATE_COSINE else None

    def _insert(self, point: int, vector: np.ndarray, code: int) -> None:
        row = len(self._points)
        if row % _LOAD_WRITE == 0:
            self._blocks.append(np.empty((_LOAD_WRITE, self._dim), dtype=np.float32))
        self._blocks[-1][row % _LOAD_WRITE] = vector
        self._points.append(point)
        bucket = self._buckets.get(code)
        if bucket is None:
            self._buckets[code] = row
        elif isinstance(bucket, int):
            self._buckets[code] = [bucket, row]
        else:
            bucket.append(row)

    @property
    def full(self) -> bool:
        return len(self._points) >= self._capacity

    def write_points(self, points: MilvusVectorStore) -> None:
        for start, block in zip(range(0, len(self._points), _LOAD_WRITE), self._blocks, strict=True):
            chunk = self._points[start : start + _LOAD_WRITE]
            points.upsert(
                # The last block is filled only up to its points.
                [VectorRecord(p, v, self._facets[p]) for p, v in zip(chunk, block, strict=False)],
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
