"""The search service: what the gateway does, independent of gRPC.

It owns the catalog store (truth), one HNSW index per embedding space (derived), the
filter postings, and the embedding client. Writes are embedded outside any lock, then
committed and applied to the indexes under one write lock, so the indexes always end in
the order SQLite committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

from exporters.common import read_manifest
from server import projection
from server.catalog import Catalog
from server.config import Config
from server.copy_detection import COPY_SPACE, CopyIndex, catalog_descriptors, copy_space, query_descriptors
from server.dedup_index import DeduplicatingIndex
from server.domain import (
    IMAGE_SPACE,
    TITLE_SPACE,
    EmbeddingRow,
    FailedPreconditionError,
    Hit,
    InvalidArgumentError,
    NotFoundError,
    Product,
    ProductWrite,
    SearchOptions,
    SearchResult,
)
from server.embedding import EmbeddingClient, EmbeddingError
from server.filters import FilterIndex
from server.images import ImageError, decode_image, encode_jpeg
from server.index import IndexLoadError, IndexParams, IndexSpace
from server.triton_runtime import EmbeddedTriton
from server.validation import check_filter, check_options, check_query_text, product_violations, raise_if

_LOGGER = logging.getLogger(__name__)

MIN_PROJECTION_PAIRS = 50
STORED_IMAGE_SIDE = 512  # enough to re-embed with any of the models (224-260 px inputs)
THUMBNAIL_SIDE = 256


@dataclass(frozen=True)
class ProductStatus:
    id: str
    code: grpc.StatusCode
    message: str = ""


@dataclass(frozen=True)
class ModelSummary:
    name: str
    version: str
    dimension: int


def model_version(config: Config, model: str) -> str:
    """The sha256 prefix of the exported file (from the manifest), which changes whenever
    the weights do; "served" for an external Triton whose files we cannot see."""
    entry = read_manifest(config.model_repository).get(model)
    return entry["sha256"][:12] if entry else "served"


def save_snapshot(index: DeduplicatingIndex | CopyIndex, directory: Path, seq: int) -> None:
    """Save an index snapshot if the data directory lets us: a snapshot only spares the next
    start a rebuild from the catalog, so a full or read-only disk must not stop the gateway."""
    try:
        index.save(directory, seq)
    except (OSError, RuntimeError) as error:
        _LOGGER.warning("index snapshot not saved to %s (%s): the next start rebuilds it", directory, error)


class SearchService:
    def __init__(
        self, config: Config, catalog: Catalog, embedder: EmbeddingClient, spaces: dict[str, IndexSpace]
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.embedder = embedder
        self.spaces = spaces
        self.params = IndexParams(
            M=config.hnsw_m,
            ef_construction=config.hnsw_ef_construction,
            ef_search=config.hnsw_ef_search,
            exact_search_max=config.exact_search_max,
        )
        # The copy descriptors' space: computed here, not by a model, so not in `spaces`.
        self.copy_space = copy_space()
        self.indexes: dict[str, DeduplicatingIndex | CopyIndex] = {}
        self.filters = FilterIndex()
        self._write_lock = asyncio.Lock()
        self._train_lock = asyncio.Lock()
        # The text → image projection, when one is served for this image model.
        self.projection_model: str | None = None
        self.triton: EmbeddedTriton | None = None  # set by the app: retrains add model versions

    @classmethod
    async def open(cls, config: Config, embedder: EmbeddingClient) -> SearchService:
        """Open the catalog, load the index snapshots (or rebuild them from the catalog) and
        re-embed what an earlier model version embedded."""
        catalog = await asyncio.to_thread(Catalog, config.catalog_path)
        spaces = {}
        for space, model in ((IMAGE_SPACE, config.image_model), (TITLE_SPACE, config.text_model)):
            info = await embedder.model_info(model)
            spaces[space] = IndexSpace(space, model, model_version(config, model), info.dimension)
        service = cls(config, catalog, embedder, spaces)
        await service._discover_projection()
        await asyncio.to_thread(service.filters.add, catalog.iter_products())
        for space in [*spaces.values(), service.copy_space]:
            index, stale = await asyncio.to_thread(service._open_index, space)
            service.indexes[space.name] = index
            if stale:
                await service._reembed(space, stale)
                await asyncio.to_thread(save_snapshot, index, config.index_dir / space.name, catalog.seq())
        return service

    async def _discover_projection(self) -> None:
        """Use the served text_to_image model if it was trained for our image model."""
        self.projection_model = None
        if not await self.embedder.ready([projection.MODEL_NAME]):
            return
        self.embedder.forget(projection.MODEL_NAME)
        info = await self.embedder.model_info(projection.MODEL_NAME)
        if info.parameters.get("image_model") == self.config.image_model:
            self.projection_model = projection.MODEL_NAME
        else:
            _LOGGER.warning(
                "%s projects into %s, not %s: keyword search uses titles only until retrained",
                projection.MODEL_NAME,
                info.parameters.get("image_model"),
                self.config.image_model,
            )

    def _open_index(self, space: IndexSpace) -> tuple[DeduplicatingIndex | CopyIndex, list[int]]:
        directory = self.config.index_dir / space.name
        seq = self.catalog.seq()
        kind = CopyIndex if space.name == COPY_SPACE else DeduplicatingIndex
        try:
            index, snapshot_seq = kind.load(directory, space, self.params)
            if snapshot_seq == seq:
                _LOGGER.info("%s index: loaded snapshot of %d vectors", space.name, len(index))
                index.set_ef(self.params.ef_search)  # the configured ef wins over the saved one
                return index, []
            _LOGGER.info(
                "%s index: snapshot at seq %d, catalog at %d: rebuilding", space.name, snapshot_seq, seq
            )
        except IndexLoadError as error:
            _LOGGER.info("%s index: %s: rebuilding from the catalog", space.name, error)
        index = kind.create(space, self.params)
        stale: list[int] = []
        if space.name == COPY_SPACE:  # products stored before copy detection existed
            stale.extend(self.catalog.keys_without(COPY_SPACE))
        for rows in self.catalog.iter_embeddings(space.name):
            current = [r for r in rows if (r.model, r.model_version) == (space.model, space.model_version)]
            stale.extend(
                r.key for r in rows if (r.model, r.model_version) != (space.model, space.model_version)
            )
            if current:
                index.upsert(np.array([r.key for r in current]), np.stack([r.vector for r in current]))
        _LOGGER.info("%s index: rebuilt with %d vectors (%d to re-embed)", space.name, len(index), len(stale))
        save_snapshot(index, directory, seq)
        return index, stale

    async def _reembed(self, space: IndexSpace, keys: list[int]) -> None:
        """Embed again, with the current model, products an older model embedded (or, for
        the copy space, describe products that have no or outdated descriptors)."""
        _LOGGER.info(
            "%s: re-embedding %d products with %s %s", space.name, len(keys), space.model, space.model_version
        )
        for start in range(0, len(keys), 256):
            chunk = keys[start : start + 256]
            if space.name == COPY_SPACE:
                images = await asyncio.to_thread(self.catalog.stored_images, chunk)
                chunk = list(images)
                vectors = await asyncio.to_thread(
                    lambda jpegs: self._copy_descriptors([decode_image(j) for j in jpegs]),
                    [images[k] for k in chunk],
                )
            elif space.name == IMAGE_SPACE:
                images = await asyncio.to_thread(self.catalog.stored_images, chunk)
                chunk = list(images)
                vectors = await self.embedder.embed_images(space.model, [images[k] for k in chunk])
            else:
                titles = await asyncio.to_thread(self.catalog.titles, chunk)
                chunk = [k for k, t in titles.items() if t.strip()]
                vectors = await self.embedder.embed_texts([titles[k] for k in chunk], space.model)
            rows = [
                EmbeddingRow(k, space.name, space.model, space.model_version, v)
                for k, v in zip(chunk, vectors, strict=True)
            ]
            async with self._write_lock:
                await asyncio.to_thread(self.catalog.replace_embeddings, rows)
                await asyncio.to_thread(self.indexes[space.name].upsert, np.array(chunk), vectors)

    async def close(self) -> None:
        """Save index snapshots (so the next start loads instead of rebuilding)."""
        async with self._write_lock:
            seq = self.catalog.seq()
            for name, index in self.indexes.items():
                await asyncio.to_thread(save_snapshot, index, self.config.index_dir / name, seq)
            self.catalog.close()

    # -- writes ---------------------------------------------------------------------------

    async def upsert(self, items: Sequence[tuple[Product, bytes]]) -> list[ProductStatus]:
        """Validate, embed, commit and index a batch; one status per item, in order. An item
        is OK only once committed; a bad item does not stop the others."""
        statuses: list[ProductStatus | None] = [None] * len(items)
        accepted = []
        for position, (product, image) in enumerate(items):
            violations = product_violations(product, bool(image), self.config.limits)
            if violations:
                message = "; ".join(f"{f}: {d}" for f, d in violations)
                statuses[position] = ProductStatus(product.id, grpc.StatusCode.INVALID_ARGUMENT, message)
            else:
                accepted.append((position, product, image))
        prepared = await asyncio.to_thread(self._prepare_images, accepted)
        ready = []
        for position, product, result in prepared:
            if isinstance(result, ImageError):
                statuses[position] = ProductStatus(
                    product.id, grpc.StatusCode.INVALID_ARGUMENT, f"product.image: {result}"
                )
            else:
                ready.append((position, product, *result))
        if ready:
            for position, status in await self._embed_and_commit(ready):
                statuses[position] = status
        return [s for s in statuses if s is not None]

    def _prepare_images(self, items):
        prepared = []
        for position, product, image in items:
            try:
                pixels = decode_image(image, self.config.limits.image)
            except ImageError as error:
                prepared.append((position, product, error))
                continue
            product.thumbnail = encode_jpeg(pixels, THUMBNAIL_SIDE, quality=85)
            prepared.append((position, product, (pixels, encode_jpeg(pixels, STORED_IMAGE_SIDE))))
        return prepared

    async def _embed_and_commit(self, ready) -> list[tuple[int, ProductStatus]]:
        titled = [i for i, (_, product, _, _) in enumerate(ready) if product.title.strip()]
        pixels = [pixels for _, _, pixels, _ in ready]
        try:
            image_vectors, title_vectors, copy_vectors = await asyncio.gather(
                self.embedder.embed_images(self.config.image_model, pixels),
                self.embedder.embed_texts([ready[i][1].title for i in titled], self.config.text_model),
                asyncio.to_thread(self._copy_descriptors, pixels),
            )
        except EmbeddingError as error:
            return [
                (position, ProductStatus(product.id, error.code, str(error)))
                for position, product, _, _ in ready
            ]
        title_of = dict(zip(titled, title_vectors, strict=True))
        writes = []
        for i, (_, product, _, jpeg) in enumerate(ready):
            embeddings = {IMAGE_SPACE: image_vectors[i], COPY_SPACE: copy_vectors[i]}
            if i in title_of:
                embeddings[TITLE_SPACE] = title_of[i]
            writes.append(ProductWrite(product, jpeg, embeddings))
        versions = {name: (s.model, s.model_version) for name, s in self.spaces.items()}
        versions[COPY_SPACE] = (self.copy_space.model, self.copy_space.model_version)
        async with self._write_lock:
            await asyncio.to_thread(self.catalog.upsert, writes, versions)
            await asyncio.to_thread(self._index_writes, writes)
        return [
            (position, ProductStatus(product.id, grpc.StatusCode.OK)) for position, product, _, _ in ready
        ]

    @staticmethod
    def _copy_descriptors(images: Sequence[np.ndarray]) -> np.ndarray:
        """[N, HYPOTHESES * DIM]: each image's copy descriptors, flattened as stored."""
        return np.stack([catalog_descriptors(pixels).ravel() for pixels in images])

    def _index_writes(self, writes: list[ProductWrite]) -> None:
        for space, index in self.indexes.items():
            with_vector = [w for w in writes if space in w.embeddings]
            if with_vector:
                index.upsert(
                    np.array([w.product.key for w in with_vector]),
                    np.stack([w.embeddings[space] for w in with_vector]),
                )
            without = [w.product.key for w in writes if space not in w.embeddings]
            if without:
                index.delete(without)
        self.filters.add(w.product for w in writes)

    async def delete(self, ids: Sequence[str]) -> tuple[int, list[str]]:
        """Delete products; returns (how many, the ids that were not found)."""
        raise_if(
            [("ids", f"must list 1 to {self.config.limits.max_delete_ids} ids")]
            if not 1 <= len(ids) <= self.config.limits.max_delete_ids
            else []
        )
        async with self._write_lock:
            deleted = await asyncio.to_thread(self.catalog.delete, list(ids))
            keys = list(deleted.values())
            for index in self.indexes.values():
                await asyncio.to_thread(index.delete, keys)
            self.filters.remove(keys)
        return len(deleted), [i for i in dict.fromkeys(ids) if i not in deleted]

    # -- reads ----------------------------------------------------------------------------

    async def get(self, product_id: str) -> Product:
        product = await asyncio.to_thread(self.catalog.get, product_id)
        if product is None:
            shown = (
                product_id
                if len(product_id) <= 140
                else f"{product_id[:128]}… ({len(product_id)} characters)"
            )
            raise NotFoundError(f"product {shown!r} not found")  # bounded: the message goes in trailers
        return product

    async def list_page(self, page_size: int, page_token: str, condition) -> tuple[list[Product], str]:
        limits = self.config.limits
        size = page_size or limits.default_page_size
        raise_if(
            (
                [("page_size", f"must be between 0 and {limits.max_page_size}")]
                if not 0 <= page_size <= limits.max_page_size
                else []
            )
            + check_filter(condition, limits, prefix="filter")
        )
        allowed = self.filters.candidates(condition)
        allowed_set = None if allowed is None else set(allowed.tolist())
        products: list[Product] = []
        after = page_token
        while len(products) < size:
            page = await asyncio.to_thread(self.catalog.list_page, after, max(size, 256))
            if not page:
                break
            after = page[-1].id
            products.extend(p for p in page if allowed_set is None or p.key in allowed_set)
        products = products[:size]
        more = len(products) == size and bool(
            await asyncio.to_thread(self.catalog.list_page, products[-1].id, 1)
        )
        return products, products[-1].id if more else ""

    async def search_by_image(self, image: bytes, options: SearchOptions) -> SearchResult:
        check_options(options, self.config.limits)
        query, embedding_ms = await self._embed_query_image(image)
        result = await self._search(IMAGE_SPACE, query, options)
        result.embedding_ms = embedding_ms
        return result

    async def search_by_text(self, text: str, options: SearchOptions) -> SearchResult:
        """Titles (text space) and, with a projection, images (through it) are searched;
        a hit's score is its best signal's cosine."""
        check_options(options, self.config.limits)
        check_query_text(text, self.config.limits)
        started = time.perf_counter()
        text_query = await self.embedder.embed_texts([text], self.config.text_model)
        queries = {TITLE_SPACE: text_query[0]}
        if self.projection_model is not None:
            (queries[IMAGE_SPACE],) = await self.embedder.project_texts(text_query, self.projection_model)
        embedding_ms = (time.perf_counter() - started) * 1000
        result = await asyncio.to_thread(self._search_blocking, queries, options, None)
        result.embedding_ms = embedding_ms
        return result

    async def search_similar(self, product_id: str, options: SearchOptions) -> SearchResult:
        check_options(options, self.config.limits)
        product = await self.get(product_id)
        index = self.indexes[IMAGE_SPACE]
        (query,) = await asyncio.to_thread(index.get_vectors, [product.key])
        return await self._search(IMAGE_SPACE, query, options, exclude=product.key)

    async def find_duplicates(self, image: bytes, threshold: float, max_results: int) -> SearchResult:
        """Products whose image `image` is a copy of (server/copy_detection.py): score =
        copy score (best descriptor cosine over crops and a flip), signals "copy" and
        "image" (the Lite0 cosine, for context)."""
        threshold = threshold or self.config.duplicate_threshold
        max_results = max_results or 100
        raise_if(
            [("threshold", "must be between 0 and 1")]
            if not 0 < threshold <= 1
            else []
            + (
                [("max_results", f"must be between 0 and {self.config.limits.max_top_k}")]
                if not 1 <= max_results <= self.config.limits.max_top_k
                else []
            )
        )
        try:
            pixels = await asyncio.to_thread(decode_image, image, self.config.limits.image)
        except ImageError as error:
            raise InvalidArgumentError([("image", str(error))]) from error

        async def embed() -> tuple[np.ndarray, float]:
            started = time.perf_counter()
            (query,) = await self.embedder.embed_images(self.config.image_model, [pixels])
            return query, (time.perf_counter() - started) * 1000

        (query, embedding_ms), result = await asyncio.gather(
            embed(), asyncio.to_thread(self._copies_blocking, pixels, threshold, max_results)
        )
        image_index = self.indexes[IMAGE_SPACE]
        embedded = [hit for hit in result.hits if hit.product.key in image_index]
        if embedded:
            vectors = await asyncio.to_thread(image_index.get_vectors, [hit.product.key for hit in embedded])
            for hit, cosine in zip(embedded, vectors @ query, strict=True):
                hit.signals[IMAGE_SPACE] = float(cosine)
        result.embedding_ms = embedding_ms
        return result

    def _copies_blocking(self, pixels: np.ndarray, threshold: float, max_results: int) -> SearchResult:
        started = time.perf_counter()
        queries = query_descriptors(pixels)
        found = [
            (key, score)
            for key, score in self.indexes[COPY_SPACE].search(queries, max_results)
            if score >= threshold
        ]
        index_ms = (time.perf_counter() - started) * 1000
        products = self.catalog.get_many([key for key, _ in found])
        hits = [Hit(products[key], score, {COPY_SPACE: score}) for key, score in found if key in products]
        return SearchResult(hits, index_ms=index_ms)

    async def _embed_query_image(self, image: bytes) -> tuple[np.ndarray, float]:
        """The query's embedding and the milliseconds spent in the embedding call (decoding
        is not counted: it is the gateway's own work)."""
        try:
            pixels = await asyncio.to_thread(decode_image, image, self.config.limits.image)
        except ImageError as error:
            raise InvalidArgumentError([("image", str(error))]) from error
        started = time.perf_counter()
        (query,) = await self.embedder.embed_images(self.config.image_model, [pixels])
        return query, (time.perf_counter() - started) * 1000

    async def _search(
        self, space: str, query: np.ndarray, options: SearchOptions, exclude: int | None = None
    ) -> SearchResult:
        # One thread hop for the index and the catalog lookup: each hop costs ~0.1-0.3 ms.
        return await asyncio.to_thread(self._search_blocking, {space: query}, options, exclude)

    def _search_blocking(
        self, queries: dict[str, np.ndarray], options: SearchOptions, exclude: int | None
    ) -> SearchResult:
        """Top hits over one or more spaces; a product found in several keeps each signal's
        score and ranks by the best."""
        started = time.perf_counter()
        candidates = self.filters.candidates(options.filter)
        if candidates is not None and exclude is not None:
            candidates = candidates[candidates != exclude]
        k = options.top_k + (exclude is not None)
        signals: dict[int, dict[str, float]] = {}
        for space, query in queries.items():
            for key, score in self.indexes[space].search(query, k, candidates):
                if key != exclude and score >= options.min_score:
                    signals.setdefault(key, {})[space] = score
        index_ms = (time.perf_counter() - started) * 1000
        ranked = sorted(signals.items(), key=lambda item: (-max(item[1].values()), item[0]))[: options.top_k]
        products = self.catalog.get_many([key for key, _ in ranked], options.include_thumbnails)
        hits = [Hit(products[key], max(found.values()), found) for key, found in ranked if key in products]
        return SearchResult(hits, index_ms=index_ms)

    async def train_projection(self, method: str = "contrastive") -> tuple[int, int, str, float]:
        """Fit the text → image projection on titled products, write it as a new version and
        have Triton serve it. Returns (version, pairs, method, seconds)."""
        method = method or "contrastive"
        raise_if(
            [("method", "must be 'contrastive' or 'ridge'")] if method not in ("contrastive", "ridge") else []
        )
        async with self._train_lock:
            titles, images = await asyncio.to_thread(self._training_pairs)
            if len(titles) < MIN_PROJECTION_PAIRS:
                raise FailedPreconditionError(
                    f"{len(titles)} products have both a title and an image embedding; "
                    f"training needs at least {MIN_PROJECTION_PAIRS}"
                )
            started = time.perf_counter()
            weights, epochs = await asyncio.to_thread(self._fit_projection, titles, images, method)
            seconds = time.perf_counter() - started
            training = {
                "method": method,
                "pairs": len(titles),
                "epochs": epochs,
                "seconds": round(seconds, 2),
                "image_model_version": self.spaces[IMAGE_SPACE].model_version,
            }
            version = await asyncio.to_thread(
                projection.write_version,
                self.config.model_repository,
                weights,
                self.config.image_model,
                training,
            )
            if self.triton is not None:
                await asyncio.to_thread(self.triton.add_model_versions, projection.MODEL_NAME)
            await self.embedder.load_model(projection.MODEL_NAME)
            await self._discover_projection()
            _LOGGER.info(
                "projection version %d (%s, %d pairs, %.1f s) now served",
                version,
                method,
                len(titles),
                seconds,
            )
            return version, len(titles), method, seconds

    def _training_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(title, image) embedding pairs of every product that has both, current models only."""
        vectors: dict[str, dict[int, np.ndarray]] = {}
        for name, space in self.spaces.items():
            vectors[name] = {
                row.key: row.vector
                for rows in self.catalog.iter_embeddings(name)
                for row in rows
                if (row.model, row.model_version) == (space.model, space.model_version)
            }
        keys = sorted(vectors[TITLE_SPACE].keys() & vectors[IMAGE_SPACE].keys())
        if not keys:
            return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32)
        return (
            np.stack([vectors[TITLE_SPACE][k] for k in keys]),
            np.stack([vectors[IMAGE_SPACE][k] for k in keys]),
        )

    @staticmethod
    def _fit_projection(titles: np.ndarray, images: np.ndarray, method: str) -> tuple[np.ndarray, int]:
        """Weights and the contrastive epochs kept (0 for ridge)."""
        weights = projection.fit_ridge(titles, images)
        if method == "ridge":
            return weights, 0
        return projection.fit_contrastive(titles, images, weights)

    def stats(self) -> tuple[int, list[ModelSummary], list[dict]]:
        models = [ModelSummary(s.model, s.model_version, s.dim) for s in self.spaces.values()]
        if self.projection_model is not None:
            served = projection.versions(self.config.model_repository)
            version = str(served[-1]) if served else "served"
            models.append(ModelSummary(self.projection_model, version, self.spaces[IMAGE_SPACE].dim))
        return self.catalog.count(), models, [index.describe() for index in self.indexes.values()]
