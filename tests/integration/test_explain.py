"""ExplainMatch ("why this match") through the real gateway and the real Triton: the heat is
where the matching content is; bad requests get their codes; API keys are enforced."""

from __future__ import annotations

import io

import grpc
import numpy as np
import pytest
from PIL import Image

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.api.access import new_key, parse_keys
from server.app import create_server
from server.config import Config, Limits
from server.models.images import ImageLimits, encode_png
from tests.gateway_helpers import requests

pytestmark = pytest.mark.integration

SIDE = 448  # the two-photo product's side; the stored image keeps it (<= 512)


def tile(photo: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(photo).resize((SIDE // 2, SIDE // 2), Image.Resampling.BILINEAR))


@pytest.fixture(scope="module")
def pair(photos) -> np.ndarray:
    """A white canvas with the cat in its top-left quarter and the coffee cup bottom-right."""
    canvas = np.full((SIDE, SIDE, 3), 255, dtype=np.uint8)
    canvas[: SIDE // 2, : SIDE // 2] = tile(photos["chelsea"])
    canvas[SIDE // 2 :, SIDE // 2 :] = tile(photos["coffee"])
    return canvas


@pytest.fixture(scope="module")
def keys():
    return {
        "search": new_key("searcher", "search"),
        "write": new_key("writer", "write"),
        "elsewhere": new_key("elsewhere", "search", ["other"]),
    }


@pytest.fixture(scope="module")
async def gateway(tmp_path_factory, triton, keys, pair, photos):
    config = Config(
        data_dir=tmp_path_factory.mktemp("explain"),
        port=0,
        triton_url=triton.url,
        limits=Limits(image=ImageLimits(max_pixels=4_000_000)),
        api_keys=tuple(k for _, line in keys.values() for k in parse_keys(line, "test")),
    )
    gateway = await create_server(config)
    products = [
        pb.Product(id="pair", title="cat and coffee", image=encode_png(pair)),
        pb.Product(id="rocket", title="rocket", image=encode_png(photos["rocket"])),
    ]
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        stub = pb_grpc.ProductSearchStub(channel)
        response = await stub.UpsertProducts(requests(products), metadata=bearer(keys, "write"))
        assert response.upserted == len(products), response.statuses
    yield gateway
    await gateway.stop()


def bearer(keys, role: str):
    return (("authorization", f"Bearer {keys[role][0]}"),)


@pytest.fixture
async def stub(gateway):
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        yield pb_grpc.ProductSearchStub(channel)


async def explain(stub, keys, **fields) -> pb.ExplainMatchResponse:
    return await stub.ExplainMatch(
        pb.ExplainMatchRequest(**fields), metadata=bearer(keys, "search"), timeout=30
    )


async def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value.code()


def quarter_heat(response: pb.ExplainMatchResponse) -> tuple[float, float]:
    """Positive cosine mass of the top-left and bottom-right quarters of the grid (the
    middle row and column, when the side is odd, belong to neither)."""
    grid = np.maximum(np.asarray(response.grid).reshape(response.grid_height, response.grid_width), 0)
    half_h, half_w = response.grid_height // 2, response.grid_width // 2
    far_h, far_w = response.grid_height - half_h, response.grid_width - half_w
    return float(grid[:half_h, :half_w].sum()), float(grid[far_h:, far_w:].sum())


async def test_the_heat_is_where_the_query_is(stub, keys, photos):
    cat = await explain(stub, keys, image=encode_png(photos["chelsea"]), product_id="pair")
    cup = await explain(stub, keys, image=encode_png(photos["coffee"]), product_id="pair")
    for response in (cat, cup):
        assert response.model == "efficientnet_lite0"
        assert response.query_space == "image"
        assert (response.grid_height, response.grid_width) == (7, 7)
        assert len(response.grid) == 49
        assert all(-1 <= value <= 1 for value in response.grid)
    cat_top_left, cat_bottom_right = quarter_heat(cat)
    cup_top_left, cup_bottom_right = quarter_heat(cup)
    assert cat_top_left > cat_bottom_right
    assert cup_bottom_right > cup_top_left
    # the hottest cell of each lies in its photo's half of the grid
    cat_row, cat_col = divmod(int(np.argmax(cat.grid)), 7)
    cup_row, cup_col = divmod(int(np.argmax(cup.grid)), 7)
    assert cat_row <= 3 and cat_col <= 3, (cat_row, cat_col)
    assert cup_row >= 3 and cup_col >= 3, (cup_row, cup_col)


async def test_the_heatmap_is_a_png_of_the_stored_image(stub, keys, photos):
    response = await explain(stub, keys, image=encode_png(photos["chelsea"]), product_id="pair")
    assert response.product.id == "pair"
    assert not response.product.thumbnail
    assert (response.image_width, response.image_height) == (SIDE, SIDE)
    with Image.open(io.BytesIO(response.heatmap_png)) as picture:
        assert picture.format == "PNG"
        assert picture.size == (SIDE, SIDE)
        drawn = np.asarray(picture.convert("RGB")).astype(int)
    # heat is drawn red-ish over the cat's quarter, the cold white quarter stays near white
    assert drawn[: SIDE // 2, : SIDE // 2, 0].mean() > drawn[: SIDE // 2, : SIDE // 2, 2].mean()
    # the score is the search's image signal
    search = await stub.SearchByImage(
        pb.SearchByImageRequest(image=encode_png(photos["chelsea"])), metadata=bearer(keys, "search")
    )
    (hit,) = [h for h in search.hits if h.product.id == "pair"]
    assert response.score == pytest.approx(hit.score, abs=1e-5)


async def test_a_product_as_the_query(stub, keys):
    itself = await explain(stub, keys, query_product_id="pair", product_id="pair")
    assert itself.score == pytest.approx(1.0, abs=1e-5) and itself.query_space == "image"
    similar = await stub.SearchSimilar(
        pb.SearchSimilarRequest(product_id="rocket"), metadata=bearer(keys, "search")
    )
    (hit,) = [h for h in similar.hits if h.product.id == "pair"]
    assert (await explain(stub, keys, query_product_id="rocket", product_id="pair")).score == pytest.approx(
        hit.score, abs=1e-5
    )


@pytest.mark.parametrize(
    "fields",
    [{"image": b"\x89PNG", "product_id": "nope"}, {"query_product_id": "nope", "product_id": "pair"}],
    ids=["unknown-product", "unknown-query-product"],
)
async def test_unknown_product_is_not_found(stub, keys, fields):
    call = stub.ExplainMatch(pb.ExplainMatchRequest(**fields), metadata=bearer(keys, "search"))
    assert await code_of(call) == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    "fields",
    [
        {"image": encode_png(np.full((2100, 2100, 3), 255, dtype=np.uint8)), "product_id": "pair"},  # 4.4 MP
        {"text": "x" * 1001, "product_id": "pair"},
        {"image": b"not an image", "product_id": "pair"},
        {"product_id": "pair"},  # no query
        {"text": "cat", "product_id": "p" * 129},
    ],
    ids=["image-over-the-pixel-limit", "text-too-long", "undecodable", "no-query", "id-too-long"],
)
async def test_bad_requests_are_invalid_argument(stub, keys, fields):
    call = stub.ExplainMatch(pb.ExplainMatchRequest(**fields), metadata=bearer(keys, "search"))
    assert await code_of(call) == grpc.StatusCode.INVALID_ARGUMENT


async def test_text_query_needs_a_projection(stub, keys):
    call = stub.ExplainMatch(
        pb.ExplainMatchRequest(text="cat", product_id="pair"), metadata=bearer(keys, "search")
    )
    assert await code_of(call) == grpc.StatusCode.FAILED_PRECONDITION


async def test_api_keys_are_enforced(stub, keys, photos):
    request = pb.ExplainMatchRequest(image=encode_png(photos["chelsea"]), product_id="pair")
    assert await code_of(stub.ExplainMatch(request)) == grpc.StatusCode.UNAUTHENTICATED
    wrong = (("authorization", "Bearer psk_not-a-key"),)
    assert await code_of(stub.ExplainMatch(request, metadata=wrong)) == grpc.StatusCode.UNAUTHENTICATED
    elsewhere = bearer(keys, "elsewhere")
    assert await code_of(stub.ExplainMatch(request, metadata=elsewhere)) == grpc.StatusCode.PERMISSION_DENIED
    assert (await stub.ExplainMatch(request, metadata=bearer(keys, "search"))).grid
