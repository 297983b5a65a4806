"""`productsearch`: run the gateway and talk to it.

productsearch serve [--triton-url HOST:PORT] [--catalog-store postgresql://…] [--vector-store http://…:19530]
productsearch index --fashion-mnist --limit 2000 | --saleor | --folder DIR | --csv FILE
productsearch search --text 运动鞋 | --image PATH | --similar ID  [--contact-sheet hits.png]
productsearch stats
productsearch delete ID [ID ...]
productsearch catalogs list | create ID [--display-name NAME] | get ID | delete ID [--force]
productsearch new-key --name NAME --role search|write|admin [--catalogs ID,ID]
productsearch backup --data-dir DIR DEST     (online: while the gateway serves)
productsearch restore --data-dir DIR SRC     (the gateway stopped)

Client commands take --catalog ID (default: the default catalog) and read the API key from
--api-key or $PRODUCTSEARCH_API_KEY.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.config import Config
from server.models.registry import image_models
from server.tools.sources import (
    SourceError,
    products_from_csv,
    products_from_fashion_mnist,
    products_from_folder,
    products_from_saleor,
)

STREAM_CHUNK = 256  # products per UpsertProducts stream


def chunks(products: Iterator[pb.Product], size: int) -> Iterator[list[pb.Product]]:
    chunk = []
    for product in products:
        chunk.append(product)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def index(
    stub: pb_grpc.ProductSearchStub, products: Iterator[pb.Product], total: int | None, catalog: str = ""
) -> int:
    from tqdm import tqdm

    failed = 0
    with tqdm(total=total, unit="product", desc="indexing") as bar:
        for chunk in chunks(products, STREAM_CHUNK):
            response = stub.UpsertProducts(
                iter([pb.UpsertProductsRequest(product=p, catalog=catalog) for p in chunk])
            )
            for status in response.statuses:
                if status.code != 0:
                    failed += 1
                    tqdm.write(f"{status.id}: code {status.code}: {status.message}")
            bar.update(len(chunk))
    return failed


def print_hits(response: pb.SearchResponse) -> None:
    print(f"{'rank':>4}  {'score':>6}  {'id':<24} {'category':<14} title / signals")
    for rank, hit in enumerate(response.hits, 1):
        signals = ", ".join(f"{s.signal}={s.score:.3f}" for s in hit.signals)
        print(
            f"{rank:>4}  {hit.score:6.3f}  {hit.product.id:<24} {hit.product.category:<14} "
            f"{hit.product.title[:40]}  [{signals}]"
        )
    print(
        f"({len(response.hits)} hits; embedding {response.embedding_ms:.1f} ms,"
        f" index {response.index_ms:.1f} ms)"
    )


def search(stub: pb_grpc.ProductSearchStub, args: argparse.Namespace) -> pb.SearchResponse:
    options = pb.SearchOptions(
        top_k=args.top_k,
        include_thumbnails=bool(args.contact_sheet),
        filter=pb.Filter(categories=args.category or []),
    )
    catalog = catalog_name(args.catalog)
    if args.text:
        return stub.SearchByText(
            pb.SearchByTextRequest(text=args.text, options=options, catalog=catalog), timeout=args.timeout
        )
    if args.image:
        return stub.SearchByImage(
            pb.SearchByImageRequest(image=Path(args.image).read_bytes(), options=options, catalog=catalog),
            timeout=args.timeout,
        )
    return stub.SearchSimilar(
        pb.SearchSimilarRequest(product_id=args.similar, options=options, catalog=catalog),
        timeout=args.timeout,
    )


def catalog_name(catalog: str) -> str:
    """`catalogs/{id}` for an id (or a name as it is); empty stays empty: the default."""
    return catalog if not catalog or catalog.startswith("catalogs/") else f"catalogs/{catalog}"


def write_contact_sheet(
    response: pb.SearchResponse, path: Path, title: str, heat: list[bytes] | None = None
) -> Path:
    """The hits as a PNG grid; with `heat` (explain_hits), their heatmaps over the images."""
    from server.tools.contact_sheet import contact_sheet

    tiles = [
        (h.product.thumbnail, f"#{rank} | score {h.score:.3f}\n{h.product.id[-18:]}")
        for rank, h in enumerate(response.hits, 1)
    ]
    return contact_sheet(tiles, path, title, heat=heat)


def explain_hits(
    stub: pb_grpc.ProductSearchStub,
    response: pb.SearchResponse,
    *,
    text: str = "",
    image: bytes = b"",
    catalog: str = "",
    timeout: float = 30.0,
) -> list[bytes]:
    """Each hit's ExplainMatch heatmap PNG for the query (a keyword or image bytes)."""
    query = {"text": text} if text else {"image": image}
    return [
        stub.ExplainMatch(
            pb.ExplainMatchRequest(product_id=hit.product.id, catalog=catalog, **query), timeout=timeout
        ).heatmap_png
        for hit in response.hits
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="productsearch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway (embedded Triton by default)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=50051)
    serve.add_argument("--http-port", type=int, default=0, help="web console port on the same host; 0: off")
    serve.add_argument("--data-dir", type=Path, default=Path("data"))
    serve.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    serve.add_argument("--triton-url", help="host:port of an external Triton (gRPC); default: embedded")
    serve.add_argument(
        "--catalog-store",
        metavar="postgresql://USER@HOST:PORT/DB",
        help="keep the catalogs in this PostgreSQL database; default: SQLite under --data-dir",
    )
    serve.add_argument(
        "--vector-store",
        metavar="http://HOST:19530",
        help="keep the vectors in this Milvus; default: hnswlib in the gateway (snapshots under --data-dir)",
    )
    serve.add_argument("--image-model", default="efficientnet_lite0", choices=image_models())
    serve.add_argument("--ef-search", type=int, default=64, help="HNSW search breadth (saved with snapshots)")
    serve.add_argument("--hnsw-m", type=int, default=16, help="HNSW graph degree, for new indexes")
    serve.add_argument("--ef-construction", type=int, default=200, help="HNSW build breadth, for new indexes")
    access = serve.add_argument_group("access (see README: Security)")
    access.add_argument("--api-keys", type=Path, help="key file ('<name> <role> sha256:<hex>' lines)")
    access.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve TLS")
    access.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    access.add_argument("--tls-client-ca", type=Path, help="PEM CA: require client certificates (mTLS)")
    access.add_argument(
        "--insecure", action="store_true", help="allow a non-loopback host without TLS and API keys"
    )
    limits = serve.add_argument_group("admission")
    limits.add_argument("--max-in-flight", type=int, default=64, help="calls running at once")
    limits.add_argument("--max-queued", type=int, default=128, help="calls waiting, then RESOURCE_EXHAUSTED")
    limits.add_argument("--default-deadline", type=float, default=30.0, help="seconds, for calls without one")

    backup = commands.add_parser(
        "backup", help="copy the registry and every catalog into a new folder (while the gateway serves)"
    )
    backup.add_argument("--data-dir", type=Path, default=Path("data"))
    backup.add_argument("dest", type=Path, help="a folder that does not exist yet (or is empty)")
    restore = commands.add_parser(
        "restore", help="replace the catalogs with a backup (gateway stopped); indexes are rebuilt at start"
    )
    restore.add_argument("--data-dir", type=Path, default=Path("data"))
    restore.add_argument("src", type=Path, help="a folder written by `productsearch backup`")

    new_key = commands.add_parser("new-key", help="make an API key and the key-file line that grants it")
    new_key.add_argument("--name", required=True)
    new_key.add_argument("--role", required=True, choices=["search", "write", "admin"])
    new_key.add_argument("--catalogs", default="", help="comma-separated catalog ids the key is limited to")

    for name, text in (
        ("index", "add products"),
        ("search", "search the catalog"),
        ("train-projection", "retrain keyword → image search from the titled and categorised products"),
        ("stats", "describe the catalog"),
        ("delete", "delete products"),
        ("catalogs", "list, create, describe or delete catalogs"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--server", default="127.0.0.1:50051")
        command.add_argument("--catalog", default="", help="catalog id (default: the default catalog)")
        command.add_argument("--timeout", type=float, default=30.0)
        command.add_argument("--api-key", default=os.environ.get("PRODUCTSEARCH_API_KEY"))
        command.add_argument("--tls-ca", type=Path, help="PEM CA that signed the server's certificate")
        command.add_argument("--tls-client-cert", type=Path, help="PEM client certificate (mTLS)")
        command.add_argument("--tls-client-key", type=Path)
        if name == "index":
            source = command.add_mutually_exclusive_group(required=True)
            source.add_argument("--folder", type=Path)
            source.add_argument("--csv", type=Path)
            source.add_argument("--fashion-mnist", action="store_true")
            source.add_argument(
                "--saleor", action="store_true", help="Saleor's colour product photos (make data)"
            )
            command.add_argument("--split", default="train", choices=["train", "test"])
            command.add_argument("--limit", type=int, default=2000)
            command.add_argument(
                "--no-titles", action="store_true", help="index Fashion-MNIST without titles"
            )
        elif name == "search":
            query = command.add_mutually_exclusive_group(required=True)
            query.add_argument("--text")
            query.add_argument("--image")
            query.add_argument("--similar", metavar="PRODUCT_ID")
            command.add_argument("--top-k", type=int, default=10)
            command.add_argument("--category", action="append", help="filter (repeatable)")
            command.add_argument("--contact-sheet", type=Path, help="write a PNG of the hits")
            command.add_argument(
                "--heat",
                action="store_true",
                help="draw each hit's 'why this match' heatmap (ExplainMatch) in the contact sheet "
                "(with --text or --image)",
            )
        elif name == "delete":
            command.add_argument("ids", nargs="+")
        elif name == "train-projection":
            command.add_argument("--method", default="contrastive", choices=["contrastive", "ridge"])
        elif name == "catalogs":
            command.add_argument("action", choices=["list", "create", "get", "delete"])
            command.add_argument("id", nargs="?", help="catalog id (create, get, delete)")
            command.add_argument("--display-name", default="")
            command.add_argument("--description", default="")
            command.add_argument("--force", action="store_true", help="delete a catalog that has products")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "new-key":
        from server.api.access import new_key

        key, line = new_key(args.name, args.role, filter(None, args.catalogs.split(",")))
        print(f"key (give it to the caller; it is not stored): {key}")
        print(f"key-file line (for --api-keys or $PRODUCTSEARCH_API_KEYS): {line}")
        return 0
    if args.command in ("backup", "restore"):
        return backup_command(args)
    if args.command == "serve":
        from server.api.access import KeyFileError, load_keys
        from server.api.admission import AdmissionLimits
        from server.app import InsecureExposureError, serve
        from server.catalog.sqlite import CatalogError
        from server.config import Limits
        from server.domain import UnavailableError

        try:
            keys = load_keys(args.api_keys)
        except (KeyFileError, OSError) as error:
            print(f"error: API keys: {error}", file=sys.stderr)
            return 2
        admission = AdmissionLimits(
            max_in_flight=args.max_in_flight,
            max_queued=args.max_queued,
            default_deadline_s=args.default_deadline,
        )
        config = Config(
            host=args.host,
            port=args.port,
            http_port=args.http_port or None,
            data_dir=args.data_dir,
            model_repository=args.model_repository,
            triton_url=args.triton_url,
            catalog_store=args.catalog_store,
            vector_store=args.vector_store,
            image_model=args.image_model,
            hnsw_ef_search=args.ef_search,
            hnsw_m=args.hnsw_m,
            hnsw_ef_construction=args.ef_construction,
            api_keys=keys,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            tls_client_ca=args.tls_client_ca,
            insecure=args.insecure,
            limits=Limits(admission=admission),
        )
        try:
            asyncio.run(serve(config))
        except (
            InsecureExposureError,
            CatalogError,
            UnavailableError,
        ) as error:  # a setting, the disk, an engine
            print(f"error: {error}", file=sys.stderr)
            return 2
        return 0
    with client_channel(args) as channel:
        stub = ApiKeyStub(pb_grpc.ProductSearchStub(channel), args.api_key)
        try:
            return run_client_command(stub, args)
        except grpc.RpcError as error:
            print(f"error: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1
        except (SourceError, OSError) as error:  # a local file, not the gateway
            print(f"error: {error}", file=sys.stderr)
            return 1


def backup_command(args: argparse.Namespace) -> int:
    from server.catalog import backup
    from server.catalog.sqlite import CatalogError

    try:
        if args.command == "backup":
            summary = backup.backup(args.data_dir, args.dest)
            counts = f"{len(summary.catalogs)} catalogs ({summary.products} products)"
            print(f"backed up {counts} to {summary.folder}")
        else:
            summary = backup.restore(args.data_dir, args.src)
            counts = f"{len(summary.catalogs)} catalogs ({summary.products} products)"
            print(f"restored {counts} into {args.data_dir}; index snapshots are rebuilt at the next start")
    except (CatalogError, OSError) as error:
        print(f"error: {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


def client_channel(args: argparse.Namespace) -> grpc.Channel:
    options = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
    if args.tls_ca is None:
        return grpc.insecure_channel(args.server, options=options)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=args.tls_ca.read_bytes(),
        private_key=args.tls_client_key.read_bytes() if args.tls_client_key else None,
        certificate_chain=args.tls_client_cert.read_bytes() if args.tls_client_cert else None,
    )
    return grpc.secure_channel(args.server, credentials, options=options)


class ApiKeyStub:
    """The stub, with `authorization: Bearer <key>` added to every call when a key is given."""

    def __init__(self, stub: pb_grpc.ProductSearchStub, key: str | None) -> None:
        self._stub, self._metadata = stub, (("authorization", f"Bearer {key}"),) if key else ()

    def __getattr__(self, name: str):
        method = getattr(self._stub, name)
        return lambda request, **kwargs: method(request, metadata=self._metadata, **kwargs)


def run_client_command(stub: pb_grpc.ProductSearchStub, args: argparse.Namespace) -> int:
    catalog = catalog_name(args.catalog)
    if args.command == "index":
        if args.fashion_mnist:
            products = products_from_fashion_mnist(args.split, args.limit, not args.no_titles)
            failed = index(stub, products, args.limit, catalog)
        elif args.saleor:
            failed = index(stub, products_from_saleor(), None, catalog)
        elif args.folder:
            failed = index(stub, products_from_folder(args.folder), None, catalog)
        else:
            failed = index(stub, products_from_csv(args.csv), None, catalog)
        print(f"done; {failed} failed")
        return 1 if failed else 0
    if args.command == "search":
        if args.heat and (args.similar or not args.contact_sheet):
            print("error: --heat needs --contact-sheet and a --text or --image query", file=sys.stderr)
            return 2
        response = search(stub, args)
        print_hits(response)
        if args.contact_sheet:
            query = args.text or args.image or f"similar to {args.similar}"
            heat = None
            if args.heat:
                image = Path(args.image).read_bytes() if args.image else b""
                catalog = catalog_name(args.catalog)
                heat = explain_hits(
                    stub, response, text=args.text or "", image=image, catalog=catalog, timeout=args.timeout
                )
            print(f"contact sheet: {write_contact_sheet(response, args.contact_sheet, query, heat)}")
        return 0
    if args.command == "train-projection":
        response = stub.TrainProjection(
            pb.TrainProjectionRequest(method=args.method, catalog=catalog), timeout=max(args.timeout, 600)
        )
        print(
            f"{response.model} version {response.version}: {response.method} on {response.pairs} pairs "
            f"(+ {response.span_pairs} title spans, {response.category_pairs} categories) "
            f"in {response.seconds:.1f} s"
        )
        return 0
    if args.command == "stats":
        print(stub.GetStats(pb.GetStatsRequest(catalog=catalog), timeout=args.timeout))
        return 0
    if args.command == "catalogs":
        return catalogs_command(stub, args)
    response = stub.DeleteProducts(
        pb.DeleteProductsRequest(ids=args.ids, catalog=catalog), timeout=args.timeout
    )
    print(f"deleted {response.deleted}; not found: {', '.join(response.not_found) or 'none'}")
    return 0


def catalogs_command(stub: pb_grpc.ProductSearchStub, args: argparse.Namespace) -> int:
    if args.action == "list":
        token = ""
        while True:
            page = stub.ListCatalogs(pb.ListCatalogsRequest(page_token=token), timeout=args.timeout)
            for catalog in page.catalogs:
                print(f"{catalog.name}\t{catalog.product_count}\t{catalog.display_name}")
            if not (token := page.next_page_token):
                return 0
    if not args.id:
        print(f"error: catalogs {args.action} needs a catalog id", file=sys.stderr)
        return 2
    name = catalog_name(args.id)
    if args.action == "create":
        details = pb.Catalog(display_name=args.display_name, description=args.description)
        created = stub.CreateCatalog(
            pb.CreateCatalogRequest(catalog_id=args.id, catalog=details), timeout=args.timeout
        )
        print(f"created {created.catalog.name}")
    elif args.action == "get":
        print(stub.GetCatalog(pb.GetCatalogRequest(name=name), timeout=args.timeout).catalog)
    else:
        stub.DeleteCatalog(
            pb.DeleteCatalogRequest(name=name, force=args.force), timeout=max(args.timeout, 60)
        )
        print(f"deleted {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
