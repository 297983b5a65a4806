"""Ranking: the reads and searches of a catalog — by image, by keyword, similar products,
copies of an image; products by id and page.

A product found in several spaces keeps each signal's cosine and ranks by its best signal,
calibrated across the spaces (server/service/calibration.py); a search in one space ranks
by its cosine. A product deleted while a search runs is simply absent from its hits.
"""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from server.config import Config
from server.domain import (
    COPY_SPACE,
    IMAGE_SPACE,
    TITLE_SPACE,
    Filter,
    Hit,
    InvalidArgumentError,
    NotFoundError,
    Product,
    SearchOptions,
    SearchResult,
)
from server.index.store import IndexSpace, VectorStore
from server.models import colours, copy_descriptor, geometry, image_head, templates
from server.models.embedding import EmbeddingClient
from server.models.images import DecodeBudget, ImageError
from server.service.calibration import Reference, calibrate
from server.service.catalogs import Catalog
from server.service.validation import check_filter, check_options, check_query_text, raise_if


@dataclass(frozen=True)
class ProductPage:
    products: list[Product]
    next_after: str  # the id to continue after; empty on the last page


GEOMETRY_CANDIDATES = 10  # the image model's nearest products verified with local features
# The descriptor's copies (best first) checked in colour, bounding the work per query (~20
# ms each); a catalog with more copies of one photo than this keeps the rest unchecked.
COLOUR_CHECKED = 32
GEOMETRY_SIGNAL = "geometry"
TEMPLATE_CANDIDATES = 50  # the image model's nearest products a small query is matched against
TEMPLATE_SIGNAL = "template"
PARTIAL_SIGNAL = "partial"  # the descriptor over the cells that agree best (overlaid copies)


def similarity_space(head: int | None) -> str:
    """The space that image → image search uses: the catalog's image head, when it has one."""
    return IMAGE_SPACE if head is None else image_head.space_name(head)


def above(value: float, minimum: float) -> float:
    """How far `value` lies from `minimum` towards a perfect 1, as a share."""
    return (value - minimum) / (1.0 - minimum)


def copy_score(agreement: float, threshold: float) -> float:
    """The score of a copy that a check other than the descriptor's cosine found (best
    cells, local features, a template): in [threshold, 1], rising with the check's
    agreement (0: it barely passed, 1: perfect), so it passes the caller's threshold and
    ranks among the descriptor's copies."""
    return threshold + (1.0 - threshold) * min(max(agreement, 0.0), 1.0)


def not_found(product_id: str) -> NotFoundError:
    shown = product_id if len(product_id) <= 140 else f"{product_id[:128]}… ({len(product_id)} characters)"
    return NotFoundError(f"product {shown!r} not found")  # bounded: the message goes in trailers


class Ranking:
    def __init__(
        self, config: Config, embedder: EmbeddingClient, spaces: dict[str, IndexSpace], decodes: DecodeBudget
    ) -> None:
        self.config = config
        self.embedder = embedder
        self.decodes = decodes
        self.spaces = spaces

    # -- products -------------------------------------------------------------------------

    async def get(self, catalog: Catalog, product_id: str) -> Product:
        product = await asyncio.to_thread(catalog.store.get, product_id)
        if product is None:
            raise not_found(product_id)
        return product

    async def list_page(self, catalog: Catalog, page_size: int, after: str, condition: Filter) -> ProductPage:
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
        products = await asyncio.to_thread(catalog.store.list_page, after, size + 1, condition)
        more = len(products) > size
        products = products[:size]
        return ProductPage(products, products[-1].id if more else "")

    # -- searches -------------------------------------------------------------------------

    async def search_by_image(self, catalog: Catalog, image: bytes, options: SearchOptions) -> SearchResult:
        check_options(options, self.config.limits)
        pixels = await self.decode_query(image)
        started = time.perf_counter()
        spaces, version = catalog.spaces, catalog.head  # together: a head roll-out swaps both
        (query,) = await self.embedder.embed_images(self.spaces[IMAGE_SPACE].model, [pixels])
        if version is not None:
            (query,) = await self.embedder.apply_head(query[None], image_head.model_name(catalog.id), version)
        embedding_ms = (time.perf_counter() - started) * 1000
        queries = {similarity_space(version): query}
        result = await asyncio.to_thread(self._search, catalog, queries, options, None, spaces)
        result.embedding_ms = embedding_ms
        return result

    async def search_by_text(self, catalog: Catalog, text: str, options: SearchOptions) -> SearchResult:
        """Titles (text space) and, with a projection, images (through it) are searched;
        with both and the projection's relevance fits, a hit's score is its best signal as a
        probability of relevance (server/service/calibration.py), else its best cosine."""
        check_options(options, self.config.limits)
        check_query_text(text, self.config.limits)
        started = time.perf_counter()
        queries = await self.text_queries(catalog, text)
        embedding_ms = (time.perf_counter() - started) * 1000
        result = await asyncio.to_thread(self._search, catalog, queries, options, None)
        result.embedding_ms = embedding_ms
        return result

    async def search_similar(self, catalog: Catalog, product_id: str, options: SearchOptions) -> SearchResult:
        check_options(options, self.config.limits)
        spaces, space = catalog.spaces, similarity_space(catalog.head)
        product, vector = await self.product_vector(catalog, product_id, spaces[space])
        queries = {space: vector}
        return await asyncio.to_thread(self._search, catalog, queries, options, product.key, spaces)

    async def find_duplicates(
        self, catalog: Catalog, image: bytes, threshold: float, max_results: int
    ) -> SearchResult:
        """Products whose image `image` is a copy of (server/models/copy_descriptor.py):
        score = copy score (best descriptor cosine over crops and a flip), signals "copy"
        and "image" (the image model's cosine, for context)."""
        threshold = threshold or self.config.duplicate_threshold
        max_results = max_results or 100
        raise_if(
            ([("threshold", "must be between 0 and 1")] if not 0 < threshold <= 1 else [])
            + (
                [("max_results", f"must be between 0 and {self.config.limits.max_top_k}")]
                if not 1 <= max_results <= self.config.limits.max_top_k
                else []
            )
        )
        pixels = await self.decode_query(image)

        async def embed() -> tuple[np.ndarray, float]:
            started = time.perf_counter()
            (query,) = await self.embedder.embed_images(self.spaces[IMAGE_SPACE].model, [pixels])
            return query, (time.perf_counter() - started) * 1000

        (query, embedding_ms), result = await asyncio.gather(
            embed(), asyncio.to_thread(self._copies, catalog, pixels, threshold, max_results)
        )
        verify = self._verify if geometry.large_enough(pixels) else self._match_templates
        await asyncio.to_thread(verify, catalog, pixels, query, threshold, max_results, result)
        vectors = await asyncio.to_thread(
            catalog.spaces[IMAGE_SPACE].fetch, [hit.product.key for hit in result.hits]
        )
        for hit in result.hits:
            if hit.product.key in vectors:
                hit.signals[IMAGE_SPACE] = float(vectors[hit.product.key] @ query)
        result.embedding_ms = embedding_ms
        return result

    # -- query embeddings (also for server/service/explain.py) ------------------------------

    async def decode_query(self, image: bytes) -> np.ndarray:
        """A query image's pixels; INVALID_ARGUMENT when it cannot or may not be decoded."""
        try:
            return await self.decodes.decode(image, self.config.limits.image)
        except ImageError as error:
            raise InvalidArgumentError([("image", str(error))]) from error

    async def text_queries(self, catalog: Catalog, text: str) -> dict[str, np.ndarray]:
        """A keyword's embedding per space: titles, and images through the catalog's
        projection when one is served."""
        text_query = await self.embedder.embed_texts([text], self.spaces[TITLE_SPACE].model)
        queries = {TITLE_SPACE: text_query[0]}
        if catalog.projection is not None:
            (queries[IMAGE_SPACE],) = await self.embedder.project_texts(text_query, catalog.projection)
        return queries

    async def product_vector(
        self, catalog: Catalog, product_id: str, space: VectorStore | None = None
    ) -> tuple[Product, np.ndarray]:
        """A catalog product and its indexed vector in `space` (the image embeddings by
        default); NOT_FOUND when it has none."""
        product = await self.get(catalog, product_id)
        store = catalog.spaces[IMAGE_SPACE] if space is None else space
        vectors = await asyncio.to_thread(store.fetch, [product.key])
        if product.key not in vectors:  # deleted since it was read
            raise not_found(product_id)
        return product, vectors[product.key]

    def _copies(
        self, catalog: Catalog, pixels: np.ndarray, threshold: float, max_results: int
    ) -> SearchResult:
        """The descriptor's copies: products at `threshold` or above, and those among its
        nearest whose best cells match (`copy_descriptor.partial_similarity`)."""
        started = time.perf_counter()
        descriptors = copy_descriptor.query_descriptors(pixels)
        nearest = catalog.spaces[COPY_SPACE].search(
            descriptors, max(max_results, copy_descriptor.PARTIAL_CANDIDATES)
        )
        index_ms = (time.perf_counter() - started) * 1000
        cosine = dict(nearest)
        scored = {key: (score, {COPY_SPACE: score}) for key, score in nearest if score >= threshold}
        below = [key for key, score in nearest[: copy_descriptor.PARTIAL_CANDIDATES] if score < threshold]
        for key, stored in catalog.spaces[COPY_SPACE].fetch(below).items():
            similarity = copy_descriptor.partial_similarity(descriptors, stored)
            if similarity >= copy_descriptor.PARTIAL_MIN:
                score = copy_score(above(similarity, copy_descriptor.PARTIAL_MIN), threshold)
                scored[key] = (score, {COPY_SPACE: cosine[key], PARTIAL_SIGNAL: similarity})
        result = SearchResult([], index_ms=index_ms)
        _add_hits(catalog, scored, max_results, result)
        return result

    def _verify(
        self,
        catalog: Catalog,
        pixels: np.ndarray,
        query: np.ndarray,
        threshold: float,
        max_results: int,
        result: SearchResult,
    ) -> None:
        """Check a large query against the descriptor's copies and the image model's
        nearest products with local features (server/models/geometry.py): a nearest product
        whose features agree under one similarity transform is a copy the descriptor missed
        (rotated, cropped, framed, overlaid), and a hit whose colours differ once aligned is
        a template mate, not a copy (server/models/colours.py)."""
        found = {hit.product.key: hit for hit in result.hits}
        nearest = catalog.spaces[IMAGE_SPACE].search(query, GEOMETRY_CANDIDATES)
        candidates = list(found)[:COLOUR_CHECKED] + [key for key, _ in nearest if key not in found]
        rgb = geometry.working_rgb(pixels)
        views = [(view, geometry.local_features(geometry.grey(view))) for view in (rgb, rgb[:, ::-1].copy())]
        mine = [(view, features) for view, features in views if features is not None]
        rejected: set[int] = set()
        verified: dict[int, int] = {}
        for key, jpeg in catalog.store.stored_images(candidates).items() if mine else ():
            with Image.open(io.BytesIO(jpeg)) as stored:
                theirs_rgb = geometry.working_rgb(np.asarray(stored.convert("RGB")))
            theirs = geometry.local_features(geometry.grey(theirs_rgb))
            if theirs is None:
                continue
            aligned = [(view, geometry.align(features, theirs)) for view, features in mine]
            view, alignment = max(aligned, key=lambda pair: -1 if pair[1] is None else pair[1].inliers)
            if alignment is None:
                continue  # nothing to align: a descriptor hit stands as it is
            if not colours.agree(view, theirs_rgb, alignment.matrix):
                rejected.add(key)
            elif key not in found and geometry.verified(alignment):
                verified[key] = alignment.inliers
        result.hits = [hit for hit in result.hits if hit.product.key not in rejected]
        scored = {
            key: (
                copy_score(geometry.agreement(count), threshold),
                {GEOMETRY_SIGNAL: geometry.agreement(count)},
            )
            for key, count in verified.items()
        }
        _add_hits(catalog, scored, max_results, result)

    def _match_templates(
        self,
        catalog: Catalog,
        pixels: np.ndarray,
        query: np.ndarray,
        threshold: float,
        max_results: int,
        result: SearchResult,
    ) -> None:
        """Add the image model's nearest products that a small query is a window of
        (server/models/templates.py): cropped copies of thumbnails, which the descriptor
        misses."""
        found = {hit.product.key for hit in result.hits}
        nearest = catalog.spaces[IMAGE_SPACE].search(query, TEMPLATE_CANDIDATES)
        candidates = [key for key, _ in nearest if key not in found]
        scored: dict[int, tuple[float, dict[str, float]]] = {}
        for key, jpeg in catalog.store.stored_images(candidates).items():
            with Image.open(io.BytesIO(jpeg)) as stored:
                correlation = templates.correlation(pixels, np.asarray(stored.convert("RGB")))
            if correlation >= templates.MIN_CORRELATION:
                score = copy_score(above(correlation, templates.MIN_CORRELATION), threshold)
                scored[key] = (score, {TEMPLATE_SIGNAL: correlation})
        _add_hits(catalog, scored, max_results, result)

    def _search(
        self,
        catalog: Catalog,
        queries: dict[str, np.ndarray],
        options: SearchOptions,
        exclude: int | None,
        spaces: dict[str, VectorStore] | None = None,
    ) -> SearchResult:
        """Top hits over one or more spaces, in one thread hop (each hop costs ~0.1-0.3 ms).
        `spaces`: the catalog's spaces as they were when the queries were embedded. A hit's
        signal is named by its space's kind ("image" for an image head's space too)."""
        started = time.perf_counter()
        spaces = catalog.spaces if spaces is None else spaces
        excluded = () if exclude is None else (exclude,)
        found = {
            space: [
                (key, score)
                for key, score in spaces[space].search(query, options.top_k, options.filter, excluded)
                if score >= options.min_score
            ]
            for space, query in queries.items()
        }
        references = self._references(catalog, queries, spaces)
        signals: dict[int, dict[str, float]] = {}
        ranks: dict[int, float] = {}
        for space, scored in found.items():
            signal = IMAGE_SPACE if image_head.version_of_space(space) is not None else space
            rank_scores = calibrate(
                references.get(space), catalog.relevance.get(signal), queries[space], dict(scored)
            )
            for key, score in scored:
                signals.setdefault(key, {})[signal] = score
                ranks[key] = max(ranks.get(key, -np.inf), rank_scores[key])
        index_ms = (time.perf_counter() - started) * 1000
        ranked = sorted(ranks.items(), key=lambda item: (-item[1], item[0]))[: options.top_k]
        products = catalog.store.get_many([key for key, _ in ranked], options.include_thumbnails)
        hits = [Hit(products[key], score, signals[key]) for key, score in ranked if key in products]
        return SearchResult(hits, index_ms=index_ms)

    @staticmethod
    def _references(
        catalog: Catalog, queries: dict[str, np.ndarray], spaces: dict[str, VectorStore]
    ) -> dict[str, Reference]:
        """Each searched space's reference (server/service/calibration.py) when the search
        fuses several spaces with relevance fits and all of them have one; else none (raw
        cosines rank)."""
        if len(queries) < 2 or not catalog.relevance:
            return {}
        references = {space: catalog.references.of(space, catalog.store, spaces[space]) for space in queries}
        return {} if None in references.values() else references  # type: ignore[return-value]


def _add_hits(
    catalog: Catalog,
    scored: dict[int, tuple[float, dict[str, float]]],
    max_results: int,
    result: SearchResult,
) -> None:
    """Add verified copies (key → score and signals) to `result`, best first, at most
    `max_results` in all."""
    products = catalog.store.get_many(list(scored))
    for key, (score, signals) in scored.items():
        if key in products:
            result.hits.append(Hit(products[key], score, signals))
    result.hits.sort(key=lambda hit: -hit.score)
    del result.hits[max_results:]
