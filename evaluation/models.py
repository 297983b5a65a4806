"""Which image model should be the default? The same catalog and queries through the real
gateway for each model (`make eval` runs it after the harness).

Catalog = a stratified subset of the Fashion-MNIST train split (no titles). Queries = the
test split, cut in two fixed halves before anything was measured: *dev* (test indices below
5,000) is what a choice may look at, *test* (5,000 and above) is only reported. Per model:
image → image P@10 and mAP@10 on both, the latency of SearchByImage one call at a time, and
indexing throughput (UpsertProducts streams of 256: decode, embed in Triton, index, commit).

In colour: Saleor's 35 products (1024 px photos) in a catalog of their own, queried with
every other photo the shop has of a product (15 views: backs, sides, other angles); the share
whose own product ranks first. Too few to choose by; reported beside the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

from bench.machine import describe_machine
from evaluation.harness import CATEGORIES, average_precision_at_k, index
from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.app import create_server
from server.config import Config
from server.models import trained
from server.models.images import encode_png
from server.tools import fashion_mnist, saleor
from server.tools.sources import products_from_saleor

MODELS = ["efficientnet_lite0", "efficientnet_lite2", "vgg16"]
DEV_TEST_BOUNDARY = 5_000  # test-split index: below is dev, from here on test


@dataclass
class ModelResult:
    model: str
    precision: dict[str, float]  # part (dev, test) → P@10
    average_precision: dict[str, float]  # part → mAP@10
    latency_ms: list[float]  # SearchByImage, one call at a time
    products_per_s: float  # indexing throughput
    views_first: tuple[int, int]  # Saleor views whose own product ranks first, views


def query_parts(test: fashion_mnist.Split, per_category: int) -> dict[str, np.ndarray]:
    """`per_category` queries per category from each half of the test split."""
    parts = {}
    for part, low, high in (("dev", 0, DEV_TEST_BOUNDARY), ("test", DEV_TEST_BOUNDARY, len(test.labels))):
        rng = np.random.default_rng(1)
        chosen = [
            rng.choice(np.flatnonzero(test.labels[low:high] == c) + low, per_category, replace=False)
            for c in range(10)
        ]
        parts[part] = np.concatenate(chosen)
    return parts


async def measure(model: str, args: argparse.Namespace) -> ModelResult:
    train, test = fashion_mnist.load("train"), fashion_mnist.load("test")
    catalog = fashion_mnist.stratified(train, args.catalog // 10, seed=0)
    parts = query_parts(test, args.queries // 10)
    with tempfile.TemporaryDirectory(prefix="model-comparison-") as data_dir:
        repository = trained.private_repository(args.repository, Path(data_dir) / "models")
        # VGG16 embeds a batch of 32 in more than the default 10 s on a busy 2-core CPU.
        config = Config(
            data_dir=Path(data_dir),
            model_repository=repository,
            port=0,
            image_model=model,
            embed_timeout_s=120,
        )
        gateway = await create_server(config)
        try:
            async with grpc.aio.insecure_channel(gateway.address) as channel:
                stub = pb_grpc.ProductSearchStub(channel)
                started = time.perf_counter()
                await index(stub, train, catalog)
                products_per_s = len(catalog) / (time.perf_counter() - started)
                precision, average_precision, latency = {}, {}, []
                for part, queries in parts.items():
                    p, ap = [], []
                    for i in queries:
                        request = pb.SearchByImageRequest(
                            image=encode_png(test.rgb(i)), options=pb.SearchOptions(top_k=10)
                        )
                        began = time.perf_counter()
                        response = await stub.SearchByImage(request, timeout=60)
                        latency.append((time.perf_counter() - began) * 1000)
                        relevant = [h.product.category == CATEGORIES[test.labels[i]] for h in response.hits]
                        p.append(float(np.mean(relevant[:10])))
                        ap.append(average_precision_at_k(relevant))
                    precision[part], average_precision[part] = float(np.mean(p)), float(np.mean(ap))
                views_first = await saleor_views(stub)
        finally:
            await gateway.stop()
    return ModelResult(model, precision, average_precision, latency, products_per_s, views_first)


async def saleor_views(stub: pb_grpc.ProductSearchStub) -> tuple[int, int]:
    """(views whose own product ranks first, views) over Saleor's extra product photos."""
    catalog = "catalogs/saleor"
    await stub.CreateCatalog(pb.CreateCatalogRequest(catalog_id="saleor"))
    response = await stub.UpsertProducts(
        iter([pb.UpsertProductsRequest(product=p, catalog=catalog) for p in products_from_saleor()]),
        timeout=600,
    )
    assert response.failed == 0, response.statuses[:3]
    first, views = 0, 0
    for product in saleor.load():
        for view in product.views:
            request = pb.SearchByImageRequest(image=view, catalog=catalog, options=pb.SearchOptions(top_k=1))
            hits = (await stub.SearchByImage(request, timeout=60)).hits
            first += hits[0].product.id == f"saleor-{product.id}"
            views += 1
    return first, views


HEADER = (
    "| model | dev P@10 | dev mAP@10 | test P@10 | test mAP@10 | SearchByImage p50 / p99 ms "
    "| indexing products/s | Saleor views → own product first |\n|---|---:|---:|---:|---:|---:|---:|---:|"
)


def render(results: list[ModelResult], args: argparse.Namespace, load_average: str) -> str:
    rows = [
        f"| {r.model} | {r.precision['dev']:.3f} | {r.average_precision['dev']:.3f} "
        f"| {r.precision['test']:.3f} | {r.average_precision['test']:.3f} "
        f"| {np.percentile(r.latency_ms, 50):.1f} / {np.percentile(r.latency_ms, 99):.1f} "
        f"| {r.products_per_s:.1f} | {r.views_first[0]} / {r.views_first[1]} |"
        for r in results
    ]
    best = max(results, key=lambda r: r.precision["dev"])
    return f"""## Image models compared

- command: `python -m evaluation.models --catalog {args.catalog} --queries {args.queries}` (`make eval`)
- machine: {describe_machine()}; load average before: {load_average}
- date: {datetime.date.today().isoformat()}
- catalog: {args.catalog} Fashion-MNIST train images without titles; queries: {args.queries} test
  images per part, stratified, **dev** from test indices < {DEV_TEST_BOUNDARY}, **test** from the
  rest (fixed in code before measuring); relevant = same category
- latency: SearchByImage through the gateway, one call at a time (decode, embed on CPU in the
  embedded Triton, HNSW search), over both parts; throughput: UpsertProducts, streams of 256

{HEADER}
{chr(10).join(rows)}

Best on dev P@10: **{best.model}** (test P@10 {best.precision["test"]:.3f}).
"""


async def run_all(args: argparse.Namespace) -> list[ModelResult]:
    results = []
    for model in args.models.split(","):
        results.append(await measure(model, args))
        print(f"{model}: dev P@10 {results[-1].precision['dev']:.3f}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--catalog", type=int, default=2_000)
    parser.add_argument("--queries", type=int, default=300, help="per part (dev, test)")
    parser.add_argument("--output", type=Path, default=Path("evaluation/MODELS.md"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    load_average = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    report = render(asyncio.run(run_all(args)), args, load_average)
    args.output.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
