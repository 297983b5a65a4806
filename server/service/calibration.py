"""Calibrated fusion of signals from different spaces (a keyword search over titles and,
through the catalog's projection, images).

Cosines of different spaces are not on one scale: a keyword's cosines with titles run
higher than its projected cosines with images, so ranking by the best raw cosine let a
titled product win for being titled. Two steps put them on one:

1. Standardise: z = (cosine − mean) / std of the query's cosines with a reference sample of
   the space's stored vectors (REFERENCE_SIZE, drawn at random), so each signal is measured
   against how the same query scores on that space as a whole.
2. Calibrate: P = 1 / (1 + exp(−(a·z + b))), with (a, b) per signal fitted by TrainProjection
   with the catalog's own category names as queries (`fit_relevance`). z alone was not
   enough: at equal z the image signal was right far more often than the title signal (dev
   part, English titles: z 2.5–3 was relevant for 0.99 of image hits, 0.68 of title hits).

A hit ranks by its best P, which is its score. Measured in evaluation/FUSION.md.

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
FIT_TOP = 200  # per calibration query and signal: the hits a ranking would look at
REFRESH_S = 600.0
MIN_REFERENCE = 16  # fewer stored vectors than this: no scale to measure against
MIN_SPREAD = 1e-3  # a floor on the std (a space of near-identical vectors)


def scale(background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and (floored) std of a query's cosines over a sample, along the last axis:
    what z is measured in, at search time and when TrainProjection fits relevance alike."""
    return background.mean(axis=-1, keepdims=True), np.maximum(
        background.std(axis=-1, keepdims=True), MIN_SPREAD
    )


@dataclass(frozen=True)
class Reference:
    """A random sample of one space's stored vectors."""

    vectors: np.ndarray  # (n, dim), L2-normalised as the space stores them
    drawn: float  # time.monotonic() of the draw

    def standardise(self, query: np.ndarray, scores: dict[int, float]) -> dict[int, float]:
        """Each cosine of `query` as standard deviations above its mean over the sample."""
        mean, spread = scale(self.vectors @ (query / max(float(np.linalg.norm(query)), 1e-12)))
        return {key: (score - mean.item()) / spread.item() for key, score in scores.items()}


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


@dataclass(frozen=True)
class Relevance:
    """P(relevant | z) for one signal: 1 / (1 + exp(−(slope·z + offset)))."""

    slope: float
    offset: float

    def probability(self, z: float) -> float:
        return float(1.0 / (1.0 + np.exp(-(self.slope * z + self.offset))))


def calibrate(
    reference: Reference | None, relevance: Relevance | None, query: np.ndarray, scores: dict[int, float]
) -> dict[int, float]:
    """What hits of one space rank by: the probability of relevance when the space has a
    reference and TrainProjection fitted the signal, else the cosines (a search in one space,
    or a projection trained before fits existed: z alone did not beat raw cosines on dev)."""
    if reference is None or relevance is None:
        return scores
    return {key: relevance.probability(z) for key, z in reference.standardise(query, scores).items()}


def unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def fit_relevance(queries: np.ndarray, products: np.ndarray, relevant: np.ndarray) -> Relevance:
    """Logistic regression of relevance on z over each query's FIT_TOP best products:
    `queries` (q, d) and `products` (n, d) unit vectors of one space, `relevant` (q, n) bool.
    The products themselves are the reference sample."""
    scores = queries @ products.T
    mean, spread = scale(scores)
    z = (scores - mean) / spread
    top = np.argsort(-z, axis=1)[:, :FIT_TOP]
    x = np.take_along_axis(z, top, axis=1).ravel()
    y = np.take_along_axis(relevant, top, axis=1).ravel().astype(np.float64)
    return Relevance(*_logistic(x, y))


def _logistic(x: np.ndarray, y: np.ndarray, ridge: float = 1e-3, steps: int = 50) -> tuple[float, float]:
    """(slope, offset) by Newton's method, with a small ridge so that separable data (every
    top hit relevant) still gives finite weights."""
    design = np.stack([x, np.ones_like(x)], axis=1)
    weights = np.zeros(2)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(design @ weights)))
        gradient = design.T @ (p - y) + ridge * weights
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(weights[0]), float(weights[1])
