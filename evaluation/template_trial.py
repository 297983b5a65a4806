"""Dev-only trial of template matching for copies of small images (issue 12, deliverable 3):
`python -m evaluation.template_trial` → stdout.

A Fashion-MNIST product is 28 px: too small for local features, and a crop of up to a
quarter per side leaves the pixel descriptor nothing to match (crop recall 0.00). But a crop
keeps the pixels' scale, so the query is a window of the catalog image: the image model's
nearest products are candidates, and normalised cross-correlation of the query slid over
each candidate's stored image (OpenCV matchTemplate, TM_CCOEFF_NORMED) finds the window.

The dev part of the held-out protocol as evaluation/copy_trial.py reads it: its catalog, each
copy source through every edit family (draw 0), distinct products edited through one family
each, catalog products as themselves. For each number of candidates and correlation
threshold: the recall per family this path adds (beside the descriptor, which it does not
replace), the copies it would wrongly flag, and the share of catalog products flagged.
Embeddings: efficientnet_lite0 with onnxruntime, as the gateway sends images to Triton.
"""

from __future__ import annotations

import io
import sys

import numpy as np
from PIL import Image

from evaluation import head_trial, protocol
from evaluation.copy_trial import negative
from evaluation.heldout import product_id
from server.models import templates
from server.models.images import encode_jpeg, resize_for_model
from server.service.ingest import STORED_IMAGE_SIDE
from server.tools import fashion_mnist

PART = "dev"
IMAGE_MODEL = head_trial.IMAGE_MODEL
CANDIDATES = (10, 20, 50)
THRESHOLDS = (0.98, 0.99, 0.993, 0.995)


def stored(pixels: np.ndarray) -> np.ndarray:
    """A catalog image as the gateway keeps it (server/service/ingest.py)."""
    return np.asarray(Image.open(io.BytesIO(encode_jpeg(pixels, STORED_IMAGE_SIDE))).convert("RGB"))


def main() -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(
        f"model_repository/{IMAGE_MODEL}/1/model.onnx", providers=["CPUExecutionProvider"]
    )

    def embed(pixels: np.ndarray) -> np.ndarray:
        (vectors,) = session.run(["embeddings"], {"images": resize_for_model(pixels, 224)[None]})
        return vectors[0]

    train, test = fashion_mnist.load("train"), fashion_mnist.load("test")
    split = protocol.image_splits(train.labels, test.labels, protocol.Sizes())[PART]
    keys = np.asarray(split.catalog)
    catalog = head_trial.embed(session, train.images[keys])
    print("catalog embedded", file=sys.stderr, flush=True)
    kept = {int(k): stored(train.rgb(int(k))) for k in keys}

    def scores(picture: Image.Image, exclude: int = -1) -> list[tuple[int, float]]:
        """(candidate, correlation) for the nearest max(CANDIDATES), nearest first."""
        pixels = np.asarray(picture.convert("RGB"))
        nearest = np.argsort(-(catalog @ embed(pixels)))[: max(CANDIDATES) + 1]
        found = []
        for row in nearest:
            key = int(keys[row])
            if key != exclude:
                found.append((key, templates.correlation(pixels, kept[key])))
        return found[: max(CANDIDATES)]

    copies = []  # (source, family, scores)
    for source in map(int, split.copies):
        for family in protocol.FAMILIES:
            picture = Image.fromarray(train.rgb(source))
            copy = protocol.edit(picture, family, protocol.copy_rng(PART, product_id(source), family, 0))
            copies.append((source, family, scores(copy)))
    print("copies done", file=sys.stderr, flush=True)
    negatives = [scores(negative(test, int(index), n)) for n, index in enumerate(split.negatives)]
    themselves = [scores(Image.fromarray(train.rgb(int(k))), exclude=int(k)) for k in split.flagged]
    print(
        f"dev: {len(keys)} catalog products, {len(copies)} copies, {len(negatives)} distinct products,"
        f" {len(themselves)} catalog products as themselves\n"
    )
    print(
        "| candidates | correlation ≥ | recall added: crop | all families | other families "
        "| false positives | catalog products flagged |"
    )
    print("|---:|---:|---:|---:|---|---:|---:|")
    for count in CANDIDATES:
        for threshold in THRESHOLDS:
            found = {family: [] for family in protocol.FAMILIES}
            false = 0
            for source, family, hits in copies:
                top = hits[:count]
                found[family].append(any(k == source and s >= threshold for k, s in top))
                false += sum(1 for k, s in top if k != source and s >= threshold)
            false += sum(1 for hits in negatives for _, s in hits[:count] if s >= threshold)
            flagged = np.mean([any(s >= threshold for _, s in hits[:count]) for hits in themselves])
            others = " ".join(
                f"{family} {np.mean(v):.2f}" for family, v in found.items() if family != "crop" and np.mean(v)
            )
            every = np.mean([x for v in found.values() for x in v])
            print(
                f"| {count} | {threshold} | {np.mean(found['crop']):.3f} | {every:.3f} | {others} "
                f"| {false} | {flagged:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
