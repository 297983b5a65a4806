"""Hardening through the real gateway (real Triton, gRPC on loopback): what an attacker or
a careless caller sends must not lock others out, bloat responses or corrupt the catalog."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.api.admission import AdmissionLimits
from server.app import create_server
from server.config import Config, Limits
from server.tools import fashion_mnist
from tests.gateway_helpers import fmnist_product, requests

pytestmark = pytest.mark.integration

MAX_STREAMS = 6
IDLE_S = 1.5


@pytest.fixture(scope="module")
def train():
    return fashion_mnist.load("train")


@pytest.fixture(scope="module")
async def gateway(tmp_path_factory, triton, train):
    admission = AdmissionLimits(max_write_streams=MAX_STREAMS, stream_idle_s=IDLE_S, max_write_batches=2)
    limits = Limits(admission=admission, max_stream_products=50)
    config = Config(
        data_dir=tmp_path_factory.mktemp("hardening"), port=0, triton_url=triton.url, limits=limits
    )
    gateway = await create_server(config)
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        products = [fmnist_product(train, i, "h") for i in range(30)]
        assert (await pb_grpc.ProductSearchStub(channel).UpsertProducts(requests(products))).upserted == 30
    yield gateway
    await gateway.stop()


@pytest.fixture
async def stub(gateway):
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        yield pb_grpc.ProductSearchStub(channel)


async def test_idle_upsert_streams_lock_out_neither_readers_nor_writers_for_long(stub, gateway, train):
    """Streams that open and send nothing hold no read slot (searches stay fast), are
    capped in number (RESOURCE_EXHAUSTED beyond), and end after the idle timeout, after
    which writers get in again."""
    never = asyncio.Event()

    async def silent():
        await never.wait()
        yield pb.UpsertProductsRequest()  # pragma: no cover - never reached

    idle = [stub.UpsertProducts(silent(), timeout=600) for _ in range(MAX_STREAMS)]
    await asyncio.sleep(0.3)
    started = time.monotonic()
    for _ in range(10):
        response = await stub.SearchByText(pb.SearchByTextRequest(text="bag"), timeout=5)
        assert response.hits
    assert time.monotonic() - started < 5, "readers wait behind idle writers"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.UpsertProducts(requests([fmnist_product(train, 99, "late")]), timeout=10)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    for call in idle:
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            await call
        assert ended.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert "sent nothing" in ended.value.details()
    assert time.monotonic() - started < IDLE_S + 5
    accepted = await stub.UpsertProducts(requests([fmnist_product(train, 99, "late")]), timeout=30)
    assert accepted.upserted == 1


async def test_responses_repeat_at_most_128_characters_of_an_id(stub, train):
    """40 invalid ids of 1 MB and one valid product: the reply fits a default client
    (4 MiB), says where each product was, and the valid one is committed."""
    huge = [pb.Product(id=f"{i:02d}" + "x" * 1_000_000) for i in range(40)]
    valid = fmnist_product(train, 200, "echo")
    response = await stub.UpsertProducts(requests([*huge, valid]), timeout=120)
    assert response.upserted == 1 and response.failed == 40
    assert [s.position for s in response.statuses] == list(range(41))
    assert all(len(s.id) <= 128 for s in response.statuses)
    assert response.statuses[40].id == valid.id and response.statuses[40].code == 0
    assert response.statuses[3].id == "03" + "x" * 126
    assert (await stub.GetProduct(pb.GetProductRequest(id=valid.id))).product.id == valid.id
    deleted = await stub.DeleteProducts(pb.DeleteProductsRequest(ids=[p.id for p in huge[:5]]))
    assert deleted.deleted == 0 and [len(i) for i in deleted.not_found] == [128] * 5


async def test_an_endless_stream_gets_a_bounded_answer(stub):
    """The gateway stops reading after max_stream_products (50 here) and says so."""
    bad = (pb.Product(id=f"bad-{i}") for i in range(500))  # no image: each one INVALID_ARGUMENT
    response = await stub.UpsertProducts(requests(list(bad)), timeout=60)
    assert response.truncated and len(response.statuses) == 50 and response.failed == 50


async def test_the_same_id_twice_in_one_stream_keeps_the_last(stub, train):
    """[X with image A, X with image B]: X is found by B, not by A, in search and in copy
    detection; [Y untitled, Y titled]: keyword search finds Y."""
    first, second = fmnist_product(train, 300, "twice"), fmnist_product(train, 301, "twice")
    second.id = first.id
    untitled, titled = fmnist_product(train, 302, "title", titled=False), fmnist_product(train, 302, "title")
    response = await stub.UpsertProducts(requests([first, second, untitled, titled]))
    assert response.upserted == 4
    by_b = await stub.SearchByImage(
        pb.SearchByImageRequest(image=second.image, options=pb.SearchOptions(top_k=1))
    )
    assert by_b.hits[0].product.id == first.id and by_b.hits[0].score > 0.999
    by_a = await stub.SearchByImage(
        pb.SearchByImageRequest(image=first.image, options=pb.SearchOptions(top_k=3))
    )
    assert not any(h.product.id == first.id and h.score > 0.999 for h in by_a.hits)
    copies = await stub.FindDuplicates(pb.FindDuplicatesRequest(image=first.image))
    assert first.id not in [h.product.id for h in copies.hits]
    assert first.id in [
        h.product.id for h in (await stub.FindDuplicates(pb.FindDuplicatesRequest(image=second.image))).hits
    ]
    found = await stub.SearchByText(
        pb.SearchByTextRequest(text=titled.title, options=pb.SearchOptions(top_k=100))
    )
    assert titled.id in [h.product.id for h in found.hits]


async def test_searches_racing_deletes_never_answer_unknown(stub, train):
    """SearchSimilar and FindDuplicates while another caller deletes the products they
    name: OK or NOT_FOUND, never UNKNOWN."""
    products = [fmnist_product(train, 400 + i, "race") for i in range(40)]
    assert (await stub.UpsertProducts(requests(products))).upserted == 40
    codes: dict[grpc.StatusCode, int] = {}

    async def search():
        for _ in range(4):
            for product in products:
                for call in (
                    stub.SearchSimilar(pb.SearchSimilarRequest(product_id=product.id), timeout=10),
                    stub.FindDuplicates(pb.FindDuplicatesRequest(image=product.image), timeout=10),
                ):
                    try:
                        await call
                        code = grpc.StatusCode.OK
                    except grpc.aio.AioRpcError as error:
                        code = error.code()
                    codes[code] = codes.get(code, 0) + 1

    async def delete():
        for product in products:
            await stub.DeleteProducts(pb.DeleteProductsRequest(ids=[product.id]))
            await asyncio.sleep(0.01)

    await asyncio.gather(search(), search(), delete())
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND}, codes
    assert codes.get(grpc.StatusCode.NOT_FOUND, 0) > 0, "the race was not exercised"


async def test_a_thousand_calls_on_one_connection_get_ok_or_resource_exhausted(gateway, train):
    """Far beyond what the server takes at once, on one HTTP/2 connection: every call is
    answered OK or RESOURCE_EXHAUSTED (never UNAVAILABLE from a refused stream)."""
    image = fmnist_product(train, 5, "spike").image
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        stub = pb_grpc.ProductSearchStub(channel)

        async def one(n: int) -> grpc.StatusCode:
            try:
                if n % 2:
                    await stub.SearchByImage(pb.SearchByImageRequest(image=image), timeout=60)
                else:
                    await stub.SearchByText(pb.SearchByTextRequest(text="bag"), timeout=60)
            except grpc.aio.AioRpcError as error:
                return error.code()
            return grpc.StatusCode.OK

        codes = await asyncio.gather(*[one(n) for n in range(1000)])
    counted = {code: codes.count(code) for code in set(codes)}
    assert set(counted) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, counted
    assert counted.get(grpc.StatusCode.RESOURCE_EXHAUSTED, 0) > 0 and counted.get(grpc.StatusCode.OK, 0) >= 64
