"""Writes the ghz configurations in bench/ghz/ (committed) from real payloads: Fashion-MNIST
PNGs as base64 bytes, Chinese and English keywords, ids of the catalog that
`python -m bench.load_bench` indexes (2,000 Fashion-MNIST train products, seed 0).

Every request body is checked against the proto with protobuf's JSON parser, the same
mapping ghz applies (protojson: lowerCamel or original field names, bytes as base64).

    python -m bench.ghz.make_configs
    ghz --config bench/ghz/search_text.json          # from the repository root
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path

from google.protobuf import json_format

from productsearch.v1 import product_search_pb2 as pb
from server.models.images import encode_png
from server.tools import fashion_mnist
from server.tools.cli import products_from_fashion_mnist

HERE = Path(__file__).resolve().parent
SERVICE = "productsearch.v1.ProductSearch"
CATALOG_SIZE = 2000  # what bench/load_bench.py indexes

# Keys of ghz's runner.Config (ghz >= 0.117) that these files use.
COMMON = {
    "proto": "productsearch/v1/product_search.proto",
    "import-paths": ["protos"],
    "host": "127.0.0.1:50051",
    "insecure": True,
    "timeout": "20s",
    "connect-timeout": "10s",
    "metadata": {"x-request-id": "ghz-{{.RequestNumber}}"},
}

KEYWORDS = [
    "运动鞋",
    "连衣裙",
    "短靴",
    "包",
    "红色运动鞋",
    "夏季连衣裙",
    "sneakers",
    "summer dress",
    "black leather ankle boots",
    "handbag for women",
]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def checked(message_type, bodies: list[dict]) -> list[dict]:
    for body in bodies:
        json_format.ParseDict(body, message_type())
    return bodies


def one_per_category(split: fashion_mnist.Split) -> list[int]:
    """The first image of each category in the split, in category order."""
    return [int(next(i for i in range(len(split)) if split.labels[i] == c)) for c in range(10)]


def configs() -> dict[str, dict]:
    test = fashion_mnist.load("test")  # queries and new products: not in the catalog
    queries = one_per_category(test)
    catalog_ids = [p.id for p in products_from_fashion_mnist("train", CATALOG_SIZE, titles=True)]
    options = {"top_k": 10}
    new_products = [
        {
            "product": {
                "id": f"ghz-{n}",
                "title": fashion_mnist.CATEGORIES_ZH[test.labels[i]]
                if n % 2
                else fashion_mnist.CATEGORIES_EN[test.labels[i]],
                "category": fashion_mnist.CATEGORIES_EN[test.labels[i]],
                "price": 19.9 + 10 * n,
                "attributes": {"source": "ghz"},
                "image": b64(encode_png(test.rgb(i))),
            }
        }
        for n, i in enumerate(queries[:8])
    ]
    return {
        "search_text.json": {
            "name": "SearchByText, Chinese and English keywords",
            "call": f"{SERVICE}.SearchByText",
            **COMMON,
            "concurrency": 16,
            "connections": 4,
            "duration": "30s",
            # An array for a unary call: ghz sends its messages round-robin.
            "data": checked(pb.SearchByTextRequest, [{"text": k, "options": options} for k in KEYWORDS]),
        },
        "search_image.json": {
            "name": "SearchByImage, one Fashion-MNIST PNG per category",
            "call": f"{SERVICE}.SearchByImage",
            **COMMON,
            "concurrency": 16,
            "connections": 4,
            "duration": "30s",
            "data": checked(
                pb.SearchByImageRequest,
                [{"image": b64(encode_png(test.rgb(i))), "options": options} for i in queries],
            ),
        },
        "search_similar.json": {
            "name": "SearchSimilar, catalog products of bench/load_bench.py",
            "call": f"{SERVICE}.SearchSimilar",
            **COMMON,
            "concurrency": 16,
            "connections": 4,
            "duration": "30s",
            "data": checked(
                pb.SearchSimilarRequest, [{"product_id": i, "options": options} for i in catalog_ids[:20]]
            ),
        },
        "upsert_products.json": {
            "name": "UpsertProducts, client streams of 8 products (ids ghz-0..7, replaced each time)",
            "call": f"{SERVICE}.UpsertProducts",
            **COMMON,
            "concurrency": 4,
            "connections": 1,
            "total": 200,
            # An array for a client-streaming call: one stream sends every message.
            "data": checked(pb.UpsertProductsRequest, new_products),
        },
        "health.json": {
            "name": "grpc.health.v1 Check through the gateway: a trivial RPC, the server's own ceiling",
            "call": "grpc.health.v1.Health.Check",
            # No proto: ghz asks the gateway's reflection service for grpc.health.v1.
            **{k: v for k, v in COMMON.items() if k not in ("proto", "import-paths")},
            "concurrency": 16,
            "connections": 4,
            "duration": "10s",
            "data": {},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, default=HERE)
    args = parser.parse_args()
    for name, config in configs().items():
        path = args.output / name
        path.write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n")
        print(path)


if __name__ == "__main__":
    main()
