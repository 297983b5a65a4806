"""productsearch.v1.ProductSearch: translates protobuf ↔ domain types and calls the
service. Nothing else happens here; errors are mapped by the error interceptor."""

from __future__ import annotations

import grpc

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.api import convert
from server.api.access import CALLER
from server.api.admission import batch_slot
from server.domain import DEFAULT_CATALOG, Code, ProductStatus
from server.service.facade import ProductSearchService
from server.service.ingest import UpsertItem


class ProductSearchServicer(pb_grpc.ProductSearchServicer):
    def __init__(self, service: ProductSearchService) -> None:
        self.service = service
        self.default_top_k = service.config.limits.default_top_k
        self.batch = service.config.upsert_batch
        self.batch_bytes = service.config.upsert_batch_bytes
        self.max_stream_products = service.config.limits.max_stream_products

    async def UpsertProducts(self, request_iterator, context: grpc.aio.ServicerContext):
        """Batches of `upsert_batch` products (fewer when their images reach
        `upsert_batch_bytes`), each admitted on its own (`batch_slot`); one status per product,
        in stream order. One catalog per stream: the first message's."""
        statuses: list[pb.ProductStatus] = []
        batch: list[UpsertItem] = []
        stream_catalog: str | None = None
        catalog = DEFAULT_CATALOG
        truncated = False

        async def flush() -> None:
            async with batch_slot():
                done = await self.service.upsert(catalog, batch, CALLER.get())
            first = len(statuses)
            statuses.extend(_status(s, first + i) for i, s in enumerate(done))
            batch.clear()

        async for request in request_iterator:
            if len(statuses) + len(batch) >= self.max_stream_products:
                truncated = True  # stop reading: the response stays bounded
                break
            if stream_catalog is None:
                stream_catalog = request.catalog
                catalog = convert.catalog_id(request.catalog)
            if request.catalog != stream_catalog:
                if batch:  # statuses stay in stream order
                    await flush()
                expected = stream_catalog or "the default catalog"
                message = f"catalog: every message of a stream must name {expected!r}"
                statuses.append(
                    _status(ProductStatus(request.product.id, Code.INVALID_ARGUMENT, message), len(statuses))
                )
                continue
            batch.append(UpsertItem(convert.product_from_proto(request.product), request.product.image))
            if len(batch) >= self.batch or sum(len(item.image) for item in batch) >= self.batch_bytes:
                await flush()
        if batch:
            await flush()
        ok = sum(s.code == Code.OK for s in statuses)
        return pb.UpsertProductsResponse(
            statuses=statuses, upserted=ok, failed=len(statuses) - ok, truncated=truncated
        )

    async def GetProduct(self, request, context):
        product = await self.service.get(convert.catalog_id(request.catalog), request.id, CALLER.get())
        return pb.GetProductResponse(product=convert.product_to_proto(product))

    async def ListProducts(self, request, context):
        catalog = convert.catalog_id(request.catalog)
        after = convert.page_after(request.page_token, "products", catalog)
        page = await self.service.list_page(
            catalog, request.page_size, after, convert.filter_from_proto(request.filter), CALLER.get()
        )
        return pb.ListProductsResponse(
            products=[convert.product_to_proto(p) for p in page.products],
            next_page_token=convert.page_token("products", catalog, page.next_after),
        )

    async def DeleteProducts(self, request, context):
        result = await self.service.delete(
            convert.catalog_id(request.catalog), list(request.ids), CALLER.get()
        )
        not_found = [convert.echoed(product_id) for product_id in result.not_found]
        return pb.DeleteProductsResponse(deleted=result.deleted, not_found=not_found)

    async def SearchByImage(self, request, context):
        options = convert.options_from_proto(request.options, self.default_top_k)
        result = await self.service.search_by_image(
            convert.catalog_id(request.catalog), request.image, options, CALLER.get()
        )
        return convert.result_to_proto(result)

    async def SearchByText(self, request, context):
        options = convert.options_from_proto(request.options, self.default_top_k)
        result = await self.service.search_by_text(
            convert.catalog_id(request.catalog), request.text, options, CALLER.get()
        )
        return convert.result_to_proto(result)

    async def SearchSimilar(self, request, context):
        options = convert.options_from_proto(request.options, self.default_top_k)
        result = await self.service.search_similar(
            convert.catalog_id(request.catalog), request.product_id, options, CALLER.get()
        )
        return convert.result_to_proto(result)

    async def FindDuplicates(self, request, context):
        result = await self.service.find_duplicates(
            convert.catalog_id(request.catalog),
            request.image,
            request.threshold,
            request.max_results,
            CALLER.get(),
        )
        return convert.result_to_proto(result)

    async def ExplainMatch(self, request, context):
        query = request.WhichOneof("query")
        explanation = await self.service.explain_match(
            convert.catalog_id(request.catalog),
            request.product_id,
            request.image if query == "image" else None,
            request.text if query == "text" else None,
            CALLER.get(),
            request.query_product_id if query == "query_product_id" else None,
        )
        return convert.explanation_to_proto(explanation)

    async def TrainProjection(self, request, context):
        result = await self.service.train_projection(
            convert.catalog_id(request.catalog), request.method, CALLER.get()
        )
        return pb.TrainProjectionResponse(
            version=result.version,
            pairs=result.pairs,
            method=result.method,
            seconds=result.seconds,
            epochs=result.epochs,
            model=result.model,
            span_pairs=result.span_pairs,
            category_pairs=result.category_pairs,
        )

    async def TrainImageHead(self, request, context):
        result = await self.service.train_image_head(convert.catalog_id(request.catalog), CALLER.get())
        return pb.TrainImageHeadResponse(
            version=result.version,
            model=result.model,
            products=result.products,
            categories=result.categories,
            held_out=result.held_out,
            epochs=result.epochs,
            seconds=result.seconds,
            precision_at_10_before=result.before_p10,
            precision_at_10_after=result.after_p10,
        )

    async def GetStats(self, request, context):
        stats = await self.service.stats(convert.catalog_id(request.catalog), CALLER.get())
        return convert.stats_to_proto(stats)

    async def CreateCatalog(self, request, context):
        summary = await self.service.create_catalog(
            request.catalog_id, request.catalog.display_name, request.catalog.description, CALLER.get()
        )
        return pb.CreateCatalogResponse(catalog=convert.catalog_to_proto(summary))

    async def GetCatalog(self, request, context):
        summary = await self.service.get_catalog(convert.catalog_id(request.name, "name"), CALLER.get())
        return pb.GetCatalogResponse(catalog=convert.catalog_to_proto(summary))

    async def ListCatalogs(self, request, context):
        after = convert.page_after(request.page_token, "catalogs", "")
        summaries, next_after = await self.service.list_catalogs(request.page_size, after, CALLER.get())
        return pb.ListCatalogsResponse(
            catalogs=[convert.catalog_to_proto(s) for s in summaries],
            next_page_token=convert.page_token("catalogs", "", next_after),
        )

    async def DeleteCatalog(self, request, context):
        await self.service.delete_catalog(
            convert.catalog_id(request.name, "name"), request.force, CALLER.get()
        )
        return pb.DeleteCatalogResponse()


def _status(status: ProductStatus, position: int) -> pb.ProductStatus:
    return pb.ProductStatus(
        id=convert.echoed(status.id), code=int(status.code), message=status.message, position=position
    )
