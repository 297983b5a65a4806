"""Explain without Triton: which query vector is compared with the map, and the checks made
before any model is called (a fake embedder records the calls)."""

from __future__ import annotations

import asyncio
import io
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from server.config import Config
from server.domain import (
    IMAGE_SPACE,
    TITLE_SPACE,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    Product,
)
from server.index.store import IndexSpace
from server.models.images import DecodeBudget, encode_jpeg, encode_png
from server.service.explain import IMAGE_QUERY, TEXT_QUERY, Explain
from server.service.ranking import Ranking

DIM = 4
# A 2x2 map: the top-left cell points along axis 0, the bottom-right along axis 1.
MAP = np.zeros((2, 2, DIM), dtype=np.float32)
MAP[0, 0, 0] = 1.0
MAP[1, 1, 1] = 1.0
MAP[0, 1] = MAP[1, 0] = [0, 0, 1, 0]


class FakeEmbedder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def embed_images(self, model, images):
        self.calls.append(f"embed_images:{model}")
        return np.array([[1.0, 0, 0, 0]], dtype=np.float32)  # image queries point along axis 0

    async def embed_texts(self, texts, model):
        self.calls.append(f"embed_texts:{model}")
        return np.array([[0, 0, 0, 1.0]], dtype=np.float32)  # the text space: unlike any cell

    async def project_texts(self, vectors, model):
        self.calls.append(f"project_texts:{model}")
        return np.array([[0, 1.0, 0, 0]], dtype=np.float32)  # projected: along axis 1

    async def embed_image_with_map(self, model, image):
        self.calls.append(f"embed_image_with_map:{model}")
        return MAP.mean(axis=(0, 1)), MAP


class FakeStore:
    def __init__(self) -> None:
        pixels = np.full((40, 60, 3), 200, dtype=np.uint8)
        self.products = {"p": Product(id="p", key=7)}
        self.images = {7: encode_jpeg(pixels, 512)}

    def get(self, product_id):
        return self.products.get(product_id)

    def stored_images(self, keys):
        return {k: self.images[k] for k in keys if k in self.images}


class FakeSpace:
    def fetch(self, keys):
        return {7: np.array([0.6, 0.8, 0, 0], dtype=np.float32)}


def explainer():
    spaces = {
        IMAGE_SPACE: IndexSpace(IMAGE_SPACE, "efficientnet_lite0", "v", DIM),
        TITLE_SPACE: IndexSpace(TITLE_SPACE, "text_encoder", "v", DIM),
    }
    embedder = FakeEmbedder()
    ranking = Ranking(Config(), embedder, spaces, DecodeBudget())
    return Explain(Config(), embedder, spaces, ranking), embedder


def catalog(projection: str | None = None):
    return SimpleNamespace(store=FakeStore(), spaces={IMAGE_SPACE: FakeSpace()}, projection=projection)


def run(coroutine):
    return asyncio.run(coroutine)


def test_an_image_query_is_compared_in_its_own_embedding():
    explain, embedder = explainer()
    query = encode_png(np.zeros((10, 10, 3), dtype=np.uint8))
    result = run(explain.explain(catalog(), "p", query, None))
    assert result.query_space == IMAGE_QUERY and result.model == "efficientnet_lite0"
    assert result.grid.tolist() == [[1.0, 0.0], [0.0, 0.0]]  # hot where the map points along axis 0
    assert result.score == pytest.approx(0.6)  # against the indexed vector
    assert result.image_size == (60, 40)
    with Image.open(io.BytesIO(result.heatmap_png)) as picture:
        assert picture.size == (60, 40)
    assert embedder.calls == ["embed_images:efficientnet_lite0", "embed_image_with_map:efficientnet_lite0"]


def test_a_keyword_goes_through_the_catalogs_projection():
    explain, embedder = explainer()
    result = run(explain.explain(catalog("text_to_image__default"), "p", None, "红色 T恤"))
    assert result.query_space == TEXT_QUERY
    assert result.grid.tolist() == [[0.0, 0.0], [0.0, 1.0]]  # the projected vector, not the text one
    assert result.score == pytest.approx(0.8)
    assert embedder.calls[:2] == ["embed_texts:text_encoder", "project_texts:text_to_image__default"]


def test_a_product_query_uses_its_indexed_vector():
    explain, embedder = explainer()
    result = run(explain.explain(catalog(), "p", None, None, "p"))
    assert result.query_space == IMAGE_QUERY
    np.testing.assert_allclose(result.grid, [[0.6, 0.0], [0.0, 0.8]], atol=1e-6)  # indexed [0.6, 0.8, 0, 0]
    assert result.score == pytest.approx(1.0)
    assert embedder.calls == ["embed_image_with_map:efficientnet_lite0"]  # the query costs no model call
    with pytest.raises(NotFoundError):
        run(explain.explain(catalog(), "p", None, None, "unknown"))


def test_checks_come_before_any_model_call():
    explain, embedder = explainer()
    with pytest.raises(NotFoundError):
        run(explain.explain(catalog(), "unknown", b"x", None))
    with pytest.raises(FailedPreconditionError):
        run(explain.explain(catalog(), "p", None, "bag"))
    for image, text, product in (
        (None, None, None),
        (b"x", "both", None),
        (b"x", None, "p"),
        (b"", None, None),
        (None, "", None),
        (None, "x" * 1001, None),
        (None, None, ""),
        (None, None, "p" * 129),
    ):
        with pytest.raises(InvalidArgumentError):
            run(explain.explain(catalog(), "p", image, text, product))
    assert embedder.calls == []
    with pytest.raises(InvalidArgumentError) as raised:
        run(explain.explain(catalog(), "p", b"not an image", None))
    assert raised.value.violations[0][0] == "image"
    assert embedder.calls == []
