"""Saleor's colour product photos (unit tier: the wheel `make data` fetches, no models):
products read from the zip, photos decoded the way the gateway decodes them."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from server.models.images import decode_image
from server.tools import saleor
from server.tools.sources import products_from_saleor


@pytest.fixture(scope="module")
def products() -> list[saleor.SaleorProduct]:
    return saleor.load()


def test_every_product_has_its_photo_name_category_and_colour(products):
    assert len(products) == 35 and len({p.id for p in products}) == 35
    assert {p.category for p in products} == {
        "Alcohol", "Footwear", "Homewares", "Hoodies", "Juices", "Paints", "Polo Shirts", "T-shirts",
    }  # fmt: skip
    by_id = {p.id: p for p in products}
    assert by_id["black-hoodie"].attributes == {"material": "Cotton", "color": "black"}
    assert by_id["space-dust-navy-paint"].attributes["color"] == "blue"
    assert by_id["t-shirt-2"].attributes["color"] == "red"  # from its photo: the name has no colour
    assert len(by_id["yellow-plimsolls"].views) == 3  # other views of the same shoes
    assert sum(len(p.views) for p in products) == 15  # 50 product photos in all


def test_photos_are_colour_pngs_with_alpha_that_decode_over_white(products):
    photo = next(p for p in products if p.id == "blue-hoodie").image
    source = Image.open(io.BytesIO(photo))
    assert (source.format, source.size) == ("PNG", (1024, 1024))
    assert source.mode == "P" and "transparency" in source.info  # a palette with alpha
    assert np.asarray(source.convert("RGBA"))[0, 0, 3] == 0  # a see-through corner
    decoded = decode_image(photo)
    assert decoded.shape == (512, 512, 3)
    assert (decoded[0, 0] == 255).all()  # composited over white, as shops show it
    garment = decoded[(decoded < 240).any(axis=2)]  # what is not background
    red, green, blue = garment.mean(axis=0)
    assert blue > red + 60 and blue > green + 60  # the hoodie is blue


def test_the_index_source_names_products_by_slug(products):
    indexed = list(products_from_saleor())
    assert [p.id for p in indexed] == [f"saleor-{p.id}" for p in products]
    assert indexed[0].image == products[0].image and indexed[0].attributes["color"]


def test_a_missing_wheel_says_how_to_get_it(tmp_path):
    with pytest.raises(saleor.SaleorMissingError, match="make data"):
        saleor.load(tmp_path / saleor.WHEEL)
