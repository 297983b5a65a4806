""" "Why this match": where in a product's image the query's embedding is found.

The image models' embedding is the (L2-normalised) global average of the trunk's last
feature map, so each cell of that map lives in the embedding's space. The heat of a cell is
the cosine of the query's embedding with the cell's vector (`cosine_grid`); the grid is
upsampled onto the product's image (`upsample`, bilinear between cell centres: the models
squash the image onto their square input, so the grid covers the whole image) and drawn
over it (`overlay`). `heat_share` is the measure the evaluation reports: the share of the
positive heat mass that falls inside a box. Pure numpy + Pillow.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

# Heat is drawn with this opacity at its hottest (scaled by the heat below that).
OVERLAY_ALPHA = 0.6
# Colour ramp of the drawn heat, from cold to hot: blue, cyan, green, yellow, red.
_RAMP = np.array([[0, 0, 255], [0, 255, 255], [0, 255, 0], [255, 255, 0], [255, 0, 0]], dtype=np.float64)


def cosine_grid(query: np.ndarray, feature_map: np.ndarray) -> np.ndarray:
    """float32 [h, w]: cosine of `query` [D] with every cell of `feature_map` [h, w, D],
    -1 to 1; a cell (or a query) whose vector is all zeros gets 0."""
    query = np.asarray(query, dtype=np.float64)
    cells = np.asarray(feature_map, dtype=np.float64)
    if cells.ndim != 3 or cells.shape[-1] != query.shape[-1]:
        raise ValueError(f"feature map {cells.shape} does not match a {query.shape[-1]}-d query")
    norms = np.linalg.norm(cells, axis=-1) * np.linalg.norm(query)
    dots = cells @ query
    grid = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    return np.clip(grid, -1.0, 1.0).astype(np.float32)


def _axis_weights(cells: int, pixels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of `pixels` output positions, the two grid cells it lies between and the
    weight of the second: cell i's centre sits at pixel (i + 0.5) * pixels / cells."""
    position = (np.arange(pixels) + 0.5) * cells / pixels - 0.5
    position = np.clip(position, 0, cells - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, cells - 1)
    return low, high, position - low


def upsample(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """float32 [height, width]: `grid` [h, w] interpolated bilinearly between cell centres
    (each cell covers height/h x width/w pixels; beyond the outer centres the edge value
    holds). A constant grid stays constant; the maximum stays at the hottest cell's centre."""
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 2 or height < 1 or width < 1:
        raise ValueError(f"cannot upsample a {grid.shape} grid to {height}x{width}")
    y0, y1, wy = _axis_weights(grid.shape[0], height)
    x0, x1, wx = _axis_weights(grid.shape[1], width)
    rows = grid[y0] * (1 - wy)[:, None] + grid[y1] * wy[:, None]
    return (rows[:, x0] * (1 - wx) + rows[:, x1] * wx).astype(np.float32)


def positive_heat(heat: np.ndarray) -> np.ndarray:
    """The heat that counts: cosines below 0 (cells pointing away from the query) are 0."""
    return np.maximum(np.asarray(heat, dtype=np.float64), 0.0)


def relative_heat(heat: np.ndarray) -> np.ndarray:
    """Heat above the map's own median, scaled so the hottest point is 1 (0 where the map is
    flat). The models' features are non-negative (ReLU), so every cosine is >= 0 and a cell
    of plain background still scores; the median is the map's own floor."""
    heat = np.asarray(heat, dtype=np.float64)
    above = np.maximum(heat - np.median(heat), 0.0)
    top = above.max(initial=0.0)
    return above / top if top > 0 else np.zeros_like(above)


def heat_share(heat: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Share of the heat mass inside `box` = (left, top, right, bottom) pixels, right and
    bottom exclusive: sum of `heat` over the box / sum over the image, `heat` being
    non-negative (pass `positive_heat` or `relative_heat` of an upsampled grid). 0 when the
    image holds no heat at all."""
    heat = np.asarray(heat, dtype=np.float64)
    if heat.min(initial=0.0) < 0:
        raise ValueError("heat_share needs non-negative heat")
    left, top, right, bottom = box
    if not (0 <= left < right <= heat.shape[1] and 0 <= top < bottom <= heat.shape[0]):
        raise ValueError(f"box {box} is not inside a {heat.shape[1]}x{heat.shape[0]} image")
    total = heat.sum()
    return float(heat[top:bottom, left:right].sum() / total) if total > 0 else 0.0


def colourise(heat: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3]: heat in 0..1 on the blue → red ramp."""
    scaled = np.clip(np.asarray(heat, dtype=np.float64), 0, 1) * (len(_RAMP) - 1)
    low = np.minimum(np.floor(scaled).astype(int), len(_RAMP) - 2)
    weight = (scaled - low)[..., None]
    return np.round(_RAMP[low] * (1 - weight) + _RAMP[low + 1] * weight).astype(np.uint8)


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """uint8 [H, W, 3]: `image` with `heat` (0..1, same H x W) drawn over it, each pixel's
    opacity `alpha` x its heat, so cold regions show the photo as it is."""
    image = np.asarray(image)
    if image.shape[:2] != heat.shape or image.ndim != 3:
        raise ValueError(f"heat {heat.shape} does not match image {image.shape}")
    weight = alpha * np.clip(np.asarray(heat, dtype=np.float64), 0, 1)[..., None]
    blended = image.astype(np.float64) * (1 - weight) + colourise(heat) * weight
    return np.round(blended).astype(np.uint8)


def overlay_png(image: np.ndarray, grid: np.ndarray, alpha: float = OVERLAY_ALPHA) -> bytes:
    """PNG of `image` (uint8 [H, W, 3]) with the cosine `grid` drawn over it as
    `relative_heat` upsampled to the image's size."""
    heat = relative_heat(upsample(grid, image.shape[0], image.shape[1]))
    buffer = io.BytesIO()
    Image.fromarray(overlay(image, heat, alpha)).save(buffer, format="PNG")
    return buffer.getvalue()
