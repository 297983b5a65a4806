"""Dev-only sweep of pseudo-relevance feedback for keyword → untitled images (issue 12,
deliverable 4): `python -m evaluation.feedback_sweep` → evaluation/FEEDBACK_TRIAL.md.

The held-out protocol's dev part as evaluation/heldout.py runs it (untitled catalog, each dev
title vocabulary's pool in, TrainProjection, pool out), then every dev query word under each
(depth, weight) of `Config.keyword_feedback_depth` / `_weight`, set on the one running
gateway between passes. The test part is never touched here.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import grpc
import numpy as np

from bench.machine import describe_machine
from evaluation import protocol
from evaluation.heldout import CATEGORIES, create_catalog, index, minutes, titled_pool, untitled_products
from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.app import create_server
from server.config import Config
from server.models import trained
from server.tools import fashion_mnist

PART = "dev"
SETTINGS = [(0, 0.0)] + [(depth, weight) for depth in (5, 10, 20, 50) for weight in (0.5, 1.0, 2.0)]


async def sweep(repository: Path) -> dict[str, dict[tuple[int, float], dict[str, list[float]]]]:
    train, test = fashion_mnist.load("train"), fashion_mnist.load("test")
    split = protocol.image_splits(train.labels, test.labels, protocol.Sizes())[PART]
    results: dict[str, dict[tuple[int, float], dict[str, list[float]]]] = {}
    with tempfile.TemporaryDirectory(prefix="feedback-") as data_dir:
        models = trained.private_repository(repository, Path(data_dir) / "models")
        config = Config(data_dir=Path(data_dir), model_repository=models, port=0, embed_timeout_s=120)
        gateway = await create_server(config)
        try:
            async with grpc.aio.insecure_channel(gateway.address) as channel:
                stub = pb_grpc.ProductSearchStub(channel)
                catalog = await create_catalog(stub, f"feedback-{PART}")
                products = untitled_products(train, split.catalog)
                await index(stub, catalog, products, len(split.catalog), f"{PART}: catalog (no titles)")
                for vocabulary in protocol.PART_VOCABULARIES[PART]:
                    pool = titled_pool(train, split.titled, vocabulary, PART)
                    await index(stub, catalog, pool, len(pool), f"{PART}: titled pool ({vocabulary})")
                    await stub.TrainProjection(pb.TrainProjectionRequest(catalog=catalog), timeout=1800)
                    for start in range(0, len(pool), 1000):
                        ids = [p.id for p in pool[start : start + 1000]]
                        await stub.DeleteProducts(pb.DeleteProductsRequest(ids=ids, catalog=catalog))
                    for depth, weight in SETTINGS:
                        gateway.service.ranking.config = replace(
                            config, keyword_feedback_depth=depth, keyword_feedback_weight=weight
                        )
                        groups: dict[str, list[float]] = {}
                        for query in protocol.query_words(PART):
                            request = pb.SearchByTextRequest(
                                text=query.text, options=pb.SearchOptions(top_k=10), catalog=catalog
                            )
                            hits = (await stub.SearchByText(request)).hits
                            relevant = sum(h.product.category == CATEGORIES[query.category] for h in hits)
                            groups.setdefault(query.group, []).append(relevant / 10)
                        results.setdefault(vocabulary, {})[(depth, weight)] = groups
        finally:
            await gateway.stop()
    return results


def render(results, seconds: float) -> str:
    lines = [
        "| titles | depth | weight | "
        + " | ".join(protocol.GROUP_NAMES[g] for g in protocol.GROUPS)
        + " | mean of the groups |",
        "|" + "---|" * (len(protocol.GROUPS) + 4),
    ]
    for vocabulary, settings in results.items():
        for (depth, weight), groups in settings.items():
            means = [float(np.mean(groups[g])) for g in protocol.GROUPS]
            cells = " | ".join(f"{m:.3f}" for m in means)
            lines.append(f"| `{vocabulary}` | {depth} | {weight} | {cells} | {np.mean(means):.3f} |")
    table = "\n".join(lines)
    return f"""# Pseudo-relevance feedback for keyword → untitled images: dev sweep (issue 12)

**Dev part only**; the test figures are in evaluation/HELDOUT.md, run with the setting chosen here.

- command: `python -m evaluation.feedback_sweep`; machine: {describe_machine()};
  date: {datetime.date.today().isoformat()}; took {minutes(seconds)} min
- the dev part of evaluation/protocol.py: its {protocol.Sizes().catalog:,} untitled catalog products, each
  dev title vocabulary's pool trained on (TrainProjection) and deleted, the {len(protocol.query_words(PART))}
  dev query words; P@10 (relevant: the query's category)
- depth 0 is no feedback; otherwise the projected query plus `weight` x the mean of its first
  `depth` image hits, normalised, searches again (`Config.keyword_feedback_depth` / `_weight`)

{table}
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--output", type=Path, default=Path("evaluation/FEEDBACK_TRIAL.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    results = asyncio.run(sweep(args.repository))
    report = render(results, time.perf_counter() - started)
    args.output.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
