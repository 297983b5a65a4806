"""A gateway whose vector engine is unavailable at start (Milvus restarting, or still indexing
the segments just written) stays up: its port answers health NOT_SERVING and calls
UNAVAILABLE, it tries again, and it serves once the engine answers — it does not exit."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server import app
from server.config import Config
from server.domain import UnavailableError
from server.service import facade
from server.tools import fashion_mnist
from server.triton.runtime import free_port
from tests.gateway_helpers import fmnist_product, requests

pytestmark = pytest.mark.integration


class FakeUnavailableVectors:
    """A fake (test double) over the real vector backend: `open` fails as an unavailable
    engine does until `available` is set."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.tries = 0
        self.available = threading.Event()

    def open(self, *args: Any) -> Any:
        self.tries += 1
        if not self.available.is_set():
            raise UnavailableError("Milvus serves the collection without 3 of its 5 flushed segments")
        return self.real.open(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def test_a_gateway_waits_for_its_vector_engine_instead_of_exiting(tmp_path, triton, monkeypatch):
    fakes: list[FakeUnavailableVectors] = []
    real_open_vectors = app.open_vectors

    def open_vectors(config: Config, registry: Any) -> FakeUnavailableVectors:
        fakes.append(FakeUnavailableVectors(real_open_vectors(config, registry)))
        return fakes[-1]

    monkeypatch.setattr(app, "open_vectors", open_vectors)
    monkeypatch.setattr(facade, "OPEN_RETRY_S", 0.2)
    port = free_port()
    starting = asyncio.create_task(
        app.create_server(Config(data_dir=tmp_path, port=port, triton_url=triton.url))
    )
    while not fakes or fakes[0].tries < 3:
        assert not starting.done(), "the gateway gave up while the engine was unavailable"
        await asyncio.sleep(0.05)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        stub = pb_grpc.ProductSearchStub(channel)
        answer = await health.Check(health_pb2.HealthCheckRequest())
        assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.SearchByText(pb.SearchByTextRequest(text="shirt"))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "opening its catalogs" in (refused.value.details() or "")

        fakes[0].available.set()
        gateway = await asyncio.wait_for(starting, 60)
        try:
            answer = await health.Check(health_pb2.HealthCheckRequest())
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
            product = fmnist_product(fashion_mnist.load("test"), 0, "start")
            assert (await stub.UpsertProducts(requests([product]))).upserted == 1
            found = await stub.SearchByImage(pb.SearchByImageRequest(image=product.image))
            assert [hit.product.id for hit in found.hits] == [product.id]
        finally:
            await gateway.stop()
