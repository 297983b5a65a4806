"""Fuzzing (unit tier) of image decoding: whatever the bytes, decode_image returns an upright
uint8 RGB array within the limits or raises ImageError (INVALID_ARGUMENT), never another
exception, and in bounded time.

Inputs: images Pillow encodes in every mode (CMYK, 16-bit, palette with transparency, LA/RGBA,
1-bit), hand-written PNGs of every bit depth, EXIF orientations 1-8, animated PNG/WebP/GIF and
multi-frame JPEG (MPO); those images truncated and corrupted; random bytes; headers declaring
huge or zero dimensions; progressive JPEGs with thousands of scans.

CI runs a fixed, small number of examples; `make fuzz` (FUZZ_EXAMPLES=5000) runs many random ones.
"""

from __future__ import annotations

import io
import os
import struct
import time
import zlib
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, reject, settings
from hypothesis import strategies as st
from PIL import Image

from server.models.images import DEFAULT_LIMITS, ImageError, ImageLimits, decode_image, jpeg_structure

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))


def fuzz_settings(ci_examples: int, deadline_ms: int = 10_000) -> settings:
    """CI: `ci_examples` derandomized examples; FUZZ_EXAMPLES=N: N random ones. The deadline
    bounds each example's time: a legitimate 40-megapixel image takes ~1.5 s on a busy 2-core
    machine, a scan bomb minutes (a real hang still ends at pytest-timeout's limit)."""
    return settings(
        max_examples=FUZZ_EXAMPLES or ci_examples,
        derandomize=not FUZZ_EXAMPLES,
        database=None,
        deadline=deadline_ms,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def decode_or_error(data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray | None:
    """The decoded array, checked against the limits, or None for ImageError. Any other
    exception fails the test."""
    try:
        pixels = decode_image(data, limits)
    except ImageError:
        return None
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    height, width = pixels.shape[:2]
    assert min(height, width) >= limits.min_side and max(height, width) <= limits.decoded_side
    return pixels


# -- images made with Pillow ----------------------------------------------------------------------

ORIENTATION = 0x0112
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "MPO"}  # MPO: a JPEG with more frames (phone cameras)
# (format, mode) pairs Pillow writes.
KINDS = [
    ("JPEG", "L"),
    ("JPEG", "RGB"),
    ("JPEG", "CMYK"),
    ("MPO", "RGB"),
    ("PNG", "1"),
    ("PNG", "L"),
    ("PNG", "LA"),
    ("PNG", "P"),
    ("PNG", "RGB"),
    ("PNG", "RGBA"),
    ("PNG", "I;16"),
    ("WEBP", "RGB"),
    ("WEBP", "RGBA"),
    ("GIF", "P"),
    # Formats Pillow reads that the service refuses.
    ("TIFF", "RGB"),
    ("BMP", "RGB"),
    ("ICO", "RGBA"),
    ("TGA", "RGB"),
    ("PPM", "RGB"),
    ("PCX", "RGB"),
    ("SGI", "RGB"),
    ("DDS", "RGBA"),
    ("QOI", "RGBA"),
]


@dataclass
class Encoded:
    data: bytes = field(repr=False)
    format: str
    source: Image.Image  # the first frame as handed to Pillow
    orientation: int | None
    lossless: bool

    @property
    def accepted(self) -> bool:
        return self.format in ACCEPTED_FORMATS and min(self.source.size) >= DEFAULT_LIMITS.min_side

    @property
    def upright_size(self) -> tuple[int, int]:
        width, height = self.source.size
        return (height, width) if self.orientation in (5, 6, 7, 8) else (width, height)


def source_image(mode: str, width: int, height: int, seed: int, flat: bool) -> Image.Image:
    rng = np.random.default_rng(seed)
    shape = (1, 1) if flat else (height, width)
    if mode == "I;16":
        values = rng.integers(0, 65536, shape, dtype=np.uint16)
        return Image.fromarray(np.broadcast_to(values, (height, width)).copy())
    channels = rng.integers(0, 256, (*shape, 4), dtype=np.uint8)
    rgba = Image.fromarray(np.broadcast_to(channels, (height, width, 4)).copy(), "RGBA")
    if mode == "P":
        image = rgba.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
        if rng.integers(2):
            image.info["transparency"] = int(rng.integers(16))  # a palette entry is see-through
        return image
    if mode in ("RGBA", "LA"):
        return rgba.convert(mode)
    return rgba.convert("RGB").convert(mode)


@st.composite
def encoded_images(
    draw, max_side: int = 64, kinds: list[tuple[str, str]] = KINDS, min_side: int = 1
) -> Encoded:
    fmt, mode = draw(st.sampled_from(kinds))
    width, height = draw(st.integers(min_side, max_side)), draw(st.integers(min_side, max_side))
    source = source_image(mode, width, height, draw(st.integers(0, 2**32 - 1)), draw(st.booleans()))
    frames = draw(st.integers(1, 3)) if fmt in ("PNG", "WEBP", "GIF", "MPO") and mode != "I;16" else 1
    options: dict = {}
    if fmt in ("JPEG", "MPO"):
        options.update(quality=draw(st.integers(1, 100)), subsampling=draw(st.sampled_from([0, 1, 2])))
        options.update(progressive=draw(st.booleans()), optimize=draw(st.booleans()))
    elif fmt == "PNG":
        options.update(compress_level=draw(st.integers(0, 9)))
    elif fmt == "WEBP":
        options.update(lossless=draw(st.booleans()), quality=draw(st.integers(0, 100)))
        options.update(method=draw(st.integers(0, 6)))
    orientation = draw(st.none() | st.integers(1, 8)) if fmt != "GIF" else None
    if orientation is not None:
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        options["exif"] = exif
    if frames > 1:
        others = [source.transpose(Image.Transpose.ROTATE_180)] * (frames - 1)
        options.update(save_all=True, append_images=others)
    buffer = io.BytesIO()
    try:
        source.save(buffer, format=fmt, **options)
    except OSError:  # Pillow's writer: an optimised JPEG of noise larger than its buffer
        reject()
    lossless = fmt == "PNG" or (fmt == "WEBP" and options["lossless"])
    return Encoded(buffer.getvalue(), fmt, source, orientation, lossless)


def test_a_multi_frame_jpeg_decodes_its_first_frame():
    """Phone cameras write MPO: a JPEG followed by more frames. It was refused as a format."""
    buffer = io.BytesIO()
    first, second = Image.new("RGB", (32, 16), (250, 0, 0)), Image.new("RGB", (32, 16), (0, 0, 250))
    first.save(buffer, format="MPO", save_all=True, append_images=[second])
    pixels = decode_or_error(buffer.getvalue())
    assert pixels is not None and pixels.shape == (16, 32, 3) and pixels[8, 16, 0] > 200


@pytest.mark.parametrize("kind", [k for k in KINDS if k[0] not in ACCEPTED_FORMATS])
def test_refused_formats_never_reach_their_parsers(kind):
    """A DDS with one byte inserted made Pillow's DDS parser raise NotImplementedError, which
    escaped as UNKNOWN. Refused formats are ImageError however damaged."""
    fmt, mode = kind
    buffer = io.BytesIO()
    Image.new(mode, (16, 16)).save(buffer, format=fmt)
    data = buffer.getvalue()
    for at in range(0, min(len(data), 160)):
        assert decode_or_error(data[:at] + b"\x00" + data[at:]) is None


def over_white(image: Image.Image) -> np.ndarray:
    """What a shop shows: the image composited over white, as uint8 RGB."""
    if image.mode == "I;16":
        return np.repeat((np.asarray(image, np.float64) * 255 / 65535).astype(np.uint8)[..., None], 3, 2)
    rgba = np.asarray(image.convert("RGBA"), np.float64)
    alpha = rgba[..., 3:] / 255
    return np.round(rgba[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)


@fuzz_settings(200)
@given(image=encoded_images())
def test_intact_images_decode_to_the_right_size_and_pixels(image):
    pixels = decode_or_error(image.data)
    assert (pixels is not None) == image.accepted, f"{image.format} {image.source.mode} {image.source.size}"
    if pixels is None:
        return
    width, height = image.upright_size
    assert pixels.shape == (height, width, 3)
    if image.lossless and image.orientation in (None, 1):
        expected = over_white(image.source).astype(int)
        assert np.abs(pixels.astype(int) - expected).max() <= 1


@fuzz_settings(40)
@given(
    fmt=st.sampled_from(["JPEG", "PNG", "WEBP"]),
    orientation=st.integers(1, 8),
    width=st.integers(16, 48),
    height=st.integers(16, 48),
)
def test_exif_orientation_gives_the_upright_picture(fmt, orientation, width, height):
    """The upright picture has a red top-left quadrant and a green top-right one; it is stored
    the way a camera would store it for each orientation (EXIF 2.3, tag 0x0112)."""
    upright = np.zeros((height, width, 3), np.uint8)
    upright[: height // 2, : width // 2] = (255, 0, 0)
    upright[: height // 2, width // 2 :] = (0, 255, 0)
    stored = {
        1: lambda a: a,
        2: np.fliplr,
        3: lambda a: np.rot90(a, 2),
        4: np.flipud,
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, 1),  # the viewer turns it 90° clockwise
        7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
        8: lambda a: np.rot90(a, -1),
    }[orientation](upright)
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(stored)).save(buffer, format=fmt, exif=exif, quality=95)
    pixels = decode_or_error(buffer.getvalue())
    assert pixels is not None and pixels.shape == upright.shape
    for y, x in [(height // 4, width // 4), (height // 4, 3 * width // 4), (3 * height // 4, width // 2)]:
        assert np.abs(pixels[y, x].astype(int) - upright[y, x]).max() < 40, (orientation, y, x)


# -- PNGs of every bit depth and colour type, written by hand ----------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# colour type → (channels, allowed bit depths)
PNG_COLOUR_TYPES = {
    0: (1, [1, 2, 4, 8, 16]),
    2: (3, [8, 16]),
    3: (1, [1, 2, 4, 8]),
    4: (2, [8, 16]),
    6: (4, [8, 16]),
}


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def pack_rows(samples: np.ndarray, depth: int) -> bytes:
    """[H, W*channels] integer samples → filtered (filter 0) scanlines."""
    rows = []
    for row in samples:
        if depth == 16:
            packed = row.astype(">u2").tobytes()
        elif depth == 8:
            packed = row.astype(np.uint8).tobytes()
        else:
            bits = np.unpackbits(row.astype(np.uint8)[:, None], axis=1)[:, 8 - depth :]
            packed = np.packbits(bits.reshape(-1)).tobytes()
        rows.append(b"\x00" + packed)
    return b"".join(rows)


@st.composite
def raw_pngs(draw, colour_type: int, depth: int) -> tuple[bytes, np.ndarray]:
    """A PNG written by hand, and what the PNG spec says it shows over white (float RGB)."""
    channels = PNG_COLOUR_TYPES[colour_type][0]
    width, height = draw(st.integers(8, 40)), draw(st.integers(8, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    top = 2**depth - 1
    samples = rng.integers(0, top + 1, (height, width, channels))
    chunks = [png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0))]
    see_through = draw(st.booleans()) and colour_type in (0, 2, 3)  # tRNS chunk
    if colour_type == 3:
        palette = rng.integers(0, 256, (top + 1, 3))
        alphas = np.full(top + 1, 255)
        if see_through:
            listed = draw(st.integers(1, top + 1))  # entries past the tRNS list stay opaque
            alphas[:listed] = rng.integers(0, 256, listed)
            body = alphas[:listed].astype(np.uint8).tobytes()
        chunks.append(png_chunk(b"PLTE", palette.astype(np.uint8).tobytes()))
        colour, alpha = palette[samples[..., 0]], alphas[samples[..., 0], None] / 255
    else:
        colour = np.repeat(samples[..., :1], 3, axis=2) if channels < 3 else samples[..., :3]
        colour = colour * 255 / top
        alpha = samples[..., -1:] / top if colour_type in (4, 6) else np.ones((height, width, 1))
        if see_through:  # one colour is fully transparent; make sure some pixels have it
            key = samples[0, 0]
            samples[::3, ::2] = key
            colour = (
                np.repeat(samples[..., :1], 3, axis=2) * 255 / top if channels < 3 else samples * 255 / top
            )
            alpha = 1.0 - (samples == key).all(axis=2, keepdims=True)
            body = struct.pack(f">{channels}H", *key.tolist())
    if see_through:
        chunks.append(png_chunk(b"tRNS", body))
    chunks.append(png_chunk(b"IDAT", zlib.compress(pack_rows(samples.reshape(height, -1), depth))))
    data = PNG_SIGNATURE + b"".join(chunks) + png_chunk(b"IEND", b"")
    return data, colour * alpha + 255 * (1 - alpha)


@pytest.mark.parametrize(
    ("colour_type", "depth"), [(c, d) for c, (_, depths) in PNG_COLOUR_TYPES.items() for d in depths]
)
@fuzz_settings(12)
@given(data=st.data())
def test_every_png_bit_depth_and_colour_type_decodes_to_what_it_shows(colour_type, depth, data):
    data, expected = data.draw(raw_pngs(colour_type, depth))
    pixels = decode_or_error(data)
    assert pixels is not None and pixels.shape == expected.shape
    assert np.abs(pixels - expected).max() <= 3  # 16-bit samples and alpha each rounded to 8 bits


# -- damaged images, random bytes, lying headers ----------------------------------------------------

position = st.one_of(st.floats(0, 0.05), st.floats(0, 1))  # headers get more of the damage
mutations = st.one_of(
    st.tuples(st.just("truncate"), position),
    st.tuples(st.just("flip"), position, st.integers(1, 255)),
    st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), position, st.integers(1, 64)),
    st.tuples(st.just("repeat"), position, st.integers(1, 64), st.integers(1, 8)),
    st.tuples(st.just("zero"), position, st.integers(1, 64)),
)


def mutate(data: bytes, mutation: tuple) -> bytes:
    kind, where, *args = mutation
    at = min(int(where * len(data)), len(data) - 1)
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ args[0]]) + data[at + 1 :]
    if kind == "insert":
        return data[:at] + args[0] + data[at:]
    if kind == "delete":
        return data[:at] + data[at + args[0] :]
    if kind == "repeat":
        return data[:at] + data[at : at + args[0]] * (args[1] + 1) + data[at + args[0] :]
    return data[:at] + bytes(len(data[at : at + args[0]])) + data[at + args[0] :]


@fuzz_settings(600)
@given(image=encoded_images(), damage=st.lists(mutations, min_size=1, max_size=4))
def test_damaged_images_decode_or_are_refused(image, damage):
    data = image.data
    for mutation in damage:
        if data:
            data = mutate(data, mutation)
    decode_or_error(data)


# Signatures of the accepted formats, and of formats Pillow also knows (which must be refused).
MAGIC = [
    b"",
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    PNG_SIGNATURE,
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
]
MAGIC += [
    b"RIFF\xff\xff\xff\x7fWEBPVP8L",
    b"RIFF\x00\x01\x00\x00WEBPVP8X",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
]
MAGIC += [
    b"8BPS\x00\x01",
    b"\x00\x00\x01\x00\x01\x00",
    b"DDS |\x00\x00\x00",
    b"P6\n",
    b"P7\n",
    b"qoif",
    b"icns",
]
MAGIC += [
    b"SIMPLE  =                    T",
    b"\x0a\x05\x01\x08",
    b"\x00\x00\x00\x0cjP  \r\n\x87\n",
    b"%!PS-Adobe-3.0",
]
MAGIC += [
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    b"FORM\x00\x00\x00\x00ILBM",
    b"\x59\xa6\x6a\x95",
    b"#define ",
    b"/* XPM */",
]


@fuzz_settings(300)
@given(prefix=st.sampled_from(MAGIC), tail=st.binary(max_size=2048))
def test_random_bytes_are_refused(prefix, tail):
    pixels = decode_or_error(prefix + tail)
    assert pixels is None or prefix, "random bytes without a format's signature are no image"


def with_dimensions(data: bytes, fmt: str, width: int, height: int) -> bytes:
    """`data` whose header declares width x height (checksums fixed where there are any)."""
    if fmt == "PNG":
        body = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
        return data[:12] + body + struct.pack(">I", zlib.crc32(body)) + data[33:]
    if fmt in ("JPEG", "MPO"):
        at = next(start for start, marker, _ in jpeg_segments(data) if marker in (0xC0, 0xC1, 0xC2))
        return data[: at + 5] + struct.pack(">HH", height & 0xFFFF, width & 0xFFFF) + data[at + 9 :]
    if fmt == "GIF":
        return data[:6] + struct.pack("<HH", width & 0xFFFF, height & 0xFFFF) + data[10:]
    out = bytearray(data)  # WebP: the canvas in VP8X, the frame in VP8 / VP8L
    if (at := data.find(b"VP8X")) >= 0:
        out[at + 12 : at + 18] = ((width - 1) % 2**24).to_bytes(3, "little") + (
            (height - 1) % 2**24
        ).to_bytes(3, "little")
    if (at := data.find(b"VP8 ")) >= 0:
        out[at + 14 : at + 18] = struct.pack("<HH", width & 0x3FFF, height & 0x3FFF)
    if (at := data.find(b"VP8L")) >= 0:
        packed = ((width - 1) & 0x3FFF) | (((height - 1) & 0x3FFF) << 14) | (data[at + 12] >> 5 << 29)
        out[at + 9 : at + 13] = packed.to_bytes(4, "little")
    return bytes(out)


side = st.one_of(st.integers(0, 16), st.integers(0, 70_000), st.sampled_from([2**14 - 1, 2**16 - 1, 2**24]))


@fuzz_settings(150)
@given(
    image=encoded_images(max_side=16),
    width=side,
    height=side,
    limits=st.sampled_from([DEFAULT_LIMITS, ImageLimits(max_pixels=1_000_000)]),
)
def test_declared_dimensions_are_bounded(image, width, height, limits):
    assume(image.format != "GIF" or width * height > 0)
    data = with_dimensions(image.data, image.format, width, height)
    pixels = decode_or_error(data, limits)
    if 0 < width < 2**14 and 0 < height < 2**14 and width * height > limits.max_pixels:
        assert pixels is None  # sides every format's header can hold (VP8's 14 bits)


def test_a_decompression_bomb_is_refused_before_decoding():
    """49 megapixels of zeros compress to 50 KB; decoding them would take seconds and 150 MB."""
    rows = b"\x00" * (1 + 7000 * 3)
    data = PNG_SIGNATURE + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 7000, 7000, 8, 2, 0, 0, 0))
    data += png_chunk(b"IDAT", zlib.compress(rows * 7000, 1)) + png_chunk(b"IEND", b"")
    started = time.perf_counter()
    with pytest.raises(ImageError, match="pixels"):
        decode_image(data)
    assert time.perf_counter() - started < 0.5


# -- progressive JPEG with many scans -----------------------------------------------------------------


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(start, marker, end) of each segment; a scan's end includes its entropy-coded data."""
    segments, at = [], 2
    while at < len(data) and data[at + 1] != 0xD9:
        marker = data[at + 1]
        end = at + 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        if marker == 0xDA:
            while data[end] != 0xFF or data[end + 1] == 0 or 0xD0 <= data[end + 1] <= 0xD7:
                end += 1
        segments.append((at, marker, end))
        at = end
    return segments


@pytest.mark.timeout(300)
@settings(fuzz_settings(10, deadline_ms=None), max_examples=10)  # deep or not: a fixed attack
@given(extra_scans=st.integers(300, 5000), side=st.integers(1500, 2500))
@example(extra_scans=5000, side=2500)
def test_many_scans_do_not_stall_the_decoder(extra_scans, side):
    """Each scan of a progressive JPEG costs a pass over every coefficient: thousands of 60-byte
    scans in a 1 MB request would hold a core for minutes (libjpeg-turbo's `-maxscans`)."""
    buffer = io.BytesIO()
    Image.new("RGB", (side, side)).save(buffer, format="JPEG", progressive=True)
    data = buffer.getvalue()
    start, _, end = [s for s in jpeg_segments(data) if s[1] == 0xDA][-1]
    data = data[:end] + data[start:end] * extra_scans + data[end:]
    started = time.perf_counter()
    decode_or_error(data)
    assert time.perf_counter() - started < 2.0


@fuzz_settings(60)
@given(image=encoded_images(max_side=300, kinds=[k for k in KINDS if k[0] in ("JPEG", "MPO")]))
def test_scan_count_of_written_jpegs(image):
    """The count decode_image limits agrees with a plain walk over the segments (the first
    frame's), and leaves room for what encoders write."""
    expected = sum(marker == 0xDA for _, marker, _ in jpeg_segments(image.data))
    assert jpeg_structure(image.data, stop_after=10_000)[1] == expected
    # libjpeg's scripts: 1 (baseline), 6 (grey), 10 (colour) or 18 (CMYK) scans.
    assert expected in (1, 6, 10, 18) and expected <= DEFAULT_LIMITS.max_jpeg_scans


# -- files made of many empty segments ------------------------------------------------------------------

FILLERS = {
    "JPEG": [b"\xff\xfe\x00\x02", b"\xff\xe5\x00\x02", b"\xff\xe1\x00\x08Exif\x00\x00"],  # COM, APP5, APP1
    "PNG": [png_chunk(b"abCd", b""), png_chunk(b"tEXt", b"k\x00v"), png_chunk(b"IDAT", b"")],
}


@fuzz_settings(20, deadline_ms=None)
@given(
    fmt=st.sampled_from(sorted(FILLERS)),
    filler=st.integers(0, 2),
    count=st.integers(0, 200) | st.integers(0, 2_000_000),
    after_pixels=st.booleans(),
)
@example(fmt="JPEG", filler=0, count=2_000_000, after_pixels=False)
@example(fmt="PNG", filler=0, count=2_000_000, after_pixels=False)
def test_many_empty_segments_do_not_stall_the_parser(fmt, filler, count, after_pixels):
    """Pillow reads JPEG segments and PNG chunks one by one in Python: 20 MB of empty ones
    held a core for 15-25 s before they were counted first."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buffer, format=fmt)
    data, padding = buffer.getvalue(), FILLERS[fmt][filler]
    count = min(count, (DEFAULT_LIMITS.max_bytes - len(data)) // len(padding))
    # After IHDR / SOI, or just before IEND / EOI (after the pixels).
    at = {"PNG": (33, len(data) - 12), "JPEG": (2, len(data) - 2)}[fmt][after_pixels]
    data = data[:at] + padding * count + data[at:]
    started = time.perf_counter()
    pixels = decode_or_error(data)
    assert time.perf_counter() - started < 1.0, f"{count} segments"
    if count <= 100 and (fmt, filler) != ("PNG", 2):
        assert pixels is not None  # a few extra segments are fine (an empty IDAT is not)
