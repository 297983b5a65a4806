"""`python -m productsearch_client`: the command line every client of this repository shares
(clients/*/run.sh). Exit codes: 0 done, 1 usage (or an unreadable local file), 2 the call failed."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from productsearch_client._client import Client
from productsearch_client._errors import ProductSearchError
from productsearch_client._types import Hit

DEFAULT_TARGET = "127.0.0.1:50051"
EXIT_USAGE = 1
EXIT_RPC = 2


class _Parser(argparse.ArgumentParser):
    """Usage errors exit with 1 (argparse's own default is 2, the contract's RPC failure)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _deadline(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _top_k(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    root = _Parser(prog="productsearch-client", description="Product search (商品图像检索) client.")
    root.add_argument(
        "--target",
        default=os.environ.get("PRODUCTSEARCH_TARGET") or DEFAULT_TARGET,
        help="HOST:PORT of the service (default: $PRODUCTSEARCH_TARGET or %(default)s)",
    )
    root.add_argument(
        "--deadline", type=_deadline, default=10.0, help="seconds allowed for each call (default: 10)"
    )
    root.add_argument(
        "--catalog",
        default=os.environ.get("PRODUCTSEARCH_CATALOG") or "",
        help="catalog id (shop-a) or name (catalogs/shop-a) of every call "
        "(default: $PRODUCTSEARCH_CATALOG or the default catalog)",
    )
    root.add_argument(
        "--api-key",
        default=os.environ.get("PRODUCTSEARCH_API_KEY") or None,
        help="sent as `authorization: Bearer KEY` (default: $PRODUCTSEARCH_API_KEY)",
    )
    commands = root.add_subparsers(dest="command", metavar="COMMAND", required=True)
    upsert = commands.add_parser(
        "upsert",
        help="upsert every .jpg/.jpeg/.png/.webp under FOLDER: id = relative path without "
        "extension, category = its folder, title = <stem>.txt",
    )
    upsert.add_argument("folder", metavar="FOLDER")
    for name, metavar, what in (
        ("search-image", "PATH", "products that look like the image at PATH"),
        ("search-text", "TEXT", "products matching a keyword, e.g. 运动鞋 or 'red sneakers'"),
        ("similar", "PRODUCT_ID", "products that look like a catalog product"),
    ):
        search = commands.add_parser(name, help=what)
        search.add_argument("query", metavar=metavar)
        search.add_argument("--top-k", type=_top_k, default=10, help="number of hits (default: 10)")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")
    args = parser().parse_args(argv)
    try:
        with Client(
            args.target, catalog=args.catalog, api_key=args.api_key, deadline_s=args.deadline
        ) as client:
            _run(client, args, sys.stdout)
    except ProductSearchError as error:
        print(f"error: {error.code.name}: {error.message}", file=sys.stderr)
        return EXIT_RPC
    except OSError as error:  # a local file or folder that cannot be read
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _run(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    if args.command == "upsert":
        summary = client.upsert_folder(args.folder)
        print(f"upserted {summary.upserted} failed {summary.failed}", file=out)
        for status in summary.failures:
            print(f"failed\t{status.id}\t{status.code.name}\t{status.message}", file=out)
        return
    if args.command == "search-image":
        hits = client.search_by_image(args.query, top_k=args.top_k)
    elif args.command == "search-text":
        hits = client.search_by_text(args.query, top_k=args.top_k)
    else:
        hits = client.search_similar(args.query, top_k=args.top_k)
    print_hits(hits, out)


def print_hits(hits: Sequence[Hit], out: TextIO) -> None:
    """`<rank>\\t<product_id>\\t<score, 4 decimals>\\t<title>`, best first, rank from 1."""
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank}\t{hit.product_id}\t{hit.score:.4f}\t{hit.title}", file=out)
