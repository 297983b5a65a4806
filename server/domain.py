"""Plain types the gateway's modules exchange (no protobuf, no gRPC)."""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

IMAGE_SPACE = "image"  # the image model's embeddings
TITLE_SPACE = "title"  # the text encoder's embeddings of titles
COPY_SPACE = "copy"  # copy-detection descriptors (server/models/copy_descriptor.py)


class Code(enum.IntEnum):
    """Canonical status codes, numbered as google.rpc.Code, so that the service speaks of
    outcomes without gRPC types (the API layer maps them)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class DomainError(Exception):
    """Base of the errors the API layer maps to status codes."""


class InvalidArgumentError(DomainError):
    """Bad input; `violations` are (field, description) pairs for google.rpc.BadRequest."""

    def __init__(self, violations: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {d}" for f, d in violations))
        self.violations = violations


class NotFoundError(DomainError):
    pass


class AlreadyExistsError(DomainError):
    pass


class PermissionDeniedError(DomainError):
    """The caller is known but may not touch this resource (a key limited to other catalogs)."""


class ResourceExhaustedError(DomainError):
    """Too much at once (a budget of the server is spent): retry with backoff."""


class DeadlineExceededError(DomainError):
    """The caller took too long (an upsert stream that stopped sending)."""


class FailedPreconditionError(DomainError):
    """The request is fine but the system is not in a state to run it."""


class UnavailableError(DomainError):
    """An engine the gateway depends on (a shared vector store) did not answer: retry."""


@dataclass(frozen=True)
class Principal:
    """Who calls: an API key's name and the catalogs it may use (None: every catalog)."""

    name: str
    catalogs: frozenset[str] | None = None

    def may_use(self, catalog_id: str) -> bool:
        return self.catalogs is None or catalog_id in self.catalogs


ANYONE = Principal("anyone")  # no API keys configured: nothing is checked


DEFAULT_CATALOG = "default"


@dataclass(frozen=True)
class CatalogInfo:
    """A catalog: its id (`catalogs/{id}` is its resource name), a unique uid that names its
    storage, and what the caller said of it."""

    id: str
    uid: str
    display_name: str = ""
    description: str = ""
    create_time: float = 0.0

    @property
    def name(self) -> str:
        return f"catalogs/{self.id}"


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


@dataclass(frozen=True)
class Facets:
    """What filters match on, for one stored vector.

    A product has one category, its attributes and at most one price. A vector shared by
    several products (server/index/dedup.py) carries all of theirs, so a filter may match it
    when no single product does — never the reverse; the wrapper checks each product.
    """

    categories: frozenset[str] = frozenset()
    attributes: frozenset[tuple[str, str]] = frozenset()
    price_range: tuple[float, float] | None = None  # (lowest, highest) price; None: no price

    @classmethod
    def of(cls, product: Product) -> Facets:
        return cls.of_fields(product.category, product.price, product.attributes)

    @classmethod
    def of_fields(cls, category: str, price: float | None, attributes: dict[str, str]) -> Facets:
        return cls(
            frozenset([category]),
            frozenset(attributes.items()),
            None if price is None else (price, price),
        )

    @classmethod
    def union(cls, facets: Iterable[Facets]) -> Facets:
        categories: set[str] = set()
        attributes: set[tuple[str, str]] = set()
        low, high = float("inf"), float("-inf")
        for each in facets:
            categories |= each.categories
            attributes |= each.attributes
            if each.price_range is not None:
                low, high = min(low, each.price_range[0]), max(high, each.price_range[1])
        return cls(frozenset(categories), frozenset(attributes), None if low > high else (low, high))

    def matches(self, condition: Filter) -> bool:
        if condition.categories and not condition.categories & self.categories:
            return False
        if any(pair not in self.attributes for pair in condition.attributes):
            return False
        if condition.min_price is None and condition.max_price is None:
            return True
        if self.price_range is None:
            return False
        low = -math.inf if condition.min_price is None else condition.min_price
        high = math.inf if condition.max_price is None else condition.max_price
        return self.price_range[1] >= low and self.price_range[0] <= high

    def to_json(self) -> list:
        return [sorted(self.categories), sorted(self.attributes), self.price_range]

    @classmethod
    def from_json(cls, value: list) -> Facets:
        categories, attributes, price_range = value
        return cls(
            frozenset(categories),
            frozenset((k, v) for k, v in attributes),
            None if price_range is None else (float(price_range[0]), float(price_range[1])),
        )


NO_FACETS = Facets()


@dataclass
class ProductWrite:
    """A product to store with its derived data: the normalised image and embeddings."""

    product: Product
    image_jpeg: bytes  # at most STORED_IMAGE_SIDE px: kept to re-embed with another model
    embeddings: dict[str, np.ndarray]  # space → vector


@dataclass(frozen=True)
class EmbeddingRow:
    """A stored embedding, with the facets of its product (what filters match)."""

    key: int
    space: str
    model: str
    model_version: str
    vector: np.ndarray
    facets: Facets = NO_FACETS


@dataclass(frozen=True)
class ProductStatus:
    """The outcome for one product of an upsert."""

    id: str
    code: Code
    message: str = ""


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
