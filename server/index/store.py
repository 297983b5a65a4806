"""The vector store interface: what the service needs of an engine that holds one
embedding space of one catalog, and the plain types it exchanges.

Implementations: `HnswStore` (server/index/embedded.py: hnswlib in process, snapshots on
local disk; the default), `ExactStore` (server/index/exact.py: brute force, the reference
the congruence tests compare with). `DeduplicatingStore` and `CopyStore` wrap any of them.

Every write carries the catalog sequence number of the transaction it applies
(`applied_seq`): a store knows how far it has followed the catalog, which is what tells a
store opened after a crash whether it is current.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from server.domain import NO_FACETS, CatalogInfo, EmbeddingRow, Facets, Filter

_SPACE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class IndexSpace:
    """What built the vectors. A store refuses to mix spaces.

    ``name`` also names the snapshot files, so it is limited to ``[A-Za-z0-9_-]``.
    """

    name: str
    model: str
    model_version: str
    dim: int

    def __post_init__(self) -> None:
        if not _SPACE_NAME.match(self.name):
            raise ValueError(f"space name must match {_SPACE_NAME.pattern}, got {self.name!r}")
        if not self.model:
            raise ValueError("space model must not be empty")
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim <= 0:
            raise ValueError(f"space dim must be a positive int, got {self.dim!r}")


EVERYTHING = Filter()


@dataclass(frozen=True)
class VectorRecord:
    """One vector to store under `key` (a catalog's integer product key, or a wrapper's
    point id), with what filters match on."""

    key: int
    vector: np.ndarray
    facets: Facets = NO_FACETS


@dataclass(frozen=True)
class StoreState:
    """Where a shared vector store stands, as its catalog records it (server/index/milvus.py):
    the space it holds (`IndexSpace` fields as JSON), the catalog seq it has applied, and of
    that the seq its engine has made durable."""

    space: str
    seq: int
    durable_seq: int


@dataclass(frozen=True)
class StoreStats:
    """What GetStats reports of one store: `parameters` are the engine's own, as text."""

    space: IndexSpace
    engine: str
    count: int
    parameters: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class VectorStore(Protocol):
    """One embedding space of one catalog. Vectors are L2-normalised float32, scores are
    cosine similarities. Thread-safe: searches may run alongside each other and writes."""

    @property
    def space(self) -> IndexSpace: ...

    @property
    def applied_seq(self) -> int:
        """The catalog sequence number of the last change applied."""
        ...

    def refresh_applied_seq(self) -> int:
        """`applied_seq` after taking in what other processes applied to the same engine
        (gateways sharing a Milvus collection); a store of this process alone returns it."""
        ...

    def upsert(self, records: Sequence[VectorRecord], seq: int) -> None:
        """Add or replace vectors by key (keys unique within the call)."""
        ...

    def delete(self, keys: Collection[int], seq: int) -> int:
        """Remove keys; unknown ones are ignored. Returns how many were present."""
        ...

    def search(
        self, query: np.ndarray, k: int, condition: Filter = EVERYTHING, exclude: Collection[int] = ()
    ) -> list[tuple[int, float]]:
        """The top-k keys by cosine, best first (ties by key), as (key, score): only keys
        whose facets match `condition`, never those in `exclude`. Returns min(k, matching
        keys) entries."""
        ...

    def fetch(self, keys: Collection[int]) -> dict[int, np.ndarray]:
        """The stored vectors of those keys that are present."""
        ...

    def count(self) -> int: ...

    def stats(self) -> StoreStats: ...

    def close(self) -> None:
        """Make what was applied durable in the engine's own way and release it."""
        ...

    def drop(self) -> None:
        """Remove everything stored (the catalog is being deleted)."""
        ...


class VectorBackend(Protocol):
    """Where the vector stores of every catalog live (embedded: server/index/embedded.py)."""

    def open(
        self, catalog: CatalogInfo, space: IndexSpace, source: EmbeddingSource, copies: bool
    ) -> tuple[VectorStore, list[int]]:
        """Open (or create) one space of one catalog, current with `source`'s sequence;
        returns it and the keys whose stored embeddings must be computed again."""
        ...


class EmbeddingSource(Protocol):
    """What a store reads from the catalog to catch up (server/catalog/store.py: CatalogStore),
    and where a store outside the process records how far it has followed it."""

    def seq(self) -> int: ...

    def iter_embeddings(self, space: str) -> Iterator[list[EmbeddingRow]]:
        """Every stored embedding of `space`, in key order, with its product's facets."""
        ...

    def keys_without(self, space: str) -> list[int]:
        """Keys of products that have no embedding in `space` (stored before it existed)."""
        ...

    def store_state(self, store: str) -> StoreState | None:
        """Where the vector store `store` outside the process (a Milvus collection) stands,
        kept in the catalog rather than in its engine: Milvus once lost a freshly written
        meta row from its own reads (README, "Scale")."""
        ...

    def record_store_state(self, store: str, state: StoreState) -> None:
        """Keep the higher seqs of the recorded state and `state` where their spaces agree,
        else `state` (each gateway records what it applied; every record says something
        true); not a catalog write (the seq stays)."""
        ...

    def forget_store_state(self, store: str) -> None: ...
