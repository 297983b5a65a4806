"""Dev-only trial of a colour check on copy hits of colour photos (issue 12, deliverable 3):
`python -m evaluation.colour_trial` → stdout.

Saleor's photos are renders from shared templates: one bucket in red, yellow, turquoise and
navy, one bottle of juice in three colours. The pixel descriptor is grey and ORB sees grey,
so both take such a template mate for a copy (dev: precision 0.91, 14 % of catalog photos
flagged by another). A copy keeps its colours, give or take the colour-jitter family's hue
shift (±18°) and saturation change; a template mate does not. The check: align the query to
the candidate (the similarity transform RANSAC fits to their ORB matches, as
server/models/geometry.py does), and among the pixels colourful in both, count those whose
hue agrees within HUE_TOLERANCE; a greyscale query has no colour to compare and passes.

As evaluation/geometry_trial.py: the dev part's 22 Saleor photos × 14 edit families × 3
draws, its 6 scikit-image photos as they are and through every family, each catalog photo as
itself, each query against every dev catalog photo (a superset of the gateway's candidates).
A pair is a hit as the service decides today (descriptor ≥ 0.997, or the geometry gate);
the table gives recall, precision and photos flagged without and with the colour check, for a
grid of its settings, and the same for geometry gates without the coverage limit.
"""

from __future__ import annotations

import io
import pickle
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from evaluation import protocol
from server.models import colours, copy_descriptor, geometry
from server.models.images import encode_jpeg
from server.service.ingest import STORED_IMAGE_SIDE

PART = "dev"
DRAWS = 3
THRESHOLD = 0.997
CACHE = Path("/tmp/colour_trial_pairs.pickle")  # `--cached` tabulates these again


def stored(picture: Image.Image) -> np.ndarray:
    """A catalog photo as the gateway keeps it (server/service/ingest.py)."""
    jpeg = encode_jpeg(np.asarray(picture.convert("RGB")), STORED_IMAGE_SIDE)
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))


def colour_features(query_rgb: np.ndarray, candidate_rgb: np.ndarray, matrix: np.ndarray):
    """(query colourful share, candidate colourful share in the overlap, pixels colourful in
    both, share of them whose hue agrees within 15/30/45°, share of the candidate's
    colourful overlap that is grey in the query)."""
    chroma = colours.CHROMA
    warped, overlap, candidate = colours.aligned(query_rgb, candidate_rgb, matrix)
    cq, hq = colours.chroma_hue(warped)
    cc, hc = colours.chroma_hue(candidate)
    both = overlap & (cq > chroma) & (cc > chroma)
    difference = colours.hue_difference(hq, hc)[both]
    agree = [float(np.mean(difference <= np.radians(t))) if both.any() else 1.0 for t in (15, 30, 45)]
    colourful = overlap & (cc > chroma)
    lost = float(np.mean(cq[colourful] < chroma / 2)) if colourful.any() else 0.0
    lq = cv2.cvtColor(warped, cv2.COLOR_RGB2GRAY).astype(np.float32)[overlap]
    lc = cv2.cvtColor(candidate, cv2.COLOR_RGB2GRAY).astype(np.float32)[overlap]
    lq, lc = lq - lq.mean(), lc - lc.mean()
    ncc = float(lq @ lc / max(np.linalg.norm(lq) * np.linalg.norm(lc), 1e-6))
    return (
        ncc,
        colours.colourful_share(query_rgb),
        float(colourful.sum() / max(overlap.sum(), 1)),
        int(both.sum()),
        *agree,
        lost,
    )


def pairs() -> list[tuple]:
    """(kind, query index, source, family, candidate, descriptor score, inliers, coverage,
    colour features at chroma 15 or None, the service's own check) for every query and
    catalog photo; kind "query" (copies and photos in no catalog) or "self"."""
    photos = protocol.saleor_photos()
    names = protocol.saleor_split(list(photos))[PART]
    catalog = {name: stored(photos[name]) for name in names}
    described = {name: copy_descriptor.catalog_descriptors(np.asarray(photos[name])) for name in names}
    features = {name: geometry.local_features(geometry.grey(pixels)) for name, pixels in catalog.items()}
    queries: list[tuple[str | None, str, np.ndarray]] = []  # (source, family, pixels)
    for name in names:
        for family in protocol.FAMILIES:
            for draw in range(DRAWS):
                copy = protocol.edit(photos[name], family, protocol.copy_rng(PART, name, family, draw))
                queries.append((name, family, np.asarray(copy)))
    for name, picture in protocol.photo_negatives(PART).items():
        for family in ("none", *protocol.FAMILIES):
            copy = protocol.edit(picture, family, protocol.copy_rng(PART, name, family))
            queries.append((None, family, np.asarray(copy)))
    themselves = [(name, "self", np.asarray(photos[name])) for name in names]
    rows = []
    for kind, items in (("query", queries), ("self", themselves)):
        for index, (source, family, pixels) in enumerate(items):
            mine = copy_descriptor.query_descriptors(pixels)
            rgb = geometry.working_rgb(pixels)
            views = [
                (view, geometry.local_features(geometry.grey(view))) for view in (rgb, rgb[:, ::-1].copy())
            ]
            for name in names:
                if kind == "self" and name == source:
                    continue
                score = float((mine @ described[name].T).max())
                best: tuple[geometry.Alignment | None, np.ndarray] = (None, rgb)
                for view, view_features in views:  # as the gateway does: the view with more inliers
                    if view_features is None or features[name] is None:
                        continue
                    alignment = geometry.align(view_features, features[name])
                    if alignment is not None and (best[0] is None or alignment.inliers > best[0].inliers):
                        best = (alignment, view)
                alignment, view = best
                count, coverage = (0, 0.0) if alignment is None else (alignment.inliers, alignment.coverage)
                colour = service = None
                if alignment is not None:
                    colour = colour_features(view, catalog[name], alignment.matrix)
                    service = colours.agree(view, catalog[name], alignment.matrix)
                rows.append((kind, index, source, family, name, score, count, coverage, colour, service))
            print(f"{kind} {index + 1}/{len(items)}", file=sys.stderr, flush=True)
    return rows


def evaluate(rows: list[tuple], accept, gate: tuple[int, float]) -> dict:
    """Recall, precision, false positives (of which another view of the same product),
    catalog photos flagged by another, and the worst family, for hits as the service
    decides them (descriptor ≥ THRESHOLD or the geometry `gate`) that `accept` passes."""
    true = false = same = 0
    copies: dict[int, bool] = {}
    families: dict[str, dict[int, bool]] = {}
    flagged: dict[str, bool] = {}
    for row in rows:
        kind, index, source, family, name = row[:5]
        hit = (row[5] >= THRESHOLD or (row[6] >= gate[0] and row[7] >= gate[1])) and accept(row)
        if kind == "self":
            flagged[source] = flagged.get(source, False) or hit
        elif source == name:
            copies[index] = copies.get(index, False) or hit
            found = families.setdefault(family, {})
            found[index] = found.get(index, False) or hit
            true += hit
        else:
            false += hit
            same += (
                hit and source is not None and protocol.photo_product(source) == protocol.photo_product(name)
            )
    worst = min((float(np.mean(list(found.values()))), family) for family, found in families.items())
    return {
        "recall": float(np.mean(list(copies.values()))),
        "precision": true / max(true + false, 1),
        "false": false,
        "same": same,
        "flagged": float(np.mean(list(flagged.values()))),
        "worst": worst,
    }


def rule(greyscale: float, colourless: float, agreeing: float, lost: float, tolerance: int):
    """A colour check on the trial's features (the service's at the chosen settings)."""

    def accept(row: tuple) -> bool:
        if row[8] is None:
            return True
        _, query_share, candidate_share, compared, *agree, lost_share = row[8]
        if query_share < greyscale or candidate_share < colourless:
            return True
        if compared >= colours.MIN_COMPARED and agree[(15, 30, 45).index(tolerance)] < agreeing:
            return False
        return lost_share <= lost

    return accept


def main() -> None:
    if "--cached" in sys.argv and CACHE.exists():
        rows = pickle.loads(CACHE.read_bytes())
    else:
        rows = pairs()
        CACHE.write_bytes(pickle.dumps(rows))
    print(f"dev: {len(rows)} (query, catalog photo) pairs\n")
    print(
        "| geometry gate | colour check | recall | precision | false positives (another view) "
        "| photos flagged | worst family |"
    )
    print("|---|---|---:|---:|---:|---:|---|")
    checks = {
        "none": lambda row: True,
        "service (server/models/colours.py)": lambda row: row[9] is not False,
        "hue within 15°": rule(0.005, 0.02, 0.5, 0.3, 15),
        "hue within 45°": rule(0.005, 0.02, 0.5, 0.3, 45),
        "80 % agreeing": rule(0.005, 0.02, 0.8, 0.3, 30),
        "no lost-colour test": rule(0.005, 0.02, 0.5, 1.0, 30),
        "greyscale below 2 %": rule(0.02, 0.02, 0.5, 0.3, 30),
    }
    for gate in ((60, 0.3), (60, 0.2), (60, 0.1), (40, 0.1), (20, 0.1)):
        for label, accept in checks.items():
            f = evaluate(rows, accept, gate)
            print(
                f"| {gate[0]} inliers, coverage {gate[1]} | {label} | {f['recall']:.3f}"
                f" | {f['precision']:.3f} | {f['false']} ({f['same']}) | {f['flagged']:.3f}"
                f" | {f['worst'][1]} {f['worst'][0]:.2f} |"
            )


if __name__ == "__main__":
    main()
