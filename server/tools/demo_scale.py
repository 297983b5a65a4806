"""`make demo-scale`: the scale-out topology on this machine — a PostgreSQL server for the
catalog, a Milvus server for the vectors, one Triton and two stateless gateway processes,
all on loopback inside a network namespace of their own (embedded Milvus listens on every
interface: `make demo-scale` runs this under `unshare -n`).

Indexes Fashion-MNIST products through gateway A, then searches through gateway B at once
(by image, by keyword, with a category filter), deletes through B and searches through A,
and shows that both gateways answer alike and which engines hold what (GetStats). Every
server it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import grpc

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.models.images import encode_png
from server.tools import fashion_mnist
from server.tools.child import spawn_gateway, wait_serving
from server.tools.cli import chunks, print_hits
from server.tools.demo import catalog
from server.tools.local_milvus import LocalMilvus
from server.tools.local_postgres import LocalPostgres
from server.triton.runtime import EmbeddedTriton, free_port

_LOGGER = logging.getLogger(__name__)

IMAGE_MODEL = "efficientnet_lite0"
TEXT_MODEL = "text_encoder"


@contextlib.contextmanager
def gateway(
    name: str, folder: Path, repository: Path, engines: list[str]
) -> Iterator[pb_grpc.ProductSearchStub]:
    """A `productsearch serve` process on the shared engines; its log in `folder`."""
    port = free_port()
    log = (folder / f"gateway-{name}.log").open("wb")
    process = spawn_gateway(port, folder / f"data-{name}", repository, engines, stdout=log, stderr=log)
    try:
        wait_serving(f"127.0.0.1:{port}", process, timeout_s=300)
        print(f"gateway {name}: pid {process.pid}, 127.0.0.1:{port}")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield pb_grpc.ProductSearchStub(channel)
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def show(title: str, response: pb.SearchResponse) -> list[str]:
    print(f"\n== {title}")
    print_hits(response)
    return [hit.product.id for hit in response.hits]


def run(repository: Path, size: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="productsearch-scale-"))
    folder.chmod(0o755)  # PostgreSQL runs as its own user (server/tools/local_postgres.py)
    try:
        with contextlib.ExitStack() as engines:
            started = time.perf_counter()
            postgres = engines.enter_context(LocalPostgres(folder / "postgres"))
            print(f"PostgreSQL: pid {postgres.pid}, {postgres.url}")
            milvus = engines.enter_context(LocalMilvus(folder / "milvus"))
            print(f"Milvus: pid {milvus.pid}, {milvus.uri}")
            triton = EmbeddedTriton(repository, [IMAGE_MODEL, TEXT_MODEL])
            triton.start()
            engines.callback(triton.stop)
            print(f"Triton: pid {triton.pid}, {triton.url}")
            flags = [
                "--triton-url",
                triton.url,
                "--catalog-store",
                postgres.url,
                "--vector-store",
                milvus.uri,
                "--image-model",
                IMAGE_MODEL,
            ]
            a = engines.enter_context(gateway("a", folder, repository, flags))
            b = engines.enter_context(gateway("b", folder, repository, flags))
            print(f"engines and two gateways up in {time.perf_counter() - started:.0f} s")
            demo(a, b, size)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def demo(a: pb_grpc.ProductSearchStub, b: pb_grpc.ProductSearchStub, size: int) -> None:
    products = list(catalog(size))
    started = time.perf_counter()
    upserted = 0
    for batch in chunks(iter(products), 100):
        response = a.UpsertProducts(iter(pb.UpsertProductsRequest(product=p) for p in batch), timeout=600)
        upserted += response.upserted
    print(f"\n{upserted} products indexed through gateway A in {time.perf_counter() - started:.0f} s")

    query = pb.SearchByImageRequest(image=encode_png(fashion_mnist.load("test").rgb(0)))  # an ankle boot
    from_b = show("gateway B at once, image: a test-split ankle boot", b.SearchByImage(query, timeout=60))
    from_a = [hit.product.id for hit in a.SearchByImage(query, timeout=60).hits]
    print(f"gateway A returns the same {len(from_a)} hits: {from_a == from_b}")
    show(
        "gateway B, keyword: 运动鞋 (titled products)", b.SearchByText(pb.SearchByTextRequest(text="运动鞋"))
    )
    bags = pb.SearchOptions(filter=pb.Filter(categories=["Bag"]))
    show(
        "gateway B, keyword: red bag, category Bag",
        b.SearchByText(pb.SearchByTextRequest(text="red bag", options=bags)),
    )

    first = from_b[0]
    deleted = b.DeleteProducts(pb.DeleteProductsRequest(ids=[first]), timeout=60).deleted
    after = [hit.product.id for hit in a.SearchByImage(query, timeout=60).hits]
    print(f"\ndeleted {first} through gateway B ({deleted}); gateway A still finds it: {first in after}")

    stats = a.GetStats(pb.GetStatsRequest(), timeout=60)
    print(f"\nGetStats through A: {stats.product_count} products")
    for index in stats.indexes:
        print(
            f"  {index.space}: {index.count} vectors in {index.engine} ({index.model} {index.model_version})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--size", type=int, default=1000, help="Fashion-MNIST products to index")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run(args.repository, args.size)


if __name__ == "__main__":
    main()
