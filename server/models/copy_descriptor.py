"""Copy detection: a pixel descriptor that tells a re-upload of a product image (cropped,
resized, recompressed, mirrored, brightened, framed) from a different product that merely
looks alike.

The descriptor ("gray16", version "v3") is the image in grey, resized (antialiased
bilinear) to 16x16, mean-subtracted and L2-normalised, so that cosine similarity ignores
brightness and contrast changes and JPEG noise mostly averages out. Lite0 embeddings are the
wrong tool here: they place distinct products of one kind as close as a product and its copy.

A copy is compared under hypotheses, and its score is the best cosine over them:
- crops of 0 to 3/28 of each side (0-11 %): the catalog side stores one descriptor per crop
  (`CROP_FRACTIONS`). Undoing a crop on the query side (padding it back) does not work:
  the cropped-off content is lost, and Fashion-MNIST products touch the border.
- the trimmed image (`trim`): uniform margins cut off every side, again until none is left
  (a frame, then the product's own background), so a border or letterbox bars added to a
  copy go. Stored and asked beside the untrimmed descriptors, not instead: JPEG noise moves
  a trimmed edge by a pixel, which cost the other families recall.
- the blurred image (gaussian, radius 1 px per 28 px): a blurred copy's descriptor is
  smoother than the original's, which this stored hypothesis matches.
- small rotations: the query is also turned back by each of `ROTATIONS` (±3, 6, 9°).
- a horizontal flip: the query side mirrors its descriptors (a flip commutes with the
  resize, so mirroring the query equals mirroring every stored crop).

Chosen on the dev part of the held-out protocol (`python -m evaluation.copy_trial`, offline,
exact search, Fashion-MNIST, threshold 0.997): recall 0.495 (crops and flip only) → 0.644
with the trimmed image (borders and letterboxes 0.00 → 1.00) → 0.726 with blur (0.10 →
0.51) and rotations (0.07 → 0.66; ±4, 8° gave 0.711); precision 0.995 and 0.3 % of catalog
products flagged throughout. Test figures: evaluation/HELDOUT.md.

Overlays: a caption or a logo changes a few cells of the 16x16 grid and costs the whole
cosine its last thousandths, so a product among the descriptor's nearest whose
`PARTIAL_KEEP` best-agreeing cells correlate with the query's to `PARTIAL_MIN` is a copy too
(`partial_similarity`; the "partial" signal). Chosen on dev (evaluation/COPY_TRIAL.md).

Calibrated on Fashion-MNIST (10k catalog, 200 originals x 5 copies, 200 distinct products):
at 0.997, recall 0.987 and precision 1.000, the service default (`Config.duplicate_threshold`).
Fashion-MNIST has hundreds of distinct products within cosine 0.98 of another, hence a
threshold so close to 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageFilter

DESCRIPTOR_MODEL = "gray16"
DESCRIPTOR_VERSION = "v3"  # bump whenever the descriptor or the hypotheses change
SIDE = 16
DIM = SIDE * SIDE
# Per side, as fractions of the image's side: 0 to 3 px of a 28 px image.
CROP_FRACTIONS = (0.0, 1 / 28, 2 / 28, 3 / 28)
HYPOTHESES = len(CROP_FRACTIONS) + 2  # the crops, the trimmed image, the blurred image
TRIM_TOLERANCE = 24  # grey levels: a margin row or column lies within this of the border's median
TRIM_ROUNDS = 4  # a frame, then the background inside it, and so on
BLUR_PER_SIDE = 1 / 28  # the stored blurred hypothesis: gaussian radius per px of the long side
ROTATIONS = (-9.0, -6.0, -3.0, 3.0, 6.0, 9.0)  # degrees the query is also turned back by
PARTIAL_CANDIDATES = 10  # the descriptor's nearest products checked cell by cell
PARTIAL_KEEP = 0.93  # share of the grid's cells compared: the rest may be overlaid
PARTIAL_MIN = 0.999  # correlation over those cells that makes a copy
# An image whose grey levels vary less than this (RMS over the 16x16 grid, 0-255 scale) is
# flat: its descriptor is the constant unit vector, orthogonal to every non-flat descriptor.
_FLAT_RMS = 0.25
_FLAT = np.full(DIM, 1 / SIDE, dtype=np.float32)


def _grey(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.asarray(pixels, dtype=np.uint8)).convert("L")


def _describe(grey: Image.Image, crop: float) -> np.ndarray:
    if crop:
        # A crop, not resize(box=...): the box's filter would read pixels beyond it, which
        # a cropped copy does not have.
        width, height = grey.size
        dx, dy = round(crop * width), round(crop * height)
        grey = grey.crop((dx, dy, width - dx, height - dy))
    small = grey.resize((SIDE, SIDE), Image.Resampling.BILINEAR, reducing_gap=4.0)
    vector = np.asarray(small, dtype=np.float32).ravel()
    vector -= vector.mean()
    norm = float(np.linalg.norm(vector))
    if norm < _FLAT_RMS * SIDE:
        return _FLAT.copy()
    return vector / norm


def _edge_median(pixels: np.ndarray) -> float:
    """The median grey level of an image's outermost rows and columns (its background)."""
    return float(np.median(np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])))


def trim(grey: Image.Image) -> Image.Image:
    """Cut rows and columns whose pixels all lie within TRIM_TOLERANCE of the outermost
    pixels' median, from every side, until none is left (or too little would be)."""
    pixels = np.asarray(grey, dtype=np.int16)
    for _ in range(TRIM_ROUNDS):
        content = np.abs(pixels - _edge_median(pixels)) > TRIM_TOLERANCE
        rows, columns = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
        if len(rows) < 4 or len(columns) < 4:
            break
        cut = pixels[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
        if cut.shape == pixels.shape:
            break
        pixels = cut
    return Image.fromarray(pixels.astype(np.uint8))


def catalog_descriptors(pixels: np.ndarray) -> np.ndarray:
    """The stored side: [HYPOTHESES, DIM], one descriptor per crop in `CROP_FRACTIONS`,
    then the trimmed image's and the blurred image's, of an RGB uint8 [H, W, 3] image."""
    grey = _grey(pixels)
    blurred = grey.filter(ImageFilter.GaussianBlur(max(grey.size) * BLUR_PER_SIDE))
    return np.stack(
        [
            *(_describe(grey, crop) for crop in CROP_FRACTIONS),
            _describe(trim(grey), 0.0),
            _describe(blurred, 0.0),
        ]
    )


def query_descriptors(pixels: np.ndarray) -> np.ndarray:
    """The query side: [4 + len(ROTATIONS), DIM], the image as it is and trimmed, each also
    mirrored, then turned back by each of ROTATIONS (corners in its edge colour)."""
    grey = _grey(pixels)
    whole, trimmed = _describe(grey, 0.0), _describe(trim(grey), 0.0)
    fill = int(_edge_median(np.asarray(grey)))
    turned = [
        _describe(grey.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=fill), 0.0)
        for angle in ROTATIONS
    ]
    return np.stack([whole, mirror(whole), trimmed, mirror(trimmed), *turned])


def partial_similarity(query: np.ndarray, stored: np.ndarray, keep: float = PARTIAL_KEEP) -> float:
    """The best correlation, over the query's variants ([Q, DIM], `query_descriptors`) and a
    product's stored hypotheses (flat, as stored), of the `keep` share of cells that differ
    least, both sides centred and normalised again on those cells alone (an overlay shifts
    the whole descriptor's mean and norm). An overlay changes a few cells; another product
    differs all over."""
    variants, hypotheses = np.atleast_2d(query), np.asarray(stored, np.float32).reshape(HYPOTHESES, DIM)
    shape = (len(variants), HYPOTHESES, DIM)
    mine, theirs = (
        np.broadcast_to(variants[:, None, :], shape),
        np.broadcast_to(hypotheses[None, :, :], shape),
    )
    kept = round(keep * DIM)
    closest = np.argpartition((mine - theirs) ** 2, kept - 1, axis=2)[:, :, :kept]
    mine, theirs = np.take_along_axis(mine, closest, axis=2), np.take_along_axis(theirs, closest, axis=2)
    mine = mine - mine.mean(axis=2, keepdims=True)
    theirs = theirs - theirs.mean(axis=2, keepdims=True)
    norms = np.linalg.norm(mine, axis=2) * np.linalg.norm(theirs, axis=2)
    return float(((mine * theirs).sum(axis=2) / np.maximum(norms, 1e-12)).max())


def mirror(vector: np.ndarray) -> np.ndarray:
    """The descriptor of the left-right mirrored image."""
    return np.ascontiguousarray(vector.reshape(SIDE, SIDE)[:, ::-1]).ravel()


def catalog_vectors(images: Sequence[np.ndarray]) -> np.ndarray:
    """[N, HYPOTHESES * DIM]: each image's catalog descriptors, flattened as stored."""
    return np.stack([catalog_descriptors(pixels).ravel() for pixels in images])
