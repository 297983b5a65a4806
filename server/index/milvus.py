"""The Milvus vector engine: each space of each catalog is a Milvus collection that every
gateway shares (DESIGN.md, "Scale"), so gateways keep no index state of their own.

Collection layout (`MilvusVectorStore`): `key` INT64 primary key (the catalog's product key,
or CopyStore's label), `vector` FLOAT_VECTOR (L2-normalised here, HNSW index, metric IP =
cosine), and the facets as scalar fields: `categories` ARRAY<VARCHAR>, `price_low` /
`price_high` DOUBLE with `has_price` BOOL (Milvus 2.3 has no nulls) and `attributes` JSON
`{"a:" + key: [values]}` (the prefix because Milvus rejects the empty key in expressions).
`Facets` hold sets (a point shared by products carries their union), so
categories are an array rather than one VARCHAR and the price a range; a product's own
facets are the one-element case. A `Filter` becomes a boolean expression
(`array_contains_any`, `json_contains`, price bounds) whose strings are JSON literals,
which Milvus' parser unquotes as Go strings; `exclude` becomes `key not in [...]`.

Names (`collection_name`): `productsearch_<catalog id>_s<space>`, with `_` in the escape
role: `_` is written `__`, `-` is `_0`, and `_s` (never produced otherwise) separates, so
the mapping is injective and yields Milvus' `[A-Za-z0-9_]`.

Consistency: every search, query and count runs at Strong (and the collections are
created Strong): Milvus then waits until the query node has applied every write
acknowledged before the call, so a write acknowledged to one gateway is seen by the next
search of any gateway. Session would only promise that to the writing client; Bounded and
Eventually not at all. The price is latency: a Strong read waits for the next time tick.

Where each store stands is recorded in its catalog (`StoreState`: the space, the catalog
sequence applied; in PostgreSQL next to the outbox, in SQLite in the catalog's file), not
in Milvus: a meta collection in Milvus lost a row from Strong reads right after it was
written, twice in about nine runs of the Milvus tier (2026-12-06). The state is written
after the writes it covers, and removed before a rebuild starts, so a crash leaves the
store behind (rebuilt at the next open), never ahead.

Durability: Milvus acknowledges a write once it is in its log, and replays the log after a
crash; but rows not yet flushed into a segment were lost when it restarted twice without a
flush in between (here: the members collection held 1 of 202 rows after a graceful
restart, one write and a kill; the Milvus bug class of milvus-io/milvus#38284). So the
state keeps two seqs: `seq`, what has been applied, and `durable_seq`, what was applied
before the collection's last flush. A store flushes every FLUSH_INTERVAL_S while it has
writes, and when it closes; an opening gateway trusts only `durable_seq` and replays the
catalog past it (a shared catalog from its outbox, an embedded one by a rebuild), and it
takes in other gateways' seqs only once it has replayed to the `seq` it found.

What `MilvusVectors` stacks: `CopyStore` over the collection for copy detection (labels
key * HYPOTHESES + h; it keeps no state). Not `DeduplicatingStore`: its member lists live in
one process, and gateways sharing a collection would each hold their own, stale after
another gateway's writes; it also asks the engine for a nearest neighbour per upserted
vector, one Strong round trip each. Measured on the congruence data (3,000 vectors, 600 in
groups of 30 identical ones; sealed segments with their HNSW index, M 16, efConstruction
100): without it, unfiltered recall@10 was 1.0 at ef 64; filtered recall was 1.0 in one
run and 0.948 for one filter (two categories) in another, hence filtered searches use ef x 4;
with that every congruence test passed in the runs since (tests/unit/test_vector_stores.py). Ties
(identical vectors) are ordered by key: when the k-th score ties with the last one
returned, the search asks for 16 times more (most title ties resolve in a second round trip).

Larger groups of identical vectors strand Milvus' HNSW as they did hnswlib's (with 10
titles shared by 200 products each, 5 to 9 of 10 queries found their group:
`python -m bench.milvus_duplicates`), so `MilvusVectors` stacks `MilvusPointsStore`
(server/index/milvus_points.py): one point per distinct vector, its products in a members
collection, consistent across gateways.

Latency (embedded Milvus 2.3.5, 2-core CPU, 32-d): a Strong search 27 ms with the time tick
at 20 ms (server/tools/local_milvus.py sets it; 200 ms by default), Bounded 1.6 ms.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from pymilvus import DataType, MilvusClient, MilvusException
from pymilvus.grpc_gen.common_pb2 import SegmentState

from server.catalog.sqlite import CatalogError
from server.catalog.store import SharedCatalogStore
from server.domain import CatalogInfo, Facets, Filter, UnavailableError
from server.index.copies import CopyStore
from server.index.hnsw import IndexParams
from server.index.store import (
    EVERYTHING,
    EmbeddingSource,
    IndexSpace,
    StoreState,
    StoreStats,
    VectorRecord,
    VectorStore,
)

if TYPE_CHECKING:
    from server.index.milvus_points import MilvusPointsStore

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

ENGINE = "milvus"
LEGACY_META = "productsearch_meta"  # where states were kept before 2026-12-07: dropped at start
CONSISTENCY = "Strong"
TOPK_MAX = 16384  # Milvus rejects a larger topk (and ef above 32768)
_EF_MAX = 32768
# A filter hides part of the graph from the walk; widening it keeps filtered recall (it was
# 0.948 on one congruence run at ef 64, the same as the unfiltered search's otherwise).
_FILTERED_EF_FACTOR = 4
# How much more a search asks for when the k-th score ties with the last hit. A Strong
# search costs about one time tick whatever its limit, so few large steps beat many small
# ones: text search, where hundreds of products share a title vector, took ~5 doublings
# (index p50 134 ms at 100k).
_TIE_GROWTH = 16
_NAME_MAX = 255  # Milvus' limit on collection names
REBUILD_WAIT_S = 10.0  # how long an open waits for another gateway's rebuild of the collection
_REBUILD_POLL_S = 0.2
_REQUEST_BYTES = 16 << 20  # per insert/upsert request: well under the proxy's 64 MiB message limit
_KEYS_PER_QUERY = 1000  # keys in one `key in [...]` expression
_ATTRIBUTE = "a:"  # before each attribute key in the JSON field: Milvus rejects `attributes[""]`
_MAX_CATEGORIES = 4096  # Milvus' cap on an array's capacity
_MAX_STRING_BYTES = 4096  # a category's UTF-8 length (the gateway allows 200 characters)


def collection_name(catalog_id: str, space: str) -> str:
    """The collection of one space of one catalog (see the module docstring)."""

    def escaped(text: str) -> str:
        return text.replace("_", "__").replace("-", "_0")

    name = f"productsearch_{escaped(catalog_id)}_s{escaped(space)}"
    if len(name) > _NAME_MAX or not all(c.isascii() and (c.isalnum() or c == "_") for c in name):
        raise ValueError(f"catalog {catalog_id!r} and space {space!r} make no Milvus collection name")
    return name


def quote(text: str) -> str:
    """A string literal of Milvus' expression language (JSON's escapes are Go's)."""
    return json.dumps(text, ensure_ascii=False)


def expression(condition: Filter, exclude: Collection[int] = (), match_all: str = "") -> str:
    """The boolean expression that selects rows matching `condition` and not in `exclude`;
    "" selects every row. `match_all`: an expression for rows that match every filter."""
    parts: list[str] = []
    if condition.categories:
        listed = ", ".join(quote(c) for c in sorted(condition.categories))
        parts.append(f"array_contains_any(categories, [{listed}])")
    for key, value in condition.attributes:
        parts.append(f"json_contains(attributes[{quote(_ATTRIBUTE + key)}], {quote(value)})")
    if condition.min_price is not None or condition.max_price is not None:
        parts.append("has_price == true")
        if condition.min_price is not None and condition.min_price > -math.inf:
            parts.append(f"price_high >= {_number(condition.min_price)}")
        if condition.max_price is not None and condition.max_price < math.inf:
            parts.append(f"price_low <= {_number(condition.max_price)}")
    if parts and match_all:
        parts = [f"{' and '.join(f'({part})' for part in parts)} or {match_all}"]
    if exclude:
        parts.append(f"key not in [{', '.join(str(int(k)) for k in sorted(exclude))}]")
    return " and ".join(f"({part})" for part in parts)


def add_facet_fields(schema: Any) -> None:
    """The scalar fields filters run on (`expression`), filled by `facet_fields`."""
    schema.add_field(
        "categories",
        DataType.ARRAY,
        element_type=DataType.VARCHAR,
        max_capacity=_MAX_CATEGORIES,
        max_length=_MAX_STRING_BYTES,
    )
    schema.add_field("price_low", DataType.DOUBLE)
    schema.add_field("price_high", DataType.DOUBLE)
    schema.add_field("has_price", DataType.BOOL)
    schema.add_field("attributes", DataType.JSON)


def facet_fields(key: int, facets: Facets) -> dict[str, Any]:
    """A row's filter fields for `facets` (see `add_facet_fields`)."""
    if len(facets.categories) > _MAX_CATEGORIES:
        raise ValueError(f"key {key} has more than {_MAX_CATEGORIES} categories")
    for category in facets.categories:
        if len(category.encode()) > _MAX_STRING_BYTES:
            raise ValueError(f"category of key {key} longer than {_MAX_STRING_BYTES} bytes")
    attributes: dict[str, list[str]] = {}
    for name, value in sorted(facets.attributes):
        attributes.setdefault(_ATTRIBUTE + name, []).append(value)
    low, high = facets.price_range if facets.price_range is not None else (0.0, 0.0)
    return {
        "categories": sorted(facets.categories),
        "price_low": float(low),
        "price_high": float(high),
        "has_price": facets.price_range is not None,
        "attributes": attributes,
    }


def stored_facets(row: dict[str, Any]) -> Facets:
    """The facets a row's filter fields hold (the inverse of `facet_fields`)."""
    attributes = {
        (name.removeprefix(_ATTRIBUTE), value)
        for name, values in row["attributes"].items()
        for value in values
    }
    price = (float(row["price_low"]), float(row["price_high"])) if row["has_price"] else None
    return Facets(frozenset(row["categories"]), frozenset(attributes), price)


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"price bound must be finite, got {value}")
    return repr(float(value))


SERVED_TIMEOUT_S = 120.0
# How often a backend flushes the collections it wrote to: what a Milvus restart can take
# back, and what a gateway's next open replays, is at most this long (see "Durability").
# Each flush seals a small segment, which Milvus' compaction merges later.
FLUSH_INTERVAL_S = 30.0


def load_fully(client: MilvusClient, name: str, timeout_s: float = SERVED_TIMEOUT_S) -> None:
    """Load a collection and wait until its query node serves every flushed segment's rows.

    After a restart, Milvus 2.3.5 answers reads on a collection it marks loaded while its
    query node is still loading the sealed segments: a count saw 1 row of 202 (the growing
    one replayed from the log). Reads then miss rows without an error, so a store opens only
    once the query node serves what DataCoord persisted (`serves_persisted`)."""
    client.load_collection(name)
    deadline = time.monotonic() + timeout_s
    while True:
        persisted = {
            s.segment_id: s.num_rows
            for s in client.list_persistent_segments(name)
            if s.state == SegmentState.Flushed
        }
        loaded = client.list_loaded_segments(name)
        loaded_ids = {s.segment_id for s in loaded}
        sealed = {s.segment_id: s.num_rows for s in loaded if s.state == SegmentState.Sealed}
        if serves_persisted(persisted, loaded_ids, sealed):
            return
        if time.monotonic() > deadline:
            missing = persisted.keys() - loaded_ids
            raise UnavailableError(
                f"Milvus serves {name} without {len(missing)} of its {len(persisted)} flushed segments "
                f"after {timeout_s:.0f} s"
            )
        time.sleep(0.2)


def serves_persisted(persisted: dict[int, int], loaded: Collection[int], sealed: dict[int, int]) -> bool:
    """Whether a query node serving the segments `loaded` (of which `sealed`: id → rows)
    serves every row of the `persisted` flushed ones (id → rows). A flushed segment it
    lacks may be a compaction's product, indexed before the query node swaps it for its
    sources, which serve its rows meanwhile: that counts when the sealed segments no longer
    persisted hold at least as many rows. Requiring every flushed segment instead kept a
    gateway started right after a 1M-product first start waiting over 28 min, while
    compaction and indexing went on and every row was served
    (bench/SCALE_RESULTS_RECOVERY_1M.md)."""
    missing = persisted.keys() - set(loaded)
    replaced = sealed.keys() - persisted.keys()
    return sum(persisted[s] for s in missing) <= sum(sealed[s] for s in replaced)


def replace_rows(
    client: MilvusClient, name: str, rows: list[dict[str, Any]], replaced: list[int], per_request: int
) -> None:
    """Write `rows`, the rows of the keys `replaced` deleted first, in a request of its own.

    Not Milvus' upsert: it deletes and inserts at one timestamp, and in our restart tests
    (tests/unit/test_milvus_store.py) a row overwritten that way before a restart was gone
    after a later kill, although count(*) still counted it. A delete at an earlier timestamp
    cannot touch the new row. Between the two requests a reader may miss the row for a
    moment; a gateway that dies there has not recorded the write's seq, so the next catch-up
    writes it again."""
    for start in range(0, len(replaced), _KEYS_PER_QUERY):
        client.delete(name, ids=replaced[start : start + _KEYS_PER_QUERY])
    for start in range(0, len(rows), per_request):
        client.insert(name, rows[start : start + per_request])


def reloading(client: MilvusClient, name: str, call: Callable[[], _T]) -> _T:
    """Run a read; when Milvus says the collection is not loaded (a restarted server loads
    its collections again one by one), load it fully and try once more."""
    try:
        return call()
    except MilvusException as error:
        if "not loaded" not in str(error):
            raise
        load_fully(client, name)
        return call()


def _engine_errors(method: Callable[..., _T]) -> Callable[..., _T]:
    """Milvus failing (down, restarting, a collection not loaded yet) is UNAVAILABLE to
    callers, who retry; the gateway and its other catalogs go on."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> _T:
        try:
            return method(*args, **kwargs)
        except MilvusException as error:
            raise UnavailableError(f"the Milvus vector store failed: {error}") from error

    return call


class MilvusVectorStore:
    """A VectorStore on one Milvus collection (see the module docstring)."""

    engine = ENGINE

    def __init__(
        self,
        client: MilvusClient,
        name: str,
        space: IndexSpace,
        params: IndexParams,
        states: EmbeddingSource | None = None,
        applied_seq: int = 0,
        replay_to: int = 0,
    ) -> None:
        self._client = client
        self.name = name
        self._space = space
        self._params = params
        self._states = states  # the catalog that records where the store stands; None: nowhere
        self._applied_seq = applied_seq
        self._durable_seq = applied_seq
        # Other gateways' seqs are taken in only past this one, which this store must replay
        # itself: the recorded seq may count writes Milvus has since lost (see "Durability").
        self._replay_to = replay_to
        self._closed = False  # closed or dropped: nothing left to flush
        self.flushed_with: tuple[str, ...] = ()  # collections flushed with this one (members)
        self.match_all = ""  # an expression for rows every filter selects (`expression`)
        self._seq_lock = threading.Lock()

    # -- creation -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        client: MilvusClient,
        name: str,
        space: IndexSpace,
        params: IndexParams,
        states: EmbeddingSource | None = None,
    ) -> MilvusVectorStore:
        """A new, empty, loaded collection (an existing one of that name is dropped)."""
        if client.has_collection(name):
            client.drop_collection(name)
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=space.dim)
        add_facet_fields(schema)
        index = client.prepare_index_params()
        index.add_index(
            "vector",
            index_type="HNSW",
            metric_type="IP",
            params={"M": params.M, "efConstruction": params.ef_construction},
        )
        client.create_collection(name, schema=schema, index_params=index, consistency_level=CONSISTENCY)
        client.load_collection(name)
        return cls(client, name, space, params, states)

    # -- the VectorStore interface --------------------------------------------------------

    @property
    def space(self) -> IndexSpace:
        return self._space

    @property
    def applied_seq(self) -> int:
        return self._applied_seq

    def refresh_applied_seq(self) -> int:
        """What the catalog records for the collection, in this space: other gateways apply
        their writes to it too, so a follower need not write them again."""
        state = None if self._states is None else self._states.store_state(self.name)
        with self._seq_lock:
            if self._applied_seq < self._replay_to:
                return self._applied_seq
            if state is not None and state.space == space_json(self._space):
                self._applied_seq = max(self._applied_seq, state.seq)
            return self._applied_seq

    @_engine_errors
    def upsert(
        self, records: Sequence[VectorRecord], seq: int, existing: Collection[int] | None = None
    ) -> None:
        """Write `records`, replacing the rows of the same keys; `existing`: the keys that may
        have a row (default: all of them), the others are known to be new."""
        rows = [self._row(r) for r in {r.key: r for r in records}.values()]  # the same key twice: last wins
        replaced = [row["key"] for row in rows if existing is None or row["key"] in existing]
        per_request = max(1, _REQUEST_BYTES // (4 * self._space.dim + 2048))
        replace_rows(self._client, self.name, rows, replaced, per_request)
        self._advance(seq)

    def _row(self, record: VectorRecord) -> dict[str, Any]:
        vector = np.asarray(record.vector, dtype=np.float32)
        if vector.shape != (self._space.dim,):
            raise ValueError(f"vectors must have shape ({self._space.dim},), got {vector.shape}")
        norm = float(np.linalg.norm(vector))
        if not norm or not math.isfinite(norm):
            raise ValueError(f"vector of key {record.key} cannot be normalised (norm {norm})")
        return {
            "key": int(record.key),
            "vector": (vector / norm).tolist(),
            **facet_fields(record.key, record.facets),
        }

    @_engine_errors
    def delete(self, keys: Collection[int], seq: int) -> int:
        # Milvus counts the keys asked for, not those it held: find those first.
        present = sorted(self.present({int(k) for k in keys}))
        for start in range(0, len(present), _KEYS_PER_QUERY):
            self._client.delete(self.name, ids=present[start : start + _KEYS_PER_QUERY])
        self._advance(seq)
        return len(present)

    def present(self, keys: Iterable[int]) -> set[int]:
        """Those of `keys` the collection holds."""
        return {int(row["key"]) for row in self._query_keys(keys, ["key"])}

    def _query_keys(self, keys: Iterable[int], fields: list[str]) -> list[dict[str, Any]]:
        ordered = sorted(keys)
        rows: list[dict[str, Any]] = []
        for start in range(0, len(ordered), _KEYS_PER_QUERY):
            chunk = ordered[start : start + _KEYS_PER_QUERY]
            query = functools.partial(
                self._client.query,
                self.name,
                filter=f"key in [{', '.join(map(str, chunk))}]",
                output_fields=fields,
                consistency_level=CONSISTENCY,
            )
            rows.extend(reloading(self._client, self.name, query))
        return rows

    @_engine_errors
    def search(
        self, query: np.ndarray, k: int, condition: Filter = EVERYTHING, exclude: Collection[int] = ()
    ) -> list[tuple[int, float]]:
        if k <= 0:
            return []
        if k > TOPK_MAX:
            _LOGGER.warning("%s: top %d asked, Milvus returns at most %d", self.name, k, TOPK_MAX)
            k = TOPK_MAX
        vector = np.asarray(query, dtype=np.float32).tolist()
        where = expression(condition, exclude, self.match_all)
        ef = self._params.ef_search * (_FILTERED_EF_FACTOR if where else 1)
        limit = min(2 * k, TOPK_MAX)
        while True:
            hits = self._search_once(vector, limit, where, ef)
            # A tie across the k-th place: ask for more, so that the smallest keys win it.
            if len(hits) < limit or limit == TOPK_MAX or hits[k - 1][1] != hits[-1][1]:
                break
            limit = min(_TIE_GROWTH * limit, TOPK_MAX)
        hits.sort(key=lambda hit: (-hit[1], hit[0]))
        return hits[:k]

    @_engine_errors
    def nearest(self, vectors: np.ndarray) -> list[tuple[int, float] | None]:
        """Each vector's nearest stored one (key, score), in one request; None where the
        collection is empty."""
        if not len(vectors):
            return []
        found = reloading(
            self._client,
            self.name,
            lambda: self._client.search(
                self.name,
                data=np.asarray(vectors, dtype=np.float32).tolist(),
                limit=1,
                search_params={"metric_type": "IP", "params": {"ef": self._params.ef_search}},
                consistency_level=CONSISTENCY,
            ),
        )
        return [(int(hits[0]["id"]), float(hits[0]["distance"])) if hits else None for hits in found]

    def _search_once(self, vector: list[float], limit: int, where: str, ef: int) -> list[tuple[int, float]]:
        found = reloading(
            self._client,
            self.name,
            lambda: self._client.search(
                self.name,
                data=[vector],
                limit=limit,
                filter=where,
                search_params={
                    "metric_type": "IP",
                    "params": {"ef": min(max(ef, limit), _EF_MAX)},
                },
                consistency_level=CONSISTENCY,
            ),
        )
        return [(int(hit["id"]), float(hit["distance"])) for hit in found[0]]

    @_engine_errors
    def facets(self, keys: Collection[int]) -> dict[int, Facets]:
        """The facets stored with each of `keys` the collection holds."""
        fields = ["key", "categories", "price_low", "price_high", "has_price", "attributes"]
        rows = self._query_keys({int(k) for k in keys}, fields)
        return {int(row["key"]): stored_facets(row) for row in rows}

    @_engine_errors
    def fetch(self, keys: Collection[int]) -> dict[int, np.ndarray]:
        return {
            int(row["key"]): np.asarray(row["vector"], dtype=np.float32)
            for row in self._query_keys({int(k) for k in keys}, ["key", "vector"])
        }

    @_engine_errors
    def count(self) -> int:
        rows = self._client.query(
            self.name, filter="", output_fields=["count(*)"], consistency_level=CONSISTENCY
        )
        return int(rows[0]["count(*)"])

    @_engine_errors
    def stats(self) -> StoreStats:
        built = self._client.describe_index(self.name, "vector") or {}
        return StoreStats(
            self._space,
            self.engine,
            self.count(),
            {
                "collection": self.name,
                "index_type": str(built.get("index_type", "HNSW")),
                "metric": str(built.get("metric_type", "IP")),
                "M": str(built.get("M", self._params.M)),
                "ef_construction": str(built.get("efConstruction", self._params.ef_construction)),
                "ef_search": str(self._params.ef_search),
                "consistency": CONSISTENCY,
                "top_k_max": str(TOPK_MAX),
            },
        )

    def close(self) -> None:
        """Make the writes durable, so that the next open needs no replay. The collection
        stays loaded for the other gateways; the client is the backend's."""
        self.persist()
        self._closed = True

    @_engine_errors
    def drop(self) -> None:
        """Remove the collection and its recorded state; the store is unusable afterwards."""
        self._closed = True
        if self._states is not None:
            self._states.forget_store_state(self.name)
        self._client.drop_collection(self.name)
        self._applied_seq = 0

    # -- where it stands ------------------------------------------------------------------

    def mark_current(self, seq: int) -> None:
        """Record that the collection holds the catalog up to `seq` (an empty catalog too)."""
        self._advance(seq, always=True)

    @_engine_errors
    def persist(self) -> None:
        """Flush the collection (and `flushed_with`), then record the seq they cover as
        durable: what Milvus holds unflushed it may lose in a restart (see "Durability")."""
        with self._seq_lock:
            seq = self._applied_seq
            if seq <= self._durable_seq or self._closed:
                return
        for name in (self.name, *self.flushed_with):
            self._client.flush(name)
        with self._seq_lock:
            self._durable_seq = max(self._durable_seq, seq)
            self._record_state()

    @property
    def dirty(self) -> bool:
        return self._applied_seq > self._durable_seq and not self._closed

    def _advance(self, seq: int, always: bool = False) -> None:
        """Record `seq` in the catalog, after the writes it covers."""
        with self._seq_lock:
            if seq <= self._applied_seq and not always:
                return
            self._applied_seq = seq
            self._record_state()

    def _record_state(self) -> None:
        if self._states is not None:
            self._states.record_store_state(
                self.name, StoreState(space_json(self._space), self._applied_seq, self._durable_seq)
            )


def space_json(space: IndexSpace) -> str:
    """How a StoreState names its space: the IndexSpace's fields as JSON."""
    return json.dumps(dataclasses.asdict(space), sort_keys=True)


class MilvusVectors:
    """The Milvus VectorBackend: one collection per catalog and space on the server at `uri`.
    The one client is shared by every store it opens (pymilvus clients are thread-safe)."""

    def __init__(self, uri: str, params: IndexParams, token: str = "", timeout_s: float = 30.0) -> None:
        self.uri = uri
        self.params = params
        self.client = MilvusClient(uri=uri, token=token, timeout=timeout_s)
        self._drop_legacy_meta()
        self._stores: weakref.WeakSet[MilvusVectorStore] = weakref.WeakSet()
        self._closed = threading.Event()
        self._flusher = threading.Thread(target=self._flush_periodically, name="milvus-flush", daemon=True)
        self._flusher.start()

    def _drop_legacy_meta(self) -> None:
        """Stores recorded where they stood in a Milvus collection before 2026-12-07; their
        catalogs record nothing yet, so each collection is rebuilt once at its next open."""
        if self.client.has_collection(LEGACY_META):
            _LOGGER.warning("dropping %s: catalogs now record where their collections stand", LEGACY_META)
            self.client.drop_collection(LEGACY_META)

    def _flush_periodically(self) -> None:
        """Every FLUSH_INTERVAL_S, make the stores' writes durable, bounding what a Milvus
        restart can take back and a gateway's next open replays."""
        while not self._closed.wait(FLUSH_INTERVAL_S):
            for store in list(self._stores):
                if store.dirty:
                    try:
                        store.persist()
                    except (UnavailableError, CatalogError) as error:  # down: the next round tries again
                        _LOGGER.warning("%s: flush failed: %s", store.name, error)

    @_engine_errors
    def open(
        self, catalog: CatalogInfo, space: IndexSpace, source: EmbeddingSource, copies: bool
    ) -> tuple[VectorStore, list[int]]:
        """The collection as it is when its catalog records it durably at the catalog's
        sequence in this space — or behind it, when the catalog is shared:
        the gateways catch it up from the catalog's outbox (server/service/follow.py) under
        the catalog's lock, where a rebuild here would empty a collection other gateways
        serve from. Else it is rebuilt from the catalog's stored embeddings, by one gateway
        at a time (`_rebuild_lock`): one that waited opens what the other rebuilt. Only the
        durable seq counts: writes after the last flush are replayed (see "Durability").
        Returns the store and the keys to embed again (another model version, or never
        described in this space)."""
        name = collection_name(catalog.id, space.name)
        opened = self._open_current(name, space, source, copies)
        if opened is not None:
            return opened, []
        with _rebuild_lock(source, name):
            opened = self._open_current(name, space, source, copies)
            if opened is not None:  # another gateway rebuilt it while this one waited
                return opened, []
            return self._rebuild(name, space, source, copies)

    def _open_current(
        self, name: str, space: IndexSpace, source: EmbeddingSource, copies: bool
    ) -> VectorStore | None:
        """The collection where it stands, or None when it must be rebuilt."""
        seq = source.seq()
        state = source.store_state(name)
        stored = -1 if state is None else state.durable_seq
        found = -1 if state is None else state.seq
        follows = isinstance(source, SharedCatalogStore)
        current = (
            state is not None
            and (stored == seq or (follows and stored < seq))
            and state.space == space_json(space)
            and self.client.has_collection(name)
        )
        members = members_name(name)
        if not (current and self.client.has_collection(members)):
            return None
        load_fully(self.client, name)
        load_fully(self.client, members)
        points = MilvusVectorStore(self.client, name, space, self.params, source, stored, replay_to=found)
        opened, _ = _stack(points, members, copies)
        self._stores.add(points)
        _LOGGER.info(
            "%s: durably at seq %d (applied %d, catalog at %d), %d vectors",
            name,
            stored,
            found,
            seq,
            opened.count(),
        )
        return opened

    def _rebuild(
        self, name: str, space: IndexSpace, source: EmbeddingSource, copies: bool
    ) -> tuple[VectorStore, list[int]]:
        started = time.perf_counter()
        seq = source.seq()
        _LOGGER.info(
            "%s: stored at %s; rebuilding from the catalog at seq %d", name, source.store_state(name), seq
        )
        source.forget_store_state(name)  # a crash mid-rebuild leaves it behind
        points = MilvusVectorStore.create(self.client, name, space, self.params, source)
        store, shared = _stack(points, members_name(name), copies, create=True)
        stale: list[int] = []
        if copies:  # products stored before copy detection existed
            stale.extend(source.keys_without(space.name))
        model = (space.model, space.model_version)
        with shared.loading():
            for rows in source.iter_embeddings(space.name):
                stale.extend(row.key for row in rows if (row.model, row.model_version) != model)
                # Seq 0 until all is written: a state is recorded only when the rebuild is whole.
                store.upsert(
                    [
                        VectorRecord(r.key, r.vector, r.facets)
                        for r in rows
                        if (r.model, r.model_version) == model
                    ],
                    0,
                )
        points.mark_current(seq)
        points.persist()
        self._stores.add(points)
        _LOGGER.info(
            "%s: rebuilt with %d vectors (%d to re-embed) in %.1f s",
            name,
            store.count(),
            len(stale),
            time.perf_counter() - started,
        )
        return store, stale

    def close(self) -> None:
        self._closed.set()
        self._flusher.join()
        self.client.close()


@contextlib.contextmanager
def _rebuild_lock(source: EmbeddingSource, name: str) -> Iterator[None]:
    """Hold the catalog's lock for rebuilding collection `name` across gateways (a shared
    catalog store; else nothing to hold): gateways that start together on a catalog whose
    collection is missing or of another model would otherwise drop and refill it at once.
    UNAVAILABLE after REBUILD_WAIT_S, so that a starting gateway tries again later
    (`ProductSearchService.open_catalogs`) rather than block its shutdown on another's rebuild."""
    if not isinstance(source, SharedCatalogStore):
        yield
        return
    purpose = rebuild_lock_purpose(name)
    deadline = time.monotonic() + REBUILD_WAIT_S
    while not source.try_lock(purpose):
        if time.monotonic() > deadline:
            raise UnavailableError(f"another gateway is rebuilding {name}; retry shortly")
        time.sleep(_REBUILD_POLL_S)
    try:
        yield
    finally:
        source.unlock(purpose)


def rebuild_lock_purpose(collection: str) -> str:
    """The name of the catalog lock a gateway holds while it rebuilds `collection`."""
    return f"rebuild {collection}"


def members_name(collection: str) -> str:
    """The members collection of a points collection (server/index/milvus_points.py)."""
    return collection + "_members"


def _stack(
    points: MilvusVectorStore, members: str, copies: bool, create: bool = False
) -> tuple[VectorStore, MilvusPointsStore]:
    """One point per distinct vector over the collection (server/index/milvus_points.py,
    which builds on this module), under `CopyStore` for copy detection; and the points
    store itself."""
    from server.index.milvus_points import MilvusMembers, MilvusPointsStore

    client = points._client
    points.flushed_with = (members,)
    shared = MilvusPointsStore(
        points, MilvusMembers.create(client, members) if create else MilvusMembers(client, members)
    )
    return (CopyStore(shared) if copies else shared), shared
