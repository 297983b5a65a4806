"""Plain types the gateway's modules exchange (no protobuf, no gRPC)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

IMAGE_SPACE = "image"
TITLE_SPACE = "title"


class DomainError(Exception):
    """Base of the errors the servicer maps to gRPC status codes."""


class InvalidArgumentError(DomainError):
    """Bad input; `violations` are (field, description) pairs for google.rpc.BadRequest."""

    def __init__(self, violations: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {d}" for f, d in violations))
        self.violations = violations


class NotFoundError(DomainError):
    pass


class FailedPreconditionError(DomainError):
    """The request is fine but the system is not in a state to run it."""


@dataclass(frozen=True)
class Filter:
    """All given conditions must hold; an empty filter matches everything."""

    categories: frozenset[str] = frozenset()
    min_price: float | None = None
    max_price: float | None = None
    attributes: tuple[tuple[str, str], ...] = ()

    def is_empty(self) -> bool:
        return not (self.categories or self.attributes) and self.min_price is None and self.max_price is None


@dataclass
class Product:
    """A catalog product as stored. `key` is the catalog's integer key (the index label)."""

    id: str
    title: str = ""
    category: str = ""
    price: float | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    image_uri: str = ""
    thumbnail: bytes = b""
    update_time: float = 0.0
    key: int = 0


@dataclass
class ProductWrite:
    """A product to store with its derived data: the normalised image and embeddings."""

    product: Product
    image_jpeg: bytes  # at most STORED_IMAGE_SIDE px: kept to re-embed with another model
    embeddings: dict[str, np.ndarray]  # space → vector


@dataclass(frozen=True)
class EmbeddingRow:
    key: int
    space: str
    model: str
    model_version: str
    vector: np.ndarray


@dataclass
class Hit:
    product: Product
    score: float
    signals: dict[str, float]


@dataclass
class SearchResult:
    hits: list[Hit]
    embedding_ms: float = 0.0
    index_ms: float = 0.0


@dataclass(frozen=True)
class SearchOptions:
    top_k: int = 10
    filter: Filter = Filter()
    min_score: float = 0.0
    include_thumbnails: bool = False
