"""A colour check on copy hits of colour photos.

The pixel descriptor (server/models/copy_descriptor.py) is grey, and ORB
(server/models/geometry.py) sees grey. Product photos are often renders of one template in
several colours: one paint bucket in red, yellow, turquoise and navy, one juice bottle in
three flavours. Both take such a template mate for a copy. A copy keeps its colours, give
or take a colour edit's hue shift (±18° in the held-out protocol's colour-jitter family).

So a hit is checked in colour once the query is aligned to it (the similarity transform
RANSAC fits to their ORB matches): on a GRID px grid, among the pixels colourful in both
(CIELAB chroma above CHROMA), the hue must agree within HUE_TOLERANCE_DEG for at least
MIN_AGREEING of them, and at most MAX_LOST of the candidate's colourful pixels may be grey
in the query. A greyscale query, or a candidate with next to no colour, has nothing to
compare and passes; so does a pair without an alignment.

Chosen on the dev part of the held-out protocol (`python -m evaluation.colour_trial`,
evaluation/COLOUR_TRIAL.md): with the service's geometry gate, precision 0.916 → 0.971 and
catalog photos flagged by another 13.6 % → 4.5 %, recall 0.874 → 0.873. What it cannot
tell apart: two views of one product (same colours), and flavours whose hues lie within
the colour edit's own shift (orange and carrot juice, ~20° apart).
"""

from __future__ import annotations

import cv2
import numpy as np

GRID = 64  # px, the long side colours are compared at
CHROMA = 15.0  # CIELAB a*b* distance from grey (OpenCV's 8-bit scale) of a colourful pixel
HUE_TOLERANCE_DEG = 30.0  # the colour edit shifts hue by up to 18°
MIN_COMPARED = 10  # pixels colourful in both, below which hues are not compared
MIN_AGREEING = 0.5
MAX_LOST = 0.3
GREYSCALE_SHARE = 0.005  # a query with fewer colourful pixels than this is greyscale
COLOURLESS_SHARE = 0.02  # a candidate with fewer colourful pixels where they overlap has no colour to check


def chroma_hue(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chroma and hue (radians) of an RGB uint8 image, in CIELAB a*b*."""
    lab = cv2.cvtColor(pixels, cv2.COLOR_RGB2LAB).astype(np.float32)
    a, b = lab[..., 1] - 128, lab[..., 2] - 128
    return np.hypot(a, b), np.arctan2(b, a)


def aligned(query: np.ndarray, candidate: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, ...]:
    """The RGB uint8 query mapped by the 2x3 `matrix` onto the RGB uint8 candidate, where
    it lands (bool), and the candidate, all on a grid of GRID px on the long side."""
    height, width = candidate.shape[:2]
    warped = cv2.warpAffine(query, matrix, (width, height), flags=cv2.INTER_AREA)
    inside = cv2.warpAffine(np.full(query.shape[:2], 255, np.uint8), matrix, (width, height))
    scale = GRID / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    warped, inside, candidate = (
        cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in (warped, inside, candidate)
    )
    return warped, inside > 250, candidate


def colourful_share(pixels: np.ndarray) -> float:
    """The share of an RGB uint8 image's pixels (on a GRID x GRID grid) that are colourful."""
    chroma, _ = chroma_hue(cv2.resize(pixels, (GRID, GRID), interpolation=cv2.INTER_AREA))
    return float(np.mean(chroma > CHROMA))


def hue_difference(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The angle between hues (radians), 0 to pi."""
    return np.abs(np.angle(np.exp(1j * (first - second))))


def agree(query: np.ndarray, candidate: np.ndarray, matrix: np.ndarray) -> bool:
    """Whether an RGB uint8 query, mapped by the 2x3 `matrix` onto the RGB uint8 candidate,
    shows the candidate's colours (see the module docstring)."""
    if colourful_share(query) < GREYSCALE_SHARE:
        return True
    warped, overlap, candidate = aligned(query, candidate, matrix)
    query_chroma, query_hue = chroma_hue(warped)
    chroma, hue = chroma_hue(candidate)
    colourful = overlap & (chroma > CHROMA)
    if colourful.sum() < COLOURLESS_SHARE * max(int(overlap.sum()), 1):
        return True
    both = colourful & (query_chroma > CHROMA)
    if both.sum() >= MIN_COMPARED:
        difference = hue_difference(query_hue[both], hue[both])
        if np.mean(difference <= np.radians(HUE_TOLERANCE_DEG)) < MIN_AGREEING:
            return False
    return float(np.mean(query_chroma[colourful] < CHROMA / 2)) <= MAX_LOST
