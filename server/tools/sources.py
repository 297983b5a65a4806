"""Where `productsearch index` reads products from: a folder of images, a CSV file, or
Fashion-MNIST. The folder rule is the one every client's `upsert FOLDER` follows
(README: "Folder indexing"), so that one folder gives the same products everywhere."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from productsearch.v1 import product_search_pb2 as pb

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


@dataclass(frozen=True)
class FolderEntry:
    id: str  # path relative to the folder, without extension, "/" between folders
    path: Path
    category: str  # the name of the folder it is in; empty at the top
    title: str  # the trimmed text of <stem>.txt beside it; empty without one


class SourceError(ValueError):
    """A local file that cannot become a product (a name or title that is not UTF-8)."""


def folder_entries(folder: Path) -> list[FolderEntry]:
    """Every regular image file under `folder` at any depth (names starting with "." are
    skipped, as are links to folders), sorted by id, then file name (`x.jpg` before
    `x.png`: the later one wins)."""
    entries = []
    for path in _walk(Path(folder)):
        relative = path.relative_to(folder)
        try:
            relative.as_posix().encode()
        except UnicodeEncodeError:
            raise SourceError(f"{os.fsdecode(path)!r}: the file name is not UTF-8") from None
        title_file = path.with_suffix(".txt")
        try:
            title = title_file.read_text(encoding="utf-8").strip() if title_file.is_file() else ""
        except UnicodeDecodeError:
            raise SourceError(f"{title_file}: a title file must be UTF-8 text") from None
        parent = relative.parent
        category = "" if parent == Path(".") else parent.name
        entries.append(FolderEntry(relative.with_suffix("").as_posix(), path, category, title))
    return sorted(entries, key=lambda e: (e.id.encode(), e.path.name.encode()))


def _walk(folder: Path) -> Iterator[Path]:
    for path in folder.iterdir():
        if path.name.startswith("."):
            continue
        if path.is_dir() and not path.is_symlink():
            yield from _walk(path)
        elif path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            yield path


def products_from_folder(folder: Path) -> Iterator[pb.Product]:
    for entry in folder_entries(folder):
        yield pb.Product(
            id=entry.id,
            title=entry.title,
            category=entry.category,
            image=entry.path.read_bytes(),
            image_uri=str(entry.path),
        )


def products_from_csv(path: Path) -> Iterator[pb.Product]:
    """Rows `id,title,category,price,image_path` (header required; image_path relative to
    the CSV's folder or absolute)."""
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            image = (path.parent / row["image_path"]).resolve()
            product = pb.Product(
                id=row["id"],
                title=row.get("title", ""),
                category=row.get("category", ""),
                image=image.read_bytes(),
                image_uri=str(image),
            )
            if row.get("price"):
                product.price = float(row["price"])
            yield product


def products_from_fashion_mnist(split: str, limit: int, titles: bool, seed: int = 0) -> Iterator[pb.Product]:
    """`limit` products, balanced over the 10 categories; titles in English when asked."""
    from server.models.images import encode_png
    from server.tools import fashion_mnist

    data = fashion_mnist.load(split)
    for index in fashion_mnist.stratified(data, limit // 10, seed)[:limit]:
        category = fashion_mnist.CATEGORIES_EN[data.labels[index]]
        yield pb.Product(
            id=f"fmnist-{split}-{index:05d}",
            title=category if titles else "",
            category=category,
            image=encode_png(data.rgb(index)),
            attributes={"split": split, "category_zh": fashion_mnist.CATEGORIES_ZH[data.labels[index]]},
        )


def products_from_saleor() -> Iterator[pb.Product]:
    """Saleor's demo shop: 35 colour product photos with names, categories, prices and
    attributes (`color` among them); alpha is composited over white by the gateway."""
    from server.tools import saleor

    for product in saleor.load():
        yield pb.Product(
            id=f"saleor-{product.id}",
            title=product.title,
            category=product.category,
            price=product.price,
            image=product.image,
            attributes=product.attributes,
        )
