"""Dev-only trial of geometric copy verification on colour photos (issue 12, deliverable 3):
`python -m evaluation.geometry_trial` → stdout.

The dev part's Saleor photos as evaluation/heldout.py uses them (each photo through every
edit family, 3 draws; the dev part's scikit-image photos as they are and through every
family; each catalog photo as itself), every query verified against every dev catalog
photo (a superset of the gateway's 10 nearest) with server/models/geometry.py. For a grid
of (minimum inliers, minimum coverage) it prints recall, precision and the share of
catalog photos flagged by another. Coverage: the area of the inliers' bounding box in the
catalog photo over its area (`catalog`, taken), or the larger of that and the query's
(`either`: `python -m evaluation.geometry_trial either`; worse: at 60 and 0.3 precision
0.864 and 9 % flagged, against 0.958 and none).
"""

from __future__ import annotations

import sys

import numpy as np

from evaluation import protocol
from server.models import geometry

PART = "dev"
DRAWS = 3
COVERAGE = sys.argv[1] if len(sys.argv) > 1 else "catalog"


def verify(query: geometry.LocalFeatures, candidate: geometry.LocalFeatures):
    """(inliers, coverage) of one pair, as geometry.inliers counts them."""
    import cv2

    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query.descriptors, candidate.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < geometry.RATIO * p[1].distance]
    if len(good) < geometry.MIN_INLIERS:
        return 0, 0.0
    source = query.points[[m.queryIdx for m in good]]
    target = candidate.points[[m.trainIdx for m in good]]
    _, mask = cv2.estimateAffinePartial2D(
        source, target, method=cv2.RANSAC, ransacReprojThreshold=geometry.RANSAC_PX
    )
    if mask is None:
        return 0, 0.0
    keep = mask.ravel().astype(bool)
    if not keep.any():
        return 0, 0.0
    covered = [
        float(np.ptp(points[keep, 0]) * np.ptp(points[keep, 1]) / area)
        for points, area in ((target, candidate.area), (source, query.area))
    ]
    return int(keep.sum()), covered[0] if COVERAGE == "catalog" else max(covered)


def features(picture) -> geometry.LocalFeatures | None:
    return geometry.local_features(geometry.working_grey(np.asarray(picture.convert("RGB"))))


def main() -> None:
    photos = protocol.saleor_photos()
    names = protocol.saleor_split(list(photos))[PART]
    catalog = {name: features(photos[name]) for name in names}
    queries = []  # (source or None, features)
    for name in names:
        for family in protocol.FAMILIES:
            for draw in range(DRAWS):
                copy = protocol.edit(photos[name], family, protocol.copy_rng(PART, name, family, draw))
                queries.append((name, family, features(copy)))
    for name, picture in protocol.photo_negatives(PART).items():
        for family in ("none", *protocol.FAMILIES):
            copy = protocol.edit(picture, family, protocol.copy_rng(PART, name, family))
            queries.append((None, family, features(copy)))
    pairs = []  # (query index, catalog name, inliers, coverage)
    for q, (_, _, mine) in enumerate(queries):
        for name, theirs in catalog.items():
            if mine is not None and theirs is not None:
                pairs.append((q, name, *verify(mine, theirs)))
    themselves = {
        name: {other: verify(catalog[name], catalog[other]) for other in names if other != name}
        for name in names
        if catalog[name] is not None and all(catalog[o] is not None for o in names)
    }
    print(f"dev: {len(names)} catalog photos, {len(queries)} queries")
    for min_inliers in (20, 30, 40, 60):
        for min_coverage in (0.0, 0.1, 0.2, 0.3):
            ok = {(q, n) for q, n, i, c in pairs if i >= min_inliers and c >= min_coverage}
            copies = [q for q, (source, _, _) in enumerate(queries) if source is not None]
            found = sum((q, queries[q][0]) in ok for q in copies)
            false = sum(1 for q, n in ok if queries[q][0] != n)
            same = sum(
                1
                for q, n in ok
                if queries[q][0] is not None
                and queries[q][0] != n
                and protocol.photo_product(n) == protocol.photo_product(queries[q][0])
            )
            flagged = np.mean(
                [
                    any(i >= min_inliers and c >= min_coverage for i, c in others.values())
                    for others in themselves.values()
                ]
            )
            print(
                f"inliers>={min_inliers} coverage>={min_coverage}: recall {found / len(copies):.3f}"
                f" precision {found / max(found + false, 1):.3f} (false {false}, same product {same})"
                f" flagged {flagged:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
