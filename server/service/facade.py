"""The product search service, independent of gRPC: one thin facade over the catalogs
(server/service/catalogs.py) and the jobs done in them — ingest, ranking, training.

Every call names its catalog by id and says who calls (a Principal); the facade resolves
the catalog (NOT_FOUND, PERMISSION_DENIED), holds it for the call and hands it to the job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from server.catalog.store import CatalogRegistry
from server.config import Config
from server.domain import (
    COPY_SPACE,
    IMAGE_SPACE,
    TITLE_SPACE,
    CatalogInfo,
    Filter,
    Principal,
    Product,
    ProductStatus,
    SearchOptions,
    SearchResult,
    UnavailableError,
)
from server.index.store import IndexSpace, StoreStats, VectorBackend, VectorStore
from server.models import image_head
from server.models.copy_descriptor import DESCRIPTOR_MODEL, DESCRIPTOR_VERSION, DIM
from server.models.embedding import EmbeddingClient
from server.models.images import DecodeBudget
from server.models.manifest import model_version
from server.service import follow
from server.service.catalogs import Catalog, CatalogSet
from server.service.explain import Explain, Explanation
from server.service.heads import HeadResult, ImageHeads
from server.service.ingest import DeleteResult, Ingest, UpsertItem
from server.service.ranking import ProductPage, Ranking
from server.service.training import Training, TrainingResult
from server.service.validation import raise_if
from server.triton.runtime import EmbeddedTriton

_LOGGER = logging.getLogger(__name__)

OPEN_RETRY_S = 5.0  # between tries to open the catalogs while an engine is unavailable


@dataclass(frozen=True)
class CatalogSummary:
    info: CatalogInfo
    product_count: int


@dataclass(frozen=True)
class ModelSummary:
    name: str
    version: str
    dimension: int


@dataclass(frozen=True)
class CatalogStats:
    catalog: CatalogInfo
    product_count: int
    models: list[ModelSummary]
    spaces: list[StoreStats]


async def embedding_spaces(config: Config, embedder: EmbeddingClient) -> dict[str, IndexSpace]:
    """The spaces every catalog indexes, and the model (and version) behind each."""
    spaces = {}
    for name, model in ((IMAGE_SPACE, config.image_model), (TITLE_SPACE, config.text_model)):
        info = await embedder.model_info(model)
        spaces[name] = IndexSpace(name, model, model_version(config.model_repository, model), info.dimension)
    # Copy descriptors are computed in the gateway, not by a Triton model.
    spaces[COPY_SPACE] = IndexSpace(COPY_SPACE, DESCRIPTOR_MODEL, DESCRIPTOR_VERSION, DIM)
    return spaces


class ProductSearchService:
    def __init__(
        self,
        config: Config,
        embedder: EmbeddingClient,
        registry: CatalogRegistry,
        vectors: VectorBackend,
        spaces: dict[str, IndexSpace],
        triton: EmbeddedTriton | None = None,
    ) -> None:
        self.config = config
        self.spaces = spaces
        self.vectors = vectors
        decodes = DecodeBudget()  # one for every image a request brings
        self.ingest = Ingest(config, embedder, spaces, decodes)
        self.ranking = Ranking(config, embedder, spaces, decodes)
        self.explainer = Explain(config, embedder, spaces, self.ranking)
        self.training = Training(config, embedder, spaces, triton)
        self.heads = ImageHeads(config, embedder, spaces[IMAGE_SPACE], vectors, triton)
        self.catalogs = CatalogSet(registry, self._open_catalog, self._forget_trained)

    @classmethod
    async def create(
        cls,
        config: Config,
        embedder: EmbeddingClient,
        registry: CatalogRegistry,
        vectors: VectorBackend,
        triton: EmbeddedTriton | None = None,
    ) -> ProductSearchService:
        """The service, its catalogs not open yet (`open_catalogs`): calls get UNAVAILABLE."""
        return cls(config, embedder, registry, vectors, await embedding_spaces(config, embedder), triton)

    async def open_catalogs(self) -> None:
        """Open every catalog (the default one is created on first start). While an engine
        is unavailable — Milvus restarting, or still indexing the segments a gateway just
        wrote — wait and try again: the gateway stays up, NOT_SERVING, instead of exiting."""
        while True:
            try:
                await self.catalogs.open_all()
                return
            except UnavailableError as error:
                _LOGGER.warning("opening the catalogs: %s; trying again in %.0f s", error, OPEN_RETRY_S)
                await asyncio.sleep(OPEN_RETRY_S)

    async def _open_catalog(self, info: CatalogInfo) -> Catalog:
        store = await asyncio.to_thread(self.catalogs.registry.open, info)
        spaces: dict[str, VectorStore] = {}
        stale: dict[str, list[int]] = {}
        try:
            for name, space in self.spaces.items():
                spaces[name], stale[name] = await asyncio.to_thread(
                    self.vectors.open, info, space, store, name == COPY_SPACE
                )
        except BaseException:
            for opened in spaces.values():
                await asyncio.to_thread(opened.close)
            await asyncio.to_thread(store.close)
            raise
        catalog = Catalog(info, store, spaces)
        await self.training.discover_projection(catalog)
        for name, keys in stale.items():
            if keys:
                await self.ingest.reembed(catalog, name, keys)
        await self.heads.discover(catalog, resume=True)
        return catalog

    async def _forget_trained(self, catalog: Catalog) -> None:
        """A deleted catalog's trained models go with it."""
        await self.heads.forget(catalog)
        await self.training.forget(catalog)

    async def close(self) -> None:
        await self.heads.close()
        await self.catalogs.close()

    async def follow(self) -> None:
        """Catch up with what other gateways did in the shared catalog store: catalogs
        created or deleted, products written (server/service/follow.py), projections and
        image heads trained."""
        await self.catalogs.refresh()
        for catalog in self.catalogs.all():
            if follow.behind(catalog) < await asyncio.to_thread(catalog.store.seq):
                await follow.follow_now(catalog)
            await self.training.discover_projection(catalog)
            await self.heads.discover(catalog, resume=False)

    # -- catalogs -------------------------------------------------------------------------

    async def create_catalog(
        self, catalog_id: str, display_name: str, description: str, caller: Principal
    ) -> CatalogSummary:
        info = await self.catalogs.create(catalog_id, display_name, description, caller)
        return CatalogSummary(info, 0)

    async def get_catalog(self, catalog_id: str, caller: Principal) -> CatalogSummary:
        async with self.catalogs.use(catalog_id, caller) as catalog:
            return CatalogSummary(catalog.info, await asyncio.to_thread(catalog.store.count))

    async def list_catalogs(
        self, page_size: int, after: str, caller: Principal
    ) -> tuple[list[CatalogSummary], str]:
        """One page of catalogs and the id to continue after (empty on the last page)."""
        limits = self.config.limits
        raise_if(
            [("page_size", f"must be between 0 and {limits.max_page_size}")]
            if not 0 <= page_size <= limits.max_page_size
            else []
        )
        limit = page_size or limits.default_page_size
        page = self.catalogs.list_page(after, limit + 1, caller)
        summaries = [CatalogSummary(c.info, await asyncio.to_thread(c.store.count)) for c in page[:limit]]
        return summaries, summaries[-1].info.id if len(page) > limit else ""

    async def delete_catalog(self, catalog_id: str, force: bool, caller: Principal) -> CatalogInfo:
        return await self.catalogs.delete(catalog_id, force, caller)

    # -- products -------------------------------------------------------------------------

    async def upsert(
        self, catalog_id: str, items: Sequence[UpsertItem], caller: Principal
    ) -> list[ProductStatus]:
        async with self.catalogs.use(catalog_id, caller) as catalog:
            return await self.ingest.upsert(catalog, items)

    async def delete(self, catalog_id: str, ids: Sequence[str], caller: Principal) -> DeleteResult:
        async with self.catalogs.use(catalog_id, caller) as catalog:
            return await self.ingest.delete(catalog, ids)

    async def get(self, catalog_id: str, product_id: str, caller: Principal) -> Product:
        async with self.catalogs.use(catalog_id, caller) as catalog:
            return await self.ranking.get(catalog, product_id)

    async def list_page(
        self, catalog_id: str, page_size: int, after: str, condition: Filter, caller: Principal
    ) -> ProductPage:
        async with self.catalogs.use(catalog_id, caller) as catalog:
            return await self.ranking.list_page(catalog, page_size, after, condition)

    # -- searches -------------------------------------------------------------------------

    async def search_by_image(
        self, catalog_id: str, image: bytes, options: SearchOptions, caller: Principal
    ) -> SearchResult:
        async with self.catalogs.use(catalog_id, caller) as catalog:
            return await self.ranking.search_by_image(catalog, image, options)

    async def search_by_text(
        self, catalog_id: str, text: str, options: SearchOptions, caller: Principal
    ) -> SearchResult:
        async with self.catalogs.use(catalog_id, caller) as catalog:
            return await self.ranking.search_by_text(catalog, text, options)

    async def search_similar(
        self, catalog_id: str, product_id: str, options: SearchOptions, caller: Principal
    ) -> SearchResult:
        async with self.catalogs.use(catalog_id, caller) as catalog:
            return await self.ranking.search_similar(catalog, product_id, options)

    async def find_duplicates(
        self, catalog_id: str, image: bytes, threshold: float, max_results: int, caller: Principal
    ) -> SearchResult:
        async with self.catalogs.use(catalog_id, caller) as catalog:
            return await self.ranking.find_duplicates(catalog, image, threshold, max_results)

    async def explain_match(
        self,
        catalog_id: str,
        product_id: str,
        image: bytes | None,
        text: str | None,
        caller: Principal,
        query_product: str | None = None,
    ) -> Explanation:
        """Why `product_id` matches the query (an image, a keyword or another product): the
        heat of each region of its image."""
        async with self.catalogs.use(catalog_id, caller) as catalog:
            return await self.explainer.explain(catalog, product_id, image, text, query_product)

    # -- training and stats ---------------------------------------------------------------

    async def train_projection(self, catalog_id: str, method: str, caller: Principal) -> TrainingResult:
        async with self.catalogs.use(catalog_id, caller) as catalog:
            return await self.training.train_projection(catalog, method)

    async def train_image_head(self, catalog_id: str, caller: Principal) -> HeadResult:
        async with self.catalogs.use(catalog_id, caller) as catalog:
            return await self.heads.train(catalog)

    async def stats(self, catalog_id: str, caller: Principal) -> CatalogStats:
        async with self.catalogs.use(catalog_id, caller) as catalog:
            models = [
                ModelSummary(s.model, s.model_version, s.dim)
                for name, s in self.spaces.items()
                if name != COPY_SPACE
            ]
            if catalog.projection is not None:
                models.append(
                    ModelSummary(
                        catalog.projection,
                        self.training.served_version(catalog),
                        self.spaces[IMAGE_SPACE].dim,
                    )
                )
            if catalog.head is not None:
                head = catalog.spaces[image_head.space_name(catalog.head)].space
                models.append(ModelSummary(head.model, head.model_version, head.dim))
            spaces = [await asyncio.to_thread(store.stats) for store in catalog.spaces.values()]
            count = await asyncio.to_thread(catalog.store.count)
            return CatalogStats(catalog.info, count, models, spaces)
