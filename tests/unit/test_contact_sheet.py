"""Contact sheets with heat: a hit's heatmap PNG drawn in place of its thumbnail."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from server.models import heatmap
from server.models.images import encode_png
from server.tools.contact_sheet import CELL, contact_sheet


def test_heat_replaces_the_thumbnail_and_is_tagged(tmp_path):
    grey = np.full((64, 64, 3), 128, dtype=np.uint8)
    grid = np.zeros((7, 7))
    grid[0, 0] = 1.0
    tiles = [(encode_png(grey), "#1"), (encode_png(grey), "#2")]
    heat = [heatmap.overlay_png(grey, grid), b""]  # the second keeps its thumbnail
    plain = np.asarray(Image.open(contact_sheet(tiles, tmp_path / "plain.png", columns=2)).convert("RGB"))
    drawn = np.asarray(
        Image.open(contact_sheet(tiles, tmp_path / "heat.png", columns=2, heat=heat)).convert("RGB")
    )
    assert plain.shape == drawn.shape
    assert drawn[8, CELL - 40].tolist() == [228, 87, 46]  # the "heat" tag of tile 1
    assert drawn[30, 20].tolist() != plain[30, 20].tolist()  # hot top-left of tile 1
    assert (drawn[:, CELL:] == plain[:, CELL:]).all()  # tile 2 unchanged
    assert plain[80, 80].tolist() == plain[80, CELL + 80].tolist() == [128, 128, 128]  # thumbnails drawn
    assert drawn[80, 80].tolist() != [255, 255, 255]  # the heatmap is drawn, not left blank


def test_heat_needs_one_entry_per_tile(tmp_path):
    with pytest.raises(ValueError):
        contact_sheet([(b"", "a")], tmp_path / "x.png", heat=[])
