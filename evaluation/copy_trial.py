"""Offline dev trial of copy descriptors on Fashion-MNIST (issue 12, deliverable 3), before
anything is wired into the gateway: `python -m evaluation.copy_trial` → stdout.

The dev part of the held-out protocol (evaluation/protocol.py) as evaluation/heldout.py
sends it through FindDuplicates — its catalog, each copy source through every edit family,
distinct products edited through one family each, catalog products as themselves — with
exact search over each variant's descriptors in this process. For each variant the table
gives recall per family and precision at the threshold that keeps dev precision ≥ 0.99 and
at most 1 % of catalog products flagged (chosen here, on dev).

- gray16: the service's descriptor (server/models/copy_descriptor.py)
- trimmed: the same after cutting uniform margins off every side, again until none is
  left (a frame, then the product's own background), so borders and letterbox bars go
- union: gray16's hypotheses and the trimmed image's together (`python -m
  evaluation.copy_trial union` runs one variant)
- rotated: union, the query also turned back by ±4 and 8°; blurred: union plus a stored
  blurred copy; both / both6: the two together, with ±4, 8° or ±3, 6, 9° — both6 is
  descriptor v3 (server/models/copy_descriptor.py)
"""

from __future__ import annotations

import sys

import numpy as np
from PIL import Image, ImageFilter

from evaluation import protocol
from evaluation.heldout import product_id
from server.models import copy_descriptor as gray16
from server.tools import fashion_mnist

PART = "dev"
TOLERANCE = 24  # grey levels: a margin row or column varies less than this from its median


def trim(grey: np.ndarray) -> np.ndarray:
    """Cut rows and columns whose pixels all lie within TOLERANCE of the outermost pixels'
    median, from every side, until none is left or the image would vanish."""
    for _ in range(4):
        edge = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        background = np.median(edge)
        content = np.abs(grey.astype(np.int16) - background) > TOLERANCE
        rows, columns = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
        if len(rows) < 4 or len(columns) < 4:
            return grey
        cut = grey[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
        if cut.shape == grey.shape:
            return grey
        grey = cut
    return grey


def trimmed_descriptors(pixels: np.ndarray, catalog: bool) -> np.ndarray:
    grey = Image.fromarray(trim(np.asarray(Image.fromarray(pixels).convert("L"))))
    crops = gray16.CROP_FRACTIONS if catalog else (0.0,)
    vectors = np.stack([gray16._describe(grey, crop) for crop in crops])
    return vectors if catalog else np.concatenate([vectors, [gray16.mirror(vectors[0])]])


def union_descriptors(pixels: np.ndarray, catalog: bool) -> np.ndarray:
    """gray16's hypotheses plus the trimmed image's (uncropped on the catalog side)."""
    if catalog:
        return np.concatenate([gray16.catalog_descriptors(pixels), trimmed_descriptors(pixels, True)[:1]])
    return np.concatenate([gray16.query_descriptors(pixels), trimmed_descriptors(pixels, False)])


ROTATIONS = (-8.0, -4.0, 4.0, 8.0)  # query-side hypotheses for small rotations


def edge_fill(grey: Image.Image) -> int:
    pixels = np.asarray(grey)
    return int(np.median(np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])))


def rotated_descriptors(pixels: np.ndarray, catalog: bool) -> np.ndarray:
    """union, plus the query turned back by each of ROTATIONS (the corners filled with the
    image's edge colour)."""
    base = union_descriptors(pixels, catalog)
    if catalog:
        return base
    grey = Image.fromarray(pixels).convert("L")
    turned = [
        gray16._describe(
            grey.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=edge_fill(grey)), 0.0
        )
        for angle in ROTATIONS
    ]
    return np.concatenate([base, turned])


def blurred_descriptors(pixels: np.ndarray, catalog: bool) -> np.ndarray:
    """union, plus a blurred copy of the catalog image (radius 1 px per 28 px of its side)."""
    base = union_descriptors(pixels, catalog)
    if not catalog:
        return base
    grey = Image.fromarray(pixels).convert("L")
    blurred = grey.filter(ImageFilter.GaussianBlur(max(grey.size) / 28))
    return np.concatenate([base, [gray16._describe(blurred, 0.0)]])


def both_descriptors(pixels: np.ndarray, catalog: bool, rotations=ROTATIONS) -> np.ndarray:
    """rotated and blurred together."""
    if catalog:
        return blurred_descriptors(pixels, True)
    grey = Image.fromarray(pixels).convert("L")
    turned = [
        gray16._describe(
            grey.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=edge_fill(grey)), 0.0
        )
        for angle in rotations
    ]
    return np.concatenate([union_descriptors(pixels, False), turned])


VARIANTS = {
    "gray16": lambda pixels, catalog: (
        gray16.catalog_descriptors(pixels) if catalog else gray16.query_descriptors(pixels)
    ),
    "trimmed": trimmed_descriptors,
    "union": union_descriptors,
    "rotated": rotated_descriptors,
    "blurred": blurred_descriptors,
    "both": both_descriptors,
    "both6": lambda pixels, catalog: both_descriptors(pixels, catalog, (-9.0, -6.0, -3.0, 3.0, 6.0, 9.0)),
    "blur2": lambda pixels, catalog: stronger_blur(pixels, catalog, 2.0),
    "blur3": lambda pixels, catalog: stronger_blur(pixels, catalog, 3.0),
}


def stronger_blur(pixels: np.ndarray, catalog: bool, radius: float) -> np.ndarray:
    """v3, plus a second stored blurred copy, `radius` px per 28 px of the side."""
    if not catalog:
        return gray16.query_descriptors(pixels)
    grey = Image.fromarray(pixels).convert("L")
    blurred = grey.filter(ImageFilter.GaussianBlur(max(grey.size) * radius / 28))
    return np.concatenate([gray16.catalog_descriptors(pixels), [gray16._describe(blurred, 0.0)]])


def negative(test: fashion_mnist.Split, index: int, n: int) -> Image.Image:
    """A distinct product through one family, as evaluation/heldout.py sends it."""
    family = protocol.negative_family(n)
    picture = Image.fromarray(test.rgb(index))
    return protocol.edit(picture, family, protocol.copy_rng(PART, f"test-{index:05d}", family))


def rgb(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture.convert("RGB"))


def best_scores(queries: np.ndarray, stored: np.ndarray, owners: np.ndarray, top: int = 10):
    """Per query: the best score per catalog product, top `top` products (key, score)."""
    results = []
    for query in queries:
        scores = (stored @ query.T).max(axis=1)
        order = np.argsort(-scores)
        seen: dict[int, float] = {}
        for index in order:
            owner = int(owners[index])
            if owner not in seen:
                seen[owner] = float(scores[index])
                if len(seen) == top:
                    break
        results.append(seen)
    return results


PARTIAL_KEEPS = (0.85, 0.9, 0.93, 0.95)
PARTIAL_MINIMA = (0.999, 0.9992, 0.9994, 0.9996)


def partial_sweep(split, image: dict[int, Image.Image], test: fashion_mnist.Split) -> None:
    """v3 at the service's threshold, or a partial match among its 10 nearest products."""
    stored = np.stack([gray16.catalog_descriptors(rgb(image[i])) for i in split.catalog])
    keys, flat = np.asarray(split.catalog), stored.reshape(-1, gray16.DIM)
    copies = [(int(s), f) for s in split.copies for f in protocol.FAMILIES]
    queries = {
        "copies": [
            gray16.query_descriptors(
                rgb(protocol.edit(image[s], f, protocol.copy_rng(PART, product_id(s), f, 0)))
            )
            for s, f in copies
        ],
        "negatives": [
            gray16.query_descriptors(rgb(negative(test, int(n), k))) for k, n in enumerate(split.negatives)
        ],
        "flagged": [gray16.query_descriptors(rgb(image[int(i)])) for i in split.flagged],
    }
    nearest = {
        name: [np.argsort(-(flat @ q.T).max(axis=1).reshape(len(keys), -1).max(axis=1))[:10] for q in rows]
        for name, rows in queries.items()
    }
    threshold = 0.997
    print("| keep | minimum | recall | precision | flagged | recall per family |")
    print("|---:|---:|---:|---:|---:|---|")
    for keep in PARTIAL_KEEPS:
        # per query: (key, v3 cosine, partial similarity) of its 10 nearest
        scored = {
            name: [
                [
                    (
                        int(keys[o]),
                        float((stored[o] @ q.T).max()),
                        gray16.partial_similarity(q, stored[o], keep),
                    )
                    for o in order
                ]
                for q, order in zip(queries[name], nearest[name], strict=True)
            ]
            for name in queries
        }
        for minimum in PARTIAL_MINIMA:

            def copy(cosine: float, partial: float, minimum: float = minimum) -> bool:
                return cosine >= threshold or partial >= minimum

            found = {f: [] for f in protocol.FAMILIES}
            true = false = 0
            for (source, family), hits in zip(copies, scored["copies"], strict=True):
                found[family].append(any(k == source and copy(c, p) for k, c, p in hits))
                true += found[family][-1]
                false += sum(k != source and copy(c, p) for k, c, p in hits)
            false += sum(copy(c, p) for hits in scored["negatives"] for _, c, p in hits)
            share = np.mean(
                [
                    any(k != int(i) and copy(c, p) for k, c, p in hits)
                    for i, hits in zip(split.flagged, scored["flagged"], strict=True)
                ]
            )
            recalls = " ".join(f"{f}:{np.mean(v):.2f}" for f, v in found.items())
            print(
                f"| {keep} | {minimum} | {true / len(copies):.3f} | {true / max(true + false, 1):.3f}"
                f" | {share:.3f} | {recalls} |",
                flush=True,
            )


def main() -> None:
    train, test = fashion_mnist.load("train"), fashion_mnist.load("test")
    split = protocol.image_splits(train.labels, test.labels, protocol.Sizes())[PART]
    image = {int(i): Image.fromarray(train.rgb(int(i))) for i in split.catalog}
    if sys.argv[1:] == ["partial"]:
        partial_sweep(split, image, test)
        return
    for name in sys.argv[1:] or VARIANTS:
        describe = VARIANTS[name]
        stored = [describe(rgb(image[i]), True) for i in split.catalog]
        owners = np.repeat(np.asarray(split.catalog), [len(s) for s in stored])
        matrix = np.concatenate(stored)
        copies = [(int(s), f) for s in split.copies for f in protocol.FAMILIES]
        copy_found = best_scores(
            [
                describe(rgb(protocol.edit(image[s], f, protocol.copy_rng(PART, product_id(s), f, 0))), False)
                for s, f in copies
            ],
            matrix,
            owners,
        )
        negatives = best_scores(
            [describe(rgb(negative(test, int(n), k)), False) for k, n in enumerate(split.negatives)],
            matrix,
            owners,
        )
        flagged = best_scores(
            [describe(rgb(image[int(i)]), False) for i in split.flagged], matrix, owners, top=2
        )
        for threshold in (0.99, 0.993, 0.995, 0.997, 0.998):
            found = {f: [] for f in protocol.FAMILIES}
            true = false = 0
            for (source, family), hits in zip(copies, copy_found, strict=True):
                found[family].append(hits.get(source, 0) >= threshold)
                true += hits.get(source, 0) >= threshold
                false += sum(score >= threshold for key, score in hits.items() if key != source)
            false += sum(score >= threshold for hits in negatives for score in hits.values())
            share = np.mean(
                [
                    any(s >= threshold for k, s in hits.items() if k != int(i))
                    for i, hits in zip(split.flagged, flagged, strict=True)
                ]
            )
            recalls = " ".join(f"{f}:{np.mean(v):.2f}" for f, v in found.items())
            precision = true / max(true + false, 1)
            print(
                f"{name} t={threshold}: recall {true / len(copies):.3f} precision {precision:.3f}"
                f" flagged {share:.3f} | {recalls}",
                flush=True,
            )


if __name__ == "__main__":
    main()
