"""Geometric verification of copies (server/models/geometry.py) on scikit-image photos that
the held-out evaluation does not use (its negatives are other scikit-image photos)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps
from skimage import data

from server.models import geometry


def edited(picture: np.ndarray) -> np.ndarray:
    """Rotated 8 degrees, 10 % cropped off each side, framed by a 40 px border, JPEG 40."""
    image = Image.fromarray(picture).rotate(8, resample=Image.Resampling.BILINEAR, expand=False)
    width, height = image.size
    image = image.crop((width // 10, height // 10, width - width // 10, height - height // 10))
    image = ImageOps.expand(image, border=40, fill=(250, 250, 250))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=40)
    return np.asarray(Image.open(buffer).convert("RGB"))


def test_an_edited_copy_is_verified_and_another_photo_is_not():
    original, other = data.stereo_motorcycle()[0], np.stack([data.grass()] * 3, axis=-1)
    mine = geometry.local_features(geometry.working_grey(edited(original)))
    assert mine is not None
    copy = geometry.align(mine, geometry.local_features(geometry.working_grey(original)))
    other_alignment = geometry.align(mine, geometry.local_features(geometry.working_grey(other)))
    assert geometry.verified(copy) and copy.inliers >= 2 * geometry.MIN_INLIERS, copy
    assert not geometry.verified(other_alignment), other_alignment
    assert geometry.agreement(copy.inliers) >= 0.4


def test_small_or_flat_images_have_no_features():
    assert not geometry.large_enough(np.zeros((28, 28, 3), np.uint8))
    assert geometry.local_features(geometry.working_grey(np.full((300, 300, 3), 128, np.uint8))) is None


def test_agreement_saturates():
    assert geometry.agreement(0) == 0 and geometry.agreement(10 * geometry.MIN_INLIERS) == 1.0


def test_matches_in_a_corner_are_no_copy():
    """A query that shares only a small patch with the candidate (a logo, a label) may agree
    on many matches, but they cover too little of the candidate."""
    original = data.stereo_motorcycle()[0]
    patch = np.ascontiguousarray(original[:200, :300])
    mine = geometry.local_features(geometry.working_grey(patch))
    theirs = geometry.local_features(geometry.working_grey(original))
    assert mine is not None and theirs is not None
    assert not geometry.verified(geometry.align(mine, theirs))
