"""What the client takes and returns: frozen dataclasses, free of protobuf types."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

# The image files `Client.upsert_folder` and the CLI's `upsert` pick up (case-insensitive).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")

StrPath = str | os.PathLike[str]
"""A file or folder path."""
ImageSource = bytes | bytearray | memoryview | str | os.PathLike[str]
"""An image as bytes (JPEG, PNG or WebP) or the path of such a file."""


@dataclass(frozen=True)
class Product:
    """One catalog item. Write `id`, `image` and what else is known; the service returns
    products without `image` but with `thumbnail` (a JPEG of at most 256 px) and `update_time`
    (seconds since the Unix epoch)."""

    id: str
    title: str = ""
    category: str = ""
    price: float | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    image: bytes = field(default=b"", repr=False)
    image_uri: str = ""
    thumbnail: bytes = field(default=b"", repr=False)
    update_time: float = 0.0

    @classmethod
    def from_file(cls, path: StrPath, *, id: str | None = None, **fields: Any) -> Product:
        """A product whose image is the file at `path`; `id` defaults to the file name
        without its extension."""
        path = Path(path)
        return cls(id=path.stem if id is None else id, image=path.read_bytes(), **fields)


def folder_products(folder: StrPath) -> Iterator[Product]:
    """The CLI contract's folder: every .jpg/.jpeg/.png/.webp file directly in `folder`, sorted
    by name, as a product with id = file name without extension and title = the trimmed content
    of `<stem>.txt` next to it (empty when there is none). Images are read lazily, as the
    products are consumed; NotADirectoryError at once when `folder` is not a folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    paths = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
        key=lambda p: p.name,
    )
    return (_folder_product(path) for path in paths)


def _folder_product(path: Path) -> Product:
    title_file = path.with_name(f"{path.stem}.txt")
    title = title_file.read_text(encoding="utf-8").strip() if title_file.is_file() else ""
    return Product.from_file(path, title=title)


@dataclass(frozen=True)
class Filter:
    """Restricts results; every given condition must hold. `categories`: one of these (empty:
    any); `min_price`/`max_price`: inclusive bounds, either excludes unpriced products;
    `attributes`: each key present with exactly this value."""

    categories: Sequence[str] = ()
    min_price: float | None = None
    max_price: float | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """One ranked search result. `score` is the cosine similarity that ranks it (its best
    signal's); `signals` has each matching signal's cosine ("image", "title")."""

    product_id: str
    score: float
    title: str
    category: str
    signals: Mapping[str, float]
    price: float | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    image_uri: str = ""
    thumbnail: bytes = field(default=b"", repr=False)  # filled when the search asked for them


@dataclass(frozen=True)
class ProductStatus:
    """The outcome of one upserted product: `code` is OK once it is committed."""

    id: str
    code: grpc.StatusCode
    message: str

    @property
    def ok(self) -> bool:
        return self.code == grpc.StatusCode.OK


@dataclass(frozen=True)
class UpsertSummary:
    """What an upsert did: counts, and one status per product in the order they were sent."""

    upserted: int
    failed: int
    statuses: tuple[ProductStatus, ...]

    @property
    def failures(self) -> tuple[ProductStatus, ...]:
        return tuple(s for s in self.statuses if not s.ok)


@dataclass(frozen=True)
class DeleteSummary:
    """How many products were deleted, and the ids that were not in the catalog."""

    deleted: int
    not_found: tuple[str, ...]


@dataclass(frozen=True)
class ModelInfo:
    """A model serving embeddings: its Triton name, version (sha256 prefix) and dimension."""

    name: str
    version: str
    dimension: int


@dataclass(frozen=True)
class IndexInfo:
    """One HNSW index ("image" or "title" space) and its parameters."""

    space: str
    model: str
    count: int
    capacity: int
    m: int
    ef_construction: int
    ef_search: int


@dataclass(frozen=True)
class Stats:
    """The catalog's size, the models and the indexes."""

    product_count: int
    models: tuple[ModelInfo, ...]
    indexes: tuple[IndexInfo, ...]


@dataclass(frozen=True)
class Projection:
    """A retrained text → image projection: the model version now served, the (title, image)
    pairs it was fitted on, the method and the seconds the fit took."""

    version: int
    pairs: int
    method: str
    seconds: float
