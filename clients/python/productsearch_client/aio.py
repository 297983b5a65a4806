"""The asyncio client: the same methods as `Client`, awaited (grpc.aio underneath)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import grpc

from productsearch_client import _convert
from productsearch_client._client import auth_metadata, channel_credentials, channel_options
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


class AsyncClient:
    """`Client` for asyncio code: create it inside a running event loop, `await` its methods,
    `await close()` it or use `async with`. Arguments and errors as in `Client`."""

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
            self._channel = grpc.aio.insecure_channel(target, channel_options(options))
        else:
            self._channel = grpc.aio.secure_channel(target, credentials, channel_options(options))
        self._stub = pb_grpc.ProductSearchStub(self._channel)
        self._metadata = auth_metadata(api_key)
        self.target = target
        self.catalog = catalog
        self.deadline_s = deadline_s

    async def close(self) -> None:
        await self._channel.close(None)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _call(self, method: Any, request: Any, deadline_s: float | None) -> Any:
        try:
            return await method(
                request,
                timeout=self.deadline_s if deadline_s is None else deadline_s,
                metadata=self._metadata,
            )
        except grpc.aio.AioRpcError as error:
            raise ProductSearchError.from_rpc_error(error) from error

    def _catalog(self, catalog: str | None) -> str:
        return catalog_name(self.catalog if catalog is None else catalog)

    async def upsert(
        self, products: Iterable[Product], *, catalog: str | None = None, deadline_s: float | None = None
    ) -> UpsertSummary:
        """See `Client.upsert`; `products` is a plain iterable, read as the stream goes."""
        requests = _convert.UpsertRequests(products, self._catalog(catalog))
        try:
            response = await self._call(self._stub.UpsertProducts, iter(requests), deadline_s)
        except ProductSearchError:
            if requests.error is not None:
                raise requests.error from None
            raise
        return _convert.upsert_summary(response)

    async def upsert_folder(
        self, folder: StrPath, *, catalog: str | None = None, deadline_s: float | None = None
    ) -> UpsertSummary:
        """See `Client.upsert_folder`."""
        return await self.upsert(folder_products(folder), catalog=catalog, deadline_s=deadline_s)

    async def search_by_image(
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
        """See `Client.search_by_image`."""
        request = pb.SearchByImageRequest(
            image=_convert.image_bytes(image),
            options=_convert.search_options(top_k, filter, min_score, include_thumbnails),
            catalog=self._catalog(catalog),
        )
        return _convert.hits(await self._call(self._stub.SearchByImage, request, deadline_s))

    async def search_by_text(
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
        """See `Client.search_by_text`."""
        request = pb.SearchByTextRequest(
            text=text,
            options=_convert.search_options(top_k, filter, min_score, include_thumbnails),
            catalog=self._catalog(catalog),
        )
        return _convert.hits(await self._call(self._stub.SearchByText, request, deadline_s))

    async def search_similar(
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
        """See `Client.search_similar`."""
        request = pb.SearchSimilarRequest(
            product_id=product_id,
            options=_convert.search_options(top_k, filter, min_score, include_thumbnails),
            catalog=self._catalog(catalog),
        )
        return _convert.hits(await self._call(self._stub.SearchSimilar, request, deadline_s))

    async def find_duplicates(
        self,
        image: ImageSource,
        *,
        threshold: float = 0.0,
        max_results: int = 0,
        catalog: str | None = None,
        deadline_s: float | None = None,
    ) -> list[Hit]:
        """See `Client.find_duplicates`."""
        request = pb.FindDuplicatesRequest(
            image=_convert.image_bytes(image),
            threshold=threshold,
            max_results=max_results,
            catalog=self._catalog(catalog),
        )
        return _convert.hits(await self._call(self._stub.FindDuplicates, request, deadline_s))

    async def get(
        self, product_id: str, *, catalog: str | None = None, deadline_s: float | None = None
    ) -> Product:
        """See `Client.get`."""
        request = pb.GetProductRequest(id=product_id, catalog=self._catalog(catalog))
        response = await self._call(self._stub.GetProduct, request, deadline_s)
        return _convert.product_from_proto(response.product)

    async def list_products(
        self,
        *,
        filter: Filter | None = None,
        page_size: int = 0,
        catalog: str | None = None,
        deadline_s: float | None = None,
    ) -> AsyncIterator[Product]:
        """See `Client.list_products`."""
        request = pb.ListProductsRequest(page_size=page_size, catalog=self._catalog(catalog))
        if filter is not None:
            request.filter.CopyFrom(_convert.filter_to_proto(filter))
        while True:
            response = await self._call(self._stub.ListProducts, request, deadline_s)
            for product in response.products:
                yield _convert.product_from_proto(product)
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    async def delete(
        self, ids: str | Iterable[str], *, catalog: str | None = None, deadline_s: float | None = None
    ) -> DeleteSummary:
        """See `Client.delete`."""
        request = pb.DeleteProductsRequest(ids=_convert.delete_ids(ids), catalog=self._catalog(catalog))
        return _convert.delete_summary(await self._call(self._stub.DeleteProducts, request, deadline_s))

    async def stats(self, *, catalog: str | None = None, deadline_s: float | None = None) -> Stats:
        """See `Client.stats`."""
        request = pb.GetStatsRequest(catalog=self._catalog(catalog))
        return _convert.stats(await self._call(self._stub.GetStats, request, deadline_s))

    async def train_projection(
        self, method: str = "", *, catalog: str | None = None, deadline_s: float | None = None
    ) -> Projection:
        """See `Client.train_projection`."""
        request = pb.TrainProjectionRequest(method=method, catalog=self._catalog(catalog))
        return _convert.projection(await self._call(self._stub.TrainProjection, request, deadline_s))

    async def train_image_head(
        self, *, catalog: str | None = None, deadline_s: float | None = None
    ) -> ImageHead:
        """See `Client.train_image_head`."""
        request = pb.TrainImageHeadRequest(catalog=self._catalog(catalog))
        return _convert.image_head(await self._call(self._stub.TrainImageHead, request, deadline_s))

    async def create_catalog(
        self,
        catalog_id: str,
        *,
        display_name: str = "",
        description: str = "",
        deadline_s: float | None = None,
    ) -> Catalog:
        """See `Client.create_catalog`."""
        request = _convert.create_catalog_request(catalog_id, display_name, description)
        return _convert.catalog((await self._call(self._stub.CreateCatalog, request, deadline_s)).catalog)

    async def get_catalog(self, catalog: str | None = None, *, deadline_s: float | None = None) -> Catalog:
        """See `Client.get_catalog`."""
        request = pb.GetCatalogRequest(name=self._catalog(catalog) or _convert.DEFAULT_CATALOG)
        return _convert.catalog((await self._call(self._stub.GetCatalog, request, deadline_s)).catalog)

    async def list_catalogs(
        self, *, page_size: int = 0, deadline_s: float | None = None
    ) -> AsyncIterator[Catalog]:
        """See `Client.list_catalogs`."""
        request = pb.ListCatalogsRequest(page_size=page_size)
        while True:
            response = await self._call(self._stub.ListCatalogs, request, deadline_s)
            for catalog in response.catalogs:
                yield _convert.catalog(catalog)
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    async def delete_catalog(
        self, catalog: str, *, force: bool = False, deadline_s: float | None = None
    ) -> None:
        """See `Client.delete_catalog`."""
        request = pb.DeleteCatalogRequest(name=_convert.required_catalog(catalog), force=force)
        await self._call(self._stub.DeleteCatalog, request, deadline_s)
