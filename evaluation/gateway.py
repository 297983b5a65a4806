"""The real gateway an evaluation measures: in this process, with the embedded Triton, on a
free port, its data in a temporary directory that goes away afterwards."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import grpc

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.app import create_server
from server.config import Config
from server.models import trained
from server.tools.cli import chunks


@asynccontextmanager
async def evaluation_gateway(
    repository: Path, prefix: str = "evaluation-", config: Config | None = None
) -> AsyncIterator[pb_grpc.ProductSearchStub]:
    """A stub of a fresh gateway serving `repository`'s models. TrainProjection writes its
    versions into a private repository of links, not into `repository`. `config` sets other
    options (its data_dir, model_repository and port are replaced)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as data_dir:
        models = trained.private_repository(repository, Path(data_dir) / "models")
        config = replace(config or Config(), data_dir=Path(data_dir), model_repository=models, port=0)
        gateway = await create_server(config)
        try:
            async with grpc.aio.insecure_channel(gateway.address) as channel:
                yield pb_grpc.ProductSearchStub(channel)
        finally:
            await gateway.stop()


async def upsert(
    stub: pb_grpc.ProductSearchStub, products: Iterable[pb.Product], catalog: str = "", chunk: int = 256
) -> int:
    """Stream `products` into `catalog`, `chunk` per UpsertProducts call; every one must be
    acknowledged. Returns how many were written."""
    written = 0
    for part in chunks(iter(products), chunk):
        requests = [pb.UpsertProductsRequest(product=p, catalog=catalog) for p in part]
        response = await stub.UpsertProducts(iter(requests))
        assert response.failed == 0, response.statuses[:3]
        written += len(part)
    return written
