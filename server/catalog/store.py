"""The catalog store interface: the source of truth for one catalog's products, their
stored images and embeddings, and the registry of catalogs.

Implementations: SQLite (server/catalog/sqlite.py), the embedded default; PostgreSQL
(server/catalog/postgres.py), a `SharedCatalogStore` that many gateways write at once. Every write
method is one transaction and returns the catalog's sequence number after it: each
commit bumps it by one, and the vector stores follow the catalog in that order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from server.domain import CatalogInfo, EmbeddingRow, Filter, Product, ProductWrite
from server.index.store import EmbeddingSource

EVERYTHING = Filter()


@dataclass(frozen=True)
class Deleted:
    """What a delete removed: product id → key, and the sequence after it."""

    keys: dict[str, int]
    seq: int


@dataclass(frozen=True)
class CatchUp:
    """What a vector store needs to follow a shared catalog from some sequence to `seq`:
    the keys written since, and per space their embeddings as they are now (with their
    products' facets); a key without a row in a space is gone from it."""

    seq: int
    keys: list[int]
    embeddings: dict[str, list[EmbeddingRow]]


class CatalogStore(EmbeddingSource, Protocol):
    """One catalog's products. Thread-safe; reads never wait for writes. As an
    EmbeddingSource it also records where the vector stores outside the process stand."""

    def seq(self) -> int:
        """The sequence number of the last committed write (0 for a new catalog)."""
        ...

    def count(self) -> int: ...

    def upsert(self, writes: Sequence[ProductWrite], model_versions: dict[str, tuple[str, str]]) -> int:
        """Insert or replace products by id, with their images and embeddings, in one
        transaction; sets each product's `key` and `update_time`. `model_versions` maps a
        space to the (model, version) that embedded it. A product's embeddings in spaces it
        no longer has (an emptied title) are removed."""
        ...

    def delete(self, ids: Sequence[str]) -> Deleted: ...

    def replace_embeddings(self, rows: Sequence[EmbeddingRow]) -> int:
        """Store re-computed embeddings (after a model change) of existing products; rows
        of products deleted meanwhile are ignored."""
        ...

    def delete_embeddings(self, space: str) -> None:
        """Remove every stored embedding of `space` (a retired image-head version)."""
        ...

    def get(self, product_id: str, with_thumbnail: bool = True) -> Product | None: ...

    def get_many(self, keys: Sequence[int], with_thumbnail: bool = False) -> dict[int, Product]: ...

    def list_page(self, after_id: str, limit: int, condition: Filter = EVERYTHING) -> list[Product]:
        """Products with id > `after_id` that match `condition`, in id order."""
        ...

    def iter_embeddings(self, space: str, batch: int = 4096) -> Iterator[list[EmbeddingRow]]:
        """Every stored embedding of `space`, in key order, with its product's facets."""
        ...

    def sample_keys(self, space: str, n: int, rng: np.random.Generator) -> list[int]:
        """Up to `n` distinct keys with an embedding in `space`, drawn at random (each the
        first key at or after a uniformly drawn one: index seeks, never a scan)."""
        ...

    def stored_images(self, keys: Sequence[int]) -> dict[int, bytes]:
        """The normalised JPEGs kept to embed again, of the keys that still exist."""
        ...

    def titles(self, keys: Sequence[int]) -> dict[int, str]: ...

    def close(self) -> None: ...


@runtime_checkable
class SharedCatalogStore(CatalogStore, Protocol):
    """A catalog store that several gateways write (PostgreSQL): each keeps its vector
    stores current by following it, and writers take turns across gateways."""

    def catch_up(self, after_seq: int, spaces: Sequence[str], max_writes: int) -> CatchUp: ...

    def try_lock(self, purpose: str) -> bool:
        """Take the catalog's lock for `purpose` ("writes", "training") across gateways
        if it is free."""
        ...

    def unlock(self, purpose: str) -> None: ...


class CatalogRegistry(Protocol):
    """The set of catalogs, and where each keeps its data."""

    # Other gateways create, write and delete these catalogs too (their stores are
    # SharedCatalogStores): each gateway follows them.
    shared: bool

    def create(self, catalog_id: str, display_name: str, description: str) -> CatalogInfo:
        """Raises AlreadyExistsError."""
        ...

    def get(self, catalog_id: str) -> CatalogInfo | None: ...

    def list(self, after_id: str, limit: int) -> list[CatalogInfo]:
        """Catalogs with id > `after_id`, in id order."""
        ...

    def open(self, info: CatalogInfo) -> CatalogStore: ...

    def directory(self, info: CatalogInfo) -> Path:
        """A folder of the catalog's own, deleted with it (embedded indexes live there)."""
        ...

    def delete(self, info: CatalogInfo) -> None:
        """Remove the catalog and all it stores, freeing its space; resumed at the next
        start if interrupted."""
        ...

    def close(self) -> None: ...
