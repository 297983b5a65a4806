"""Following a shared catalog: gateways that share a catalog store (PostgreSQL) keep their
vector stores current with it, in commit order.

- A write runs under `writing(catalog)`: this gateway's lock and, for a shared store, the
  catalog's lock across gateways. Inside it the gateway first applies what the others
  committed since its vector stores last followed (`catch_up`), then commits its own
  write and applies it, so every vector store sees the writes in the catalog's order —
  also a store that gateways share (Milvus), where an older write applied late would
  otherwise overwrite a newer one.
- Every gateway also catches up on its own schedule (`ProductSearchService.follow`, every
  `follow_interval_s`): a write acknowledged by one gateway is searchable through another
  within that interval when each keeps its own index (hnswlib), and at once when they share
  Milvus (the writer applied it before acknowledging; Milvus reads are Strong).
- A catch-up reads, in one snapshot, the keys written since and their embeddings as they
  are *now* (server/catalog/store.py `CatchUp`), and writes that state: applying it twice,
  or after a newer write, changes nothing, so a gateway that died between its commit and
  its apply is repaired by whichever gateway follows next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from server.catalog.store import CatchUp, SharedCatalogStore
from server.index.store import VectorRecord, VectorStore
from server.service.catalogs import Catalog

_LOGGER = logging.getLogger(__name__)

MAX_WRITES = 1000  # writes read per catch-up round (their keys and embeddings in memory)
LOCK_POLL_S = 0.005  # how often a writer asks again for the lock another gateway holds
WRITES, TRAINING = "writes", "training"  # the catalog's locks across gateways


@contextlib.asynccontextmanager
async def writing(catalog: Catalog) -> AsyncIterator[None]:
    """Hold the catalog for a write: this gateway's lock and, for a shared catalog store, the
    lock across gateways, with the vector stores caught up with the catalog first."""
    async with catalog.write_lock, across_gateways(catalog, WRITES) as shared:
        if shared:
            await catch_up(catalog)
        yield


async def follow_now(catalog: Catalog) -> None:
    """Catch up between writes, under the locks a write takes (`writing` catches up first)."""
    async with writing(catalog):
        pass


@contextlib.asynccontextmanager
async def across_gateways(catalog: Catalog, purpose: str) -> AsyncIterator[bool]:
    """Hold the catalog's lock for `purpose` across gateways when its store is shared;
    yields whether it is."""
    store = catalog.store
    if not isinstance(store, SharedCatalogStore):
        yield False
        return
    await _lock(store, purpose)
    try:
        yield True
    finally:
        await asyncio.to_thread(store.unlock, purpose)


async def _lock(store: SharedCatalogStore, purpose: str) -> None:
    """Wait for the lock, polling (a blocking wait in a thread could not be cancelled with
    its caller, and would keep the lock it got after the caller left)."""
    while True:
        attempt = asyncio.ensure_future(asyncio.to_thread(store.try_lock, purpose))
        try:
            taken = await asyncio.shield(attempt)
        except asyncio.CancelledError:
            attempt.add_done_callback(lambda done: _release_if_taken(store, purpose, done))
            raise
        if taken:
            return
        await asyncio.sleep(LOCK_POLL_S)


def _release_if_taken(store: SharedCatalogStore, purpose: str, attempt: asyncio.Future) -> None:
    if not attempt.cancelled() and attempt.exception() is None and attempt.result():
        asyncio.get_running_loop().run_in_executor(None, store.unlock, purpose)


def behind(catalog: Catalog) -> int:
    """The sequence every vector store of the catalog has applied."""
    return min(space.applied_seq for space in catalog.spaces.values())


def _refreshed_behind(catalog: Catalog) -> int:
    return min(space.refresh_applied_seq() for space in catalog.spaces.values())


async def catch_up(catalog: Catalog) -> int:
    """Apply to the catalog's vector stores what the catalog committed since they last
    followed it; returns how many writes that was. Callers hold `writing(catalog)`."""
    store = catalog.store
    if not isinstance(store, SharedCatalogStore):
        return 0
    seq = await asyncio.to_thread(store.seq)
    applied = behind(catalog)
    if applied < seq:
        # Gateways sharing a vector store (Milvus) apply their own writes to it: take that in.
        applied = await asyncio.to_thread(_refreshed_behind, catalog)
    start = applied
    while applied < seq:
        change = await asyncio.to_thread(store.catch_up, applied, list(catalog.spaces), MAX_WRITES)
        await asyncio.to_thread(apply, catalog, change)
        applied = change.seq
        seq = await asyncio.to_thread(store.seq)
    if applied > start:
        _LOGGER.info("%s: followed %d writes to seq %d", catalog.info.name, applied - start, applied)
    return applied - start


def apply(catalog: Catalog, change: CatchUp) -> None:
    """Write the catalog's current state of the changed keys into each store that is behind.
    Rows embedded by another model version (a gateway serving another model) are left for
    that space's re-embedding and neither written nor deleted."""

    def catch_up(name: str, vectors: VectorStore) -> None:
        if vectors.applied_seq >= change.seq:
            return
        space = vectors.space
        rows = change.embeddings.get(name, [])
        present = {row.key for row in rows}
        gone = [key for key in change.keys if key not in present]
        if gone:
            vectors.delete(gone, change.seq)
        current = [
            row for row in rows if (row.model, row.model_version) == (space.model, space.model_version)
        ]
        vectors.upsert([VectorRecord(row.key, row.vector, row.facets) for row in current], change.seq)

    catalog.in_every_space(catch_up)
