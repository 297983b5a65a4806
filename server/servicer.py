"""productsearch.v1.ProductSearch: translates protobuf ↔ domain types and calls the search
service. Nothing else happens here; errors are mapped by server/errors.py."""

from __future__ import annotations

import grpc
from google.rpc import code_pb2

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.domain import Filter, Hit, Product, SearchOptions, SearchResult
from server.search import SearchService


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


class ProductSearchServicer(pb_grpc.ProductSearchServicer):
    def __init__(self, service: SearchService) -> None:
        self.service = service
        self.default_top_k = service.config.limits.default_top_k
        self.batch = service.config.upsert_batch

    async def UpsertProducts(self, request_iterator, context: grpc.aio.ServicerContext):
        statuses, batch = [], []
        async for request in request_iterator:
            batch.append((product_from_proto(request.product), request.product.image))
            if len(batch) >= self.batch:
                statuses += await self.service.upsert(batch)
                batch = []
        if batch:
            statuses += await self.service.upsert(batch)
        ok = sum(s.code == grpc.StatusCode.OK for s in statuses)
        return pb.UpsertProductsResponse(
            statuses=[
                pb.ProductStatus(id=s.id, code=getattr(code_pb2, s.code.name), message=s.message)
                for s in statuses
            ],
            upserted=ok,
            failed=len(statuses) - ok,
        )

    async def GetProduct(self, request, context):
        return pb.GetProductResponse(product=product_to_proto(await self.service.get(request.id)))

    async def ListProducts(self, request, context):
        products, token = await self.service.list_page(
            request.page_size, request.page_token, filter_from_proto(request.filter)
        )
        return pb.ListProductsResponse(
            products=[product_to_proto(p) for p in products], next_page_token=token
        )

    async def DeleteProducts(self, request, context):
        deleted, not_found = await self.service.delete(list(request.ids))
        return pb.DeleteProductsResponse(deleted=deleted, not_found=not_found)

    async def SearchByImage(self, request, context):
        options = options_from_proto(request.options, self.default_top_k)
        return result_to_proto(await self.service.search_by_image(request.image, options))

    async def SearchByText(self, request, context):
        options = options_from_proto(request.options, self.default_top_k)
        return result_to_proto(await self.service.search_by_text(request.text, options))

    async def SearchSimilar(self, request, context):
        options = options_from_proto(request.options, self.default_top_k)
        return result_to_proto(await self.service.search_similar(request.product_id, options))

    async def FindDuplicates(self, request, context):
        return result_to_proto(
            await self.service.find_duplicates(request.image, request.threshold, request.max_results)
        )

    async def TrainProjection(self, request, context):
        version, pairs, method, seconds = await self.service.train_projection(request.method)
        return pb.TrainProjectionResponse(version=version, pairs=pairs, method=method, seconds=seconds)

    async def GetStats(self, request, context):
        count, models, indexes = self.service.stats()
        return pb.GetStatsResponse(
            product_count=count,
            models=[pb.ModelInfo(name=m.name, version=m.version, dimension=m.dimension) for m in models],
            indexes=[
                pb.IndexInfo(
                    space=i["space"]["name"],
                    model=i["space"]["model"],
                    count=i["count"],
                    capacity=i["capacity"],
                    m=i["params"]["M"],
                    ef_construction=i["params"]["ef_construction"],
                    ef_search=i["params"]["ef_search"],
                )
                for i in indexes
            ],
        )
