"""Geometric verification of copies with local features (ORB + RANSAC, OpenCV).

The pixel descriptor (server/models/copy_descriptor.py) compares whole images, so a copy
rotated by a few degrees, cropped by a fifth, framed by a border or letterboxed scores like
a different product. Local features survive those edits: ORB keypoints (rotation invariant,
an 8-level scale pyramid) of the query and of a candidate are matched (Hamming distance,
Lowe's ratio test), and RANSAC fits one similarity transform (rotation, scale,
translation: what a crop, border, letterbox, resize or small rotation does) to the
matches. A copy keeps the picture's geometry, so hundreds of matches agree; two different
pictures agree by chance on a handful (2-5 between unrelated scikit-image photos outside
the evaluation; a full homography let chance reach 17-19). A mirrored copy is tried as such
when the query is not verified as it is.

Product photos are harder: Saleor's are renders from shared templates (one shirt in many
prints and colours), which agree on hundreds of matches too. So a copy needs MIN_INLIERS
(60) matches spread over MIN_COVERAGE (0.3) of the candidate: chosen on the dev part of the
held-out protocol (`python -m evaluation.geometry_trial`, geometry alone against every dev
catalog photo): at 20 inliers and no coverage, recall 0.94 but precision 0.38 and 77 % of
catalog photos flagged by another; at 60 and 0.3, recall 0.54, precision 0.93, one photo
of 22 flagged (evaluation/GEOMETRY_TRIAL.md). The pixel descriptor still finds the copies it always did.

Only for images large enough to have keypoints (MIN_SIDE per side, both images): a
Fashion-MNIST product (28 px) has almost none. Both images are shrunk to WORK_SIDE first:
the catalog keeps its images at 512 px (server/service/ingest.py), and it bounds the cost
(~10 ms per pair on one core).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

MIN_SIDE = 128
WORK_SIDE = 512
FEATURES = 1000  # ORB keypoints per image
RATIO = 0.8  # Lowe's ratio test: the best match clearly better than the second
RANSAC_PX = 5.0  # reprojection error allowed for an inlier, at WORK_SIDE
MIN_INLIERS = 60
MIN_COVERAGE = 0.3  # the inliers' bounding box over the candidate's area
MIN_ALIGNED = 8  # matches a transform needs at all (server/models/colours.py aligns with fewer than a copy)


@dataclass(frozen=True)
class LocalFeatures:
    points: np.ndarray  # (n, 2) float32 keypoint positions
    descriptors: np.ndarray  # (n, 32) uint8 ORB descriptors
    area: float  # of the image the points are in, px²


def large_enough(pixels: np.ndarray) -> bool:
    return min(pixels.shape[:2]) >= MIN_SIDE


def working_rgb(pixels: np.ndarray) -> np.ndarray:
    """An RGB uint8 image shrunk (never enlarged) to WORK_SIDE per side."""
    picture = Image.fromarray(pixels)
    picture.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(picture)


def working_grey(pixels: np.ndarray) -> np.ndarray:
    """`working_rgb` in grey: shrunk first, so that a 40-megapixel query costs no
    full-size copy."""
    return grey(working_rgb(pixels))


def grey(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).convert("L"))


def local_features(grey: np.ndarray) -> LocalFeatures | None:
    """ORB features of a `working_grey` image; None when it has too few."""
    orb = cv2.ORB_create(nfeatures=FEATURES)  # type: ignore[attr-defined]  # in the stubs as ORB.create
    keypoints, descriptors = orb.detectAndCompute(grey, None)
    if descriptors is None or len(keypoints) < MIN_INLIERS:
        return None
    points = np.array([k.pt for k in keypoints], dtype=np.float32)
    return LocalFeatures(points, descriptors, float(grey.shape[0] * grey.shape[1]))


@dataclass(frozen=True)
class Alignment:
    inliers: int  # matches the transform explains
    coverage: float  # the inliers' bounding box over the candidate's area
    matrix: np.ndarray  # 2x3 similarity transform, query working image → candidate's


def align(query: LocalFeatures, candidate: LocalFeatures) -> Alignment | None:
    """The similarity transform RANSAC fits to the ratio-tested matches; None when fewer
    than MIN_ALIGNED matches pass the ratio test or agree."""
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query.descriptors, candidate.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < MIN_ALIGNED:
        return None
    source = query.points[[m.queryIdx for m in good]]
    target = candidate.points[[m.trainIdx for m in good]]
    matrix, mask = cv2.estimateAffinePartial2D(
        source, target, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX
    )
    if matrix is None or mask is None:
        return None
    kept = target[mask.ravel().astype(bool)]
    if len(kept) < MIN_ALIGNED:
        return None
    coverage = float(np.ptp(kept[:, 0]) * np.ptp(kept[:, 1]) / candidate.area)
    return Alignment(len(kept), coverage, matrix)


def verified(alignment: Alignment | None) -> bool:
    """Whether an alignment shows a copy: MIN_INLIERS spread over MIN_COVERAGE of the
    candidate (fewer, or a small patch, is a shared logo or label, not a copy)."""
    return alignment is not None and alignment.inliers >= MIN_INLIERS and alignment.coverage >= MIN_COVERAGE


def agreement(count: int) -> float:
    """The "geometry" signal, 0 to 1: inliers over 5 x MIN_INLIERS, saturating."""
    return min(1.0, count / (5 * MIN_INLIERS))
