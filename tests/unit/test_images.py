"""Image decoding (unit tier): every mode becomes upright RGB, at most 512 px per side;
junk becomes ImageError; the decode budget bounds the pixels decoding at once."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from PIL import Image

from server.models.images import DecodeBudget, ImageError, ImageLimits, decode_image, resize_for_model


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


RED = Image.new("RGB", (40, 20), (255, 0, 0))


@pytest.mark.parametrize(
    ("image", "fmt"),
    [
        (RED, "JPEG"),
        (RED, "PNG"),
        (RED, "WEBP"),
        (RED.convert("CMYK"), "JPEG"),
        (RED.convert("P"), "PNG"),
        (RED.convert("RGBA"), "PNG"),
    ],
)
def test_modes_decode_to_rgb(image, fmt):
    decoded = decode_image(encode(image, fmt))
    assert decoded.shape == (20, 40, 3) and decoded.dtype == np.uint8
    assert decoded[10, 20, 0] > 200 and decoded[10, 20, 1] < 60


def test_grey_becomes_three_equal_channels():
    decoded = decode_image(encode(RED.convert("L"), "PNG"))
    assert decoded.shape == (20, 40, 3)
    assert (decoded[..., 0] == decoded[..., 2]).all()


def test_transparent_pixels_become_white():
    clear = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    assert (decode_image(encode(clear, "PNG")) == 255).all()


def test_16_bit_png_is_scaled_to_8_bit():
    array = np.full((16, 16), 65535, dtype=np.uint16)
    decoded = decode_image(encode(Image.fromarray(array), "PNG"))
    assert (decoded == 255).all()


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    decoded = decode_image(encode(RED, "JPEG", exif=exif))
    assert decoded.shape == (40, 20, 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"GIF89a" + b"\0" * 100, "decode|format"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "decode"),
    ],
)
def test_junk_is_rejected(data, message):
    with pytest.raises(ImageError, match=message):
        decode_image(data)


def test_truncated_jpeg_is_rejected():
    data = encode(Image.new("RGB", (256, 256), (10, 200, 30)), "JPEG")
    with pytest.raises(ImageError):
        decode_image(data[: len(data) // 2])


def test_declared_pixels_are_checked_before_decoding():
    big = encode(Image.new("L", (5000, 5000)), "PNG")  # compresses to a few KB
    with pytest.raises(ImageError, match="pixels"):
        decode_image(big, ImageLimits(max_pixels=1_000_000))


def test_byte_limit_and_tiny_images():
    with pytest.raises(ImageError, match="bytes"):
        decode_image(encode(RED, "PNG"), ImageLimits(max_bytes=10))
    with pytest.raises(ImageError, match="at least"):
        decode_image(encode(Image.new("RGB", (4, 4)), "PNG"))


def test_other_formats_are_refused():
    with pytest.raises(ImageError, match="format"):
        decode_image(encode(RED, "GIF"))


def test_resize_for_model_is_square_and_skips_when_done():
    image = np.zeros((30, 50, 3), dtype=np.uint8)
    assert resize_for_model(image, 24).shape == (24, 24, 3)
    square = np.zeros((24, 24, 3), dtype=np.uint8)
    assert resize_for_model(square, 24) is square


@pytest.mark.parametrize(
    ("size", "fmt", "shape"),
    [
        ((4000, 3000), "JPEG", (384, 512, 3)),  # decoded at 1/4 by libjpeg, then shrunk
        ((3000, 600), "PNG", (102, 512, 3)),
        ((8, 4000), "PNG", (512, 8, 3)),  # no side below the 8 px minimum
        ((500, 300), "WEBP", (300, 500, 3)),  # small enough: untouched
    ],
)
def test_large_images_come_out_at_most_512_px_per_side(size, fmt, shape):
    picture = Image.new("RGB", size, (10, 200, 30))
    decoded = decode_image(encode(picture, fmt))
    assert decoded.shape == shape
    assert np.abs(decoded.astype(int) - (10, 200, 30)).max() <= 6  # lossy WebP: 5


async def test_decode_budget_bounds_pixels_decoding_at_once():
    budget = DecodeBudget(pixels=2_000_000)
    images = [encode(Image.new("P", (1000, 1000), 3), "PNG")] * 6 + [
        encode(Image.new("L", (1600, 1600), 9), "PNG")  # more than the whole budget: runs alone
    ]
    seen = []

    async def watch() -> None:
        while True:
            seen.append(budget.in_use)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    decoded = await asyncio.gather(*(budget.decode(image) for image in images))
    watcher.cancel()
    assert [d.shape[:2] for d in decoded] == [(512, 512)] * 7
    assert max(seen) == 2_000_000 and budget.in_use == 0
    assert all(0 <= pixels <= budget.limit for pixels in seen)


async def test_a_bad_image_gives_its_budget_back():
    budget = DecodeBudget(pixels=1_000_000)
    truncated = encode(Image.new("RGB", (900, 900), (1, 2, 3)), "PNG")[:200]
    with pytest.raises(ImageError):
        await budget.decode(truncated)
    assert budget.in_use == 0
    assert (await budget.decode(encode(RED, "PNG"))).shape == (20, 40, 3)
