"""Helpers shared by the gateway tests: Fashion-MNIST products and proto shortcuts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from productsearch.v1 import product_search_pb2 as pb
from server.models.images import encode_png
from server.tools import fashion_mnist


def fmnist_product(split: fashion_mnist.Split, index: int, name: str, titled: bool = True) -> pb.Product:
    category = fashion_mnist.CATEGORIES_EN[split.labels[index]]
    return pb.Product(
        id=f"{name}-{index:05d}",
        title=category if titled else "",
        category=category,
        price=float(index % 100),
        image=encode_png(split.rgb(index)),
        attributes={"parity": "even" if index % 2 == 0 else "odd"},
    )


def requests(products: list[pb.Product]):
    for product in products:
        yield pb.UpsertProductsRequest(product=product)


async def all_ids(stub) -> list[str]:
    """Every product id of the default catalog, page by page (an asyncio stub)."""
    ids, token = [], ""
    while True:
        page = await stub.ListProducts(pb.ListProductsRequest(page_size=1000, page_token=token))
        ids += [p.id for p in page.products]
        if not (token := page.next_page_token):
            return ids


def all_ids_blocking(stub) -> list[str]:
    """Every product id of the default catalog, page by page (a blocking stub)."""
    ids, token = [], ""
    while True:
        page = stub.ListProducts(pb.ListProductsRequest(page_size=1000, page_token=token), timeout=30)
        ids += [p.id for p in page.products]
        if not (token := page.next_page_token):
            return ids


def precision_at_k(hits, category: str, k: int = 10) -> float:
    return float(np.mean([h.product.category == category for h in hits[:k]])) if hits else 0.0


def catalog_dir(data_dir: Path, catalog_id: str = "default") -> Path:
    """The folder where a (stopped) gateway keeps a catalog's database and indexes."""
    from server.catalog.sqlite import SqliteCatalogRegistry

    registry = SqliteCatalogRegistry(data_dir)
    try:
        info = registry.get(catalog_id)
        assert info is not None, f"no catalog {catalog_id!r} in {data_dir}"
        return registry.directory(info)
    finally:
        registry.close()
