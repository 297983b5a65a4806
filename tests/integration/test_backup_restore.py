"""Catalog damage through the real gateway: a backup taken while it serves, a catalog file
damaged while it is stopped (random bytes in b-tree pages), a start that refuses in one
line, a restore, and every backed-up product back and searchable; damage met while serving
answers DATA_LOSS with a message, not UNKNOWN."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.app import create_server
from server.config import Config
from server.tools import fashion_mnist
from server.triton.runtime import free_port
from tests.gateway_helpers import all_ids, catalog_dir, fmnist_product, requests

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def train():
    return fashion_mnist.load("train")


def cli(*args: object, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server.tools.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def damage_btree_pages(path: Path, tables: list[str]) -> list[int]:
    """Random bytes over the root page of each table and the page after it (page 1, the
    header, untouched); the file must be closed and checkpointed."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        (page_size,) = db.execute("PRAGMA page_size").fetchone()
        roots = [
            db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (t,)).fetchone()[0]
            for t in tables
        ]
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    pages = sorted({page for root in roots for page in (root, root + 1) if page > 1})
    rng = np.random.default_rng(13)
    with open(path, "r+b") as handle:
        for page in pages:
            handle.seek((page - 1) * page_size)
            handle.write(rng.bytes(page_size))
    return pages


async def test_a_damaged_catalog_is_refused_then_restored_from_an_online_backup(tmp_path, triton, train):
    data_dir, backup_dir = tmp_path / "data", tmp_path / "backup"
    products = [fmnist_product(train, 3000 + i, "b", titled=i % 3 != 0) for i in range(40)]
    backed_up, later = products[:30], products[30:]
    config = Config(data_dir=data_dir, port=0, triton_url=triton.url)
    gateway = await create_server(config)
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            assert (await stub.UpsertProducts(requests(backed_up))).upserted == 30
            # Online: the gateway keeps serving and writing while the backup runs.
            backup, _ = await asyncio.gather(
                asyncio.to_thread(cli, "backup", "--data-dir", data_dir, backup_dir),
                stub.SearchByImage(pb.SearchByImageRequest(image=backed_up[0].image)),
            )
            assert backup.returncode == 0, backup.stderr
            assert "backed up 1 catalogs (30 products)" in backup.stdout, backup.stdout
            assert (await stub.UpsertProducts(requests(later))).upserted == 10  # after the backup
            refused = await asyncio.to_thread(cli, "restore", "--data-dir", data_dir, backup_dir)
            assert refused.returncode == 1 and "is in use by a running gateway" in refused.stderr, (
                refused.stderr
            )
            assert len(await all_ids(stub)) == 40  # the refused restore changed nothing
    finally:
        await gateway.stop()

    catalog_file = catalog_dir(data_dir) / "catalog.sqlite3"
    damage_btree_pages(catalog_file, ["products", "embeddings"])
    port = free_port()
    started = await asyncio.to_thread(
        cli, "serve", "--port", port, "--data-dir", data_dir, "--triton-url", triton.url
    )
    assert started.returncode == 2, started.stderr[-3000:]
    assert "Traceback" not in started.stderr, started.stderr[-3000:]
    line = started.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: catalog 'default' {catalog_file} is damaged (quick_check: "), line
    assert f"productsearch restore --data-dir {data_dir} BACKUP_DIR" in line, line

    restored = await asyncio.to_thread(cli, "restore", "--data-dir", data_dir, backup_dir)
    assert restored.returncode == 0, restored.stderr
    assert "restored 1 catalogs (30 products)" in restored.stdout, restored.stdout
    gateway = await create_server(config)
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            assert sorted(await all_ids(stub)) == sorted(p.id for p in backed_up)
            for product in backed_up:
                got = (await stub.GetProduct(pb.GetProductRequest(id=product.id))).product
                assert (got.title, got.category, dict(got.attributes)) == (
                    product.title,
                    product.category,
                    dict(product.attributes),
                )
                hits = await stub.SearchByImage(
                    pb.SearchByImageRequest(image=product.image, options=pb.SearchOptions(top_k=5))
                )
                assert product.id in [h.product.id for h in hits.hits], product.id
            titled = next(p for p in backed_up if p.title)
            hits = await stub.SearchByText(pb.SearchByTextRequest(text=titled.title))
            assert hits.hits and hits.hits[0].product.title == titled.title
            stats = await stub.GetStats(pb.GetStatsRequest())
            assert {i.space: i.count for i in stats.indexes} == {"image": 30, "title": 20, "copy": 30}
    finally:
        await gateway.stop()


async def test_damage_met_while_serving_is_data_loss(tmp_path, triton, train, caplog):
    products = [fmnist_product(train, 3100 + i, "d") for i in range(30)]
    config = Config(data_dir=tmp_path, port=0, triton_url=triton.url)
    gateway = await create_server(config)
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            assert (await stub.UpsertProducts(requests(products))).upserted == 30
    finally:
        await gateway.stop()
    gateway = await create_server(config)  # snapshots current: the products table is not read at start
    caplog.set_level(logging.ERROR, "server.catalog.sqlite")
    try:
        damage_btree_pages(catalog_dir(tmp_path) / "catalog.sqlite3", ["products"])
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            calls = {
                "GetProduct": stub.GetProduct(pb.GetProductRequest(id=products[4].id)),
                "SearchByImage": stub.SearchByImage(pb.SearchByImageRequest(image=products[4].image)),
                "ListProducts": stub.ListProducts(pb.ListProductsRequest()),
            }
            for name, call in calls.items():
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await call
                assert failed.value.code() == grpc.StatusCode.DATA_LOSS, (name, failed.value)
                assert (
                    "is damaged" in failed.value.details()
                    and "productsearch restore" in failed.value.details()
                )
    finally:
        await gateway.stop()
    assert any("is damaged" in r.getMessage() for r in caplog.records), "the damage was not logged"
