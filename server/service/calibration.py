"""Calibrated fusion of signals from different spaces (a keyword search over titles and,
through the catalog's projection, images).

Cosines of different spaces are not on one scale: a keyword's cosines with titles run
higher than its projected cosines with images, so ranking by the best raw cosine let a
titled product win for being titled. Each signal is therefore measured against how the
same query scores on that space as a whole: z = (cosine − mean) / std of the query's cosines
with a reference sample of the space's stored vectors (REFERENCE_SIZE, drawn at random), and
a hit ranks by its best z. That needs no training and no labels, so it holds for any title
vocabulary or language. Measured in evaluation/FUSION.md.

A reference is drawn when a search first needs it and again once it is REFRESH_S old: the
catalog moves slowly against it, and a draw costs a few ms (index seeks plus one fetch).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from server.catalog.store import CatalogStore
from server.index.store import VectorStore

REFERENCE_SIZE = 512
REFRESH_S = 600.0
MIN_REFERENCE = 16  # fewer stored vectors than this: no scale to measure against
MIN_SPREAD = 1e-3  # a floor on the std (a space of near-identical vectors)


@dataclass(frozen=True)
class Reference:
    """A random sample of one space's stored vectors."""

    vectors: np.ndarray  # (n, dim), L2-normalised as the space stores them
    drawn: float  # time.monotonic() of the draw

    def standardise(self, query: np.ndarray, scores: dict[int, float]) -> dict[int, float]:
        """Each cosine of `query` as standard deviations above its mean over the sample."""
        background = self.vectors @ (query / max(float(np.linalg.norm(query)), 1e-12))
        mean, spread = float(background.mean()), max(float(background.std()), MIN_SPREAD)
        return {key: (score - mean) / spread for key, score in scores.items()}


@dataclass
class References:
    """A catalog's reference samples, one per space, drawn lazily."""

    samples: dict[str, Reference] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _rng: np.random.Generator = field(default_factory=np.random.default_rng)

    def of(self, name: str, store: CatalogStore, space: VectorStore) -> Reference | None:
        """The space's reference, drawn again when missing or stale; None when the space
        holds too few vectors to give a scale."""
        now = time.monotonic()
        sample = self.samples.get(name)
        if sample is not None and now - sample.drawn < REFRESH_S:
            return sample
        with self._lock:  # one draw at a time per catalog; the others reuse it
            sample = self.samples.get(name)
            if sample is None or now - sample.drawn >= REFRESH_S:
                keys = store.sample_keys(name, REFERENCE_SIZE, self._rng)
                vectors = list(space.fetch(keys).values())
                sample = Reference(np.stack(vectors), now) if len(vectors) >= MIN_REFERENCE else None
                if sample is None:
                    self.samples.pop(name, None)
                else:
                    self.samples[name] = sample
            return sample
