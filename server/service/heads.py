"""Image heads: similar-product search trained from the catalog's own categories
(server/models/image_head.py), served by Triton as numbered versions of the catalog's model
`image_head__<catalog id>`.

A version moves in without stopping searches:
1. `train` fits it on the catalog's stored image embeddings and categories (no image-model
   call), writes it to the model repository and has Triton serve it beside the previous one.
2. `roll_out` gives the catalog the version's own index space, `image_head_v<N>`: from then
   on every write is embedded into it too (server/service/ingest.py), while searches go on
   with the previous version (or the plain image embeddings). In the background, the
   products written before are embedded into it from their indexed image vectors, a chunk
   at a time under the catalog's write lock.
3. Under the write lock, so that no write slips past, the last products are filled in and
   searches move to the new space; the version is marked served in the repository (other
   gateways follow it: `discover`), and the old space is dropped with its stored rows after
   a grace period, once searches that started on it are done.
A restart opens the catalog on the newest served version and resumes a newer roll-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from server.config import Config
from server.domain import IMAGE_SPACE, EmbeddingRow, FailedPreconditionError
from server.index.store import IndexSpace, VectorBackend
from server.models import image_head, trained
from server.models.embedding import EmbeddingClient
from server.models.images import decode_image, run_decoding
from server.service.catalogs import Catalog
from server.service.follow import TRAINING, across_gateways, writing
from server.service.ingest import store_embeddings
from server.service.training import remove_trained_model, serve_new_versions
from server.triton.runtime import EmbeddedTriton

_LOGGER = logging.getLogger(__name__)

MIN_PRODUCTS = 100  # categorised products a head needs
MAX_PRODUCTS = 50_000  # fitted on at most (a deterministic sample): bounds memory and time
FILL_CHUNK = 256  # products embedded into a new space per hold of the write lock
AUGMENTED_VIEWS = 2  # views of each product's image trained on besides its own (mirror, crop)
AUGMENT_MAX = 20_000  # products above which a head trains on the stored embeddings alone
RETIRE_GRACE_S = 30.0  # an old space stays searchable this long after the swap
SERVED_MARK = "served"  # file in a version's folder once catalogs search with it


@dataclass(frozen=True)
class HeadResult:
    version: int  # of the catalog's head model, now served by Triton (rolled out in the background)
    model: str
    products: int  # categorised products fitted on, held-out ones included
    categories: int
    held_out: int
    epochs: int
    seconds: float
    before_p10: float  # held-out products: plain image embeddings
    after_p10: float  # the same through the head


class ImageHeads:
    def __init__(
        self,
        config: Config,
        embedder: EmbeddingClient,
        image_space: IndexSpace,
        vectors: VectorBackend,
        triton: EmbeddedTriton | None,
    ) -> None:
        self.config = config
        self.embedder = embedder
        self.image_space = image_space
        self.vectors = vectors
        self.triton = triton
        self._roll_outs: dict[str, asyncio.Task] = {}  # catalog uid → its roll-out in progress
        self._retiring: set[asyncio.Task] = set()
        self._image_model_of: dict[tuple[str, int], str | None] = {}  # (model, version) → its image model

    @property
    def repository(self) -> Path:
        return self.config.model_repository

    # -- training -------------------------------------------------------------------------

    async def train(self, catalog: Catalog) -> HeadResult:
        """Fit a new version on the catalog's categorised products, have Triton serve it and
        start moving the catalog to it."""
        async with catalog.train_lock, across_gateways(catalog, TRAINING):
            if catalog.info.uid in self._roll_outs:
                raise FailedPreconditionError(
                    f"{catalog.info.name} is still moving to image head version {catalog.rolling_out}; "
                    "train again once GetStats lists it among the models"
                )
            keys, embeddings, labels, categories = await asyncio.to_thread(self._training_set, catalog)
            if len(labels) < MIN_PRODUCTS or categories < 2:
                raise FailedPreconditionError(
                    f"{len(labels)} products of {catalog.info.name} in {categories} categories have an "
                    f"image embedding and one category; a head needs {MIN_PRODUCTS} in at least 2"
                )
            started = time.perf_counter()
            views = await self._augmented_views(catalog, keys)
            fit = await asyncio.to_thread(
                functools.partial(image_head.fit_supcon, embeddings, labels, views=views)
            )
            seconds = time.perf_counter() - started
            model = image_head.model_name(catalog.id)
            version = await asyncio.to_thread(
                image_head.write_version,
                self.repository,
                model,
                fit.weights,
                self.image_space.model,
                {
                    "catalog": catalog.info.name,
                    "products": len(labels),
                    "categories": categories,
                    "views": len(views),
                    "epochs": fit.epochs,
                    "seconds": round(seconds, 2),
                    "held_out": fit.held_out,
                    "held_out_p10_before": round(fit.before_p10, 4),
                    "held_out_p10_after": round(fit.after_p10, 4),
                    "image_model_version": self.image_space.model_version,
                },
            )
            await serve_new_versions(self.embedder, self.triton, model)
            self._start_roll_out(catalog, version)
            _LOGGER.info(
                "%s version %d: held-out P@10 %.3f → %.3f (%d products, %.1f s); rolling out",
                model,
                version,
                fit.before_p10,
                fit.after_p10,
                len(labels),
                seconds,
            )
            return HeadResult(
                version,
                model,
                len(labels),
                categories,
                fit.held_out,
                fit.epochs,
                seconds,
                fit.before_p10,
                fit.after_p10,
            )

    def _training_set(self, catalog: Catalog) -> tuple[list[int], np.ndarray, np.ndarray, int]:
        """Keys and image embeddings of the current model with their category, as integer
        labels, and the number of categories."""
        current = (self.image_space.model, self.image_space.model_version)
        rows = [
            row
            for batch in catalog.store.iter_embeddings(IMAGE_SPACE)
            for row in batch
            if (row.model, row.model_version) == current and len(row.facets.categories) == 1
        ]
        if len(rows) > MAX_PRODUCTS:
            keep = np.random.default_rng(0).choice(len(rows), MAX_PRODUCTS, replace=False)
            rows = [rows[i] for i in sorted(keep)]
        names = sorted({next(iter(row.facets.categories)) for row in rows})
        index = {name: i for i, name in enumerate(names)}
        if not rows:
            return [], np.zeros((0, self.image_space.dim), np.float32), np.zeros(0, np.int64), 0
        embeddings = np.stack([row.vector for row in rows]).astype(np.float32)
        labels = np.array([index[next(iter(row.facets.categories))] for row in rows])
        return [row.key for row in rows], embeddings, labels, len(names)

    async def _augmented_views(self, catalog: Catalog, keys: list[int]) -> list[np.ndarray]:
        """Embeddings of AUGMENTED_VIEWS other views of each product's stored image
        (`image_head.augment`), by the image model on Triton; [] above AUGMENT_MAX products
        (they would cost more image-model calls than the catalog's own embedding did)."""
        if len(keys) > AUGMENT_MAX:
            return []
        views: list[list[np.ndarray]] = [[] for _ in range(AUGMENTED_VIEWS)]
        for begin in range(0, len(keys), FILL_CHUNK):
            chunk = keys[begin : begin + FILL_CHUNK]
            images = await asyncio.to_thread(catalog.store.stored_images, chunk)
            if images.keys() != set(chunk):  # deleted meanwhile: train without views
                return []
            pixels = await run_decoding(_decode_all, [images[k] for k in chunk])
            for view in range(AUGMENTED_VIEWS):
                edited = [image_head.augment(p, view, seed=k) for p, k in zip(pixels, chunk, strict=True)]
                views[view].append(await self.embedder.embed_images(self.image_space.model, edited))
        return [np.concatenate(v) for v in views]

    # -- moving a catalog to a version ----------------------------------------------------

    def _start_roll_out(self, catalog: Catalog, version: int) -> None:
        catalog.rolling_out = version
        task = asyncio.create_task(self._roll_out_logged(catalog, version))
        self._roll_outs[catalog.info.uid] = task
        task.add_done_callback(lambda _: self._roll_outs.pop(catalog.info.uid, None))

    async def _roll_out_logged(self, catalog: Catalog, version: int) -> None:
        try:
            await self.roll_out(catalog, version)
        except asyncio.CancelledError:
            raise
        except Exception:  # logged; a restart or the next follow resumes it
            _LOGGER.exception("%s: moving to image head version %d failed", catalog.info.name, version)
        finally:
            if catalog.rolling_out == version:
                catalog.rolling_out = None

    async def roll_out(self, catalog: Catalog, version: int) -> None:
        """Give the catalog the version's space, fill it, and search with it."""
        name = image_head.space_name(version)
        if name not in catalog.spaces:
            space = IndexSpace(
                name, image_head.model_name(catalog.id), str(version), await self._dim(catalog)
            )
            store, _ = await asyncio.to_thread(self.vectors.open, catalog.info, space, catalog.store, False)
            async with writing(catalog):
                catalog.spaces = {**catalog.spaces, name: store}  # a new dict: searches hold the old
        started = time.perf_counter()
        missing = await asyncio.to_thread(catalog.store.keys_without, name)
        for begin in range(0, len(missing), FILL_CHUNK):
            async with writing(catalog):
                await self._fill(catalog, version, missing[begin : begin + FILL_CHUNK])
        async with writing(catalog):
            # What was written through other gateways meanwhile (they did not embed it here).
            rest = await asyncio.to_thread(catalog.store.keys_without, name)
            for begin in range(0, len(rest), FILL_CHUNK):
                await self._fill(catalog, version, rest[begin : begin + FILL_CHUNK])
            retired = self._swap(catalog, version)
        await asyncio.to_thread(_mark_served, self.repository, image_head.model_name(catalog.id), version)
        _LOGGER.info(
            "%s: searching with image head version %d (%d products embedded in %.1f s)",
            catalog.info.name,
            version,
            len(missing) + len(rest),
            time.perf_counter() - started,
        )
        if retired is not None:
            task = asyncio.create_task(self._retire(catalog, *retired))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _fill(self, catalog: Catalog, version: int, keys: list[int]) -> None:
        """Embed `keys` into the version's space from their indexed image vectors; those
        already there (written since) or without an image vector (deleted) are left. Runs
        under the write lock, so the image vectors are the committed ones."""
        name = image_head.space_name(version)
        target = catalog.spaces[name]
        present = await asyncio.to_thread(target.fetch, keys)
        images = await asyncio.to_thread(
            catalog.spaces[IMAGE_SPACE].fetch, [k for k in keys if k not in present]
        )
        if not images:
            return
        chunk = sorted(images)
        vectors = await self.embedder.apply_head(
            np.stack([images[k] for k in chunk]), image_head.model_name(catalog.id), version
        )
        rows = [
            EmbeddingRow(k, name, target.space.model, target.space.model_version, v)
            for k, v in zip(chunk, vectors, strict=True)
        ]
        await store_embeddings(catalog, name, rows)

    def _swap(self, catalog: Catalog, version: int) -> tuple[str, object] | None:
        """Search with `version`; returns the retired space (name, store), if any."""
        old = catalog.head
        spaces = dict(catalog.spaces)
        retired = None
        if old is not None and old != version:
            old_name = image_head.space_name(old)
            retired = (old_name, spaces.pop(old_name))
        catalog.spaces, catalog.head = spaces, version
        return retired

    async def _retire(self, catalog: Catalog, name: str, store) -> None:
        """Drop a space searches no longer use, once those that started on it are done. Rows
        left by a failure (or a catalog closed meanwhile) are removed at the next start."""
        await asyncio.sleep(RETIRE_GRACE_S)
        try:
            await asyncio.to_thread(store.drop)
            await asyncio.to_thread(catalog.store.delete_embeddings, name)
        except Exception as error:  # logged; the next start removes the rows (`discover`)
            _LOGGER.warning("%s: %s not dropped: %s", catalog.info.name, name, error)
            return
        _LOGGER.info("%s: dropped %s", catalog.info.name, name)

    async def _dim(self, catalog: Catalog) -> int:
        return (await self.embedder.model_info(image_head.model_name(catalog.id))).dimension

    # -- what the repository holds --------------------------------------------------------

    async def discover(self, catalog: Catalog, resume: bool) -> None:
        """Move the catalog to the newest version marked served (trained here or by
        another gateway) for our image model; with `resume`, also roll out a newer one a
        crash interrupted. Reads only the repository when there is nothing to do."""
        if catalog.info.uid in self._roll_outs:
            return
        model = image_head.model_name(catalog.id)
        on_disk = await asyncio.to_thread(self._versions_for_our_model, model)
        served = [v for v in on_disk if (self.repository / model / str(v) / SERVED_MARK).exists()]
        target = served[-1] if served else None
        interrupted = (
            on_disk[-1] if resume and on_disk and on_disk[-1] not in (target, catalog.head) else None
        )
        if target in (None, catalog.head) and interrupted is None:
            return
        if not await self.embedder.ready([model]):
            await serve_new_versions(self.embedder, self.triton, model)
        if target is not None and target != catalog.head:
            await self.roll_out(catalog, target)
            for older in [v for v in on_disk if v < target][-2:]:  # rows a crash left behind
                if image_head.space_name(older) not in catalog.spaces:
                    await asyncio.to_thread(catalog.store.delete_embeddings, image_head.space_name(older))
        if interrupted is not None:
            self._start_roll_out(catalog, interrupted)

    def _versions_for_our_model(self, model: str) -> list[int]:
        """Versions on disk trained for our image model (read once each: a follow asks
        every second, and a version's record never changes once written)."""
        ours = []
        for version in trained.versions(self.repository, model):
            if (model, version) not in self._image_model_of:
                record = trained.record(self.repository, model, version)
                if not record or not (self.repository / model / str(version) / "model.onnx").exists():
                    continue  # being written, or damaged: asked again next time
                self._image_model_of[model, version] = record.get("image_model")
            if self._image_model_of[model, version] == self.image_space.model:
                ours.append(version)
        return ours

    async def forget(self, catalog: Catalog) -> None:
        """Stop serving and remove the catalog's head (the catalog is deleted)."""
        task = self._roll_outs.pop(catalog.info.uid, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        model = image_head.model_name(catalog.id)
        await remove_trained_model(self.embedder, self.triton, self.repository, model)
        self._image_model_of = {key: value for key, value in self._image_model_of.items() if key[0] != model}

    async def close(self) -> None:
        for task in [*self._roll_outs.values(), *self._retiring]:
            task.cancel()
        for task in [*self._roll_outs.values(), *self._retiring]:
            with contextlib.suppress(BaseException):
                await task


def _mark_served(repository: Path, model: str, version: int) -> None:
    (Path(repository) / model / str(version) / SERVED_MARK).touch()


def _decode_all(images: list[bytes]) -> list[np.ndarray]:
    return [decode_image(image) for image in images]
