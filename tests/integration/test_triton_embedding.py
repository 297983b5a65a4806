"""The embedded Triton and the embedding client, against real models (integration tier)."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from exporters.common import onnx_path, run_onnx, run_onnx_outputs
from server.domain import Code
from server.models.embedding import EmbeddingClient, EmbeddingError
from server.models.images import ImageError, encode_png, resize_for_model

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(triton, tokenizer):
    async with EmbeddingClient(triton.url, tokenizer, timeout_s=5.0) as embedding_client:
        yield embedding_client


@pytest.mark.parametrize("model", ["efficientnet_lite0", "efficientnet_lite2"])
async def test_triton_images_equal_in_process_onnxruntime(client, model_repository, photos, model):
    info = await client.model_info(model)
    images = [resize_for_model(p, info.image_size) for p in photos.values()]
    served = await client.embed_images(model, images)
    local = run_onnx(onnx_path(model_repository, model), {"images": np.stack(images)})
    assert served.shape == (len(images), 1280)
    assert np.abs(served - local).max() <= 1e-5


@pytest.mark.parametrize("model", ["efficientnet_lite0", "efficientnet_lite2"])
async def test_feature_map_is_served_and_pools_to_the_embedding(client, model_repository, photos, model):
    info = await client.model_info(model)
    image = resize_for_model(photos["coffee"], info.image_size)
    embedding, feature_map = await client.embed_image_with_map(model, image)
    local = run_onnx_outputs(onnx_path(model_repository, model), {"images": image[np.newaxis]})
    np.testing.assert_allclose(feature_map, local["feature_map"][0], atol=1e-4)
    np.testing.assert_allclose(embedding, local["embeddings"][0], atol=1e-5)
    pooled = feature_map.mean(axis=(0, 1))
    np.testing.assert_allclose(embedding, pooled / np.linalg.norm(pooled), atol=1e-5)


async def test_the_runner_returns_only_the_outputs_asked_for(triton, photos):
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(triton.url)
    images = grpcclient.InferInput("images", [1, 224, 224, 3], "UINT8")
    images.set_data_from_numpy(resize_for_model(photos["coffee"], 224)[np.newaxis])
    for wanted in (["embeddings"], ["feature_map"], ["embeddings", "feature_map"]):
        outputs = [grpcclient.InferRequestedOutput(name) for name in wanted]
        result = client.infer("efficientnet_lite0", [images], outputs=outputs, client_timeout=30)
        assert [o.name for o in result.get_response().outputs] == wanted
    client.close()


async def test_triton_texts_equal_in_process_onnxruntime(client, model_repository, tokenizer):
    texts = ["红色手机", "运动鞋", "red sneakers", "Damen Sommerkleid", "短靴 冬季 加绒"]
    served = await client.embed_texts(texts)
    ids, mask = tokenizer.encode_batch(texts)
    local = run_onnx(onnx_path(model_repository, "text_encoder"), {"input_ids": ids, "attention_mask": mask})
    assert np.abs(served - local).max() <= 1e-5


async def test_encoded_bytes_embed_like_the_decoded_array(client, photos):
    from_bytes, from_array = await asyncio.gather(
        client.embed_images("efficientnet_lite0", [encode_png(photos["chelsea"])]),
        client.embed_images("efficientnet_lite0", [photos["chelsea"]]),
    )
    np.testing.assert_allclose(from_bytes, from_array, atol=1e-6)


async def test_32_concurrent_requests_each_get_their_own_result(client, model_repository):
    rng = np.random.default_rng(7)
    images = [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in range(32)]
    texts = [f"product number {i} 商品 {i}" for i in range(32)]
    image_results = asyncio.gather(*[client.embed_images("efficientnet_lite0", [im]) for im in images])
    text_results = asyncio.gather(*[client.embed_texts([t]) for t in texts])
    served_images, served_texts = await asyncio.gather(image_results, text_results)
    expected = run_onnx(onnx_path(model_repository, "efficientnet_lite0"), {"images": np.stack(images)})
    for got, want in zip(served_images, expected, strict=True):
        assert np.abs(got[0] - want).max() <= 1e-5
    expected_texts = await client.embed_texts(texts)  # one batch, no concurrency
    for got, want in zip(served_texts, expected_texts, strict=True):
        assert np.abs(got[0] - want).max() <= 1e-5


async def test_batches_larger_than_max_batch_size_are_split(client):
    texts = [f"item {i}" for i in range(300)]  # text_encoder's max_batch_size is 128
    embeddings = await client.embed_texts(texts)
    assert embeddings.shape == (300, 512)
    single = await client.embed_texts([texts[257]])
    np.testing.assert_allclose(embeddings[257], single[0], atol=1e-5)


async def test_bad_image_bytes_raise_image_error(client):
    with pytest.raises(ImageError):
        await client.embed_images("efficientnet_lite0", [b"not an image at all"])


async def test_unknown_model_names_the_model(client):
    with pytest.raises(EmbeddingError) as raised:
        await client.embed_texts(["x"], model="no_such_model")
    assert raised.value.model == "no_such_model"
    assert raised.value.code in (
        Code.NOT_FOUND,
        Code.UNAVAILABLE,
        Code.INVALID_ARGUMENT,
    )


async def test_killed_triton_gives_unavailable_then_recovers_after_restart(triton, tokenizer):
    async with EmbeddingClient(triton.url, tokenizer, timeout_s=2.0) as client:
        before = await client.embed_texts(["运动鞋"])
        triton.kill()
        started = time.monotonic()
        with pytest.raises(EmbeddingError) as raised:
            await client.embed_texts(["运动鞋"])
        assert raised.value.code == Code.UNAVAILABLE
        assert "unavailable" in str(raised.value)
        assert time.monotonic() - started < 2.0 + 0.5
        triton.start()  # same port
        after = await client.embed_texts(["运动鞋"])
        np.testing.assert_allclose(before, after, atol=1e-6)
