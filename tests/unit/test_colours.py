"""The colour check on copy hits (server/models/colours.py), on a scikit-image photo the
held-out evaluation does not use."""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage import data

from server.models import colours

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def hue_shifted(pixels: np.ndarray, degrees: float) -> np.ndarray:
    hsv = np.asarray(Image.fromarray(pixels).convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + round(degrees / 360 * 256)) % 256
    return np.asarray(Image.fromarray(hsv, "HSV").convert("RGB"))


def test_a_recoloured_template_is_no_copy_and_a_colour_edit_is():
    photo = np.ascontiguousarray(data.stereo_motorcycle()[0][::2, ::2])
    assert colours.agree(photo, photo, IDENTITY)
    assert colours.agree(hue_shifted(photo, 12), photo, IDENTITY), "within a colour edit's shift"
    assert not colours.agree(hue_shifted(photo, 120), photo, IDENTITY), "another colourway"


def test_greyscale_and_colourless_images_pass():
    photo = np.ascontiguousarray(data.stereo_motorcycle()[0][::2, ::2])
    grey = np.repeat(np.asarray(Image.fromarray(photo).convert("L"))[..., None], 3, axis=-1)
    assert colours.agree(grey, photo, IDENTITY), "a greyscale copy has no colour to compare"
    assert colours.agree(photo, grey, IDENTITY), "nor has a grey catalog photo"


def test_the_query_is_aligned_before_colours_are_compared():
    """Half of the photo, recoloured on the other half only: aligned, the half agrees."""
    photo = np.ascontiguousarray(data.stereo_motorcycle()[0][::2, ::2])
    width = photo.shape[1]
    mate = photo.copy()
    mate[:, : width // 2] = hue_shifted(photo[:, : width // 2].copy(), 120)
    right = np.ascontiguousarray(photo[:, width // 2 :])
    shifted = np.array([[1.0, 0.0, width // 2], [0.0, 1.0, 0.0]])
    assert colours.agree(right, mate, shifted)
    assert not colours.agree(right, mate, IDENTITY)
