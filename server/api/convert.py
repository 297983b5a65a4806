"""Protobuf ↔ domain types, and the API's names and page tokens. Pure functions."""

from __future__ import annotations

import base64
import binascii
import json

from productsearch.v1 import product_search_pb2 as pb
from server.domain import (
    DEFAULT_CATALOG,
    Filter,
    Hit,
    InvalidArgumentError,
    Product,
    SearchOptions,
    SearchResult,
)
from server.index.store import StoreStats
from server.service.catalogs import CATALOG_ID
from server.service.explain import Explanation
from server.service.facade import CatalogStats, CatalogSummary

CATALOG_PREFIX = "catalogs/"
ECHO_CHARS = 128  # ids are at most this long; longer ones are invalid and echoed cut


def echoed(value: str) -> str:
    """What a response repeats of a caller's id: bounded, so that 40 ids of 1 MB cannot
    push a reply past the message limit."""
    return value[:ECHO_CHARS]


def catalog_id(name: str, field: str = "catalog") -> str:
    """The id in a catalog resource name (`catalogs/{id}`); empty means the default."""
    if not name:
        return DEFAULT_CATALOG
    catalog = name.removeprefix(CATALOG_PREFIX)
    if not name.startswith(CATALOG_PREFIX) or not CATALOG_ID.match(catalog):
        shown = name if len(name) <= 80 else name[:64] + "…"
        raise InvalidArgumentError(
            [
                (
                    field,
                    f"must be 'catalogs/{{id}}' (id: 1-63 of a-z, 0-9, '-', a letter first), got {shown!r}",
                )
            ]
        )
    return catalog


def page_token(kind: str, scope: str, after: str) -> str:
    """An opaque token to continue a listing after `after` (empty: the last page)."""
    if not after:
        return ""
    body = json.dumps([kind, scope, after], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def page_after(token: str, kind: str, scope: str) -> str:
    """Where a token says to continue; INVALID_ARGUMENT for a token of another listing."""
    if not token:
        return ""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        token_kind, token_scope, after = decoded
        valid = isinstance(after, str) and (token_kind, token_scope) == (kind, scope)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        valid = False
    if not valid:
        raise InvalidArgumentError([("page_token", "is not a token this listing returned")])
    return after


def product_from_proto(message: pb.Product) -> Product:
    return Product(
        id=message.id,
        title=message.title,
        category=message.category,
        price=message.price if message.HasField("price") else None,
        attributes=dict(message.attributes),
        image_uri=message.image_uri,
    )


def product_to_proto(product: Product) -> pb.Product:
    message = pb.Product(
        id=product.id,
        title=product.title,
        category=product.category,
        attributes=product.attributes,
        image_uri=product.image_uri,
        thumbnail=product.thumbnail,
        update_time=product.update_time,
    )
    if product.price is not None:
        message.price = product.price
    return message


def filter_from_proto(message: pb.Filter) -> Filter:
    return Filter(
        categories=frozenset(message.categories),
        min_price=message.min_price if message.HasField("min_price") else None,
        max_price=message.max_price if message.HasField("max_price") else None,
        attributes=tuple(sorted(message.attributes.items())),
    )


def options_from_proto(message: pb.SearchOptions, default_top_k: int) -> SearchOptions:
    return SearchOptions(
        top_k=message.top_k or default_top_k,
        filter=filter_from_proto(message.filter),
        min_score=message.min_score,
        include_thumbnails=message.include_thumbnails,
    )


def hit_to_proto(hit: Hit) -> pb.SearchHit:
    return pb.SearchHit(
        product=product_to_proto(hit.product),
        score=hit.score,
        signals=[pb.SignalScore(signal=s, score=v) for s, v in hit.signals.items()],
    )


def result_to_proto(result: SearchResult) -> pb.SearchResponse:
    return pb.SearchResponse(
        hits=[hit_to_proto(h) for h in result.hits],
        embedding_ms=result.embedding_ms,
        index_ms=result.index_ms,
    )


def explanation_to_proto(explanation: Explanation) -> pb.ExplainMatchResponse:
    product = product_to_proto(explanation.product)
    product.ClearField("thumbnail")
    height, width = explanation.grid.shape
    return pb.ExplainMatchResponse(
        product=product,
        score=explanation.score,
        grid_height=height,
        grid_width=width,
        grid=explanation.grid.ravel().tolist(),
        heatmap_png=explanation.heatmap_png,
        image_width=explanation.image_size[0],
        image_height=explanation.image_size[1],
        model=explanation.model,
        query_space=explanation.query_space,
    )


def catalog_to_proto(summary: CatalogSummary) -> pb.Catalog:
    info = summary.info
    return pb.Catalog(
        name=info.name,
        display_name=info.display_name,
        description=info.description,
        create_time=info.create_time,
        product_count=summary.product_count,
    )


def index_to_proto(stats: StoreStats) -> pb.IndexInfo:
    return pb.IndexInfo(
        space=stats.space.name,
        model=stats.space.model,
        model_version=stats.space.model_version,
        dimension=stats.space.dim,
        count=stats.count,
        engine=stats.engine,
        parameters=stats.parameters,
    )


def stats_to_proto(stats: CatalogStats) -> pb.GetStatsResponse:
    return pb.GetStatsResponse(
        product_count=stats.product_count,
        models=[pb.ModelInfo(name=m.name, version=m.version, dimension=m.dimension) for m in stats.models],
        indexes=[index_to_proto(s) for s in stats.spaces],
        catalog=catalog_to_proto(CatalogSummary(stats.catalog, stats.product_count)),
    )
