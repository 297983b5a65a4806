"""Explain: why a product matches a query — the heat of each region of its image.

The query is embedded as a search embeds it (an image by the image model; a keyword by the
text encoder, then through the catalog's `text_to_image` projection into the image model's
space). The product's stored image is embedded again, this time with the image model's
`feature_map` output: the catalog's image index holds that model's own embeddings, the
global average of that map, so the query and each cell are in one space. The heat of a cell
is their cosine (server/models/heatmap.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np

from server.config import Config
from server.domain import IMAGE_SPACE, FailedPreconditionError, Product
from server.index.store import IndexSpace
from server.models import heatmap
from server.models.embedding import EmbeddingClient
from server.models.images import decode_image
from server.service.catalogs import Catalog
from server.service.ranking import Ranking, not_found
from server.service.validation import _text, raise_if

IMAGE_QUERY = "image"
TEXT_QUERY = "text_to_image"


@dataclass(frozen=True)
class Explanation:
    product: Product
    score: float  # cosine of the query's embedding and the product's indexed one
    grid: np.ndarray  # float32 [h, w]: cosine of the query with each feature-map cell
    heatmap_png: bytes  # the stored image with the heat drawn over it
    image_size: tuple[int, int]  # (width, height) of heatmap_png
    model: str
    query_space: str  # IMAGE_QUERY or TEXT_QUERY


class Explain:
    def __init__(
        self, config: Config, embedder: EmbeddingClient, spaces: dict[str, IndexSpace], ranking: Ranking
    ) -> None:
        self.config = config
        self.embedder = embedder
        self.spaces = spaces
        self.ranking = ranking  # embeds queries and reads products as the searches do

    async def explain(
        self,
        catalog: Catalog,
        product_id: str,
        image: bytes | None,
        text: str | None,
        query_product: str | None = None,
    ) -> Explanation:
        """Heat of `product_id`'s image for the query: exactly one of `image`, `text` and
        `query_product` (a catalog product, compared by its indexed image embedding)."""
        limits = self.config.limits
        violations: list[tuple[str, str]] = []
        _text(violations, "product_id", product_id, limits.max_id_chars, required=True)
        if sum(query is not None for query in (image, text, query_product)) != 1:
            violations.append(("query", "exactly one of image, text or query_product_id is required"))
        elif text is not None:
            _text(violations, "text", text, limits.max_text_chars, required=True)
        elif query_product is not None:
            _text(violations, "query_product_id", query_product, limits.max_id_chars, required=True)
        elif not image:
            violations.append(("image", "is required"))
        raise_if(violations)

        product = await self.ranking.get(catalog, product_id)
        stored = (await asyncio.to_thread(catalog.store.stored_images, [product.key])).get(product.key)
        if stored is None:  # deleted since it was read
            raise not_found(product_id)
        model = self.spaces[IMAGE_SPACE].model
        if image is not None:
            query_pixels = await self.ranking.decode_query(image)
            (query,), space = await self.embedder.embed_images(model, [query_pixels]), IMAGE_QUERY
        elif query_product is not None:
            (_, query), space = await self.ranking.product_vector(catalog, query_product), IMAGE_QUERY
        else:
            query, space = await self._text_query(catalog, text or ""), TEXT_QUERY

        pixels = await asyncio.to_thread(decode_image, stored)  # the catalog's JPEG, <= 512 px
        embedding, feature_map = await self.embedder.embed_image_with_map(model, pixels)
        grid = heatmap.cosine_grid(query, feature_map)
        png = await asyncio.to_thread(heatmap.overlay_png, pixels, grid)
        # The score is the search's: against the indexed vector (of the uploaded image; the
        # map comes from the stored JPEG, whose own embedding can differ by a little).
        indexed = await asyncio.to_thread(catalog.spaces[IMAGE_SPACE].fetch, [product.key])
        vector = indexed.get(product.key, embedding)
        norms = max(float(np.linalg.norm(query) * np.linalg.norm(vector)), 1e-12)
        score = float(np.dot(query, vector)) / norms
        return Explanation(product, score, grid, png, (pixels.shape[1], pixels.shape[0]), model, space)

    async def _text_query(self, catalog: Catalog, text: str) -> np.ndarray:
        if catalog.projection is None:
            raise FailedPreconditionError(
                "a text query is explained in the image model's space through the catalog's "
                "projection: train one first (TrainProjection)"
            )
        return (await self.ranking.text_queries(catalog, text))[IMAGE_SPACE]
