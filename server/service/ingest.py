"""Ingest: products in and out of a catalog — validate, prepare images, embed, commit,
apply to the vector stores; delete; embed again what an older model embedded.

Embedding happens outside any lock; the commit and its application to every space run
under the catalog's write lock (server/service/follow.py: across gateways too, when they
share the catalog store), so the vector stores follow the catalog in commit order (each
write carries the commit's sequence number, also to spaces it does not touch).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from server.config import Config
from server.domain import (
    COPY_SPACE,
    IMAGE_SPACE,
    TITLE_SPACE,
    Code,
    EmbeddingRow,
    Facets,
    Product,
    ProductStatus,
    ProductWrite,
)
from server.index.store import IndexSpace, VectorRecord, VectorStore
from server.models import image_head
from server.models.copy_descriptor import catalog_vectors
from server.models.embedding import EmbeddingClient, EmbeddingError
from server.models.images import DecodeBudget, ImageError, decode_image, encode_jpeg, run_decoding
from server.service.catalogs import Catalog
from server.service.follow import writing
from server.service.validation import product_violations, raise_if

_LOGGER = logging.getLogger(__name__)

STORED_IMAGE_SIDE = 512  # enough to re-embed with any of the models (224-260 px inputs)
THUMBNAIL_SIDE = 256
_REEMBED_CHUNK = 256


@dataclass(frozen=True)
class UpsertItem:
    """A product as sent, with its image bytes."""

    product: Product
    image: bytes


@dataclass(frozen=True)
class DeleteResult:
    deleted: int
    not_found: list[str]


@dataclass(frozen=True)
class _Prepared:
    position: int
    product: Product  # with its thumbnail
    pixels: np.ndarray  # decoded RGB, at most ImageLimits.decoded_side px per side
    jpeg: bytes  # at most STORED_IMAGE_SIDE px, kept to embed again


class Ingest:
    def __init__(
        self, config: Config, embedder: EmbeddingClient, spaces: dict[str, IndexSpace], decodes: DecodeBudget
    ) -> None:
        self.config = config
        self.embedder = embedder
        self.decodes = decodes
        self.spaces = spaces  # image, title and copy: what each catalog indexes
        self.versions = {name: (s.model, s.model_version) for name, s in spaces.items()}

    async def upsert(self, catalog: Catalog, items: Sequence[UpsertItem]) -> list[ProductStatus]:
        """Validate, embed, commit and index a batch; one status per item, in order. An item
        is OK only once committed; a bad item does not stop the others. The same id twice:
        the last valid one is written (as if sent one after the other)."""
        statuses: list[ProductStatus | None] = [None] * len(items)
        accepted = []
        for position, item in enumerate(items):
            violations = product_violations(item.product, bool(item.image), self.config.limits)
            if violations:
                message = "; ".join(f"{f}: {d}" for f, d in violations)
                statuses[position] = ProductStatus(item.product.id, Code.INVALID_ARGUMENT, message)
            else:
                accepted.append((position, item))
        decoded = await asyncio.gather(*(self._prepare(position, item) for position, item in accepted))
        prepared = []
        for (position, _), ready in zip(accepted, decoded, strict=True):
            if isinstance(ready, ProductStatus):
                statuses[position] = ready
            else:
                prepared.append(ready)
        last = {p.product.id: p for p in prepared}  # the last valid write of each id wins
        outcome = (
            {s.id: s for s in await self._embed_and_commit(catalog, list(last.values()))} if last else {}
        )
        for p in prepared:  # an earlier write of an id shares the outcome of the last one
            statuses[p.position] = outcome[p.product.id]
        return [s for s in statuses if s is not None]

    async def _prepare(self, position: int, item: UpsertItem) -> _Prepared | ProductStatus:
        try:
            pixels = await self.decodes.decode(item.image, self.config.limits.image)
        except ImageError as error:
            return ProductStatus(item.product.id, Code.INVALID_ARGUMENT, f"product.image: {error}")
        thumbnail, stored = await run_decoding(_encodings, pixels)
        return _Prepared(position, replace(item.product, thumbnail=thumbnail), pixels, stored)

    async def _embed_and_commit(self, catalog: Catalog, ready: list[_Prepared]) -> list[ProductStatus]:
        titled = [i for i, p in enumerate(ready) if p.product.title.strip()]
        pixels = [p.pixels for p in ready]
        try:
            image_vectors, title_vectors, copy_vectors = await asyncio.gather(
                self.embedder.embed_images(self.spaces[IMAGE_SPACE].model, pixels),
                self.embedder.embed_texts(
                    [ready[i].product.title for i in titled], self.spaces[TITLE_SPACE].model
                ),
                asyncio.to_thread(catalog_vectors, pixels),
            )
        except EmbeddingError as error:
            return [ProductStatus(p.product.id, error.code, str(error)) for p in ready]
        title_of = dict(zip(titled, title_vectors, strict=True))
        async with writing(catalog):
            try:  # under the lock: the head spaces the catalog has now (server/service/heads.py)
                heads = await self._head_vectors(catalog, image_vectors)
            except EmbeddingError as error:
                return [ProductStatus(p.product.id, error.code, str(error)) for p in ready]
            writes = []
            for i, p in enumerate(ready):
                embeddings = {IMAGE_SPACE: image_vectors[i], COPY_SPACE: copy_vectors[i]}
                embeddings.update({name: vectors[i] for name, (_, vectors) in heads.items()})
                if i in title_of:
                    embeddings[TITLE_SPACE] = title_of[i]
                writes.append(ProductWrite(p.product, p.jpeg, embeddings))
            versions = {**self.versions, **{name: version for name, (version, _) in heads.items()}}
            seq = await asyncio.to_thread(catalog.store.upsert, writes, versions)
            await asyncio.to_thread(_apply_writes, catalog, writes, seq)
        return [ProductStatus(p.product.id, Code.OK) for p in ready]

    async def _head_vectors(
        self, catalog: Catalog, image_vectors: np.ndarray
    ) -> dict[str, tuple[tuple[str, str], np.ndarray]]:
        """Per image-head space of the catalog: its (model, version) and the vectors."""
        found = {}
        for name, store in catalog.spaces.items():
            version = image_head.version_of_space(name)
            if version is not None:
                vectors = await self.embedder.apply_head(image_vectors, store.space.model, version)
                found[name] = ((store.space.model, store.space.model_version), vectors)
        return found

    async def delete(self, catalog: Catalog, ids: Sequence[str]) -> DeleteResult:
        """Delete products from the catalog and every space."""
        limit = self.config.limits.max_delete_ids
        raise_if([("ids", f"must list 1 to {limit} ids")] if not 1 <= len(ids) <= limit else [])
        async with writing(catalog):
            deleted = await asyncio.to_thread(catalog.store.delete, list(ids))
            keys = list(deleted.keys.values())
            await asyncio.to_thread(catalog.in_every_space, lambda _, store: store.delete(keys, deleted.seq))
        return DeleteResult(len(deleted.keys), [i for i in dict.fromkeys(ids) if i not in deleted.keys])

    async def reembed(self, catalog: Catalog, space_name: str, keys: list[int]) -> None:
        """Embed again, with the current model, products an older model embedded (or, for
        the copy space, describe products that have no or outdated descriptors)."""
        space = self.spaces[space_name]
        _LOGGER.info(
            "%s %s: re-embedding %d products with %s %s",
            catalog.info.name,
            space.name,
            len(keys),
            space.model,
            space.model_version,
        )
        for start in range(0, len(keys), _REEMBED_CHUNK):
            chunk = keys[start : start + _REEMBED_CHUNK]
            if space_name == TITLE_SPACE:
                titles = await asyncio.to_thread(catalog.store.titles, chunk)
                chunk = [k for k, t in titles.items() if t.strip()]
                vectors = await self.embedder.embed_texts([titles[k] for k in chunk], space.model)
            else:
                images = await asyncio.to_thread(catalog.store.stored_images, chunk)
                chunk = list(images)
                if space_name == COPY_SPACE:
                    vectors = await asyncio.to_thread(
                        lambda jpegs: catalog_vectors([decode_image(j) for j in jpegs]),
                        [images[k] for k in chunk],
                    )
                else:
                    vectors = await self.embedder.embed_images(space.model, [images[k] for k in chunk])
            rows = [
                EmbeddingRow(k, space.name, space.model, space.model_version, v)
                for k, v in zip(chunk, vectors, strict=True)
            ]
            async with writing(catalog):
                await store_embeddings(catalog, space_name, rows)


async def store_embeddings(catalog: Catalog, space_name: str, rows: list[EmbeddingRow]) -> None:
    """Commit re-computed embeddings of one space and apply them to its vector store (the
    others take the seq); rows of products deleted meanwhile are dropped. Callers hold
    `writing(catalog)`."""
    seq = await asyncio.to_thread(catalog.store.replace_embeddings, rows)
    products = await asyncio.to_thread(catalog.store.get_many, [r.key for r in rows])
    records = [VectorRecord(r.key, r.vector, Facets.of(products[r.key])) for r in rows if r.key in products]
    await asyncio.to_thread(
        catalog.in_every_space, lambda name, store: store.upsert(records if name == space_name else [], seq)
    )


def _apply_writes(catalog: Catalog, writes: list[ProductWrite], seq: int) -> None:
    """Apply committed writes to every space (those without a vector there leave it)."""

    def apply(name: str, store: VectorStore) -> None:
        without = [w.product.key for w in writes if name not in w.embeddings]
        if without:
            store.delete(without, seq)
        store.upsert(
            [
                VectorRecord(w.product.key, w.embeddings[name], Facets.of(w.product))
                for w in writes
                if name in w.embeddings
            ],
            seq,
        )

    catalog.in_every_space(apply)


def _encodings(pixels: np.ndarray) -> tuple[bytes, bytes]:
    """The thumbnail and the stored image (kept to embed again) of a decoded image."""
    return encode_jpeg(pixels, THUMBNAIL_SIDE, quality=85), encode_jpeg(pixels, STORED_IMAGE_SIDE)
