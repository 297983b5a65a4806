"""A deleted product leaves nothing readable in the data directory, through the real
gateway: after DeleteProducts returns, no file under the data directory holds its id,
title, attributes, URI, stored image or thumbnail, nor a float32 copy of any of its
vectors (image, title, the four copy descriptors) — while the gateway runs and after it
stopped (its snapshots written from memory) — and every file is 0600, every folder 0700.

One product was indexed, snapshotted and reloaded before it is deleted (its vectors sit in
hnswlib and in the snapshot files), another was written into the running gateway (it lives
in the WAL only)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import grpc
import numpy as np
import pytest

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.app import create_server
from server.config import Config
from server.models.copy_descriptor import DIM, HYPOTHESES
from server.models.images import encode_png
from server.tools import fashion_mnist
from tests.gateway_helpers import catalog_dir, fmnist_product, requests
from tests.residue import found_bytes, modes_not_private, vector_copies, windows

pytestmark = pytest.mark.integration
JPEG_HEADER = 1024


@pytest.fixture(scope="module")
def train():
    return fashion_mnist.load("train")


def marked(name: str, photo: np.ndarray) -> pb.Product:
    return pb.Product(
        id=f"gone-{name}-ID-4471",
        title=f"TITLE-{name}-8830 红色 leather bag",
        category="Bag",
        price=12.5,
        attributes={"note": f"ATTR-{name}-2291"},
        image_uri=f"https://example.test/URI-{name}-6618.png",
        image=encode_png(photo),
    )


def traces(catalog_file: Path, product_id: str) -> tuple[dict[str, bytes], dict[str, np.ndarray]]:
    """What the catalog stores of a product: byte needles (strings; stored JPEG, thumbnail
    and vectors in slices) and its vectors by space (copy: each descriptor)."""
    with contextlib.closing(sqlite3.connect(f"{catalog_file.resolve().as_uri()}?mode=ro", uri=True)) as db:
        key, title, attributes, uri, image, thumbnail = db.execute(
            "SELECT key, title, attributes, image_uri, image, thumbnail FROM products WHERE id = ?",
            (product_id,),
        ).fetchone()
        rows = db.execute("SELECT space, vector FROM embeddings WHERE key = ?", (key,)).fetchall()
    needles = {"id": product_id.encode(), "title": title.encode(), "uri": uri.encode()}
    needles |= {"attributes": attributes.encode(), "attribute value": attributes.split('"')[3].encode()}
    # Past the first KB: every JPEG of the same quality starts with the same header and tables.
    needles |= {f"image[{i}]": w for i, w in enumerate(windows(image[JPEG_HEADER:]))}
    needles |= {f"thumbnail[{i}]": w for i, w in enumerate(windows(thumbnail[JPEG_HEADER:]))}
    assert len(image) > 2 * JPEG_HEADER and len(thumbnail) > 2 * JPEG_HEADER
    vectors: dict[str, np.ndarray] = {}
    for space, blob in rows:
        needles |= {f"{space} bytes[{i}]": w for i, w in enumerate(windows(blob))}
        vector = np.frombuffer(blob, "<f4")
        if space == "copy":
            for h, part in enumerate(vector.reshape(HYPOTHESES, DIM)):
                vectors[f"copy[{h}]"] = part
        else:
            vectors[space] = vector
    assert {"image", "title", "copy[0]"} <= set(vectors), sorted(vectors)
    return needles, vectors


def assert_all_found(data_dir: Path, needles: dict[str, bytes]) -> None:
    """Every needle is in some file, but for a slice of a vector that SQLite split between
    two overflow pages (at most two such)."""
    missing = set(needles) - set(found_bytes(data_dir, needles))
    assert all(" bytes[" in name for name in missing) and len(missing) <= 2, sorted(missing)


def assert_nothing_left(data_dir: Path, needles: dict[str, bytes], vectors: dict[str, np.ndarray]) -> None:
    assert found_bytes(data_dir, needles) == {}
    assert vector_copies(data_dir, vectors) == {}
    assert modes_not_private(data_dir) == []


async def test_deleted_products_leave_nothing_in_the_data_directory(tmp_path, triton, train, photos):
    data_dir = tmp_path / "data"
    config = Config(data_dir=data_dir, port=0, triton_url=triton.url)
    others = [fmnist_product(train, 3200 + i, "keep") for i in range(24)]
    snapshotted, in_wal = marked("SNAP", photos["chelsea"]), marked("WAL", photos["coffee"])

    gateway = await create_server(config)
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            assert (
                await stub.UpsertProducts(requests([*others[:12], snapshotted, *others[12:]]))
            ).upserted == 25
    finally:
        await gateway.stop()  # snapshots now hold the product's vectors and facets
    catalog_file = catalog_dir(data_dir) / "catalog.sqlite3"
    needles, vectors = traces(catalog_file, snapshotted.id)
    assert_all_found(data_dir, needles)  # the scan finds what is there
    copies = vector_copies(data_dir, vectors)
    assert set(copies) == set(vectors) and any("indexes" in f for f, _ in copies["image"]), copies

    gateway = await create_server(config)  # loads the snapshots: hnswlib holds the vectors
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            assert (await stub.UpsertProducts(requests([in_wal]))).upserted == 1
            wal_needles, wal_vectors = traces(catalog_file, in_wal.id)
            assert_all_found(data_dir, wal_needles)
            hits = await stub.FindDuplicates(pb.FindDuplicatesRequest(image=snapshotted.image))
            assert snapshotted.id in [h.product.id for h in hits.hits]

            deleted = await stub.DeleteProducts(pb.DeleteProductsRequest(ids=[snapshotted.id, in_wal.id]))
            assert deleted.deleted == 2
            assert_nothing_left(
                data_dir,
                needles | {f"wal {k}": v for k, v in wal_needles.items()},
                vectors | {f"wal {k}": v for k, v in wal_vectors.items()},
            )
            for product in (snapshotted, in_wal):
                with pytest.raises(grpc.aio.AioRpcError) as missing:
                    await stub.GetProduct(pb.GetProductRequest(id=product.id))
                assert missing.value.code() == grpc.StatusCode.NOT_FOUND
            hits = await stub.SearchByImage(pb.SearchByImageRequest(image=others[3].image))
            assert hits.hits[0].product.id == others[3].id
    finally:
        await gateway.stop()  # writes new snapshots from memory
    assert_nothing_left(data_dir, needles | wal_needles, vectors | wal_vectors)

    gateway = await create_server(config)
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            stats = await stub.GetStats(pb.GetStatsRequest())
            assert stats.product_count == 24
            for product in others:
                hits = await stub.SearchByImage(
                    pb.SearchByImageRequest(image=product.image, options=pb.SearchOptions(top_k=3))
                )
                assert product.id in [h.product.id for h in hits.hits]
    finally:
        await gateway.stop()
