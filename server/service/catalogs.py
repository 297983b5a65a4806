"""Catalogs: named, isolated product collections in one gateway (`catalogs/{id}`).

Each open catalog has its own catalog store, one vector store per embedding space, its
own keyword → image projection and its own locks. A call names its catalog and holds it
while it runs (`CatalogSet.use`); a deleted catalog disappears for new calls at once and is
closed and removed once the calls in flight are done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from server.catalog.store import CatalogRegistry, CatalogStore
from server.domain import (
    DEFAULT_CATALOG,
    AlreadyExistsError,
    CatalogInfo,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    UnavailableError,
)
from server.index.store import VectorStore
from server.service.calibration import References, Relevance
from server.service.validation import catalog_violations, raise_if

_LOGGER = logging.getLogger(__name__)

# AIP-122 resource ids: lower-case letters, digits and hyphens, a letter first, at most 63.
CATALOG_ID = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
DRAIN_TIMEOUT_S = 30.0  # how long a delete waits for the calls still using the catalog


@dataclass(eq=False)
class Catalog:
    """An open catalog."""

    info: CatalogInfo
    store: CatalogStore
    spaces: dict[str, VectorStore]
    projection: str | None = None  # the Triton model of its keyword → image projection, when served
    head: int | None = None  # the version of its image head that searches use (server/service/heads.py)
    rolling_out: int | None = None  # a newer version being filled in, if any
    references: References = field(default_factory=References)  # for calibrated fusion
    relevance: dict[str, Relevance] = field(default_factory=dict)  # per signal, from the projection
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    train_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def id(self) -> str:
        return self.info.id

    def close(self) -> None:
        for space in self.spaces.values():
            space.close()
        self.store.close()

    def in_every_space(self, work: Callable[[str, VectorStore], object]) -> None:
        """Run `work` on each space at once, on threads of its own: on Milvus a space's
        write is several round trips that mostly wait (a Strong read waits for the next
        time tick), so the spaces overlap their waits. Each space still sees its writes in
        seq order (callers hold the catalog's write lock); the first failure is raised once
        every space is done."""
        if len(self.spaces) <= 1:
            for name, store in self.spaces.items():
                work(name, store)
            return
        with ThreadPoolExecutor(len(self.spaces), thread_name_prefix="space-write") as pool:
            futures = [pool.submit(work, name, store) for name, store in self.spaces.items()]
        for future in futures:
            future.result()


def check_catalog_id(catalog_id: str, field_name: str) -> None:
    if not CATALOG_ID.match(catalog_id):
        shown = catalog_id if len(catalog_id) <= 70 else catalog_id[:64] + "…"
        raise InvalidArgumentError(
            [(field_name, f"{shown!r} is not a catalog id: 1-63 of a-z, 0-9 and '-', starting with a letter")]
        )


class CatalogSet:
    """The open catalogs of this gateway, over the registry that stores them."""

    def __init__(
        self,
        registry: CatalogRegistry,
        opener: Callable[[CatalogInfo], Awaitable[Catalog]],
        closer: Callable[[Catalog], Awaitable[None]],
    ) -> None:
        self.registry = registry
        self._open_catalog = opener  # opens stores and spaces, re-embeds stale rows
        self._forget_catalog = closer  # removes what lives outside the registry (its projection)
        self._catalogs: dict[str, Catalog] = {}
        self._lock = asyncio.Lock()  # serialises create and delete
        self._opened = False  # until every catalog is open, calls get UNAVAILABLE

    async def open_all(self) -> None:
        """Open every catalog not open yet: after a failure, a second call goes on."""
        if await asyncio.to_thread(self.registry.get, DEFAULT_CATALOG) is None:
            # Gateways starting together on a new shared registry: one of them creates it.
            with contextlib.suppress(AlreadyExistsError):
                await asyncio.to_thread(self.registry.create, DEFAULT_CATALOG, "Default catalog", "")
        after = ""
        while page := await asyncio.to_thread(self.registry.list, after, 100):
            for info in page:
                if info.id not in self._catalogs:
                    self._catalogs[info.id] = await self._open_catalog(info)
            after = page[-1].id
        self._opened = True

    def _check_opened(self) -> None:
        if not self._opened:
            raise UnavailableError("the gateway is still opening its catalogs; retry shortly")

    def ids(self) -> list[str]:
        return sorted(self._catalogs)

    def all(self) -> list[Catalog]:
        return [self._catalogs[i] for i in sorted(self._catalogs)]

    async def refresh(self, catalog_id: str | None = None) -> None:
        """Take in what other gateways did to a shared registry: open the catalogs they
        created, close those they deleted (their data is gone with the delete). With
        `catalog_id`, only that one (a call named a catalog this gateway has not opened)."""
        async with self._lock:
            if catalog_id is not None:
                info = await asyncio.to_thread(self.registry.get, catalog_id)
                listed = {catalog_id: info} if info is not None else {}
            else:
                listed = {i.id: i for i in await asyncio.to_thread(self._list_registry)}
            for info in listed.values():
                if info.id not in self._catalogs:
                    self._catalogs[info.id] = await self._open_catalog(info)
                    _LOGGER.info("opened %s, created by another gateway", info.name)
            gone = [
                catalog
                for catalog in self._catalogs.values()
                if catalog_id is None
                and (catalog.id not in listed or listed[catalog.id].uid != catalog.info.uid)
            ]
            for catalog in gone:
                del self._catalogs[catalog.id]
                try:
                    await asyncio.wait_for(_drained(catalog), DRAIN_TIMEOUT_S)
                except TimeoutError:
                    _LOGGER.warning("%s: calls still running; closing it anyway", catalog.info.name)
                async with catalog.write_lock:
                    await asyncio.to_thread(catalog.close)
                _LOGGER.info("closed %s, deleted by another gateway", catalog.info.name)

    def _list_registry(self) -> list[CatalogInfo]:
        infos, after = [], ""
        while page := self.registry.list(after, 100):
            infos.extend(page)
            after = page[-1].id
        return infos

    def _get(self, catalog_id: str, caller: Principal) -> Catalog:
        self._check_opened()
        # Permission first: a key limited to other catalogs learns nothing of this one.
        if not caller.may_use(catalog_id):
            raise PermissionDeniedError(f"key '{caller.name}' may not use catalogs/{catalog_id}")
        catalog = self._catalogs.get(catalog_id)
        if catalog is None:
            raise NotFoundError(f"catalogs/{catalog_id} not found")
        return catalog

    @contextlib.asynccontextmanager
    async def use(self, catalog_id: str, caller: Principal) -> AsyncIterator[Catalog]:
        """The open catalog, held until the block ends; NOT_FOUND or PERMISSION_DENIED."""
        self._check_opened()
        if self.registry.shared and catalog_id not in self._catalogs and caller.may_use(catalog_id):
            await self.refresh(catalog_id)  # created through another gateway since the last follow
        catalog = self._get(catalog_id, caller)
        catalog.users += 1
        catalog.idle.clear()
        try:
            yield catalog
        finally:
            catalog.users -= 1
            if not catalog.users:
                catalog.idle.set()

    async def create(
        self, catalog_id: str, display_name: str, description: str, caller: Principal
    ) -> CatalogInfo:
        check_catalog_id(catalog_id, "catalog_id")
        raise_if(catalog_violations(display_name, description))
        if not caller.may_use(catalog_id):
            raise PermissionDeniedError(f"key '{caller.name}' may not create catalogs/{catalog_id}")
        self._check_opened()
        async with self._lock:
            info = await asyncio.to_thread(self.registry.create, catalog_id, display_name, description)
            try:
                self._catalogs[catalog_id] = await self._open_catalog(info)
            except BaseException:
                await asyncio.to_thread(self.registry.delete, info)
                raise
        _LOGGER.info("created %s", info.name)
        return info

    def get(self, catalog_id: str, caller: Principal) -> Catalog:
        return self._get(catalog_id, caller)

    def list_page(self, after_id: str, limit: int, caller: Principal) -> list[Catalog]:
        """Open catalogs the caller may use, with id > `after_id`, in id order."""
        self._check_opened()
        visible = [c for i, c in sorted(self._catalogs.items()) if i > after_id and caller.may_use(i)]
        return visible[:limit]

    async def delete(self, catalog_id: str, force: bool, caller: Principal) -> CatalogInfo:
        """Remove a catalog and everything it stores. Without `force`, only an empty one."""
        async with self._lock:
            catalog = self._get(catalog_id, caller)
            if catalog_id == DEFAULT_CATALOG:
                raise FailedPreconditionError(
                    "the default catalog cannot be deleted; DeleteProducts empties it"
                )
            count = await asyncio.to_thread(catalog.store.count)
            if count and not force:
                raise FailedPreconditionError(
                    f"{catalog.info.name} has {count} products; set force to delete them with it"
                )
            del self._catalogs[catalog_id]  # new calls: NOT_FOUND from here on
            try:
                await asyncio.wait_for(_drained(catalog), DRAIN_TIMEOUT_S)
            except TimeoutError:
                _LOGGER.warning(
                    "%s: calls still running after %.0f s; deleting anyway",
                    catalog.info.name,
                    DRAIN_TIMEOUT_S,
                )
            async with catalog.write_lock, catalog.train_lock:
                await self._forget_catalog(catalog)
                for space in catalog.spaces.values():
                    await asyncio.to_thread(space.drop)
                await asyncio.to_thread(catalog.store.close)
                await asyncio.to_thread(self.registry.delete, catalog.info)
        _LOGGER.info("deleted %s (%d products)", catalog.info.name, count)
        return catalog.info

    async def close(self) -> None:
        """Close every catalog (each space writes what makes its next open fast)."""
        for catalog in self._catalogs.values():
            async with catalog.write_lock:
                await asyncio.to_thread(catalog.close)
        self._catalogs.clear()
        await asyncio.to_thread(self.registry.close)


async def _drained(catalog: Catalog) -> None:
    while catalog.users:
        await catalog.idle.wait()
