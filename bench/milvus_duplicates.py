"""Do groups of identical vectors strand HNSW in Milvus? (`make bench-milvus-duplicates`)

Catalogs repeat titles (hundreds of products called "Dress") and photos: identical vectors
at distance 0 fill each other's HNSW neighbour lists and form islands that a greedy search
cannot enter. hnswlib did this (server/index/dedup.py keeps one point per distinct vector
for it); `MilvusVectorStore` stores every product as its own row. This writes groups of
identical 512-d vectors (plus unique ones) into one collection each, waits until they are
served from indexed sealed segments, and asks one query near each group's vector: does the
top 10 come from that group, as exact search would answer? Once with every product as its
own row (`MilvusVectorStore` alone, as before 2026-12-06), once through the store the
gateway uses (`MilvusPointsStore`: one point per distinct vector, server/index/milvus_points.py).

    unshare -n sh -c 'ip link set lo up; exec .venv/bin/python -m bench.milvus_duplicates'
"""

from __future__ import annotations

import datetime
import itertools
import tempfile
from pathlib import Path

import numpy as np

from bench.machine import describe_machine
from server.index.hnsw import IndexParams
from server.index.milvus import MilvusVectors, MilvusVectorStore, members_name
from server.index.milvus_points import MilvusMembers, MilvusPointsStore
from server.index.store import IndexSpace, VectorRecord
from server.tools.local_milvus import LocalMilvus, seal_collection

SPACE = IndexSpace("title", "text_encoder", "1", 512)
MIN_INDEXED_ROWS = 1024  # Milvus builds no index on a segment with fewer rows
CASES = [  # (groups, products per group, unique products, ef)
    (30, 30, 500, 64),
    (100, 20, 0, 64),
    (10, 200, 0, 64),
    (10, 200, 0, 512),
    (10, 200, 2000, 64),
    (10, 200, 2000, 512),
]


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    print(f"machine: {describe_machine()}; date {datetime.date.today()}; HNSW M 16, efConstruction 200")
    print("| groups × products | unique products | ef | store | queries whose top 10 is their group |")
    print("|---|---:|---:|---|---:|")
    with tempfile.TemporaryDirectory() as folder, LocalMilvus(Path(folder)) as milvus:
        for (groups, size, unique, ef), points in itertools.product(CASES, (False, True)):
            params = IndexParams(M=16, ef_construction=200, ef_search=ef)
            rng = np.random.default_rng(0)
            titles, others = unit(rng.normal(size=(groups, 512))), unit(rng.normal(size=(unique, 512)))
            backend = MilvusVectors(milvus.uri, params)
            name = f"duplicates_{groups}_{size}_{unique}_{ef}_{int(points)}"
            rows = MilvusVectorStore.create(backend.client, name, SPACE, params)
            store = (
                MilvusPointsStore(rows, MilvusMembers.create(backend.client, members_name(name)))
                if points
                else rows
            )
            total = groups * size
            records = [VectorRecord(k, titles[k % groups]) for k in range(total)]
            store.upsert(records + [VectorRecord(total + i, v) for i, v in enumerate(others)], 1)
            backend.client.flush(name)
            stored = int(backend.client.get_collection_stats(name)["row_count"])
            if stored >= MIN_INDEXED_ROWS:  # smaller segments are searched exactly, never indexed
                seal_collection(backend.client, name, stored)
            right = 0
            for group in range(groups):
                query = unit((titles[group] + rng.normal(size=512) * 0.02)[None])[0]
                right += [key % groups for key, _ in store.search(query, 10)] == [group] * 10
            kind = "MilvusPointsStore" if points else "one row per product"
            print(f"| {groups} × {size} | {unique:,} | {ef} | {kind} | {right} of {groups} |", flush=True)
            store.drop()
            backend.close()


if __name__ == "__main__":
    main()
