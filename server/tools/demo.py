"""`make demo`: the whole service on this machine, end to end.

Starts the embedded Triton and the gateway, indexes a Fashion-MNIST catalog through the
gRPC API — half of it with English listing titles, half without any title, like photos
uploaded by users — trains the text → image projection from the titled half, runs an image
query and the keywords 运动鞋, 连衣裙 and bag, prints the ranked hits with the signals that
matched, writes contact sheets, and shuts everything down.

The colour part indexes Saleor's demo shop (35 colour product photos with titles, categories
and a `color` attribute, `make data`) into a catalog of its own, `catalogs/saleor`, and
searches it by another photo of a product, by 红色 T恤 and red t-shirt, and by T恤 with a
colour filter (the shop's shirts are all titled "T-shirt"; their colour is an attribute).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
from pathlib import Path

import grpc
import numpy as np

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.app import create_server
from server.config import Config
from server.models import trained
from server.models.images import encode_png
from server.tools import fashion_mnist, saleor
from server.tools.cli import chunks, print_hits, write_contact_sheet
from server.tools.sources import products_from_saleor

KEYWORDS = ["运动鞋", "连衣裙", "bag"]
COLOUR_CATALOG = "saleor"
# Searches whose contact sheet is drawn a second time with each hit's heatmap (ExplainMatch).
HEAT_SHEETS = {"image-query", "keyword-2", "image"}


def catalog(size: int):
    """`size` train-split products over the 10 categories; every second one has no title."""
    train = fashion_mnist.load("train")
    rng = np.random.default_rng(0)
    for position, index in enumerate(fashion_mnist.stratified(train, size // 10)[:size]):
        label = int(train.labels[index])
        titled = position % 2 == 0
        yield pb.Product(
            id=f"{'titled' if titled else 'untitled'}-{index:05d}",
            title=fashion_mnist.english_title(label, rng) if titled else "",
            attributes={"listing": "titled" if titled else "untitled"},
            category=fashion_mnist.CATEGORIES_EN[label],
            image=encode_png(train.rgb(index)),
        )


async def run(config: Config, size: int, output: Path) -> None:
    from tqdm import tqdm

    gateway = await create_server(config)
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            with tqdm(total=size, unit="product", desc="indexing Fashion-MNIST") as bar:
                for chunk in chunks(catalog(size), 256):
                    response = await stub.UpsertProducts(
                        iter([pb.UpsertProductsRequest(product=p) for p in chunk])
                    )
                    bar.update(response.upserted)
            trained = await stub.TrainProjection(pb.TrainProjectionRequest(), timeout=600)
            print(
                f"text → image projection version {trained.version}: {trained.method} on "
                f"{trained.pairs} (title, image) pairs in {trained.seconds:.1f} s"
            )
            test = fashion_mnist.load("test")
            query_image = encode_png(test.rgb(0))  # an ankle boot the catalog has never seen
            queries = [
                ("image: a test-split ankle boot", "image-query", pb.SearchByImageRequest(image=query_image))
            ]
            untitled_only = pb.SearchOptions(filter=pb.Filter(attributes={"listing": "untitled"}))
            for i, keyword in enumerate(KEYWORDS):
                queries.append((f"keyword: {keyword}", f"keyword-{i}", pb.SearchByTextRequest(text=keyword)))
                # Titles match keywords more closely than images do, so titled products lead the
                # full ranking; this shows what the projection finds among the untitled ones.
                request = pb.SearchByTextRequest(text=keyword, options=untitled_only)
                label = f"keyword: {keyword}, untitled products only"
                queries.append((label, f"keyword-{i}-untitled", request))
            for title, name, request in queries:
                response = await show(stub, title, request, output / f"{name}.png", name in HEAT_SHEETS)
                untitled = sum(not hit.product.title for hit in response.hits)
                print(f"{untitled} of {len(response.hits)} hits have no title")
            await colour_part(stub, output / "colour")
    finally:
        await gateway.stop()


async def show(
    stub: pb_grpc.ProductSearchStub,
    title: str,
    request: pb.SearchByImageRequest | pb.SearchByTextRequest,
    sheet: Path,
    heat: bool = False,
) -> pb.SearchResponse:
    """Run one search, print its hits and write their contact sheet."""
    request.options.include_thumbnails = True
    request.options.top_k = request.options.top_k or 10
    call = stub.SearchByImage if isinstance(request, pb.SearchByImageRequest) else stub.SearchByText
    response = await call(request, timeout=30)
    print(f"\n== {title}")
    print_hits(response)
    print(f"contact sheet: {write_contact_sheet(response, sheet, title)}")
    if heat:  # "why this match": each hit's heatmap for the query
        heatmaps = []
        for hit in response.hits:
            explain = pb.ExplainMatchRequest(product_id=hit.product.id, catalog=request.catalog)
            if isinstance(request, pb.SearchByImageRequest):
                explain.image = request.image
            else:
                explain.text = request.text
            heatmaps.append((await stub.ExplainMatch(explain, timeout=30)).heatmap_png)
        heat_sheet = write_contact_sheet(
            response, sheet.with_name(f"{sheet.stem}-heat.png"), f"{title}: heat", heatmaps
        )
        print(f"contact sheet with heatmaps: {heat_sheet}")
    return response


async def colour_part(stub: pb_grpc.ProductSearchStub, output: Path) -> None:
    """Saleor's colour photos in a catalog of their own: photo, keyword and colour filter."""
    catalog = f"catalogs/{COLOUR_CATALOG}"
    await stub.CreateCatalog(
        pb.CreateCatalogRequest(
            catalog_id=COLOUR_CATALOG,
            catalog=pb.Catalog(display_name="Saleor demo shop", description="colour product photos"),
        )
    )
    products = list(products_from_saleor())
    response = await stub.UpsertProducts(
        iter([pb.UpsertProductsRequest(product=p, catalog=catalog) for p in products]), timeout=300
    )
    print(f"\n== colour: {response.upserted} Saleor products indexed into {catalog}")
    # Another photo of the white plimsolls (their side view): not the catalog's own image.
    plimsolls = next(p for p in saleor.load() if p.id == "white-plimsolls")
    # The shop's shirts are all titled "T-shirt": their colour is in the `color` attribute.
    red = pb.SearchOptions(top_k=5, filter=pb.Filter(attributes={"color": "red"}))
    queries: list[tuple[str, str, pb.SearchByImageRequest | pb.SearchByTextRequest]] = [
        (
            "colour, image: another photo of the white plimsolls",
            "image",
            pb.SearchByImageRequest(image=plimsolls.views[0]),
        ),
        ("colour, keyword: 红色 T恤", "keyword-zh", pb.SearchByTextRequest(text="红色 T恤")),
        ("colour, keyword: red t-shirt", "keyword-en", pb.SearchByTextRequest(text="red t-shirt")),
        (
            "colour, keyword: T恤, filter color = red",
            "keyword-zh-red",
            pb.SearchByTextRequest(text="T恤", options=red),
        ),
    ]
    for title, name, request in queries:
        request.catalog = catalog
        response = await show(stub, title, request, output / f"{name}.png", name in HEAT_SHEETS)
        colours = ", ".join(hit.product.attributes.get("color", "?") for hit in response.hits[:5])
        print(f"colours of the first five: {colours}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--size", type=int, default=3000, help="catalog size (Fashion-MNIST train images)")
    parser.add_argument("--output", type=Path, default=Path("artifacts/demo"), help="contact sheets go here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="productsearch-demo-") as data_dir:
        # The projection trained here stays in the temporary folder with the catalog.
        repository = trained.private_repository(args.repository, Path(data_dir) / "models")
        config = Config(data_dir=Path(data_dir), model_repository=repository, port=0)
        asyncio.run(run(config, args.size, args.output))


if __name__ == "__main__":
    main()
