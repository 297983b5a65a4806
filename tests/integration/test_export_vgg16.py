"""VGG16 export with seeded random weights: the file Triton serves, its manifest entry, its
tensor signature and its agreement with an independent Keras computation."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from PIL import Image

from exporters import vgg16
from exporters.common import MIN_COSINE, ExportRecord, onnx_path, read_manifest, run_onnx


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _photo(size: tuple[int, int]) -> np.ndarray:
    """A real photo (scikit-image's astronaut) resized to (width, height), uint8 RGB."""
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize(size, Image.Resampling.BILINEAR))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExportRecord]:
    repository = tmp_path_factory.mktemp("model_repository")
    return repository, vgg16.export(repository, weights="random")


@pytest.fixture(scope="module")
def random_trunk() -> Any:
    """The Keras VGG16 trunk the "random" export is documented to use (seed RANDOM_SEED)."""
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(vgg16.RANDOM_SEED)
    return keras.applications.VGG16(include_top=False, weights=None, input_shape=(224, 224, 3))


def test_export_writes_the_file_pinned_in_the_manifest(exported: tuple[Path, ExportRecord]) -> None:
    repository, record = exported
    path = onnx_path(repository, "vgg16")
    assert path.is_file()
    entry = read_manifest(repository)["vgg16"]
    assert entry["file"] == "vgg16/1/model.onnx"
    assert entry["sha256"] == _sha256(path) == record.sha256
    assert entry["weights"] == record.weights == "random:seed=0"
    assert entry["settings"]["image_size"] == 224
    assert entry["settings"]["preprocessing"] == "caffe"
    # No staging file left next to the served one.
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.onnx"]


def test_graph_takes_uint8_images_of_any_size_and_returns_512d(
    exported: tuple[Path, ExportRecord],
) -> None:
    model = onnx.load(str(onnx_path(exported[0], "vgg16")))
    (graph_input,) = model.graph.input
    assert graph_input.name == "images"
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = graph_input.type.tensor_type.shape.dim
    assert [d.dim_param for d in dims[:3]] == ["batch", "height", "width"]
    assert not any(d.HasField("dim_value") for d in dims[:3])
    assert dims[3].dim_value == 3
    (output,) = model.graph.output
    assert output.name == "embeddings"
    assert output.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert output.type.tensor_type.shape.dim[-1].dim_value == 512


def test_parity_with_tensorflow_is_recorded(exported: tuple[Path, ExportRecord]) -> None:
    parity = exported[1].parity
    assert parity["min_cosine"] >= MIN_COSINE
    assert parity["resized_224_min_cosine"] >= MIN_COSINE
    assert parity["original_size_min_cosine"] >= MIN_COSINE


def test_embeddings_are_unit_norm_for_any_input_size(exported: tuple[Path, ExportRecord]) -> None:
    path = onnx_path(exported[0], "vgg16")
    for width, height in [(160, 120), (37, 301)]:
        batch = np.stack([_photo((width, height)), _photo((width, height))[::-1]])
        embeddings = run_onnx(path, {"images": batch})
        assert embeddings.shape == (2, 512)
        assert embeddings.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
        # Different photos give different embeddings (not a constant graph).
        assert float(embeddings[0] @ embeddings[1]) < 1.0 - 1e-6


def test_graph_matches_keras_vgg16_caffe_preprocessing(
    exported: tuple[Path, ExportRecord], random_trunk: Any
) -> None:
    """Parity compares the graph with the function it was made from; this checks that the
    function itself does what Keras' VGG16 expects (BGR, ImageNet means, average pool)."""
    import keras

    image = _photo((224, 224))
    pixels = keras.applications.vgg16.preprocess_input(image[np.newaxis].astype(np.float32))
    pooled = np.asarray(random_trunk(pixels, training=False)).mean(axis=(1, 2))
    expected = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    embeddings = run_onnx(onnx_path(exported[0], "vgg16"), {"images": image[np.newaxis]})
    np.testing.assert_allclose(embeddings, expected, atol=1e-5)


def test_second_export_without_force_is_a_no_op(exported: tuple[Path, ExportRecord]) -> None:
    repository, record = exported
    path = onnx_path(repository, "vgg16")
    before = path.stat().st_mtime_ns
    again = vgg16.export(repository, weights="random")
    assert again == record
    assert path.stat().st_mtime_ns == before


def test_export_from_local_h5_file(
    exported: tuple[Path, ExportRecord], random_trunk: Any, tmp_path: Path
) -> None:
    """Weights from an .h5 file: recorded by checksum, and the same weights as the "random"
    export give a byte-identical file (the export is reproducible)."""
    weights = tmp_path / "vgg16_random.weights.h5"
    random_trunk.save_weights(str(weights))
    repository = tmp_path / "model_repository"
    record = vgg16.export(repository, weights=str(weights))
    assert record.weights == f"h5:{_sha256(weights)}"
    assert record.sha256 == exported[1].sha256


def test_missing_h5_file_raises_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "vgg16_notop.h5"
    with pytest.raises(FileNotFoundError, match="VGG16 weights file not found"):
        vgg16.export(tmp_path / "model_repository", weights=str(missing))
    assert not (tmp_path / "model_repository").exists()
