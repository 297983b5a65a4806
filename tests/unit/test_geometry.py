"""Geometric verification of copies (server/models/geometry.py) on scikit-image photos that
the held-out evaluation does not use (its negatives are other scikit-image photos)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps
from skimage import data

from server.models import geometry


def edited(picture: np.ndarray) -> np.ndarray:
    """Rotated 8 degrees, 20 % cropped off each side, framed by a 40 px border, JPEG 40."""
    image = Image.fromarray(picture).rotate(8, resample=Image.Resampling.BILINEAR, expand=False)
    width, height = image.size
    image = image.crop((width // 5, height // 5, width - width // 5, height - height // 5))
    image = ImageOps.expand(image, border=40, fill=(250, 250, 250))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=40)
    return np.asarray(Image.open(buffer).convert("RGB"))


def test_an_edited_copy_is_verified_and_another_photo_is_not():
    original, other = data.stereo_motorcycle()[0], np.stack([data.grass()] * 3, axis=-1)
    mine = geometry.local_features(edited(original))
    assert mine is not None
    copy_inliers = geometry.inliers(mine, geometry.local_features(original))
    other_inliers = geometry.inliers(mine, geometry.local_features(other))
    assert copy_inliers >= 3 * geometry.MIN_INLIERS, copy_inliers
    assert other_inliers < geometry.MIN_INLIERS, other_inliers
    assert geometry.verified_score(copy_inliers, 0.997) >= 0.997


def test_small_or_flat_images_have_no_features():
    assert not geometry.large_enough(np.zeros((28, 28, 3), np.uint8))
    assert geometry.local_features(np.full((300, 300, 3), 128, np.uint8)) is None


def test_agreement_saturates():
    assert geometry.agreement(0) == 0 and geometry.agreement(10 * geometry.MIN_INLIERS) == 1.0
