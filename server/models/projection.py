"""Text → image-space projection (`text_to_image`), so a keyword finds products that have
no title: the text encoder's query vector is mapped into an image model's space and
searched against the image index.

Trained on the catalog's (title embedding, image embedding) pairs with the image tower
locked: ridge regression is the baseline, a contrastive (InfoNCE) fit started from it is
the default. So that a keyword need not resemble the catalog's whole titles, the pairs are
augmented with short spans of the titles (`title_spans`) and with the category names of
every categorised product (server/service/training.py). Exported as a tiny ONNX graph
(MatMul + L2 normalisation) that Triton serves as a new model version on every retrain.
Each catalog has its own: the Triton model `text_to_image__<catalog id>`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from server.models import trained

MODEL_PREFIX = trained.PREFIXES[0]
INPUT_NAME = "text_embeddings"
OUTPUT_NAME = "image_embeddings"
OPSET = 18


# CJK ideographs: their words are not separated by spaces, so such a word is split per character.
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[\w'\-]+")


def title_spans(title: str, longest: int = 3) -> list[str]:
    """The short phrases inside a title that a shopper might type: runs of up to `longest`
    words of a Latin-script stretch, and the last 1 to `longest` characters of each CJK word
    (Chinese compounds end in their head noun, 公主裙 → 主裙, 裙, while inner character
    pairs are mostly not words: 女款真皮 → 款真). The title itself is not among them."""
    spans: set[str] = set()
    latin: list[str] = []

    def add_latin_runs() -> None:
        for n in range(1, longest + 1):
            spans.update(" ".join(latin[i : i + n]) for i in range(len(latin) - n + 1))
        latin.clear()

    for word in _WORD.findall(title):
        if not _CJK.search(word):
            latin.append(word)
            continue
        add_latin_runs()
        units = [u for u in re.split(f"({_CJK.pattern})", word) if u]  # T恤 → T, 恤
        spans.update("".join(units[-n:]) for n in range(1, min(longest, len(units)) + 1))
    add_latin_runs()
    spans.discard(title)
    return sorted(spans)


SPAN_SHARE = 0.25  # of the (title span, image) pairs fitted on, drawn at random (dev-chosen)
MAX_SPAN_TEXTS = 20_000  # distinct spans per training, at most


def sampled_spans(titles: list[str], seed: int = 0) -> list[tuple[str, int]]:
    """(span, index of its title) pairs to fit on: SPAN_SHARE of every title's spans, drawn
    at random, of at most MAX_SPAN_TEXTS distinct spans."""
    rng = np.random.default_rng(seed)
    spans = [
        (span, row)
        for row, title in enumerate(titles)
        for span in title_spans(title)
        if rng.random() < SPAN_SHARE
    ]
    distinct = sorted({span for span, _ in spans})
    if len(distinct) > MAX_SPAN_TEXTS:
        kept = set(rng.choice(distinct, MAX_SPAN_TEXTS, replace=False))
        spans = [(span, row) for span, row in spans if span in kept]
    return spans


def fit_ridge(text: np.ndarray, image: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """W minimising ‖text·W − image‖² + alpha‖W‖²: [text dim, image dim]."""
    text = np.asarray(text, dtype=np.float64)
    gram = text.T @ text + alpha * np.eye(text.shape[1])
    return np.linalg.solve(gram, text.T @ np.asarray(image, dtype=np.float64)).astype(np.float32)


def fit_contrastive(
    text: np.ndarray,
    image: np.ndarray,
    start: np.ndarray,
    *,
    temperature: float = 0.1,
    learning_rate: float = 1e-3,
    batch_size: int = 256,
    max_epochs: int = 50,
    patience: int = 2,
    seed: int = 0,
) -> tuple[np.ndarray, int]:
    """InfoNCE from projected text to the (fixed) image embeddings of a batch; pairs whose
    texts are identical (many products share a title) all count as positives. A tenth of the
    pairs is held out and training stops when their loss stops falling: with few distinct
    titles the fit overfits within a few epochs and forgets the text encoder's neighbourhoods
    that carry other languages. Returns the weights of the best epoch and that epoch."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    weights = torch.nn.Parameter(torch.from_numpy(np.asarray(start, dtype=np.float32).copy()))
    texts = torch.from_numpy(np.asarray(text, dtype=np.float32))
    images = torch.from_numpy(np.asarray(image, dtype=np.float32))
    order = torch.randperm(len(texts), generator=generator)
    held_out, training = order[: max(len(texts) // 10, 1)], order[max(len(texts) // 10, 1) :]

    def loss_of(batch: torch.Tensor) -> torch.Tensor:
        projected = torch.nn.functional.normalize(texts[batch] @ weights, dim=1)
        log_probs = (projected @ images[batch].T / temperature).log_softmax(dim=1)
        positives = (texts[batch] @ texts[batch].T > 0.9999).float()
        return -((log_probs * positives).sum(1) / positives.sum(1)).mean()

    optimizer = torch.optim.Adam([weights], lr=learning_rate)
    with torch.no_grad():
        best_loss, best_weights, best_epoch = loss_of(held_out).item(), weights.detach().clone(), 0
    for epoch in range(1, max_epochs + 1):
        shuffled = training[torch.randperm(len(training), generator=generator)]
        for begin in range(0, len(shuffled), batch_size):
            loss = loss_of(shuffled[begin : begin + batch_size])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            held_out_loss = loss_of(held_out).item()
        if held_out_loss < best_loss:
            best_loss, best_weights, best_epoch = held_out_loss, weights.detach().clone(), epoch
        elif epoch - best_epoch >= patience:
            break
    return best_weights.numpy(), best_epoch


def project(text: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """What the ONNX graph computes, in numpy: L2-normalised text·W."""
    projected = np.asarray(text, dtype=np.float32) @ weights
    return projected / np.maximum(np.linalg.norm(projected, axis=1, keepdims=True), 1e-12)


def model_name(catalog_id: str) -> str:
    """The Triton model that serves `catalog_id`'s projection."""
    return MODEL_PREFIX + catalog_id


def projection_graph(weights: np.ndarray):  # -> onnx.ModelProto
    """text_embeddings [N, T] → image_embeddings [N, I], L2-normalised."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    text_dim, image_dim = weights.shape
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [INPUT_NAME, "weights"], ["projected"]),
            helper.make_node("LpNormalization", ["projected"], [OUTPUT_NAME], axis=1, p=2),
        ],
        "text_to_image",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", text_dim])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", image_dim])],
        [numpy_helper.from_array(np.asarray(weights, dtype=np.float32), "weights")],
    )
    # IR 10: what ONNX Runtime 1.31 (and Triton's onnxruntime backend) reads.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=10)
    onnx.checker.check_model(model)
    return model


def write_version(repository: Path, model: str, weights: np.ndarray, image_model: str, training: dict) -> int:
    """Write `weights` as the next version of `model`; returns the version number."""
    record = {"image_model": image_model, **training}
    config = _config(model, weights.shape, image_model)
    return trained.write_version(repository, model, projection_graph(weights), config, record)


def _config(model: str, shape: tuple[int, ...], image_model: str) -> str:
    text_dim, image_dim = shape
    return f"""# {model}: text encoder embeddings → {image_model}'s image space, L2-normalised.
# Written by server/models/projection.py; every retrain adds a numbered version, Triton serves the latest.
name: "{model}"
backend: "onnxruntime"
max_batch_size: 128
input [ {{ name: "{INPUT_NAME}" data_type: TYPE_FP32 dims: [ {text_dim} ] }} ]
output [ {{ name: "{OUTPUT_NAME}" data_type: TYPE_FP32 dims: [ {image_dim} ] }} ]
instance_group [ {{ count: 1 kind: KIND_GPU }} ]
dynamic_batching {{ max_queue_delay_microseconds: 500 }}
parameters {{ key: "image_model" value: {{ string_value: "{image_model}" }} }}
"""
