"""The blocking client: one channel, a deadline on every call, errors as ProductSearchError."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import grpc

from productsearch_client import _convert
from productsearch_client._errors import ProductSearchError
from productsearch_client._proto import product_search_pb2 as pb
from productsearch_client._proto import product_search_pb2_grpc as pb_grpc
from productsearch_client._types import (
    Catalog,
    DeleteSummary,
    Filter,
    Hit,
    ImageHead,
    ImageSource,
    Product,
    Projection,
    Stats,
    StrPath,
    UpsertSummary,
    catalog_name,
    folder_products,
)

_Response = TypeVar("_Response")

# Images may be up to 20 MiB, and searches with thumbnails return up to 1,000 of them.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def channel_options(extra: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        *extra,
    ]


def auth_metadata(api_key: str | None) -> tuple[tuple[str, str], ...]:
    """`authorization: Bearer <key>` when there is a key."""
    return (("authorization", f"Bearer {api_key}"),) if api_key else ()


def channel_credentials(
    tls: bool, credentials: grpc.ChannelCredentials | None
) -> grpc.ChannelCredentials | None:
    """The given credentials, TLS with the system's roots when `tls`, else None (plaintext)."""
    return credentials if credentials is not None or not tls else grpc.ssl_channel_credentials()


class Client:
    """A connection to the product search service.

    `target` is HOST:PORT. `catalog` is the catalog every call uses unless it names another
    (`catalog=`): an id (`shop-a`) or a resource name (`catalogs/shop-a`); empty is
    `catalogs/default`. `api_key`, when given, goes with every call as `authorization:
    Bearer <key>`. `deadline_s` bounds every call (each method takes `deadline_s=` to override
    it). `tls=True` uses TLS with the system's root certificates, `credentials` any other
    channel credentials; otherwise the channel is plaintext. Close it, or use it as a
    context manager. Failed calls raise ProductSearchError.
    """

    def __init__(
        self,
        target: str,
        *,
        catalog: str = "",
        api_key: str | None = None,
        deadline_s: float = 10.0,
        tls: bool = False,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        credentials = channel_credentials(tls, credentials)
        if credentials is None:
            self._channel = grpc.insecure_channel(target, channel_options(options))
        else:
            self._channel = grpc.secure_channel(target, credentials, channel_options(options))
        self._stub = pb_grpc.ProductSearchStub(self._channel)
        self._metadata = auth_metadata(api_key)
        self.target = target
        self.catalog = catalog
        self.deadline_s = deadline_s

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, method: Callable[..., _Response], request: Any, deadline_s: float | None) -> _Response:
        try:
            return method(
                request,
                timeout=self.deadline_s if deadline_s is None else deadline_s,
                metadata=self._metadata,
            )
        except grpc.RpcError as error:
            raise ProductSearchError.from_rpc_error(error) from error

    def _catalog(self, catalog: str | None) -> str:
        """The resource name a call sends: `catalog` when given, else the client's."""
        return catalog_name(self.catalog if catalog is None else catalog)

    def upsert(
        self, products: Iterable[Product], *, catalog: str | None = None, deadline_s: float | None = None
    ) -> UpsertSummary:
        """Creates or replaces `products` (streamed, read lazily) by id. Products the service
        rejects are reported in the summary, not raised; the others are committed."""
        requests = _convert.UpsertRequests(products, self._catalog(catalog))
        try:
            response = self._call(self._stub.UpsertProducts, iter(requests), deadline_s)
        except ProductSearchError:
            if requests.error is not None:
                raise requests.error from None
            raise
        return _convert.upsert_summary(response)

    def upsert_folder(
        self, folder: StrPath, *, catalog: str | None = None, deadline_s: float | None = None
    ) -> UpsertSummary:
        """Upserts the product images under `folder` by the shared folder rule (see
        `folder_entries`: any depth, id = relative path without extension, category = the
        file's folder, title = `<stem>.txt`)."""
        return self.upsert(folder_products(folder), catalog=catalog, deadline_s=deadline_s)

    def search_by_image(
        self,
        image: ImageSource,
        *,
        top_k: int = 10,
        filter: Filter | None = None,
        min_score: float = 0.0,
        include_thumbnails: bool = False,
        catalog: str | None = None,
        deadline_s: float | None = None,
    ) -> list[Hit]:
        """Products that look like `image` (bytes or a file path), best first."""
        request = pb.SearchByImageRequest(
            image=_convert.image_bytes(image),
            options=_convert.search_options(top_k, filter, min_score, include_thumbnails),
            catalog=self._catalog(catalog),
        )
        return _convert.hits(self._call(self._stub.SearchByImage, request, deadline_s))

    def search_by_text(
        self,
        text: str,
        *,
        top_k: int = 10,
        filter: Filter | None = None,
        min_score: float = 0.0,
        include_thumbnails: bool = False,
        catalog: str | None = None,
        deadline_s: float | None = None,
    ) -> list[Hit]:
        """Products matching a keyword or sentence (e.g. 运动鞋, red sneakers), best first."""
        request = pb.SearchByTextRequest(
            text=text,
            options=_convert.search_options(top_k, filter, min_score, include_thumbnails),
            catalog=self._catalog(catalog),
        )
        return _convert.hits(self._call(self._stub.SearchByText, request, deadline_s))

    def search_similar(
        self,
        product_id: str,
        *,
        top_k: int = 10,
        filter: Filter | None = None,
        min_score: float = 0.0,
        include_thumbnails: bool = False,
        catalog: str | None = None,
        deadline_s: float | None = None,
    ) -> list[Hit]:
        """Products that look like catalog product `product_id` (itself left out), best first."""
        request = pb.SearchSimilarRequest(
            product_id=product_id,
            options=_convert.search_options(top_k, filter, min_score, include_thumbnails),
            catalog=self._catalog(catalog),
        )
        return _convert.hits(self._call(self._stub.SearchSimilar, request, deadline_s))

    def find_duplicates(
        self,
        image: ImageSource,
        *,
        threshold: float = 0.0,
        max_results: int = 0,
        catalog: str | None = None,
        deadline_s: float | None = None,
    ) -> list[Hit]:
        """Near-copies of `image` with a copy score of at least `threshold` (0: the service
        default, 0.997), at most `max_results` (0: 100)."""
        request = pb.FindDuplicatesRequest(
            image=_convert.image_bytes(image),
            threshold=threshold,
            max_results=max_results,
            catalog=self._catalog(catalog),
        )
        return _convert.hits(self._call(self._stub.FindDuplicates, request, deadline_s))

    def get(self, product_id: str, *, catalog: str | None = None, deadline_s: float | None = None) -> Product:
        """The stored product, with its thumbnail; NOT_FOUND when unknown."""
        request = pb.GetProductRequest(id=product_id, catalog=self._catalog(catalog))
        return _convert.product_from_proto(self._call(self._stub.GetProduct, request, deadline_s).product)

    def list_products(
        self,
        *,
        filter: Filter | None = None,
        page_size: int = 0,
        catalog: str | None = None,
        deadline_s: float | None = None,
    ) -> Iterator[Product]:
        """Every product (without thumbnails) in id order, fetched a page at a time."""
        request = pb.ListProductsRequest(page_size=page_size, catalog=self._catalog(catalog))
        if filter is not None:
            request.filter.CopyFrom(_convert.filter_to_proto(filter))
        while True:
            response = self._call(self._stub.ListProducts, request, deadline_s)
            yield from (_convert.product_from_proto(p) for p in response.products)
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    def delete(
        self, ids: str | Iterable[str], *, catalog: str | None = None, deadline_s: float | None = None
    ) -> DeleteSummary:
        """Removes products by id (1 to 1,000 ids); unknown ids are reported, not raised."""
        request = pb.DeleteProductsRequest(ids=_convert.delete_ids(ids), catalog=self._catalog(catalog))
        return _convert.delete_summary(self._call(self._stub.DeleteProducts, request, deadline_s))

    def stats(self, *, catalog: str | None = None, deadline_s: float | None = None) -> Stats:
        """The catalog's product count, the models and its indexes."""
        request = pb.GetStatsRequest(catalog=self._catalog(catalog))
        return _convert.stats(self._call(self._stub.GetStats, request, deadline_s))

    def train_projection(
        self, method: str = "", *, catalog: str | None = None, deadline_s: float | None = None
    ) -> Projection:
        """(admin) Retrains the catalog's keyword → image search from its titled products; give
        it a generous deadline. FAILED_PRECONDITION when too few products have titles."""
        request = pb.TrainProjectionRequest(method=method, catalog=self._catalog(catalog))
        return _convert.projection(self._call(self._stub.TrainProjection, request, deadline_s))

    def train_image_head(self, *, catalog: str | None = None, deadline_s: float | None = None) -> ImageHead:
        """(admin) Trains the catalog's image head on its categorised products; returns once
        Triton serves the new version, and image searches move to it when the catalog is
        embedded with it (`stats()` then lists it). Give it a generous deadline.
        FAILED_PRECONDITION with too few categorised products or while a roll-out runs."""
        request = pb.TrainImageHeadRequest(catalog=self._catalog(catalog))
        return _convert.image_head(self._call(self._stub.TrainImageHead, request, deadline_s))

    # --- catalogs ---------------------------------------------------------------------------

    def create_catalog(
        self,
        catalog_id: str,
        *,
        display_name: str = "",
        description: str = "",
        deadline_s: float | None = None,
    ) -> Catalog:
        """(admin) Creates an empty catalog `catalog_id` (e.g. "shop-a": 1 to 63 of a-z, 0-9
        and "-", starting with a letter); ALREADY_EXISTS when it is taken."""
        request = _convert.create_catalog_request(catalog_id, display_name, description)
        return _convert.catalog(self._call(self._stub.CreateCatalog, request, deadline_s).catalog)

    def get_catalog(self, catalog: str | None = None, *, deadline_s: float | None = None) -> Catalog:
        """One catalog (id or name; the client's when not given) with its product count."""
        request = pb.GetCatalogRequest(name=self._catalog(catalog) or _convert.DEFAULT_CATALOG)
        return _convert.catalog(self._call(self._stub.GetCatalog, request, deadline_s).catalog)

    def list_catalogs(self, *, page_size: int = 0, deadline_s: float | None = None) -> Iterator[Catalog]:
        """Every catalog the key may use, in id order, fetched a page at a time."""
        request = pb.ListCatalogsRequest(page_size=page_size)
        while True:
            response = self._call(self._stub.ListCatalogs, request, deadline_s)
            yield from (_convert.catalog(c) for c in response.catalogs)
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    def delete_catalog(self, catalog: str, *, force: bool = False, deadline_s: float | None = None) -> None:
        """(admin) Deletes a catalog (id or name) with everything it stores. Without `force`
        only an empty one (FAILED_PRECONDITION otherwise); never the default catalog."""
        request = pb.DeleteCatalogRequest(name=_convert.required_catalog(catalog), force=force)
        self._call(self._stub.DeleteCatalog, request, deadline_s)
