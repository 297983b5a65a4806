"""Tuning the catalog-trained image head on the dev part only (issue 12): the settings of
`image_head.fit_supcon`, query expansion, and augmented views of the catalog's images.
The test part is never read here; its figure comes from `make eval-heldout` afterwards.

    python -m evaluation.head_sweep --repository model_repository

Prints a Markdown table (dev P@10 of the part's 1,000 image queries against its 10,000
catalog products, exact cosine top 10) for evaluation/HEAD_TRIAL.md.
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from bench.machine import describe_machine
from evaluation import protocol
from evaluation.head_trial import IMAGE_MODEL, cached_embeddings
from server.models import image_head
from server.tools import fashion_mnist

SETTINGS = [
    ("defaults (τ 0.1, 1280 → 1024 → 256, AdamW 1e-3, wd 1e-4)", {}),
    ("τ 0.05", {"temperature": 0.05}),
    ("τ 0.2", {"temperature": 0.2}),
    ("weight decay 1e-2", {"weight_decay": 1e-2}),
    ("hidden 2048", {"hidden": 2048}),
    ("output 128", {"output": 128}),
    ("patience 10", {"patience": 10}),
]


def expanded(queries: np.ndarray, catalog: np.ndarray, k: int) -> np.ndarray:
    """α query expansion (α 1): the query plus its k nearest catalog vectors, by score."""
    scores = queries @ catalog.T
    top = np.argsort(-scores, axis=1)[:, :k]
    weights = np.take_along_axis(scores, top, 1)
    out = queries + (catalog[top] * weights[..., None]).sum(1)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/head-trial-cache"))
    args = parser.parse_args()
    session = ort.InferenceSession(
        str(args.repository / IMAGE_MODEL / "1" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    args.cache.mkdir(parents=True, exist_ok=True)
    train, test = fashion_mnist.load("train"), fashion_mnist.load("test")
    split = protocol.image_splits(train.labels, test.labels, protocol.Sizes())["dev"]
    images = train.images[split.catalog]
    catalog = cached_embeddings(session, args.cache, "dev-catalog", images)
    queries = cached_embeddings(session, args.cache, "dev-queries", test.images[split.queries])
    labels, query_labels = train.labels[split.catalog], test.labels[split.queries]

    def crop(index: int, image: np.ndarray, seed: int = 0) -> np.ndarray:  # the gateway's view 1, at 28 px
        return np.asarray(Image.fromarray(image_head.augment(image, 1, seed=index + seed)).resize((28, 28)))

    def rotate(index: int, image: np.ndarray) -> np.ndarray:  # up to ±12°
        angle = np.random.default_rng(index + 7).uniform(-12, 12)
        return np.asarray(Image.fromarray(image).rotate(angle, resample=Image.BILINEAR))

    mirrored = cached_embeddings(session, args.cache, "dev-catalog-view0", images[:, :, ::-1].copy())
    cropped = cached_embeddings(
        session, args.cache, "dev-catalog-view1", np.stack([crop(i, im) for i, im in enumerate(images)])
    )
    mirrored_crop = cached_embeddings(
        session,
        args.cache,
        "dev-catalog-view2",
        np.stack([crop(i, im, 50000)[:, ::-1] for i, im in enumerate(images)]),
    )
    second_crop = cached_embeddings(
        session,
        args.cache,
        "dev-catalog-view3",
        np.stack([crop(i, im, 90000) for i, im in enumerate(images)]),
    )
    rotated = cached_embeddings(
        session, args.cache, "dev-catalog-view4", np.stack([rotate(i, im) for i, im in enumerate(images)])
    )

    def dev_p10(views: list[np.ndarray] | None = None, k: int = 0, **settings) -> tuple[float, int, float]:
        started = time.perf_counter()
        fit = image_head.fit_supcon(catalog, labels, views=views or (), **settings)
        heads_c, heads_q = image_head.apply(catalog, fit.weights), image_head.apply(queries, fit.weights)
        if k:
            heads_q = expanded(heads_q, heads_c, k)
        p10 = image_head.precision_at_10(heads_q, query_labels, heads_c, labels)
        return p10, fit.epochs, time.perf_counter() - started

    print(f"machine: {describe_machine()}; date {datetime.date.today()}; model {IMAGE_MODEL}; dev part only")
    print("| setting | dev P@10 | epoch kept | fit s |")
    print("|---|---:|---:|---:|")
    raw = image_head.precision_at_10(queries, query_labels, catalog, labels)
    print(f"| no head (the image model's embeddings) | {raw:.3f} | – | – |")
    runs = [(name, {**settings}) for name, settings in SETTINGS]
    runs += [
        ("defaults + query expansion, 10 neighbours", {"k": 10}),
        ("defaults + mirrored view", {"views": [mirrored]}),
        ("defaults + cropped view", {"views": [cropped]}),
        ("defaults + mirrored and cropped views (the gateway's)", {"views": [mirrored, cropped]}),
        ("the gateway's + a mirrored crop", {"views": [mirrored, cropped, mirrored_crop]}),
        (
            "the gateway's + a mirrored crop + a second crop",
            {"views": [mirrored, cropped, mirrored_crop, second_crop]},
        ),
        ("the gateway's + a rotation (±12°)", {"views": [mirrored, cropped, rotated]}),
        ("all five views", {"views": [mirrored, cropped, mirrored_crop, second_crop, rotated]}),
    ]
    for name, settings in runs:
        p10, epochs, seconds = dev_p10(**settings)
        print(f"| {name} | {p10:.3f} | {epochs} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
