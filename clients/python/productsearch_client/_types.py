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
CATALOG_PREFIX = "catalogs/"

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


def catalog_name(catalog: str) -> str:
    """The resource name of a catalog given by id (`shop-a`) or name (`catalogs/shop-a`);
    empty stays empty, which the service reads as `catalogs/default`."""
    return catalog if not catalog or catalog.startswith(CATALOG_PREFIX) else CATALOG_PREFIX + catalog


@dataclass(frozen=True)
class FolderEntry:
    """One product image of a folder, as `folder_entries` finds it."""

    id: str  # path relative to the folder, without extension, "/" between folders
    path: Path
    category: str  # the name of the folder it is in; empty at the top
    title: str  # the trimmed text of <stem>.txt beside it; empty without one


def folder_entries(folder: StrPath) -> list[FolderEntry]:
    """The folder rule every client shares with the server's `productsearch index --folder`
    (server/tools/sources.py): every regular .jpg/.jpeg/.png/.webp file (any case) under
    `folder` at any depth; names starting with "." are skipped, links to files followed,
    links to folders not descended. id = the path relative to `folder` without the extension,
    "/" between folders; category = the name of the folder the file is in (empty at the top);
    title = the trimmed UTF-8 text of `<stem>.txt` beside it when that is a regular file.
    Sorted by id in UTF-8 byte order. NotADirectoryError when `folder` is not a folder; an
    OSError too for a title file that is not UTF-8."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    entries = []
    for path in _image_files(folder):
        relative = path.relative_to(folder)
        parent = relative.parent
        category = "" if parent == Path(".") else parent.name
        entries.append(FolderEntry(relative.with_suffix("").as_posix(), path, category, _title(path)))
    # Equal ids (x.jpg and x.png side by side) go in name order, so the later one wins everywhere.
    return sorted(entries, key=lambda e: (_utf8(e.id), os.fsencode(e.path.name)))


def _image_files(folder: Path) -> Iterator[Path]:
    for path in folder.iterdir():
        if path.name.startswith("."):
            continue
        if path.is_dir() and not path.is_symlink():
            yield from _image_files(path)
        elif path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            yield path


def _title(image: Path) -> str:
    title_file = image.with_suffix(".txt")
    if not title_file.is_file():
        return ""
    try:
        # Text mode, as the server reads it: "\r\n" and "\r" become "\n"; str.strip() trims.
        return title_file.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError as error:
        raise OSError(f"{title_file}: not UTF-8 text ({error.reason} at byte {error.start})") from error


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")  # names that are not UTF-8 still sort


def folder_products(folder: StrPath) -> Iterator[Product]:
    """The products of `folder_entries(folder)`, in that order, with id, title and category;
    images are read lazily, as the products are consumed."""
    entries = folder_entries(folder)
    return (Product(id=e.id, title=e.title, category=e.category, image=e.path.read_bytes()) for e in entries)


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
    position: int = 0  # in the stream, from 0

    @property
    def ok(self) -> bool:
        return self.code == grpc.StatusCode.OK


@dataclass(frozen=True)
class UpsertSummary:
    """What an upsert did: counts, and one status per product in the order they were sent.
    `truncated`: the service stopped reading after 10,000 products (those have statuses);
    send the rest in another upsert."""

    upserted: int
    failed: int
    statuses: tuple[ProductStatus, ...]
    truncated: bool = False

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
    """The vectors of one embedding space ("image", "title" or "copy"): the model and its
    version (sha256 prefix), how many, their dimension, the engine holding them and the
    engine's own settings as text (for hnswlib: M, ef_construction, ef_search, capacity, ...)."""

    space: str
    model: str
    count: int
    model_version: str
    dimension: int
    engine: str
    parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Catalog:
    """A named, isolated collection of products: its resource name (`catalogs/{id}`), display
    name, description, creation time (seconds since the Unix epoch) and product count."""

    name: str
    display_name: str = ""
    description: str = ""
    create_time: float = 0.0
    product_count: int = 0

    @property
    def id(self) -> str:
        """The id in the name: `shop-a` of `catalogs/shop-a`."""
        return self.name.removeprefix(CATALOG_PREFIX)


@dataclass(frozen=True)
class Stats:
    """One catalog: its size, the models serving it and its indexes."""

    product_count: int
    models: tuple[ModelInfo, ...]
    indexes: tuple[IndexInfo, ...]
    catalog: Catalog | None = None


@dataclass(frozen=True)
class Projection:
    """A retrained text → image projection: the model version now served, the (title, image)
    pairs it was fitted on, the method, the seconds the fit took, the contrastive epochs kept
    (0 for ridge), the Triton model serving the catalog's projection, and the (title span,
    image) and (category name, image) pairs it was also fitted on."""

    version: int
    pairs: int
    method: str
    seconds: float
    epochs: int = 0
    model: str = ""
    span_pairs: int = 0
    category_pairs: int = 0


@dataclass(frozen=True)
class ImageHead:
    """A newly trained image head: the model version Triton now serves (the catalog moves to
    it in the background), the categorised products and categories it was fitted on, those
    held out, the epoch kept, the seconds the fit took, and the held-out precision@10 with
    the plain image embeddings and through the head."""

    version: int
    model: str
    products: int
    categories: int
    held_out: int
    epochs: int
    seconds: float
    precision_at_10_before: float
    precision_at_10_after: float
