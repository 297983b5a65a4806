"""Offline trial of the catalog-trained image head (server/models/image_head.py) on the
held-out protocol (evaluation/protocol.py), before it is wired into the gateway.

For each part: embed its Fashion-MNIST catalog and queries with the image model's ONNX
file in this process (as Triton would: uint8 images resized to the model's input, the
graph normalises), fit the head on the catalog's embeddings and categories (the catalog
knows them), and compare image → image precision@10 of the part's queries against the
catalog, exact cosine search, raw embeddings vs through the head. Choose settings on dev;
the test figure is what to report.

    python -m evaluation.head_trial --repository model_repository [--parts dev]
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import numpy as np

from bench.machine import describe_machine
from evaluation import protocol
from server.models import image_head
from server.models.images import resize_for_model
from server.tools import fashion_mnist

IMAGE_MODEL = "efficientnet_lite0"
IMAGE_SIZE = 224


def embed(session, images: np.ndarray, batch: int = 64) -> np.ndarray:
    """uint8 [N, 28, 28] grey → L2-normalised embeddings, as the gateway sends them."""
    out = []
    for start in range(0, len(images), batch):
        rgb = [
            resize_for_model(np.repeat(image[:, :, None], 3, axis=2), IMAGE_SIZE)
            for image in images[start : start + batch]
        ]
        (embeddings,) = session.run(["embeddings"], {"images": np.stack(rgb)})
        out.append(embeddings)
    return np.concatenate(out)


def cached_embeddings(session, cache: Path, name: str, images: np.ndarray) -> np.ndarray:
    path = cache / f"{name}.npy"
    if path.exists():
        return np.load(path)
    vectors = embed(session, images)
    np.save(path, vectors)
    return vectors


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--parts", default="dev,test")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/head-trial-cache"))
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--output-dim", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=60)
    args = parser.parse_args()

    import onnxruntime as ort

    session = ort.InferenceSession(
        str(args.repository / IMAGE_MODEL / "1" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    args.cache.mkdir(parents=True, exist_ok=True)
    train, test = fashion_mnist.load("train"), fashion_mnist.load("test")
    splits = protocol.image_splits(train.labels, test.labels, protocol.Sizes())
    print(f"machine: {describe_machine()}; date {datetime.date.today()}; model {IMAGE_MODEL}")
    print("| part | catalog | queries | raw P@10 | head P@10 | held out in catalog: raw → head | epoch | s |")
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    for part in args.parts.split(","):
        split = splits[part]
        catalog = cached_embeddings(session, args.cache, f"{part}-catalog", train.images[split.catalog])
        queries = cached_embeddings(session, args.cache, f"{part}-queries", test.images[split.queries])
        labels, query_labels = train.labels[split.catalog], test.labels[split.queries]
        started = time.perf_counter()
        fit = image_head.fit_supcon(
            catalog,
            labels,
            hidden=args.hidden,
            output=args.output_dim,
            temperature=args.temperature,
            max_epochs=args.epochs,
        )
        seconds = time.perf_counter() - started
        raw = image_head.precision_at_10(queries, query_labels, catalog, labels)
        head = image_head.precision_at_10(
            image_head.apply(queries, fit.weights),
            query_labels,
            image_head.apply(catalog, fit.weights),
            labels,
        )
        print(
            f"| {part} | {len(catalog):,} | {len(queries):,} | {raw:.3f} | {head:.3f} | "
            f"{fit.before_p10:.3f} → {fit.after_p10:.3f} | {fit.epochs} | {seconds:.0f} |"
        )


if __name__ == "__main__":
    main()
