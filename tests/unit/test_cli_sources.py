"""The CLI's product sources (unit tier): folders and CSV files become products."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from server.tools.sources import (
    SourceError,
    products_from_csv,
    products_from_fashion_mnist,
    products_from_folder,
)


def write_image(path, colour) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 32), colour).save(path)


def test_folders_follow_the_shared_rule(tmp_path):
    """README "Folder indexing": ids are relative paths without extension, the category is
    the folder an image is in, the title comes from <stem>.txt; dot-names and other files
    are left out, links to folders are not followed."""
    write_image(tmp_path / "Sneaker" / "red_runner.jpg", "red")
    (tmp_path / "Sneaker" / "red_runner.txt").write_text("  红色跑鞋 Red runner\n", encoding="utf-8")
    write_image(tmp_path / "Bag" / "tote.PNG", "blue")
    write_image(tmp_path / "Bag" / "2024" / "deep.webp", "green")
    write_image(tmp_path / "top.jpeg", "white")
    write_image(tmp_path / ".hidden" / "secret.jpg", "black")
    write_image(tmp_path / "Bag" / ".cache.jpg", "black")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "Bag" / "link").symlink_to(tmp_path / "Sneaker", target_is_directory=True)
    products = list(products_from_folder(tmp_path))
    assert [(p.id, p.category, p.title) for p in products] == [
        ("Bag/2024/deep", "2024", ""),
        ("Bag/tote", "Bag", ""),
        ("Sneaker/red_runner", "Sneaker", "红色跑鞋 Red runner"),
        ("top", "", ""),
    ]
    assert products[1].image == (tmp_path / "Bag" / "tote.PNG").read_bytes()


def test_csv_rows_become_products_with_prices(tmp_path):
    write_image(tmp_path / "img" / "a.jpg", "red")
    (tmp_path / "catalog.csv").write_text(
        "id,title,category,price,image_path\nsku-1,红色运动鞋,Sneaker,59.5,img/a.jpg\nsku-2,无价,Bag,,img/a.jpg\n",
        encoding="utf-8",
    )
    first, second = products_from_csv(tmp_path / "catalog.csv")
    assert (first.id, first.title, first.category, first.price) == ("sku-1", "红色运动鞋", "Sneaker", 59.5)
    assert not second.HasField("price")
    assert first.image == (tmp_path / "img" / "a.jpg").read_bytes()


def test_fashion_mnist_products_are_balanced_and_optionally_untitled():
    products = list(products_from_fashion_mnist("test", 50, titles=False))
    categories = [p.category for p in products]
    assert len(products) == 50 and all(categories.count(c) == 5 for c in set(categories))
    assert all(p.title == "" for p in products)
    assert np.asarray(Image.open(io.BytesIO(products[0].image))).shape == (28, 28, 3)


def test_a_title_that_is_not_utf8_is_named(tmp_path):
    write_image(tmp_path / "a.jpg", "red")
    (tmp_path / "a.txt").write_bytes(b"\xff\xfe title")
    with pytest.raises(SourceError, match=r"a\.txt"):
        list(products_from_folder(tmp_path))


def test_two_images_with_one_stem_come_in_name_order(tmp_path):
    write_image(tmp_path / "x.png", "red")
    write_image(tmp_path / "x.jpg", "blue")
    assert [p.image_uri.rsplit("/", 1)[1] for p in products_from_folder(tmp_path)] == ["x.jpg", "x.png"]
