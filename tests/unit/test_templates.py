"""Template matching for copies of small images (server/models/templates.py), on
scikit-image pictures the held-out evaluation does not use."""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage import data

from server.models import templates
from server.service.ranking import above, copy_score


def thumbnail(pixels: np.ndarray, side: int = 28) -> np.ndarray:
    rgb = pixels if pixels.ndim == 3 else np.stack([pixels] * 3, axis=-1)
    return np.asarray(Image.fromarray(rgb).resize((side, side), Image.Resampling.BILINEAR))


def test_a_crop_fits_its_original_and_not_another_image():
    cell, grass = thumbnail(data.cell()), thumbnail(data.grass())
    crop = np.ascontiguousarray(cell[2:23, 5:27])
    assert templates.correlation(crop, cell) >= templates.MIN_CORRELATION
    assert templates.correlation(crop, grass) < templates.MIN_CORRELATION


def test_template_matching_applies_to_small_images_and_large_enough_windows():
    cell = thumbnail(data.cell())
    assert templates.correlation(np.ascontiguousarray(cell[:10, :10]), cell) == -1, "a window too small"
    assert templates.correlation(thumbnail(data.cell(), 40), cell) == -1, "larger than the candidate"
    large = thumbnail(data.cell(), 200)
    assert templates.correlation(large[:150, :150].copy(), large) == -1, "large images: local features"
    assert templates.correlation(np.zeros((20, 20, 3), np.uint8), cell) == -1, "a flat query"


def test_template_scores_lie_between_the_threshold_and_one():
    least = above(templates.MIN_CORRELATION, templates.MIN_CORRELATION)
    assert (
        copy_score(least, 0.997) == 0.997 and copy_score(above(1.0, templates.MIN_CORRELATION), 0.997) == 1.0
    )
    assert 0.997 < copy_score(above(0.9965, templates.MIN_CORRELATION), 0.997) < 1.0
