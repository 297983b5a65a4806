"""Offline trial of keyword → image projections on the held-out protocol's dev part
(issue 12, deliverable 4), before anything is wired into the gateway.

For each dev title vocabulary: embed the dev catalog and titled pool images (Lite0 ONNX) and
the pool's titles and the dev query words (the text encoder's ONNX, the gateway's
tokenizer) in this process; fit each candidate projection on the pool's (title, image)
pairs; P@10 of every dev query word against the untitled catalog, exact cosine search.

- linear: what TrainProjection does today (ridge, then InfoNCE; server/models/projection.py)
- attention(τ): the query attends over the pool's title embeddings (softmax of cosine / τ)
  and returns the same mix of their image embeddings — the text encoder's own
  neighbourhoods decide, nothing is fitted
- blend: the normalised sum of the two
- linear + spans / + categories / + both: the linear fit on more pairs, as TrainProjection
  fits today: sampled spans of the titles (`projection.sampled_spans`) with their product's
  image, and the category name of every categorised product (the untitled catalog and the
  pool) with its image

    python -m evaluation.projection_trial --repository model_repository
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import numpy as np

from bench.machine import describe_machine
from evaluation import protocol
from evaluation.head_trial import IMAGE_MODEL, cached_embeddings
from server.models import projection
from server.models.text import Tokenizer, sentencepiece_model
from server.service.calibration import unit
from server.tools import fashion_mnist

PART = "dev"


def embed_texts(session, tokenizer: Tokenizer, texts: list[str], batch: int = 64) -> np.ndarray:
    out = []
    for start in range(0, len(texts), batch):
        ids, mask = tokenizer.encode_batch(texts[start : start + batch])
        (vectors,) = session.run(["embeddings"], {"input_ids": ids, "attention_mask": mask})
        out.append(vectors)
    return unit(np.concatenate(out))


def attention(queries: np.ndarray, keys: np.ndarray, values: np.ndarray, temperature: float) -> np.ndarray:
    logits = (queries @ keys.T) / temperature
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return unit(weights @ values)


def precision(
    projected: np.ndarray, catalog: np.ndarray, labels: np.ndarray, wanted: list[int]
) -> np.ndarray:
    top = np.argsort(-(projected @ catalog.T), axis=1)[:, :10]
    return (labels[top] == np.array(wanted)[:, None]).mean(axis=1)


def fit(queries: np.ndarray, texts: np.ndarray, images: np.ndarray) -> np.ndarray:
    """The queries projected by what TrainProjection fits on these pairs (ridge, then InfoNCE)."""
    weights = projection.fit_contrastive(texts, images, projection.fit_ridge(texts, images))[0]
    return projection.project(queries, weights)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/head-trial-cache"))
    args = parser.parse_args()

    import onnxruntime as ort

    def session(model: str):
        path = args.repository / model / "1" / "model.onnx"
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    images, texts = session(IMAGE_MODEL), session("text_encoder")
    tokenizer = Tokenizer(sentencepiece_model())
    args.cache.mkdir(parents=True, exist_ok=True)
    train, test = fashion_mnist.load("train"), fashion_mnist.load("test")
    split = protocol.image_splits(train.labels, test.labels, protocol.Sizes())[PART]
    catalog = cached_embeddings(images, args.cache, f"{PART}-catalog", train.images[split.catalog])
    pool = cached_embeddings(images, args.cache, f"{PART}-titled", train.images[split.titled])
    labels = train.labels[split.catalog]
    category_names = embed_texts(texts, tokenizer, list(protocol.CATEGORIES))
    category_texts = category_names[np.concatenate([labels, train.labels[split.titled]])]
    category_images = np.concatenate([catalog, pool])
    queries = protocol.query_words(PART)
    query_vectors = embed_texts(texts, tokenizer, [q.text for q in queries])
    wanted = [q.category for q in queries]
    print(f"machine: {describe_machine()}; date {datetime.date.today()}; dev part only")
    print(
        "| titles | projection | "
        + " | ".join(protocol.GROUP_NAMES[g] for g in protocol.GROUPS)
        + " | mean |"
    )
    print("|" + "---|" * (len(protocol.GROUPS) + 3))
    for vocabulary in protocol.PART_VOCABULARIES[PART]:
        title_texts = protocol.titles(vocabulary, PART, train.labels[split.titled])
        titles = embed_texts(texts, tokenizer, title_texts)
        spans = projection.sampled_spans(title_texts)
        span_texts = embed_texts(texts, tokenizer, [span for span, _ in spans])
        span_images = pool[[row for _, row in spans]]
        linear = fit(query_vectors, titles, pool)
        candidates = {
            "linear": linear,
            "linear + spans": fit(
                query_vectors, np.concatenate([titles, span_texts]), np.concatenate([pool, span_images])
            ),
            "linear + categories": fit(
                query_vectors,
                np.concatenate([titles, category_texts]),
                np.concatenate([pool, category_images]),
            ),
            "**linear + spans + categories**": fit(
                query_vectors,
                np.concatenate([titles, span_texts, category_texts]),
                np.concatenate([pool, span_images, category_images]),
            ),
        }
        for temperature in (0.02, 0.05, 0.1):
            attended = attention(query_vectors, titles, unit(pool), temperature)
            candidates[f"attention τ={temperature}"] = attended
            candidates[f"blend τ={temperature}"] = unit(linear + attended)
        for name, projected in candidates.items():
            scores = precision(projected, unit(catalog), labels, wanted)
            pairs = list(zip(scores, queries, strict=True))
            groups = [float(np.mean([s for s, q in pairs if q.group == g])) for g in protocol.GROUPS]
            cells = " | ".join(f"{g:.3f}" for g in groups)
            print(f"| `{vocabulary}` | {name} | {cells} | {np.mean(groups):.3f} |", flush=True)


if __name__ == "__main__":
    main()
