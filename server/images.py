"""Image bytes → uint8 RGB arrays, defensively: size and pixel limits before decoding,
EXIF orientation, and every mode Pillow knows (CMYK, palette, alpha, 16-bit) made RGB."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})


class ImageError(ValueError):
    """The bytes are not an acceptable image; the message says why, for the caller."""


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000  # width x height as declared in the header
    min_side: int = 8


DEFAULT_LIMITS = ImageLimits()


def decode_image(data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
    """JPEG/PNG/WebP bytes → uint8 [H, W, 3] RGB, upright. Raises ImageError."""
    if not data:
        raise ImageError("image is empty")
    if len(data) > limits.max_bytes:
        raise ImageError(f"image is {len(data)} bytes, more than the limit of {limits.max_bytes}")
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, on decompression bombs; we check pixels ourselves.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ALLOWED_FORMATS:
                raise ImageError(f"image format {image.format} is not one of {sorted(ALLOWED_FORMATS)}")
            width, height = image.size
            if width * height > limits.max_pixels:
                raise ImageError(
                    f"image is {width}x{height} pixels, more than the limit of {limits.max_pixels}"
                )
            if min(width, height) < limits.min_side:
                raise ImageError(f"image is {width}x{height}; each side must be at least {limits.min_side}")
            image.load()
            image = ImageOps.exif_transpose(image)
            return np.asarray(to_rgb(image))
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageError(f"cannot decode image: {error}") from error


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode → RGB; transparency is composited over white, as shops show it."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        scale = 255.0 / max(array.max(), 1.0) if image.mode == "I" else 255.0 / 65535.0
        image = Image.fromarray(np.clip(array * scale, 0, 255).astype(np.uint8))
    if image.mode == "P" or image.mode in ("LA", "PA", "RGBA") or "transparency" in image.info:
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def resize_for_model(image: np.ndarray, size: int) -> np.ndarray:
    """Antialiased resize to the model's square input, so Triton batches equal shapes."""
    if image.shape[:2] == (size, size):
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def encode_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def encode_jpeg(image: np.ndarray, max_side: int, quality: int = 90) -> bytes:
    """JPEG of `image` shrunk (never enlarged) to at most `max_side` px per side."""
    picture = Image.fromarray(image)
    picture.thumbnail((max_side, max_side), Image.BILINEAR)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
