"""Fuzzing (integration tier) of one real gateway (a child process with its embedded Triton)
over real gRPC: generated good and bad requests to UpsertProducts, SearchByImage, SearchByText,
SearchSimilar, FindDuplicates, ExplainMatch and ListProducts get OK, INVALID_ARGUMENT or NOT_FOUND as the
proto's comments say, never UNKNOWN or INTERNAL; the gateway stays healthy and every product
it acknowledged is still there at the end.

CI runs a fixed, small number of examples; `make fuzz` (FUZZ_EXAMPLES=5000) runs many random ones.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.api.convert import filter_from_proto, page_token
from server.config import Config
from server.domain import Product, SearchOptions
from server.models.images import DEFAULT_LIMITS
from server.tools import fashion_mnist
from server.tools.child import spawn_gateway, wait_serving
from server.triton.runtime import free_port
from tests.gateway_helpers import fmnist_product, requests
from tests.unit.test_fuzz_images import (
    ACCEPTED_FORMATS,
    KINDS,
    MAGIC,
    encoded_images,
    mutate,
    mutations,
    with_dimensions,
)
from tests.unit.test_fuzz_validation import (
    LIMITS,
    TRICKY,
    bad_product_fields,
    fuzz_settings,
    options_ok,
    prices,
    small_ints,
    texts,
)

pytestmark = pytest.mark.integration

OK, INVALID, NOT_FOUND = grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}
CALL_TIMEOUT_S = 60  # a call still running then counts as a hang
SEEDS = 6


@dataclass
class Gateway:
    address: str
    process: subprocess.Popen
    log: Path
    channel: grpc.Channel
    stub: pb_grpc.ProductSearchStub
    # Every product the gateway acknowledged (OK), as last acknowledged: id → (title, category).
    acknowledged: dict[str, tuple[str, str]] = field(default_factory=dict)

    def assert_alive(self) -> None:
        assert self.process.poll() is None, f"gateway exited with {self.process.returncode}:\n{self.tail()}"

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, model_repository):
    data_dir = tmp_path_factory.mktemp("fuzz-gateway")
    address = f"127.0.0.1:{free_port()}"
    log = data_dir / "gateway.log"
    with log.open("w") as output:
        process = spawn_gateway(
            int(address.rsplit(":", 1)[1]),
            data_dir / "data",
            model_repository,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)])
    try:
        wait_serving(address, process)
        state = Gateway(address, process, log, channel, pb_grpc.ProductSearchStub(channel))
        train = fashion_mnist.load("train")
        seeds = [fmnist_product(train, i, "seed") for i in range(SEEDS)]
        response = state.stub.UpsertProducts(requests(seeds), timeout=CALL_TIMEOUT_S)
        assert response.upserted == SEEDS, response.statuses
        state.acknowledged.update((p.id, (p.title, p.category)) for p in seeds)
        yield state
    finally:
        channel.close()
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def call(gateway: Gateway, method, request):
    """(status code, response or None). A code other than OK / INVALID_ARGUMENT / NOT_FOUND,
    a hang or a dead gateway fails the test."""
    try:
        response, code = method(request, timeout=CALL_TIMEOUT_S), OK
    except grpc.RpcError as error:
        response, code = None, error.code()
        assert code in (INVALID, NOT_FOUND), f"{code.name}: {error.details()}\n{gateway.tail()}"
    gateway.assert_alive()
    if currently_in_test_context():
        event(code.name)  # --hypothesis-show-statistics counts the codes
    return code, response


# -- request parts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Picture:
    data: bytes
    expect: str  # "ok", "bad" or "either" (damaged: the decoder may or may not cope)


def intact(image) -> Picture:
    return Picture(image.data, "ok" if image.accepted else "bad")


# Images the gateway must accept: an accepted format, sides of 8 px or more.
good_pictures = encoded_images(
    max_side=48, kinds=[k for k in KINDS if k[0] in ACCEPTED_FORMATS], min_side=DEFAULT_LIMITS.min_side
).map(intact)
bad_pictures = st.one_of(
    st.builds(
        lambda image, damage: Picture(mutate(image.data, damage), "either"),
        encoded_images(max_side=32),
        mutations,
    ),
    st.builds(
        lambda image, w, h: Picture(with_dimensions(image.data, image.format, w, h), "either"),
        encoded_images(max_side=16),
        st.integers(0, 70_000),
        st.integers(0, 70_000),
    ),
    st.builds(lambda magic, tail: Picture(magic + tail, "either"), st.sampled_from(MAGIC), st.binary()),
    st.builds(lambda tail: Picture(tail, "bad"), st.binary(max_size=64).filter(lambda b: b[:1] != b"\xff")),
)
pictures = st.sampled_from([good_pictures, bad_pictures]).flatmap(lambda chosen: chosen)  # half each


def proto_filter(categories, low, high, pairs) -> pb.Filter:
    bounds = {name: value for name, value in (("min_price", low), ("max_price", high)) if value is not None}
    return pb.Filter(categories=categories, attributes=pairs, **bounds)


# Half the requests are valid (so searches run and products are written), half are anything.
good_filters = st.builds(
    proto_filter,
    st.lists(st.sampled_from(fashion_mnist.CATEGORIES_EN), max_size=3),
    st.none() | st.floats(0, 50),
    st.none() | st.floats(50, 1e300),
    st.sampled_from([{}, {"parity": "even"}, {"parity": "odd"}]),
)
any_filters = st.builds(
    proto_filter,
    st.one_of(
        st.lists(texts(LIMITS.max_category_chars) | st.sampled_from(fashion_mnist.CATEGORIES_EN), max_size=4),
        st.integers(0, 300).map(lambda n: [f"{i}\x00" for i in range(n)]),  # one violation each
    ),
    prices,
    prices,
    st.dictionaries(texts(LIMITS.max_attribute_key_chars), texts(300), max_size=3),
)
good_options = st.builds(
    pb.SearchOptions,
    top_k=st.integers(0, LIMITS.max_top_k),
    filter=st.just(pb.Filter()) | good_filters,
    min_score=st.just(0.0) | st.floats(-1, 1, width=32),
    include_thumbnails=st.booleans(),
)
any_options = st.builds(
    pb.SearchOptions,
    top_k=small_ints,
    filter=any_filters,
    min_score=st.floats(width=32),
    include_thumbnails=st.booleans(),
)
proto_options = good_options | any_options


def mostly(good: st.SearchStrategy, anything: st.SearchStrategy) -> st.SearchStrategy:
    """Three draws in four from `good`: where the image is what is fuzzed, the other fields
    are mostly valid so that the image gets decoded."""
    return st.sampled_from([good, good, good, anything]).flatmap(lambda chosen: chosen)


def options_valid(options: pb.SearchOptions) -> bool:
    return options_ok(
        SearchOptions(
            top_k=options.top_k or LIMITS.default_top_k,
            filter=filter_from_proto(options.filter),
            min_score=options.min_score,
        )
    )


def assert_hits_obey(response: pb.SearchResponse, options: pb.SearchOptions) -> None:
    """At most top_k hits, best first, each above min_score and matching the filter."""
    hits, condition = response.hits, options.filter
    assert len(hits) <= (options.top_k or LIMITS.default_top_k)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for hit in hits:
        product = hit.product
        assert hit.score >= options.min_score - 1e-6
        assert not condition.categories or product.category in condition.categories
        assert all(product.attributes.get(k) == v for k, v in condition.attributes.items())
        if condition.HasField("min_price"):
            assert product.HasField("price") and product.price >= condition.min_price
        if condition.HasField("max_price"):
            assert product.HasField("price") and product.price <= condition.max_price


# -- the RPCs --------------------------------------------------------------------------------------

SEED_IDS = [f"seed-{i:05d}" for i in range(SEEDS)]
GOOD_TEXT = [t for t in TRICKY if t.strip() and "\x00" not in t] + ["运动鞋", "sneaker", "red dress"]
good_text = st.sampled_from(GOOD_TEXT) | st.text(st.characters(exclude_characters="\x00"), min_size=1).filter(
    str.strip
)
good_ids = st.sampled_from(SEED_IDS) | good_text.map(lambda s: f"fuzz-{s}"[: LIMITS.max_id_chars])
ids = good_ids | texts(LIMITS.max_id_chars)


def proto_product(id_, title, category, price, attributes, picture, uri) -> tuple[pb.Product, Picture]:
    price = {} if price is None else {"price": price}
    return pb.Product(
        id=id_,
        title=title,
        category=category,
        attributes=attributes,
        image=picture.data,
        image_uri=uri,
        **price,
    ), picture


good_products = st.builds(
    proto_product,
    good_ids,
    st.just("") | good_text,
    st.sampled_from(fashion_mnist.CATEGORIES_EN),
    st.none() | st.floats(0, 1e6),
    st.sampled_from([{}, {"parity": "even"}, {"colour": "红", "size": "42"}]),
    good_pictures,
    st.just(""),
)
any_products = st.builds(
    proto_product,
    ids,
    texts(LIMITS.max_text_chars),
    texts(LIMITS.max_category_chars) | st.sampled_from(fashion_mnist.CATEGORIES_EN),
    prices,
    st.dictionaries(texts(LIMITS.max_attribute_key_chars), texts(300), max_size=3),
    pictures,
    st.sampled_from(["", "https://例え.jp/商品/1.jpg", "\x00"]),
)


@fuzz_settings(80, deadline_ms=None)
@given(batch=st.lists(good_products | any_products, min_size=1, max_size=4))
def test_upsert_products(gateway, batch):
    code, response = call(gateway, gateway.stub.UpsertProducts, requests([p for p, _ in batch]))
    assert code == OK
    assert [s.id for s in response.statuses] == [p.id[:128] for p, _ in batch]  # ids echoed cut
    assert [s.position for s in response.statuses] == list(range(len(batch)))
    assert response.upserted + response.failed == len(batch)
    for (product, picture), status in zip(batch, response.statuses, strict=True):
        domain = Product(
            id=product.id,
            title=product.title,
            category=product.category,
            price=product.price if product.HasField("price") else None,
            attributes=dict(product.attributes),
            image_uri=product.image_uri,
        )
        fields_ok = not bad_product_fields(domain, has_image=bool(picture.data))
        if not fields_ok or picture.expect == "bad":
            assert status.code == INVALID.value[0], (status, picture.expect)
        elif picture.expect == "ok":
            assert status.code == OK.value[0], status
        else:
            assert status.code in (OK.value[0], INVALID.value[0]), status
        event(f"product {CODE_NAMES[status.code]}")
        if status.code == OK.value[0]:
            gateway.acknowledged[product.id] = (product.title, product.category)


@fuzz_settings(80, deadline_ms=None)
@given(picture=pictures, options=mostly(good_options, any_options))
def test_search_by_image(gateway, picture, options):
    code, response = call(
        gateway, gateway.stub.SearchByImage, pb.SearchByImageRequest(image=picture.data, options=options)
    )
    if not options_valid(options) or picture.expect == "bad":
        assert code == INVALID
    elif picture.expect == "ok":
        assert code == OK
    if code == OK:
        assert_hits_obey(response, options)


@fuzz_settings(80, deadline_ms=None)
@given(
    text=good_text | texts(LIMITS.max_text_chars),
    options=proto_options,
)
def test_search_by_text(gateway, text, options):
    code, response = call(
        gateway, gateway.stub.SearchByText, pb.SearchByTextRequest(text=text, options=options)
    )
    text_valid = bool(text.strip()) and len(text) <= LIMITS.max_text_chars and "\x00" not in text
    assert code == (OK if options_valid(options) and text_valid else INVALID)
    if code == OK:
        assert_hits_obey(response, options)


@fuzz_settings(80, deadline_ms=None)
@given(
    product_id=st.sampled_from(SEED_IDS) | ids | st.text(max_size=300),
    options=proto_options,
)
def test_search_similar(gateway, product_id, options):
    code, response = call(
        gateway,
        gateway.stub.SearchSimilar,
        pb.SearchSimilarRequest(product_id=product_id, options=options),
    )
    if not options_valid(options):
        assert code == INVALID
    else:
        assert code == (OK if product_id in gateway.acknowledged else NOT_FOUND)
    if code == OK:
        assert_hits_obey(response, options)
        assert product_id not in [h.product.id for h in response.hits]


@fuzz_settings(80, deadline_ms=None)
@given(
    picture=pictures,
    threshold=mostly(st.floats(0, 1, width=32), st.floats(width=32)),
    max_results=mostly(st.integers(0, LIMITS.max_top_k), small_ints),
)
def test_find_duplicates(gateway, picture, threshold, max_results):
    code, response = call(
        gateway,
        gateway.stub.FindDuplicates,
        pb.FindDuplicatesRequest(image=picture.data, threshold=threshold, max_results=max_results),
    )
    threshold, max_results = threshold or Config().duplicate_threshold, max_results or 100
    if not (0 < threshold <= 1 and 1 <= max_results <= LIMITS.max_top_k) or picture.expect == "bad":
        assert code == INVALID
    elif picture.expect == "ok":
        assert code == OK
    if code == OK:
        assert len(response.hits) <= max_results
        assert all(h.score >= threshold - 1e-6 for h in response.hits)


@fuzz_settings(40, deadline_ms=None)
@given(picture=pictures, product_id=st.sampled_from(SEED_IDS) | ids | st.text(max_size=300))
def test_explain_match(gateway, picture, product_id):
    """The request is checked first (id, a query), then the product (NOT_FOUND), then the image."""
    code, response = call(
        gateway, gateway.stub.ExplainMatch, pb.ExplainMatchRequest(image=picture.data, product_id=product_id)
    )
    id_valid = (
        bool(product_id.strip()) and len(product_id) <= LIMITS.max_id_chars and "\x00" not in product_id
    )
    if not id_valid or not picture.data:
        assert code == INVALID
    elif product_id not in gateway.acknowledged:
        assert code == NOT_FOUND
    elif picture.expect == "bad":
        assert code == INVALID
    elif picture.expect == "ok":
        assert code == OK
    if code == OK:
        assert response.product.id == product_id
        assert len(response.grid) == response.grid_height * response.grid_width > 0
        assert all(-1 <= value <= 1 for value in response.grid)


@fuzz_settings(80, deadline_ms=None)
@given(
    page_size=st.integers(0, LIMITS.max_page_size) | small_ints,
    after=st.one_of(st.just(""), ids, st.text()),
    forged=st.booleans(),
    condition=st.just(pb.Filter()) | good_filters,
)
def test_list_products(gateway, page_size, after, forged, condition):
    """Page tokens are opaque: a token the listing made continues after its id, anything
    else (a raw id, random text) is INVALID_ARGUMENT."""
    token = after if forged else page_token("products", "default", after)
    code, response = call(
        gateway,
        gateway.stub.ListProducts,
        pb.ListProductsRequest(page_size=page_size, page_token=token, filter=condition),
    )
    valid_token = token == "" or not forged or token == page_token("products", "default", after)
    assert code == (OK if 0 <= page_size <= LIMITS.max_page_size and valid_token else INVALID)
    if code == OK:
        listed = [p.id for p in response.products]
        assert len(listed) <= (page_size or LIMITS.default_page_size)
        assert listed == sorted(listed) and all(i > (after if not forged else "") for i in listed)
        assert_hits_obey(
            pb.SearchResponse(hits=[pb.SearchHit(product=p) for p in response.products]),
            pb.SearchOptions(top_k=1000, filter=condition, min_score=-1),
        )


def test_list_products_with_a_bad_filter_is_invalid_argument(gateway):
    code, _ = call(
        gateway,
        gateway.stub.ListProducts,
        pb.ListProductsRequest(filter=pb.Filter(min_price=float("nan"))),
    )
    assert code == INVALID


@fuzz_settings(80, deadline_ms=None)
@given(
    name=st.one_of(
        st.sampled_from(["", "catalogs/default", "catalogs/", "catalogs/a/b", "default", "catalogs/Shop"]),
        st.text(max_size=80),
        st.text(max_size=80).map(lambda t: "catalogs/" + t),
        st.from_regex(r"catalogs/[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True),
    )
)
def test_any_catalog_name(gateway, name):
    """The default catalog answers, another well-formed name is NOT_FOUND (none was created),
    anything else INVALID_ARGUMENT."""
    code, _ = call(gateway, gateway.stub.SearchByText, pb.SearchByTextRequest(text="bag", catalog=name))
    if name in ("", "catalogs/default"):
        assert code == OK
    elif re.fullmatch(r"catalogs/[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?", name):
        assert code == NOT_FOUND
    else:
        assert code == INVALID


def test_a_very_long_unknown_id_is_not_found(gateway):
    code, _ = call(gateway, gateway.stub.SearchSimilar, pb.SearchSimilarRequest(product_id="x" * 20_000))
    assert code == NOT_FOUND


def test_every_acknowledged_product_is_still_there(gateway):
    """Runs last: after all the bad input the gateway is healthy, lost nothing it acknowledged
    and logged no unexpected error."""
    health = health_pb2_grpc.HealthStub(gateway.channel)
    assert (
        health.Check(health_pb2.HealthCheckRequest(), timeout=10).status
        == health_pb2.HealthCheckResponse.SERVING
    )
    listed, token = set(), ""
    while True:
        page = gateway.stub.ListProducts(pb.ListProductsRequest(page_size=1000, page_token=token), timeout=30)
        listed |= {p.id for p in page.products}
        if not (token := page.next_page_token):
            break
    assert set(gateway.acknowledged) <= listed
    for product_id, (title, category) in gateway.acknowledged.items():
        product = gateway.stub.GetProduct(pb.GetProductRequest(id=product_id), timeout=30).product
        assert (product.title, product.category) == (title, category)
        assert product.thumbnail[:2] == b"\xff\xd8"
    assert len(gateway.acknowledged) > SEEDS, "the fuzzing upserted no valid product"
    assert "Traceback" not in gateway.log.read_text(errors="replace"), gateway.tail()
