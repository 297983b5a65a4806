"""Fuzzing (unit tier) of request validation, filters and the tokenizer: arbitrary ids, titles,
attributes, prices, top_k, min_score and filters either pass or give INVALID_ARGUMENT naming
exactly the bad fields, in a reply gRPC can carry; the filter postings agree with brute force;
any Unicode text tokenizes.

CI runs a fixed, small number of examples; `make fuzz` (FUZZ_EXAMPLES=5000) runs many random ones.
"""

from __future__ import annotations

import math
import os

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.api.errors import to_status
from server.config import Limits
from server.domain import Facets, Filter, InvalidArgumentError, Product, SearchOptions
from server.index.postings import FacetPostings
from server.models.text import TOKEN_BUCKET
from server.service.validation import check_filter, check_options, check_query_text, product_violations

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))


def fuzz_settings(ci_examples: int, deadline_ms: int = 2000) -> settings:
    """CI: `ci_examples` derandomized examples; FUZZ_EXAMPLES=N: N random ones."""
    return settings(
        max_examples=FUZZ_EXAMPLES or ci_examples,
        derandomize=not FUZZ_EXAMPLES,
        database=None,
        deadline=deadline_ms,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


LIMITS = Limits()
# gRPC's default limit on the metadata a client accepts (status message and details included).
GRPC_METADATA_LIMIT = 8 * 1024

# Text that has tripped up services: empty, blank (including the ideographic space), NUL,
# bidi controls, combining marks, emoji sequences, BOM, noncharacters, mixed CJK.
TRICKY = [
    "",
    " ",
    "\u3000",
    "\t\n",
    "\x00",
    "a\x00b",
    "\u200f\u05e9\u05dc\u05d5\u05dd",
    "\u202eevil\u202c",
    "e\u0301\u0301\u0301",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "\ufeffBOM",
    "\U0010ffff\ufffe",
    "运动鞋 スニーカー 운동화 sneakers",
    "\u0000" * 3,
    "\x1f\x7f\x85",
]


def around(limit: int) -> st.SearchStrategy[str]:
    """Strings of limit-1 .. limit+1 characters, some of them several bytes each in UTF-8."""
    return st.tuples(st.integers(limit - 1, limit + 1), st.sampled_from(["x", "字", "👍", "\u0301"])).map(
        lambda pair: pair[1] * pair[0]
    )


def texts(limit: int) -> st.SearchStrategy[str]:
    return st.one_of(st.text(max_size=24), st.sampled_from(TRICKY), around(limit))


prices = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
small_ints = st.one_of(st.integers(-3, 1003), st.integers(-(2**31), 2**31 - 1))


def text_ok(value: str, limit: int, required: bool = False) -> bool:
    """The contract in the proto's comments: at most `limit` characters, no NUL; required
    fields must not be blank."""
    return (not required or bool(value.strip())) and len(value) <= limit and "\x00" not in value


def price_ok(value: float | None) -> bool:
    return value is None or (math.isfinite(value) and value >= 0)


def fields(violations: list[tuple[str, str]]) -> set[str]:
    """Field names without the attribute key: product.attributes[colour] → product.attributes."""
    return {name.split("[", 1)[0] for name, _ in violations}


def assert_fits_in_a_grpc_reply(error: InvalidArgumentError) -> None:
    status = to_status(error)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    size = sum(len(key) + len(value) for key, value in status.trailing_metadata) + len(status.details)
    assert size < GRPC_METADATA_LIMIT / 2, f"status of {size} bytes would not reach the caller"


# -- products ---------------------------------------------------------------------------------

attributes = st.dictionaries(texts(LIMITS.max_attribute_key_chars), texts(80), max_size=4) | st.integers(
    60, 70
).map(lambda n: {f"k{i}": "v" for i in range(n)})

products = st.builds(
    Product,
    id=texts(LIMITS.max_id_chars),
    title=texts(LIMITS.max_text_chars),
    category=texts(LIMITS.max_category_chars),
    price=prices,
    attributes=attributes,
    image_uri=texts(2048),
)


def bad_product_fields(product: Product, has_image: bool) -> set[str]:
    """What the proto's comments say is wrong with the product."""
    bad = {
        f"product.{name}"
        for name, value, limit, required in [
            ("id", product.id, LIMITS.max_id_chars, True),
            ("title", product.title, LIMITS.max_text_chars, False),
            ("category", product.category, LIMITS.max_category_chars, False),
            ("image_uri", product.image_uri, 2048, False),
        ]
        if not text_ok(value, limit, required)
    }
    if not price_ok(product.price):
        bad.add("product.price")
    if len(product.attributes) > LIMITS.max_attributes or not all(
        text_ok(k, LIMITS.max_attribute_key_chars, required=True)
        and text_ok(v, LIMITS.max_attribute_value_chars)
        for k, v in product.attributes.items()
    ):
        bad.add("product.attributes")
    if not has_image:
        bad.add("product.image")
    return bad


@fuzz_settings(300)
@given(product=products, has_image=st.booleans())
def test_product_violations_name_exactly_the_bad_fields(product, has_image):
    assert fields(product_violations(product, has_image, LIMITS)) == bad_product_fields(product, has_image)


# -- search options and filters -------------------------------------------------------------------

many = st.integers(0, 300)
filters = st.builds(
    Filter,
    categories=st.one_of(
        st.frozensets(texts(LIMITS.max_category_chars), max_size=4),
        many.map(lambda n: frozenset(f"{i}\x00" for i in range(n))),
    ),
    min_price=prices,
    max_price=prices,
    attributes=st.one_of(
        st.dictionaries(texts(LIMITS.max_attribute_key_chars), texts(300), max_size=4),
        many.map(lambda n: {"k" * 65 + str(i): "v" * 257 for i in range(n)}),
    ).map(lambda pairs: tuple(sorted(pairs.items()))),
)
search_options = st.builds(
    SearchOptions,
    top_k=small_ints,
    filter=filters,
    min_score=st.floats(width=32, allow_nan=True, allow_infinity=True),
)


def filter_ok(condition: Filter) -> bool:
    low, high = condition.min_price, condition.max_price
    return (
        price_ok(low)
        and price_ok(high)
        and (low is None or high is None or low <= high)
        and all(text_ok(c, LIMITS.max_category_chars) for c in condition.categories)
        and all(
            text_ok(k, LIMITS.max_attribute_key_chars, required=True)
            and text_ok(v, LIMITS.max_attribute_value_chars)
            for k, v in condition.attributes
        )
    )


def options_ok(options: SearchOptions) -> bool:
    return (
        1 <= options.top_k <= LIMITS.max_top_k
        and -1.0 <= options.min_score <= 1.0
        and filter_ok(options.filter)
    )


@fuzz_settings(300)
@given(options=search_options)
def test_search_options_pass_or_fail_with_a_reply_grpc_can_carry(options):
    valid = options_ok(options)
    try:
        check_options(options, LIMITS)
    except InvalidArgumentError as error:
        assert not valid, error
        assert_fits_in_a_grpc_reply(error)
    else:
        assert valid


@fuzz_settings(200)
@given(condition=filters)
def test_filter_violations_exactly_when_the_filter_is_bad(condition):
    assert (not check_filter(condition, LIMITS)) == filter_ok(condition)


@fuzz_settings(200)
@given(text=texts(LIMITS.max_text_chars) | st.text(min_size=900, max_size=1100))
def test_query_text(text):
    try:
        check_query_text(text, LIMITS)
    except InvalidArgumentError as error:
        assert not text_ok(text, LIMITS.max_text_chars, required=True)
        assert [name for name, _ in error.violations] == ["text"]
    else:
        assert text_ok(text, LIMITS.max_text_chars, required=True)


# -- filter postings against brute force ------------------------------------------------------------

CATEGORIES = ["", "Sneaker", "运动鞋", "e\u0301", "👍"]
PAIRS = [("colour", "red"), ("colour", "blue"), ("size", "42"), ("", ""), ("材质", "棉")]
catalog_products = st.builds(
    lambda key, category, price, pairs: Product(
        id=str(key), category=category, price=price, attributes=dict(pairs), key=key
    ),
    key=st.integers(1, 40),
    category=st.sampled_from(CATEGORIES),
    price=st.one_of(st.none(), st.sampled_from([0.0, 1.5, 10.0, 99.99]), st.floats(0, 1e6)),
    pairs=st.lists(st.sampled_from(PAIRS), max_size=3),
)
query_filters = st.builds(
    Filter,
    categories=st.frozensets(st.sampled_from([*CATEGORIES, "absent"]), max_size=3),
    min_price=st.one_of(st.none(), st.sampled_from([0.0, 1.5, 10.0]), st.floats(0, 1e6)),
    max_price=st.one_of(st.none(), st.sampled_from([1.5, 10.0, 99.99]), st.floats(0, 1e6)),
    attributes=st.lists(st.sampled_from([*PAIRS, ("colour", "green")]), max_size=2, unique=True).map(
        lambda pairs: tuple(sorted(pairs))
    ),
)


def brute_force(catalog: dict[int, Product], condition: Filter) -> set[int]:
    def matches(p: Product) -> bool:
        if condition.categories and p.category not in condition.categories:
            return False
        if any(p.attributes.get(k) != v for k, v in condition.attributes):
            return False
        bounded = condition.min_price is not None or condition.max_price is not None
        if bounded and p.price is None:
            return False
        if condition.min_price is not None and p.price < condition.min_price:
            return False
        return condition.max_price is None or p.price <= condition.max_price

    return {key for key, p in catalog.items() if matches(p)}


@fuzz_settings(200)
@given(
    writes=st.lists(
        st.tuples(st.lists(catalog_products, max_size=8), st.lists(st.integers(1, 45), max_size=5)),
        min_size=1,
        max_size=4,
    ),
    conditions=st.lists(query_filters, min_size=1, max_size=5),
)
def test_filter_candidates_match_brute_force(writes, conditions):
    """Batches of upserts, each followed by some deletes, then queries; a product's facets
    match a filter exactly when brute force says so, and so do the postings."""
    index, catalog = FacetPostings(), {}
    for batch, removed in writes:
        for product in batch:
            index.set(product.key, Facets.of(product))
        catalog.update((p.key, p) for p in batch)
        for key in removed:
            index.remove(key)
            catalog.pop(key, None)
    assert len(index) == len(catalog)
    for condition in conditions:
        expected = brute_force(catalog, condition)
        assert {k for k, p in catalog.items() if Facets.of(p).matches(condition)} == expected
        found = index.candidates(condition)
        if condition.is_empty():
            assert found is None
        else:
            assert found.dtype == np.int64 and list(found) == sorted(found)
            assert set(found.tolist()) == expected


# -- tokenizer on arbitrary Unicode -------------------------------------------------------------------

any_text = st.one_of(
    st.text(max_size=60),
    st.sampled_from(TRICKY),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=2000),
    st.sampled_from(["字", "👍", "e\u0301", "ab "]).map(lambda s: s * 600),
)


@fuzz_settings(200, deadline_ms=5000)
@given(batch=st.lists(any_text, max_size=6))
def test_tokenizer_encodes_any_unicode(tokenizer, batch):
    ids, mask = tokenizer.encode_batch(batch)
    assert ids.shape == mask.shape and ids.dtype == mask.dtype == np.int64
    assert ids.shape[0] == len(batch) and ids.shape[1] % TOKEN_BUCKET == 0
    lengths = mask.sum(axis=1)
    assert ((lengths >= 2) & (lengths <= tokenizer.max_tokens)).all()  # at least BOS and EOS
    for row, text in enumerate(batch):
        # Each row is the text alone, padded: batching never changes what a text encodes to.
        alone_ids, alone_mask = tokenizer.encode_batch([text])
        assert (mask[row, : lengths[row]] == 1).all() and (mask[row, lengths[row] :] == 0).all()
        assert (ids[row, : lengths[row]] == alone_ids[0, : lengths[row]]).all()
        assert (ids[row, lengths[row] :] == 0).all()
        assert alone_mask.sum() == lengths[row]


def test_tokenizer_of_no_texts_is_empty(tokenizer):
    ids, mask = tokenizer.encode_batch([])
    assert ids.shape[0] == mask.shape[0] == 0


@pytest.mark.parametrize("count", [21, 300, 5000])
def test_many_violations_still_reach_the_caller(count):
    options = SearchOptions(filter=Filter(categories=frozenset(f"c{i}\x00" for i in range(count))))
    with pytest.raises(InvalidArgumentError) as raised:
        check_options(options, LIMITS)
    assert_fits_in_a_grpc_reply(raised.value)
    assert str(count) in str(raised.value), "the caller is told how many there were"
