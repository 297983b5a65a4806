"""VGG16 conv trunk (Keras) → ONNX: uint8 NHWC images in, 512-d L2-normalised embeddings out.

Resize, caffe preprocessing, pooling and normalisation live inside the graph, so every
client sends raw uint8 pixels of any size. Converted with `tf2onnx.convert.from_function`
(`from_keras` does not work with Keras 3), checked against the TensorFlow reference and
pinned in the manifest.
"""

from __future__ import annotations

import logging
import os
import re
import time
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
    run_onnx,
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
OPSET = 17
RANDOM_SEED = 0
# Keras' "caffe" mode: BGR channel order, ImageNet means subtracted, no scaling.
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
# Keeps an all-zero embedding (possible after ReLU) finite instead of NaN.
L2_EPSILON = 1e-12
# Names tf2onnx makes up: "roi__6", "Transpose__7", "Transpose__7:0".
_TF2ONNX_NAME = re.compile(r"__(?P<number>\d+)(?P<port>:\d+)?$")


def describe_weights(weights: str) -> str:
    """Manifest string for `weights`: "keras:imagenet", "random:seed=0" or "h5:<sha256>".

    Raises FileNotFoundError for a path that does not exist, before TensorFlow is loaded.
    """
    if weights == "imagenet":
        return "keras:imagenet"
    if weights == "random":
        return f"random:seed={RANDOM_SEED}"
    return f"h5:{sha256_file(_weights_file(weights))}"


def _weights_file(weights: str) -> Path:
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(
            f"VGG16 weights file not found: {weights!r}; pass 'imagenet', 'random' or the "
            "path to a Keras VGG16 no-top .h5 file "
            "(vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5)"
        )
    return path


def _build_trunk(weights: str) -> Any:
    """Keras VGG16 without its classifier, at the fixed 224x224 input the graph resizes to."""
    import keras

    # Fresh global state: deterministic layer names and, for "random", the same init.
    keras.backend.clear_session()
    shape = (IMAGE_SIZE, IMAGE_SIZE, 3)
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


def build_reference(weights: str) -> Callable[[Any], Any]:
    """The TensorFlow graph that is exported: a tf.function taking a uint8 [N, H, W, 3]
    batch and returning L2-normalised float32 [N, 512] embeddings."""
    import tensorflow as tf

    trunk = _build_trunk(weights)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name=INPUT_NAME)])
    def embed(images: tf.Tensor) -> tf.Tensor:
        pixels = tf.cast(images, tf.float32)
        # Always resized: a no-op at 224x224, and one graph for every input size.
        pixels = tf.image.resize(pixels, (IMAGE_SIZE, IMAGE_SIZE), method="bilinear")
        # Made inside the function: an eager tensor would be captured as a second graph input.
        mean = tf.constant(CAFFE_BGR_MEAN, dtype=tf.float32)
        pixels = tf.reverse(pixels, axis=[-1]) - mean  # RGB -> BGR, caffe means
        features = trunk(pixels, training=False)
        pooled = tf.reduce_mean(features, axis=[1, 2])
        return tf.math.l2_normalize(pooled, axis=1, epsilon=L2_EPSILON)

    return embed


def _settings() -> dict[str, Any]:
    import tensorflow as tf
    import tf2onnx

    return {
        "image_size": IMAGE_SIZE,
        "opset": OPSET,
        "preprocessing": "caffe",
        "pooling": "avg",
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
    # tf2onnx names the output after the TF tensor (e.g. "Identity:0"); Triton needs ours.
    (output,) = model.graph.output
    if output.name != OUTPUT_NAME:
        old = output.name
        _LOGGER.debug("renaming ONNX output %s to %s", old, OUTPUT_NAME)
        for node in model.graph.node:
            node.output[:] = [OUTPUT_NAME if name == old else name for name in node.output]
            node.input[:] = [OUTPUT_NAME if name == old else name for name in node.input]
        output.name = OUTPUT_NAME
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
    _canonicalise_names(model)
    # tf2onnx writes the traced function's name, which carries a per-process counter.
    model.graph.doc_string = "VGG16 conv trunk, avg pool, L2: exporters/vgg16.py"
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
    """Reference vs ONNX Runtime on real photos, at 224x224 and at an original size."""
    photos = sample_images()
    batch = np.stack([resize_for_model(photo, IMAGE_SIZE) for photo in photos])
    # The smallest photo keeps the check fast; its aspect ratio is not 1, like most uploads.
    original = min(photos, key=lambda photo: photo.shape[0] * photo.shape[1])[np.newaxis]
    results: dict[str, float] = {}
    for name, images in (("resized_224", batch), ("original_size", original)):
        expected = reference(images).numpy()
        exported = run_onnx(path, {INPUT_NAME: images})
        result = compare_embeddings(expected, exported, f"{MODEL_NAME} {name}")
        results.update({f"{name}_{key}": value for key, value in result.items()})
        _LOGGER.info("%s parity on %s %s: %s", MODEL_NAME, name, images.shape, result)
    results["min_cosine"] = min(v for k, v in results.items() if k.endswith("_min_cosine"))
    results["max_abs_diff"] = max(v for k, v in results.items() if k.endswith("_max_abs_diff"))
    return results


def _existing(repository: Path, weights_desc: str, settings: Mapping[str, Any]) -> ExportRecord | None:
    if not is_current(repository, MODEL_NAME, weights_desc, settings):
        return None
    return ExportRecord(**read_manifest(repository)[MODEL_NAME])


def export(repository: Path, *, weights: str = "imagenet", force: bool = False) -> ExportRecord:
    """Export VGG16 to `<repository>/vgg16/1/model.onnx`, check it against TensorFlow and
    record it in the manifest; a no-op when the manifest already has this export.

    `weights`: "imagenet" (Keras downloads them; needs the internet), the path to a local
    Keras VGG16 no-top .h5 file, or "random" (seeded, for tests).
    """
    repository = Path(repository)
    weights_desc = describe_weights(weights)
    settings = _settings()
    if not force and (record := _existing(repository, weights_desc, settings)) is not None:
        _LOGGER.info("%s is current (%s), not re-exported", record.file, weights_desc)
        return record

    started = time.perf_counter()
    reference = build_reference(weights)
    model = _convert(reference)

    import onnx

    path = onnx_path(repository, MODEL_NAME)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Checked before it replaces the served file: a failed parity check leaves the old one.
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        onnx.save(model, str(staged))
        parity = _parity(reference, staged)
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
    return export(repository, weights=(options or {}).get("vgg16_weights", "imagenet"), force=force)
