"""A deleted product leaves nothing readable behind (unit tier, real SQLite and hnswlib
files): the catalog's database and WAL hold none of its bytes once the delete returns (also
when SQLite is built without secure delete), a read holding the WAL only delays that to its
end, saved hnswlib graphs carry no deleted vector, a delete removes the stale snapshot, and
every file is 0600 in 0700 folders."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import hnswlib
import numpy as np
import pytest

from server.catalog import sqlite as catalog_sqlite
from server.catalog.sqlite import SqliteCatalogRegistry, SqliteCatalogStore
from server.domain import Facets, Product, ProductWrite
from server.files import restrict_tree
from server.index.embedded import open_embedded
from server.index.hnsw import IndexParams, VectorIndex, erase_deleted_vectors
from server.index.snapshot import SnapshotWriter
from server.index.store import IndexSpace, VectorRecord
from tests.residue import found_bytes, modes_not_private, vector_copies, windows

VERSIONS = {"image": ("lite0", "v1"), "title": ("text", "v1")}
SPACE = IndexSpace("image", "lite0", "v1", 64)


def unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def victim_and_others(rng: np.random.Generator, others: int = 40) -> tuple[ProductWrite, list[ProductWrite]]:
    def product(id_: str, title: str, attribute: str, uri: str, image: bytes) -> ProductWrite:
        return ProductWrite(
            Product(
                id=id_,
                title=title,
                category="Bag",
                price=9.5,
                attributes={"note": attribute},
                image_uri=uri,
                thumbnail=b"THUMB:" + image[:2000],
            ),
            image,
            {"image": unit(rng, 1, SPACE.dim)[0], "title": unit(rng, 1, SPACE.dim)[0]},
        )

    victim = product(
        "victim-9f3a", "TITLE-MARK-5521 红色", "ATTR-MARK-7730", "uri://URI-MARK-1408", rng.bytes(20000)
    )
    rest = [product(f"p{i}", f"title {i}", f"a{i}", f"uri://{i}", rng.bytes(6000)) for i in range(others)]
    return victim, rest


def needles(victim: ProductWrite) -> dict[str, bytes]:
    p = victim.product
    found = {
        "id": p.id.encode(),
        "title": b"TITLE-MARK-5521",
        "attribute": b"ATTR-MARK-7730",
        "uri": b"URI-MARK-1408",
    }
    found |= {f"image[{i}]": w for i, w in enumerate(windows(victim.image_jpeg))}
    found |= {f"thumbnail[{i}]": w for i, w in enumerate(windows(p.thumbnail[6:]))}
    for space, vector in victim.embeddings.items():
        found |= {f"{space}[{i}]": w for i, w in enumerate(windows(np.asarray(vector, "<f4").tobytes()))}
    return found


@pytest.mark.parametrize("built_with_secure_delete", [True, False])
def test_a_deleted_product_leaves_no_bytes_in_the_catalog_files(
    tmp_path, monkeypatch, built_with_secure_delete
):
    if not built_with_secure_delete:  # as where SQLite is built without SQLITE_SECURE_DELETE
        connect = sqlite3.connect

        def insecure(*args, **kwargs):
            connection = connect(*args, **kwargs)
            connection.execute("PRAGMA secure_delete=OFF")
            return connection

        monkeypatch.setattr(catalog_sqlite.sqlite3, "connect", insecure)
    rng = np.random.default_rng(1)
    victim, others = victim_and_others(rng)
    store = SqliteCatalogStore(tmp_path / "catalog.sqlite3")
    try:
        store.upsert(others[:20], VERSIONS)
        store.upsert([victim], VERSIONS)
        store.upsert(others[20:], VERSIONS)
        for _ in range(5):  # every pooled reader has read the victim: idle readers must not block
            assert store.get(victim.product.id) is not None
        vectors = {space: np.asarray(v) for space, v in victim.embeddings.items()}
        assert set(found_bytes(tmp_path, needles(victim))) == set(needles(victim))  # the scan sees them
        assert set(vector_copies(tmp_path, vectors)) == {"image", "title"}
        assert store.delete([victim.product.id]).keys
        assert os.path.getsize(tmp_path / "catalog.sqlite3-wal") == 0
        assert found_bytes(tmp_path, needles(victim)) == {}
        assert vector_copies(tmp_path, vectors) == {}
        assert store.get("p3") is not None and store.count() == len(others)
    finally:
        store.close()
    assert found_bytes(tmp_path, needles(victim)) == {} and vector_copies(tmp_path, vectors) == {}


def test_a_read_holding_the_wal_delays_the_truncation_to_its_end(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog_sqlite, "CHECKPOINT_WAIT_S", 0.3)
    rng = np.random.default_rng(2)
    victim, others = victim_and_others(rng, 10)
    store = SqliteCatalogStore(tmp_path / "catalog.sqlite3")
    try:
        store.upsert([victim, *others], VERSIONS)
        reader = sqlite3.connect(tmp_path / "catalog.sqlite3", isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM products").fetchone()  # a long read, begun before the delete
        started = time.monotonic()
        store.delete([victim.product.id])
        assert time.monotonic() - started < 2.0  # waited 0.3 s, not the 30 s busy timeout
        assert os.path.getsize(tmp_path / "catalog.sqlite3-wal") > 0  # still held
        reader.execute("COMMIT")
        reader.close()
        store.count()  # the next read to end truncates it
        assert os.path.getsize(tmp_path / "catalog.sqlite3-wal") == 0
        assert found_bytes(tmp_path, needles(victim)) == {}
    finally:
        store.close()


def test_saved_graphs_carry_no_deleted_vector(tmp_path):
    rng = np.random.default_rng(3)
    vectors = unit(rng, 500, SPACE.dim)
    index = VectorIndex(SPACE, IndexParams(initial_capacity=64))
    index.upsert(np.arange(500), vectors)
    deleted = [7, 100, 499]
    assert index.delete(deleted) == 3
    writer = SnapshotWriter(tmp_path, SPACE.name, 1)
    index.write_into(writer)
    writer.commit()
    assert vector_copies(tmp_path, {str(k): vectors[k] for k in deleted}) == {}
    assert set(vector_copies(tmp_path, {"kept": vectors[8]})) == {"kept"}  # the scan sees live ones
    loaded, _ = VectorIndex.load(tmp_path, SPACE)
    assert len(loaded) == 497 and loaded.search(vectors[8], 1)[0][0] == 8
    hits = [key for key, _ in loaded.search(vectors[8], 10)]
    exact = [int(k) for k in np.argsort(-(vectors @ vectors[8])) if k not in deleted][:10]
    assert len(set(hits) & set(exact)) >= 9
    loaded.upsert([100], vectors[100:101])  # a deleted key comes back with its vector
    assert loaded.search(vectors[100], 1)[0] == (100, pytest.approx(1.0, abs=1e-5))


def test_erasing_follows_hnswlib_file_layout(tmp_path):
    rng = np.random.default_rng(4)
    vectors = unit(rng, 300, 48)
    graph = hnswlib.Index(space="ip", dim=48)
    graph.init_index(max_elements=400, M=8, ef_construction=50, allow_replace_deleted=True)
    graph.add_items(vectors, np.arange(300))
    for key in (0, 150, 299):
        graph.mark_deleted(key)
    path = tmp_path / "graph.hnsw"
    graph.save_index(str(path))
    assert erase_deleted_vectors(path, 48) == 3
    reloaded = hnswlib.Index(space="ip", dim=48)
    reloaded.load_index(str(path), allow_replace_deleted=True)
    live = [k for k in range(300) if k not in (0, 150, 299)]
    np.testing.assert_array_equal(reloaded.get_items(live), vectors[live])
    assert vector_copies(tmp_path, {"0": vectors[0], "150": vectors[150]}) == {}
    with pytest.raises(RuntimeError, match="layout"):
        erase_deleted_vectors(path, 47)  # another dimension: refused, not overwritten blindly


class Catalog:
    """The embedding source open_embedded rebuilds from."""

    def __init__(self, rows: dict[int, np.ndarray], seq: int) -> None:
        self.rows, self._seq = rows, seq

    def seq(self) -> int:
        return self._seq

    def iter_embeddings(self, space: str):
        from server.domain import EmbeddingRow

        yield [EmbeddingRow(k, space, SPACE.model, SPACE.model_version, v) for k, v in self.rows.items()]

    def keys_without(self, space: str) -> list[int]:
        return []


def test_a_delete_removes_the_stale_snapshot_and_the_next_one_is_clean(tmp_path):
    rng = np.random.default_rng(5)
    vectors = unit(rng, 50, SPACE.dim)
    catalog = Catalog(dict(enumerate(vectors)), 1)
    store, _ = open_embedded(tmp_path, SPACE, IndexParams(), catalog)
    facets = Facets.of(Product(id="x", category="FACET-MARK-3312"))
    store.upsert([VectorRecord(7, vectors[7], facets)], 2)
    store.close()  # a snapshot holding key 7 and its facets
    assert set(vector_copies(tmp_path, {"7": vectors[7]})) == {"7"}
    catalog._seq = 2
    store, _ = open_embedded(tmp_path, SPACE, IndexParams(), catalog)
    assert store.count() == 50
    store.delete([7], 3)
    assert list(tmp_path.iterdir()) == []  # behind the catalog from now on: removed
    store.close()
    assert vector_copies(tmp_path, {"7": vectors[7]}) == {}
    assert found_bytes(tmp_path, {"facet": b"FACET-MARK-3312"}) == {}
    del catalog.rows[7]
    catalog._seq = 3
    reopened, _ = open_embedded(tmp_path, SPACE, IndexParams(), catalog)
    assert reopened.count() == 49 and reopened.search(vectors[8], 1)[0][0] == 8


def test_files_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        data_dir = tmp_path / "data"
        registry = SqliteCatalogRegistry(data_dir)
        info = registry.create("shop")
        store = registry.open(info)
        rng = np.random.default_rng(6)
        _, others = victim_and_others(rng, 3)
        store.upsert(others, VERSIONS)
        rows = {i: unit(rng, 1, SPACE.dim)[0] for i in range(10)}
        index, _ = open_embedded(
            registry.directory(info) / "indexes" / "image", SPACE, IndexParams(), Catalog(rows, 0)
        )
        index.close()
        assert modes_not_private(data_dir) == []
        store.close()
        registry.close()
        for path in (
            data_dir / "catalogs.sqlite3",
            registry.directory(info),
        ):  # as an older version left them
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        (data_dir / "old.txt").write_text("x")
        assert len(modes_not_private(data_dir)) == 3
        assert restrict_tree(data_dir) == 3 and modes_not_private(data_dir) == []
    finally:
        os.umask(old)


def test_concurrent_reads_and_deletes_keep_working(tmp_path):
    """Truncation retried by readers while a writer deletes: no error, every read answers."""
    rng = np.random.default_rng(7)
    _, others = victim_and_others(rng, 200)
    store = SqliteCatalogStore(tmp_path / "catalog.sqlite3")
    store.upsert(others, VERSIONS)
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                store.list_page("", 50)
                list(store.iter_embeddings("image", batch=16))
            except BaseException as error:  # reported below
                errors.append(error)
                return

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        for i in range(0, 200, 10):
            store.delete([f"p{j}" for j in range(i, i + 10)])
    finally:
        done.set()
        for thread in readers:
            thread.join()
    try:
        assert errors == [] and store.count() == 0
        assert os.path.getsize(tmp_path / "catalog.sqlite3-wal") == 0
    finally:
        store.close()
