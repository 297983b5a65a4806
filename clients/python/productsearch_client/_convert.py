"""Dataclasses ↔ protobuf messages, shared by the blocking and the asyncio client."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import grpc

from productsearch_client._proto import product_search_pb2 as pb
from productsearch_client._types import (
    CATALOG_PREFIX,
    Catalog,
    DeleteSummary,
    Filter,
    Hit,
    ImageHead,
    ImageSource,
    IndexInfo,
    ModelInfo,
    Product,
    ProductStatus,
    Projection,
    Stats,
    UpsertSummary,
    catalog_name,
)

_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}
DEFAULT_CATALOG = "catalogs/default"


def status_code(value: int) -> grpc.StatusCode:
    """The grpc.StatusCode of a google.rpc.Code number (UNKNOWN for numbers gRPC lacks)."""
    return _STATUS_CODES.get(value, grpc.StatusCode.UNKNOWN)


def image_bytes(image: ImageSource) -> bytes:
    """Bytes as they are; a str or path-like is a file to read."""
    if isinstance(image, bytes | bytearray | memoryview):
        return bytes(image)
    return Path(image).read_bytes()


def product_to_proto(product: Product) -> pb.Product:
    return pb.Product(
        id=product.id,
        title=product.title,
        category=product.category,
        price=product.price,
        attributes=dict(product.attributes),
        image=product.image,
        image_uri=product.image_uri,
    )


def product_from_proto(message: pb.Product) -> Product:
    return Product(
        id=message.id,
        title=message.title,
        category=message.category,
        price=message.price if message.HasField("price") else None,
        attributes=dict(message.attributes),
        image_uri=message.image_uri,
        thumbnail=message.thumbnail,
        update_time=message.update_time,
    )


class UpsertRequests:
    """The request stream of an upsert. gRPC turns an exception raised while iterating the
    caller's products into a bare UNKNOWN status; this keeps it so the client can re-raise it."""

    def __init__(self, products: Iterable[Product], catalog: str) -> None:
        self._products = products
        self._catalog = catalog
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[pb.UpsertProductsRequest]:
        try:
            for product in self._products:
                # Every message names the catalog: the service takes the first one's and
                # rejects a stream that switches.
                yield pb.UpsertProductsRequest(product=product_to_proto(product), catalog=self._catalog)
        except Exception as error:
            self.error = error
            raise


def upsert_summary(response: pb.UpsertProductsResponse) -> UpsertSummary:
    return UpsertSummary(
        upserted=response.upserted,
        failed=response.failed,
        statuses=tuple(
            ProductStatus(s.id, status_code(s.code), s.message, s.position) for s in response.statuses
        ),
        truncated=response.truncated,
    )


def search_options(
    top_k: int, filter: Filter | None, min_score: float, include_thumbnails: bool
) -> pb.SearchOptions:
    options = pb.SearchOptions(top_k=top_k, min_score=min_score, include_thumbnails=include_thumbnails)
    if filter is not None:
        options.filter.CopyFrom(filter_to_proto(filter))
    return options


def filter_to_proto(condition: Filter) -> pb.Filter:
    return pb.Filter(
        categories=list(condition.categories),
        min_price=condition.min_price,
        max_price=condition.max_price,
        attributes=dict(condition.attributes),
    )


def hits(response: pb.SearchResponse) -> list[Hit]:
    return [
        Hit(
            product_id=hit.product.id,
            score=hit.score,
            title=hit.product.title,
            category=hit.product.category,
            signals={s.signal: s.score for s in hit.signals},
            price=hit.product.price if hit.product.HasField("price") else None,
            attributes=dict(hit.product.attributes),
            image_uri=hit.product.image_uri,
            thumbnail=hit.product.thumbnail,
        )
        for hit in response.hits
    ]


def delete_summary(response: pb.DeleteProductsResponse) -> DeleteSummary:
    return DeleteSummary(deleted=response.deleted, not_found=tuple(response.not_found))


def delete_ids(ids: str | Iterable[str]) -> list[str]:
    return [ids] if isinstance(ids, str) else list(ids)


def catalog(message: pb.Catalog) -> Catalog:
    return Catalog(
        name=message.name,
        display_name=message.display_name,
        description=message.description,
        create_time=message.create_time,
        product_count=message.product_count,
    )


def create_catalog_request(catalog_id: str, display_name: str, description: str) -> pb.CreateCatalogRequest:
    return pb.CreateCatalogRequest(
        catalog_id=catalog_id.removeprefix(CATALOG_PREFIX),
        catalog=pb.Catalog(display_name=display_name, description=description),
    )


def required_catalog(catalog: str) -> str:
    """The name of a catalog a call must name explicitly (deleting one)."""
    if not catalog:
        raise ValueError("name the catalog to delete, e.g. 'shop-a'")
    return catalog_name(catalog)


def stats(response: pb.GetStatsResponse) -> Stats:
    return Stats(
        product_count=response.product_count,
        models=tuple(ModelInfo(m.name, m.version, m.dimension) for m in response.models),
        indexes=tuple(
            IndexInfo(i.space, i.model, i.count, i.model_version, i.dimension, i.engine, dict(i.parameters))
            for i in response.indexes
        ),
        catalog=catalog(response.catalog) if response.HasField("catalog") else None,
    )


def projection(response: pb.TrainProjectionResponse) -> Projection:
    return Projection(
        response.version,
        response.pairs,
        response.method,
        response.seconds,
        response.epochs,
        response.model,
        response.span_pairs,
        response.category_pairs,
    )


def image_head(response: pb.TrainImageHeadResponse) -> ImageHead:
    return ImageHead(
        response.version,
        response.model,
        response.products,
        response.categories,
        response.held_out,
        response.epochs,
        response.seconds,
        response.precision_at_10_before,
        response.precision_at_10_after,
    )
