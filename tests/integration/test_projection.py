"""The text → image projection: fitting, its ONNX graph, versions served by Triton, and
keywords finding untitled products (models run in-process here; the gateway wiring is
the cross-modal issue's)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from exporters.common import onnx_path, run_onnx
from server.models import projection, trained
from server.models.images import resize_for_model
from server.tools import fashion_mnist
from server.triton.runtime import EmbeddedTriton


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_ridge_recovers_a_linear_map():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(16, 8)).astype(np.float32)
    text = rng.normal(size=(500, 16)).astype(np.float32)
    np.testing.assert_allclose(projection.fit_ridge(text, text @ truth, alpha=1e-6), truth, atol=1e-3)


MODEL = projection.model_name("shop-a")


def test_graph_equals_numpy_and_versions_count_up(tmp_path):
    rng = np.random.default_rng(1)
    weights = rng.normal(size=(512, 1280)).astype(np.float32)
    assert projection.write_version(tmp_path, MODEL, weights, "efficientnet_lite0", {"method": "test"}) == 1
    assert (
        projection.write_version(tmp_path, MODEL, weights * 2, "efficientnet_lite0", {"method": "test"}) == 2
    )
    text = unit(rng.normal(size=(5, 512)).astype(np.float32))
    served = run_onnx(onnx_path(tmp_path, MODEL, 2), {projection.INPUT_NAME: text})
    np.testing.assert_allclose(served, projection.project(text, weights), atol=1e-5)
    config = text_format.Parse(
        (tmp_path / MODEL / "config.pbtxt").read_text(), model_config_pb2.ModelConfig()
    )
    assert config.name == MODEL and [i.name for i in config.input] == [projection.INPUT_NAME]
    assert list(config.output[0].dims) == [1280]
    assert trained.trained_models(tmp_path) == [MODEL] and trained.catalog_of(MODEL) == "shop-a"
    trained.remove(tmp_path, MODEL)
    assert trained.trained_models(tmp_path) == []


@pytest.mark.integration
def test_triton_serves_the_latest_version(tmp_path):
    rng = np.random.default_rng(2)
    weights = [rng.normal(size=(512, 64)).astype(np.float32) for _ in range(2)]
    for w in weights:
        projection.write_version(tmp_path, MODEL, w, "efficientnet_lite0", {"method": "test"})
    text = unit(rng.normal(size=(3, 512)).astype(np.float32))
    with (
        EmbeddedTriton(tmp_path, [MODEL]) as triton,
        grpcclient.InferenceServerClient(triton.url) as client,
    ):
        tensor = grpcclient.InferInput(projection.INPUT_NAME, list(text.shape), "FP32")
        tensor.set_data_from_numpy(text)
        served = client.infer(MODEL, [tensor]).as_numpy(projection.OUTPUT_NAME)
    np.testing.assert_allclose(served, projection.project(text, weights[1]), atol=1e-5)


@pytest.fixture(scope="module")
def fashion_pairs(model_repository, tokenizer):
    """2,000 English-titled train products to fit on, 2,000 other ones without titles."""
    train = fashion_mnist.load("train")
    order = fashion_mnist.stratified(train, 400, seed=3)
    fit, catalog = order[:2000], order[2000:]

    session = ort.InferenceSession(
        str(onnx_path(model_repository, "efficientnet_lite0")), providers=["CPUExecutionProvider"]
    )

    def images(indices):
        batches = np.array_split(np.asarray(indices), len(indices) // 64)
        return np.concatenate(
            [
                session.run(None, {"images": np.stack([resize_for_model(train.rgb(i), 224) for i in part])})[
                    0
                ]
                for part in batches
            ]
        )

    def texts(words):
        ids, mask = tokenizer.encode_batch(list(words))
        return run_onnx(
            onnx_path(model_repository, "text_encoder"), {"input_ids": ids, "attention_mask": mask}
        )

    titles, fit_images = texts(fashion_mnist.CATEGORIES_EN[label] for label in train.labels[fit]), images(fit)
    weights, _ = projection.fit_contrastive(titles, fit_images, projection.fit_ridge(titles, fit_images))
    return weights, images(catalog), train.labels[catalog], texts


@pytest.mark.parametrize("keyword", ["sneaker", "运动鞋", "bag", "包"])
def test_keywords_find_untitled_products(fashion_pairs, keyword):
    weights, catalog_images, catalog_labels, texts = fashion_pairs
    query = projection.project(texts([keyword]), weights)
    top10 = np.argsort(-(catalog_images @ query[0]))[:10]
    expected = 7 if keyword in ("sneaker", "运动鞋") else 8
    assert (catalog_labels[top10] == expected).sum() >= 7
