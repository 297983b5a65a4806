"""The heat maths of "why this match": cosine per cell, upsampling, share of heat, overlay."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from server.models import heatmap


def test_cosine_grid_is_the_cosine_of_each_cell():
    rng = np.random.default_rng(0)
    cells = rng.normal(size=(3, 4, 8))
    query = rng.normal(size=8)
    grid = heatmap.cosine_grid(query, cells)
    assert grid.shape == (3, 4)
    expected = cells[1, 2] @ query / (np.linalg.norm(cells[1, 2]) * np.linalg.norm(query))
    assert grid[1, 2] == pytest.approx(expected, abs=1e-6)
    # scale-free: a cell scaled by 10 keeps its heat
    cells[0, 0] *= 10
    assert heatmap.cosine_grid(query, cells)[0, 0] == pytest.approx(grid[0, 0], abs=1e-6)


def test_cosine_grid_gives_zero_to_empty_cells_and_refuses_other_dimensions():
    cells = np.zeros((2, 2, 4))
    cells[0, 0] = [1, 0, 0, 0]
    grid = heatmap.cosine_grid(np.array([1.0, 0, 0, 0]), cells)
    assert grid.tolist() == [[1.0, 0.0], [0.0, 0.0]]
    with pytest.raises(ValueError):
        heatmap.cosine_grid(np.ones(3), cells)


def test_upsample_keeps_a_constant_grid_constant():
    up = heatmap.upsample(np.full((7, 7), 0.25), 100, 60)
    assert up.shape == (100, 60)
    assert np.allclose(up, 0.25)


def test_upsample_puts_the_peak_at_the_hot_cells_centre():
    grid = np.zeros((14, 14))
    grid[3, 10] = 1.0
    # 16 px per cell: the centre of cell (3, 10) is at (56, 168), between pixels 55 and 56
    # and 167 and 168 (pixel i covers [i, i + 1))
    up = heatmap.upsample(grid, 224, 224)
    y, x = np.unravel_index(np.argmax(up), up.shape)
    assert y in (55, 56) and x in (167, 168)
    assert up.max() <= 1.0 and up.min() >= 0.0
    # bilinear between cell centres: pixel 175's centre (175.5) lies 7.5 px right of the hot
    # centre, pixel 55's (55.5) 0.5 px above it
    assert up[55, 175] == pytest.approx((1 - 7.5 / 16) * (1 - 0.5 / 16), abs=1e-6)
    # nothing of the cell reaches two cells away
    assert up[:24].max() == 0.0 and up[90:].max() == 0.0


def test_upsample_of_a_non_square_image_keeps_rows_and_columns():
    grid = np.array([[0.0, 1.0], [0.0, 0.0]])  # hot top-right
    up = heatmap.upsample(grid, 50, 200)
    assert up[:12, 150:].min() == pytest.approx(1.0)
    assert up[38:, :50].max() == pytest.approx(0.0)


def test_heat_share_is_the_mass_inside_the_box():
    heat = np.zeros((10, 10))
    heat[2:4, 2:4] = 1.0  # 4 units inside the box below
    heat[8, 8] = 4.0  # 4 units outside
    assert heatmap.heat_share(heat, (0, 0, 5, 5)) == pytest.approx(0.5)
    assert heatmap.heat_share(heat, (0, 0, 10, 10)) == pytest.approx(1.0)
    assert heatmap.heat_share(np.zeros((4, 4)), (0, 0, 2, 2)) == 0.0


def test_heat_share_of_uniform_heat_is_the_area():
    assert heatmap.heat_share(np.ones((100, 200)), (0, 0, 50, 100)) == pytest.approx(0.25)


def test_heat_share_refuses_negative_heat_and_boxes_outside():
    with pytest.raises(ValueError):
        heatmap.heat_share(np.full((4, 4), -0.1), (0, 0, 2, 2))
    with pytest.raises(ValueError):
        heatmap.heat_share(np.ones((4, 4)), (0, 0, 5, 2))
    with pytest.raises(ValueError):
        heatmap.heat_share(np.ones((4, 4)), (2, 0, 2, 2))  # empty


def test_positive_and_relative_heat():
    heat = np.array([[-0.5, 0.1], [0.3, 0.5]])
    assert heatmap.positive_heat(heat).tolist() == [[0.0, 0.1], [0.3, 0.5]]
    relative = heatmap.relative_heat(heat)  # median 0.2
    assert relative.max() == pytest.approx(1.0)
    assert relative[0].tolist() == [0.0, 0.0]
    assert relative[1, 0] == pytest.approx(0.1 / 0.3)
    assert not heatmap.relative_heat(np.full((3, 3), 0.4)).any()


def test_colourise_runs_from_blue_to_red():
    colours = heatmap.colourise(np.array([[0.0, 0.5, 1.0]]))
    assert colours[0, 0].tolist() == [0, 0, 255]
    assert colours[0, 1].tolist() == [0, 255, 0]
    assert colours[0, 2].tolist() == [255, 0, 0]


def test_overlay_leaves_cold_pixels_alone_and_tints_hot_ones():
    image = np.full((4, 4, 3), 200, dtype=np.uint8)
    heat = np.zeros((4, 4))
    heat[0, 0] = 1.0
    drawn = heatmap.overlay(image, heat, alpha=0.5)
    assert (drawn[1:, 1:] == 200).all()
    assert drawn[0, 0].tolist() == [228, 100, 100]  # 0.5 x (200, 200, 200) + 0.5 x red
    with pytest.raises(ValueError):
        heatmap.overlay(image, np.zeros((3, 4)))


def test_overlay_png_has_the_image_size_and_heat_where_the_grid_is_hot():
    image = np.full((120, 80, 3), 255, dtype=np.uint8)
    grid = np.zeros((7, 7))
    grid[6, 0] = 0.9  # bottom-left
    with Image.open(io.BytesIO(heatmap.overlay_png(image, grid))) as picture:
        assert picture.format == "PNG" and picture.size == (80, 120)
        drawn = np.asarray(picture.convert("RGB")).astype(int)
    assert (drawn[:40] == 255).all()  # the top stays as it was
    assert drawn[115, 3, 2] < 200  # the bottom-left is tinted (white loses blue under red)
