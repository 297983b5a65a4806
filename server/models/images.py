"""Image bytes → uint8 RGB arrays, defensively: size and pixel limits before decoding,
EXIF orientation, and every mode Pillow knows (CMYK, palette, alpha, 16-bit) made RGB.

Memory: a few KB of PNG can declare 40 MP (a 160 MB decode). Images come out at most
`decoded_side` px per side (JPEGs are decoded reduced, by libjpeg's DCT scaling), the
gateway's decodes run in threads of their own, and the full-size pixels they decode at once
are bounded by a budget (`DecodeBudget`)."""

from __future__ import annotations

import asyncio
import io
import os
import re
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow's JPEG parser also opens MPO, a JPEG followed by more frames (phone cameras write
# it): its first frame is decoded.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")


class ImageError(ValueError):
    """The bytes are not an acceptable image; the message says why, for the caller."""


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000  # width x height as declared in the header
    min_side: int = 8
    # Each scan of a progressive JPEG is a pass over every coefficient: libjpeg writes 10,
    # encoders that optimise scans about 20; thousands of 60-byte scans would hold a core for
    # minutes (libjpeg-turbo's `-maxscans` guards against the same).
    max_jpeg_scans: int = 64
    # Pillow reads JPEG segments and PNG chunks one at a time in Python (~10 µs each): 20 MB of
    # empty ones would hold a core for 15-25 s. Files have tens; PNGs whose pixels come in
    # 8 KB chunks a few thousand.
    max_segments: int = 10_000
    # Longest side of a decoded image: the models take 224-260 px, stored images are 512.
    decoded_side: int = 512


DEFAULT_LIMITS = ImageLimits()

# Full-size pixels being decoded at once by the gateway: two of the largest images, one per
# core here. The worst decode (a palette PNG made RGBA) peaks at about 13 bytes per pixel
# (measured): 80 MP is about 1.1 GB.
DECODE_BUDGET_PIXELS = 80_000_000
_DECODERS = ThreadPoolExecutor(max(2, min(4, os.cpu_count() or 1)), thread_name_prefix="decode")
T = TypeVar("T")


async def run_decoding(function: Callable[..., T], *args) -> T:
    """`function(*args)` in the decoding threads, apart from those other calls need."""
    return await asyncio.get_running_loop().run_in_executor(_DECODERS, function, *args)


class DecodeBudget:
    """Decodes of request images, bounded in full-size pixels at once: a decode waits (in
    asyncio, holding no thread) until its pixels fit; one larger than the whole budget is
    charged all of it and runs alone."""

    def __init__(self, pixels: int = DECODE_BUDGET_PIXELS) -> None:
        self.limit = pixels
        self.in_use = 0
        self._changed = asyncio.Condition()

    async def decode(self, data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
        """decode_image(data, limits), within the budget."""
        image = await run_decoding(open_image, data, limits)
        pixels = min(image.size[0] * image.size[1], self.limit)
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_use + pixels <= self.limit)
            self.in_use += pixels
        try:
            return await run_decoding(decoded_rgb, image, data, limits)
        finally:
            async with self._changed:
                self.in_use -= pixels
                self._changed.notify_all()


def decode_image(data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
    """JPEG/PNG/WebP bytes → uint8 [H, W, 3] RGB, upright, at most `limits.decoded_side` px
    per side. Raises ImageError."""
    return decoded_rgb(open_image(data, limits), data, limits)


@contextmanager
def decoding_errors() -> Iterator[None]:
    """Pillow's exceptions on bad input as ImageError; its bomb warnings silenced (the pixel
    limit is checked here)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageError(f"cannot decode image: {error}") from error


def open_image(data: bytes, limits: ImageLimits) -> Image.Image:
    """The image's header read and checked against the limits; no pixels decoded yet. A JPEG
    is set to decode at 1/2, 1/4 or 1/8 scale where that still covers `decoded_side`."""
    if not data:
        raise ImageError("image is empty")
    if len(data) > limits.max_bytes:
        raise ImageError(f"image is {len(data)} bytes, more than the limit of {limits.max_bytes}")
    check_structure(data, limits)
    with decoding_errors():
        # Only the accepted formats' parsers see the bytes: others (DDS, TIFF, ...) raise
        # exceptions Pillow does not catch, on damaged input.
        try:
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        except UnidentifiedImageError as error:
            raise ImageError(
                "cannot decode image: unknown format (JPEG, PNG and WebP are accepted)"
            ) from error
        width, height = image.size
        if width * height > limits.max_pixels:
            raise ImageError(f"image is {width}x{height} pixels, more than the limit of {limits.max_pixels}")
        if min(width, height) < limits.min_side:
            raise ImageError(f"image is {width}x{height}; each side must be at least {limits.min_side}")
        image.draft(None, (limits.decoded_side, limits.decoded_side))
        return image


def decoded_rgb(image: Image.Image, data: bytes, limits: ImageLimits) -> np.ndarray:
    """The pixels of an `open_image`, upright, RGB and shrunk."""
    with decoding_errors():
        image.load()
        if image.format == "PNG" and "transparency" in image.info:
            image.info["transparency"] = png_key_as_decoded(image, bit_depth=data[24])
        ImageOps.exif_transpose(image, in_place=True)
        return np.asarray(shrunk_rgb(image, limits.decoded_side, limits.min_side))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A JPEG marker: 0xFF then anything but 0x00 (a stuffed 0xFF in entropy-coded data), 0xFF
# (fill) or RST0-7 (restart markers inside entropy-coded data).
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xff\xd0-\xd7]")
_SOI, _EOI, _SOS, _TEM = 0xD8, 0xD9, 0xDA, 0x01


def check_structure(data: bytes, limits: ImageLimits) -> None:
    """Refuse a JPEG or PNG whose structure alone would take long to decode, before Pillow
    parses it: too many segments (or chunks), or too many progressive scans."""
    if data.startswith(b"\xff\xd8"):
        segments, scans = jpeg_structure(data, limits.max_segments)
        if scans > limits.max_jpeg_scans:
            raise ImageError(f"JPEG has more than {limits.max_jpeg_scans} scans")
    elif data.startswith(PNG_SIGNATURE):
        segments = png_chunks(data, limits.max_segments)
    else:
        return
    if segments > limits.max_segments:
        raise ImageError(f"image has more than {limits.max_segments} segments")


def jpeg_structure(data: bytes, stop_after: int) -> tuple[int, int]:
    """(segments, scans) of the first image in JPEG `data`, counted up to `stop_after` + 1
    segments. A scan's entropy-coded data is searched through, in C."""
    segments = scans = 0
    at = 2
    while segments <= stop_after and (found := _JPEG_MARKER.search(data, at)):
        start, marker = found.start(), data[found.start() + 1]
        if marker == _EOI:  # MPO: the other frames follow
            break
        segments += 1
        scans += marker == _SOS
        length = 0 if marker in (_SOI, _TEM) else int.from_bytes(data[start + 2 : start + 4], "big")
        at = start + 2 + length
    return segments, scans


def png_chunks(data: bytes, stop_after: int) -> int:
    """Chunks of PNG `data`, counted up to `stop_after` + 1."""
    chunks, at = 0, len(PNG_SIGNATURE)
    while chunks <= stop_after and at + 8 <= len(data):
        chunks += 1
        if data[at + 4 : at + 8] == b"IEND":
            break
        at += 12 + int.from_bytes(data[at : at + 4], "big")
    return chunks


def png_key_as_decoded(image: Image.Image, bit_depth: int):
    """A PNG's see-through colour (tRNS) at the 8 bits Pillow decodes the pixels to: Pillow
    keeps the key at the file's bit depth for 2- and 4-bit grey and 16-bit colour."""
    key = image.info["transparency"]
    if image.mode == "L" and bit_depth in (2, 4):
        return key * 255 // (2**bit_depth - 1)
    if image.mode == "RGB" and bit_depth == 16:
        return tuple(k >> 8 for k in key)  # Pillow keeps the high byte of each sample
    return key


def shrunk_rgb(image: Image.Image, side: int, min_side: int) -> Image.Image:
    """RGB of at most `side` px per side (no side below `min_side`), shrunk before the colour
    work where Pillow can average the mode (palette indices and colour keys it cannot: those
    are made RGBA first)."""
    scale = side / max(image.size)
    if scale >= 1:
        return to_rgb(image)
    if image.mode.startswith("I"):  # 16-bit grey: scaled to 8 bits first
        image = to_rgb(image)
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode == "P" or "transparency" in image.info:
        image = image.convert("RGBA")
    width, height = (max(round(n * scale), min(n, min_side)) for n in image.size)
    return to_rgb(image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=2.0))


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode → RGB; transparency is composited over white, as shops show it."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        scale = 255.0 / max(array.max(), 1.0) if image.mode == "I" else 255.0 / 65535.0
        grey = np.clip(array * scale, 0, 255).astype(np.uint8)
        key = image.info.get("transparency")
        if key is None:
            image = Image.fromarray(grey)
        else:  # the key is a 16-bit value: make the alpha before scaling
            image = Image.fromarray(np.dstack([grey, np.where(array == key, 0, 255).astype(np.uint8)]), "LA")
    if image.mode == "P" or image.mode in ("LA", "PA", "RGBA") or "transparency" in image.info:
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def resize_for_model(image: np.ndarray, size: int) -> np.ndarray:
    """Antialiased resize to the model's square input, so Triton batches equal shapes."""
    if image.shape[:2] == (size, size):
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))


def encode_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def encode_jpeg(image: np.ndarray, max_side: int, quality: int = 90) -> bytes:
    """JPEG of `image` shrunk (never enlarged) to at most `max_side` px per side."""
    picture = Image.fromarray(image)
    picture.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
