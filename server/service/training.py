"""Training: what a catalog learns from its own products — today the keyword → image
projection (server/models/projection.py), one Triton model per catalog.

Besides each titled product's (title, image) pair, the projection is fitted on short spans
of the titles and on the category names of every categorised product, each paired with
the product's image: a shopper types "dress" or 连衣裙, not a whole listing title, and a
category names a product whatever vocabulary its shop titles in (dev:
`python -m evaluation.projection_trial`).

A retrain writes a new numbered version into the model repository and has Triton load it;
the old version answers until the new one is ready, so searches go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from server.config import Config
from server.domain import IMAGE_SPACE, TITLE_SPACE, FailedPreconditionError
from server.index.store import IndexSpace
from server.models import projection, trained
from server.models.embedding import EmbeddingClient, EmbeddingError
from server.service.calibration import Relevance, fit_relevance, unit
from server.service.catalogs import Catalog
from server.service.follow import TRAINING, across_gateways
from server.service.validation import raise_if
from server.triton.runtime import EmbeddedTriton

_LOGGER = logging.getLogger(__name__)

MIN_PROJECTION_PAIRS = 50
MIN_CATEGORY_PRODUCTS = 10  # titled products a category needs to be a calibration query
CALIBRATION_QUERIES = 64  # the most frequent categories
CALIBRATION_PRODUCTS = 20_000  # titled products scored against them, drawn at random
METHODS = ("contrastive", "ridge")
MAX_CATEGORY_PAIRS = 50_000  # (category name, image) pairs, drawn at random beyond this


@dataclass(frozen=True)
class TrainingPairs:
    """What a projection is fitted on, current models only."""

    keys: list[int]  # products with a title and an image embedding
    titles: np.ndarray  # their title embeddings
    images: np.ndarray  # their image embeddings
    categories: list[str]  # their first category ("" when none)
    categorised: np.ndarray  # image embeddings of products with a category, titled or not
    category_names: list[str]  # the first category of each of those


@dataclass(frozen=True)
class TrainingResult:
    version: int  # of the catalog's projection model, now served
    pairs: int  # (title, image) pairs fitted on
    method: str
    seconds: float
    epochs: int  # contrastive epochs kept (0 for ridge)
    model: str  # the Triton model serving it
    span_pairs: int = 0  # (title span, image) pairs fitted on besides
    category_pairs: int = 0  # (category name, image) pairs fitted on besides


class Training:
    def __init__(
        self,
        config: Config,
        embedder: EmbeddingClient,
        spaces: dict[str, IndexSpace],
        triton: EmbeddedTriton | None,
    ) -> None:
        self.config = config
        self.embedder = embedder
        self.spaces = spaces
        self.triton = triton  # the embedded Triton, to which new versions are added; None: external
        self._reloads_tried: dict[str, int] = {}  # projection → newest version a reload was tried for
        # (model, version, record mtime) → its relevance fits; one entry per model
        self._relevance_of: dict[tuple[str, int, int], dict[str, Relevance]] = {}

    async def discover_projection(self, catalog: Catalog) -> None:
        """Use the catalog's served projection if it was trained for our image model."""
        model = projection.model_name(catalog.id)
        if not await self.embedder.ready([model]) and not await self._reload(model):
            catalog.projection, catalog.relevance = None, {}
            return
        self.embedder.forget(model)
        info = await self.embedder.model_info(model)
        image_model = self.spaces[IMAGE_SPACE].model
        if info.parameters.get("image_model") == image_model:
            # Both at once, after the awaits: a search meanwhile sees the previous pair.
            catalog.projection, catalog.relevance = model, await asyncio.to_thread(self._relevance, model)
        else:
            catalog.projection, catalog.relevance = None, {}
            _LOGGER.warning(
                "%s projects into %s, not %s: keyword search uses titles only until retrained",
                model,
                info.parameters.get("image_model"),
                image_model,
            )

    async def _reload(self, model: str) -> bool:
        """Load a trained projection an external Triton does not serve: restarted with
        explicit model control, it serves only the models it was started with. Tried once
        per version on disk, and only while Triton serves our image model (it is up)."""
        if self.triton is not None:  # the embedded one restarts with the gateway, projections included
            return False
        on_disk = await asyncio.to_thread(trained.versions, self.config.model_repository, model)
        if not on_disk or self._reloads_tried.get(model) == on_disk[-1]:
            return False
        if not await self.embedder.ready([self.spaces[IMAGE_SPACE].model]):
            return False
        self._reloads_tried[model] = on_disk[-1]
        try:
            await self.embedder.load_model(model)
        except EmbeddingError as error:
            _LOGGER.warning("%s version %d is not served and did not load: %s", model, on_disk[-1], error)
            return False
        _LOGGER.info("%s was not served (Triton restarted?): loaded version %d again", model, on_disk[-1])
        return await self.embedder.ready([model])

    async def train_projection(self, catalog: Catalog, method: str) -> TrainingResult:
        """Fit the projection on the catalog's titled products, write it as a new version
        and have Triton serve it."""
        method = method or "contrastive"
        raise_if([("method", "must be 'contrastive' or 'ridge'")] if method not in METHODS else [])
        # One training of a catalog at a time, across gateways too: versions are numbered
        # from the shared model repository.
        async with catalog.train_lock, across_gateways(catalog, TRAINING):
            pairs = await asyncio.to_thread(self._training_pairs, catalog)
            titles, images = pairs.titles, pairs.images
            if len(titles) < MIN_PROJECTION_PAIRS:
                raise FailedPreconditionError(
                    f"{len(titles)} products of {catalog.info.name} have both a title and an image "
                    f"embedding; training needs at least {MIN_PROJECTION_PAIRS}"
                )
            started = time.perf_counter()
            span_texts, span_images = await self._span_pairs(catalog, pairs)
            category_texts, category_images = await self._category_pairs(pairs)
            weights, epochs = await asyncio.to_thread(
                _fit,
                np.concatenate([titles, span_texts, category_texts]),
                np.concatenate([images, span_images, category_images]),
                method,
            )
            relevance = await self._fit_relevance(titles, images, pairs.categories, weights)
            seconds = time.perf_counter() - started
            training = {
                "catalog": catalog.info.name,
                "method": method,
                "pairs": len(titles),
                "span_pairs": len(span_texts),
                "category_pairs": len(category_texts),
                "epochs": epochs,
                "seconds": round(seconds, 2),
                "image_model_version": self.spaces[IMAGE_SPACE].model_version,
                "relevance": {signal: [fit.slope, fit.offset] for signal, fit in relevance.items()},
            }
            model = projection.model_name(catalog.id)
            version = await asyncio.to_thread(
                projection.write_version,
                self.config.model_repository,
                model,
                weights,
                self.spaces[IMAGE_SPACE].model,
                training,
            )
            await serve_new_versions(self.embedder, self.triton, model)
            await self.discover_projection(catalog)
            _LOGGER.info(
                "%s version %d (%s, %d pairs, %.1f s) now served",
                model,
                version,
                method,
                len(titles),
                seconds,
            )
            return TrainingResult(
                version, len(titles), method, seconds, epochs, model, len(span_texts), len(category_texts)
            )

    async def forget(self, catalog: Catalog) -> None:
        """Stop serving and remove the catalog's trained models (the catalog is deleted)."""
        catalog.projection = None
        await remove_trained_model(
            self.embedder, self.triton, self.config.model_repository, projection.model_name(catalog.id)
        )

    def _relevance(self, model: str) -> dict[str, Relevance]:
        """The relevance fits of the newest version (older versions have none). A follow
        asks every second: each version's record is parsed once, known by its file's
        mtime (a catalog deleted and created again numbers its versions from 1 anew)."""
        served = trained.versions(self.config.model_repository, model)
        if not served:
            return {}
        path = self.config.model_repository / model / str(served[-1]) / "training.json"
        try:
            key = (model, served[-1], path.stat().st_mtime_ns)
        except OSError:
            return {}  # being written, or removed meanwhile
        if key not in self._relevance_of:
            fits = trained.record(self.config.model_repository, model, served[-1]).get("relevance", {})
            self._relevance_of = {k: v for k, v in self._relevance_of.items() if k[0] != model}
            self._relevance_of[key] = {signal: Relevance(*fit) for signal, fit in fits.items()}
        return self._relevance_of[key]

    def served_version(self, catalog: Catalog) -> str:
        if catalog.projection is None:
            return ""
        served = trained.versions(self.config.model_repository, catalog.projection)
        return str(served[-1]) if served else "served"

    def _training_pairs(self, catalog: Catalog) -> TrainingPairs:
        """(title, image) embedding pairs of every product that has both, and the image
        embeddings of categorised products (MAX_CATEGORY_PAIRS at most, drawn at random)."""
        vectors: dict[str, dict[int, np.ndarray]] = {}
        category: dict[int, str] = {}
        for name in (TITLE_SPACE, IMAGE_SPACE):
            space = self.spaces[name]
            vectors[name] = {}
            for rows in catalog.store.iter_embeddings(name):
                for row in rows:
                    if (row.model, row.model_version) == (space.model, space.model_version):
                        vectors[name][row.key] = row.vector
                        category[row.key] = min(row.facets.categories, default="")
        keys = sorted(vectors[TITLE_SPACE].keys() & vectors[IMAGE_SPACE].keys())
        categorised = sorted(k for k in vectors[IMAGE_SPACE] if category[k])
        if len(categorised) > MAX_CATEGORY_PAIRS:
            drawn = np.random.default_rng(0).choice(categorised, MAX_CATEGORY_PAIRS, replace=False)
            categorised = sorted(int(k) for k in drawn)

        def stack(space: str, of: list[int]) -> np.ndarray:
            dim = self.spaces[space].dim
            return np.array([vectors[space][k] for k in of], np.float32).reshape(len(of), dim)

        return TrainingPairs(
            keys,
            stack(TITLE_SPACE, keys),
            stack(IMAGE_SPACE, keys),
            [category[k] for k in keys],
            stack(IMAGE_SPACE, categorised),
            [category[k] for k in categorised],
        )

    async def _span_pairs(self, catalog: Catalog, pairs: TrainingPairs) -> tuple[np.ndarray, np.ndarray]:
        """(title span, image) embedding pairs (`projection.sampled_spans`)."""
        titles = await asyncio.to_thread(catalog.store.titles, pairs.keys)
        spans = projection.sampled_spans([titles.get(key, "") for key in pairs.keys])
        return await self._text_pairs([span for span, _ in spans], pairs.images[[row for _, row in spans]])

    async def _category_pairs(self, pairs: TrainingPairs) -> tuple[np.ndarray, np.ndarray]:
        """(category name, image) embedding pairs of every categorised product."""
        return await self._text_pairs(pairs.category_names, pairs.categorised)

    async def _text_pairs(self, texts: list[str], images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each text's embedding, each distinct text embedded once, beside its image's."""
        distinct = sorted(set(texts))
        vectors = await self.embedder.embed_texts(distinct, self.spaces[TITLE_SPACE].model)
        row = {text: i for i, text in enumerate(distinct)}
        text_vectors = vectors[[row[t] for t in texts]].reshape(len(texts), self.spaces[TITLE_SPACE].dim)
        return text_vectors, images.reshape(len(texts), self.spaces[IMAGE_SPACE].dim)

    async def _fit_relevance(
        self, titles: np.ndarray, images: np.ndarray, categories: list[str], weights: np.ndarray
    ) -> dict[str, Relevance]:
        """How often each signal's standardised score is right (server/service/calibration.py),
        with the catalog's category names as keyword queries and their products as the
        relevant ones; none when fewer than two categories have MIN_CATEGORY_PRODUCTS."""
        counts = Counter(c for c in categories if c)
        names = sorted(c for c, n in counts.most_common(CALIBRATION_QUERIES) if n >= MIN_CATEGORY_PRODUCTS)
        if len(names) < 2:
            return {}
        queries = unit(await self.embedder.embed_texts(names, self.spaces[TITLE_SPACE].model))
        # A bounded sample keeps the (queries x products) matrices small for any catalog.
        rows = np.random.default_rng(0).permutation(len(categories))[:CALIBRATION_PRODUCTS]
        relevant = np.array(categories)[rows][None, :] == np.array(names)[:, None]
        return await asyncio.to_thread(
            lambda: {
                TITLE_SPACE: fit_relevance(queries, unit(titles[rows]), relevant),
                IMAGE_SPACE: fit_relevance(
                    projection.project(queries, weights), unit(images[rows]), relevant
                ),
            }
        )


async def serve_new_versions(embedder: EmbeddingClient, triton: EmbeddedTriton | None, model: str) -> None:
    """Have Triton serve the versions of a catalog-trained model just written to the model
    repository (the embedded Triton first copies them into its own)."""
    if triton is not None:
        await asyncio.to_thread(triton.add_model_versions, model)
    await embedder.load_model(model)


async def remove_trained_model(
    embedder: EmbeddingClient, triton: EmbeddedTriton | None, repository: Path, model: str
) -> None:
    """Stop serving a catalog-trained model and delete its versions (its catalog is gone)."""
    if await embedder.ready([model]):
        await embedder.unload_model(model)
    if triton is not None:
        await asyncio.to_thread(triton.remove_model, model)
    await asyncio.to_thread(trained.remove, repository, model)


def _fit(titles: np.ndarray, images: np.ndarray, method: str) -> tuple[np.ndarray, int]:
    """Weights and the contrastive epochs kept (0 for ridge)."""
    weights = projection.fit_ridge(titles, images)
    if method == "ridge":
        return weights, 0
    return projection.fit_contrastive(titles, images, weights)
