"""Copies of small images by template matching.

A Fashion-MNIST product is 28 px: too small for local features (server/models/geometry.py),
and a crop of up to a quarter per side leaves the pixel descriptor
(server/models/copy_descriptor.py) nothing to match. But a crop keeps the pixels' scale:
the query is a window of the catalog image. So the image model's nearest products are
candidates, and the query slid over each one's stored image (normalised cross-correlation,
OpenCV matchTemplate TM_CCOEFF_NORMED, grey) finds the window; a copy correlates above
MIN_CORRELATION.

Only where both images are small (under geometry.MIN_SIDE per side) and the query is at
least MIN_AREA_SHARE of the candidate: a small window correlates well by chance. Chosen on
the dev part of the held-out protocol (`python -m evaluation.template_trial`,
evaluation/TEMPLATE_TRIAL.md): with the 50 nearest products (server/service/ranking.py
TEMPLATE_CANDIDATES) and 0.993, crops 0.00 → 0.855 found, 4 false positives among 2,800
copies and 200 distinct products, 0.2 % of catalog products flagged; the crops it misses are
those whose original is not among the 50 nearest (20: 0.77; 10: 0.66).
"""

from __future__ import annotations

import cv2
import numpy as np

from server.models.geometry import MIN_SIDE

MIN_CORRELATION = 0.993
MIN_AREA_SHARE = 0.25  # a crop of a quarter per side leaves a quarter of the image
_FLAT = 1.0  # grey levels: a query whose pixels vary less than this has no pattern to find


def applicable(query: np.ndarray, candidate: np.ndarray) -> bool:
    """Both images small, and the query inside the candidate with enough of its area."""
    (height, width), (their_height, their_width) = query.shape[:2], candidate.shape[:2]
    return (
        max(height, width, their_height, their_width) < MIN_SIDE
        and height <= their_height
        and width <= their_width
        and height * width >= MIN_AREA_SHARE * their_height * their_width
    )


def correlation(query: np.ndarray, candidate: np.ndarray) -> float:
    """The best normalised cross-correlation of an RGB uint8 query slid over an RGB uint8
    candidate at 1:1, in grey; -1 where template matching does not apply."""
    if not applicable(query, candidate):
        return -1.0
    template = cv2.cvtColor(query, cv2.COLOR_RGB2GRAY).astype(np.float32)
    if float(template.std()) < _FLAT:
        return -1.0
    image = cv2.cvtColor(candidate, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED).max())
