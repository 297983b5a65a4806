"""A PNG grid of ranked hits (thumbnail, rank, score, id) to look at results; with `heat`,
each hit's "why this match" heatmap (ExplainMatch's PNG) is drawn in place of its thumbnail."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

_LOGGER = logging.getLogger(__name__)
CELL = 160
CAPTION = 34
# Pillow's built-in font has no Chinese; Debian's WenQuanYi (`make fonts`, run by demo and test) has.
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    if CJK_FONT.exists():
        return ImageFont.truetype(str(CJK_FONT), size)
    _LOGGER.warning("%s is missing (`make fonts`): Chinese text is drawn as boxes", CJK_FONT)
    return ImageFont.load_default()


def contact_sheet(
    tiles: Sequence[tuple[bytes, str]],
    path: Path,
    title: str = "",
    columns: int = 5,
    heat: Sequence[bytes] | None = None,
) -> Path:
    """`tiles` are (image bytes, caption); the caption may hold two lines. `heat`, one per
    tile, are heatmap PNGs (the hit's image with the heat drawn over it, ExplainMatch's
    `heatmap_png`) to show instead of the tile's image; an empty one keeps the image."""
    if heat is not None and len(heat) != len(tiles):
        raise ValueError(f"{len(heat)} heatmaps for {len(tiles)} tiles")
    rows = max(1, -(-len(tiles) // columns))
    header = 24 if title else 0
    sheet = Image.new("RGB", (columns * CELL, header + rows * (CELL + CAPTION)), "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((6, 4), title, fill="black", font=_font(14))
    for i, (data, caption) in enumerate(tiles):
        x, y = (i % columns) * CELL, header + (i // columns) * (CELL + CAPTION)
        heated = bool(heat and heat[i])
        if heat and heat[i]:
            data = heat[i]
        if data:
            tile = Image.open(io.BytesIO(data)).convert("RGB")
            tile = tile.resize(
                (CELL - 8, CELL - 8),
                Image.Resampling.NEAREST if tile.width < 64 else Image.Resampling.BILINEAR,
            )
            sheet.paste(tile, (x + 4, y + 4))
        if heated:
            draw.rectangle((x + CELL - 44, y + 6, x + CELL - 6, y + 20), fill=(228, 87, 46))
            draw.text((x + CELL - 40, y + 7), "heat", fill="white")
        draw.text((x + 4, y + CELL), caption, fill="black")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
