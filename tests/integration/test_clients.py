"""Every client in clients/ (Python, Go, Node, C++) against one real gateway, through its
`run.sh` CLI: the same queries give the same ranked ids and scores as the Python client,
folder uploads follow the folder rule of the server's `productsearch index --folder`, two
catalogs stay apart, a key limited to one catalog is refused the other, failures follow the
shared CLI contract. Then the Python package's API, catalog management included.

The clients are built first (`make clients`); a missing or unbuilt one fails, never skips.
While only some are built, select them: `pytest tests/integration/test_clients.py -k python`."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from PIL import Image
from productsearch_client import (
    Catalog,
    Client,
    FieldViolation,
    Filter,
    Hit,
    Product,
    ProductSearchError,
)
from productsearch_client._errors import field_violations
from productsearch_client.aio import AsyncClient

from productsearch.v1 import product_search_pb2 as pb
from server.api.access import new_key
from server.api.errors import to_status
from server.domain import InvalidArgumentError, NotFoundError
from server.models.images import encode_png
from server.tools import fashion_mnist
from server.tools.child import wait_serving
from server.tools.sources import folder_entries
from server.triton.runtime import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ["python", "go", "node", "cpp"]
PER_CATEGORY = 6  # 60 catalog products
HIT_LINE = re.compile(r"(?P<rank>\d+)\t(?P<id>[^\t]+)\t(?P<score>-?\d+\.\d{4})\t(?P<title>.*)")
SCORE_TOLERANCE = 1e-4


# --- running a client's CLI -------------------------------------------------------------------


def environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment with PRODUCTSEARCH_* unset, then `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PRODUCTSEARCH_")}
    return clean | (env or {})


def run_client(language: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
    """`clients/<language>/run.sh ARGS` with PRODUCTSEARCH_* unset unless `env` sets them."""
    script = ROOT / "clients" / language / "run.sh"
    if not script.is_file():
        pytest.fail(f"{script.relative_to(ROOT)} is missing: build every client first with `make clients`")
    result = subprocess.run(
        [str(script), *args], capture_output=True, text=True, timeout=timeout, env=environment(env), cwd=ROOT
    )
    if result.returncode in (126, 127):
        pytest.fail(
            f"clients/{language}/run.sh exited {result.returncode}: the client is not built "
            f"(`make clients`): {result.stderr.strip()}"
        )
    return result


def describe(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def hit_lines(result: subprocess.CompletedProcess) -> list[tuple[str, float, str]]:
    """(product id, score, title) of each printed hit, after checking the line format."""
    assert result.returncode == 0, describe(result)
    parsed = []
    for rank, line in enumerate(result.stdout.splitlines(), start=1):
        match = HIT_LINE.fullmatch(line)
        assert match, f"not `<rank>\\t<id>\\t<score>\\t<title>`: {line!r}\n{describe(result)}"
        assert int(match["rank"]) == rank, describe(result)
        parsed.append((match["id"], float(match["score"]), match["title"]))
    return parsed


def assert_same_hits(printed: list[tuple[str, float, str]], reference: list[Hit]) -> None:
    assert [p[0] for p in printed] == [h.product_id for h in reference]
    for (product_id, score, title), hit in zip(printed, reference, strict=True):
        assert abs(score - hit.score) <= SCORE_TOLERANCE, (product_id, score, hit.score)
        assert title == hit.title


def error_line(result: subprocess.CompletedProcess, code: str) -> str:
    """The `error: CODE: details` line of a failed call (exit 2)."""
    assert result.returncode == 2, describe(result)
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"error: {code}: ")]
    assert lines, f"no `error: {code}: ...` line\n{describe(result)}"
    return lines[0]


def upserted(result: subprocess.CompletedProcess, ok: int, failed: int = 0) -> list[tuple[str, str]]:
    """The (id, code) of each failure line of an `upsert`, after checking its summary line."""
    assert result.returncode == 0, describe(result)
    summary, *failures = result.stdout.splitlines()
    assert summary == f"upserted {ok} failed {failed}", describe(result)
    assert len(failures) == failed, describe(result)
    parsed = []
    for line in failures:
        word, product_id, code, message = line.split("\t", 3)
        assert word == "failed" and message, describe(result)
        parsed.append((product_id, code))
    return parsed


def image_file(rgb, format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=format, **({"quality": 95} if format == "JPEG" else {}))
    return buffer.getvalue()


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


# --- gateways -------------------------------------------------------------------------------


@contextlib.contextmanager
def serving_gateway(folder: Path, model_repository: Path, *flags: str) -> Iterator[str]:
    """`productsearch serve` with the embedded Triton on a free loopback port, its data and
    log in `folder`, plus `flags` (which server/tools/child.py's spawn_gateway does not take);
    yields the address once SERVING. PRODUCTSEARCH_* variables are not passed on: a key list
    in $PRODUCTSEARCH_API_KEYS would guard every gateway."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    command = [sys.executable, "-m", "server.tools.cli", "serve", "--port", str(port)]
    command += ["--data-dir", str(folder / "data"), "--model-repository", str(model_repository), *flags]
    with open(folder / "gateway.log", "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log, env=environment())
    try:
        try:
            wait_serving(address, process, timeout_s=240)
        except (RuntimeError, TimeoutError) as error:
            raise RuntimeError(f"{error}\n{(folder / 'gateway.log').read_text()[-4000:]}") from error
        yield address
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, model_repository) -> Iterator[str]:
    """A gateway without API keys: every call is allowed."""
    with serving_gateway(tmp_path_factory.mktemp("clients-gateway"), model_repository) as address:
        yield address


@dataclasses.dataclass(frozen=True)
class KeyedGateway:
    address: str
    shop_a_key: str  # role write, limited to catalogs=shop-a


@pytest.fixture(scope="module")
def keyed_gateway(tmp_path_factory, model_repository) -> Iterator[KeyedGateway]:
    """A gateway started with `--api-keys FILE`: an admin key (which made catalogs shop-a and
    shop-b) and a write key limited to shop-a."""
    folder = tmp_path_factory.mktemp("keyed-gateway")
    admin_key, admin_line = new_key("test-admin", "admin")
    shop_a_key, shop_a_line = new_key("shop-a-writer", "write", ["shop-a"])
    assert shop_a_line.endswith(" catalogs=shop-a")
    key_file = write(folder / "api-keys", f"{admin_line}\n{shop_a_line}\n")
    with serving_gateway(folder, model_repository, "--api-keys", str(key_file)) as address:
        with Client(address, api_key=admin_key, deadline_s=60) as admin:
            for catalog_id in ("shop-a", "shop-b"):
                admin.create_catalog(catalog_id)
        yield KeyedGateway(address, shop_a_key)


@pytest.fixture(scope="module")
def fmnist() -> fashion_mnist.Split:
    return fashion_mnist.load("train")


@pytest.fixture(scope="module")
def catalog(gateway, fmnist, tmp_path_factory) -> Path:
    """60 Fashion-MNIST products (6 per category) titled with their English category name,
    upserted by the Python CLI."""
    folder = tmp_path_factory.mktemp("catalog")
    for index in fashion_mnist.stratified(fmnist, PER_CATEGORY, seed=5):
        stem = f"fm-{index:05d}"
        (folder / f"{stem}.png").write_bytes(encode_png(fmnist.rgb(index)))
        (folder / f"{stem}.txt").write_text(fashion_mnist.CATEGORIES_EN[fmnist.labels[index]] + "\n")
    result = run_client(
        "python", "--target", gateway, "--deadline", "300", "upsert", str(folder), timeout=330
    )
    assert result.returncode == 0, describe(result)
    assert result.stdout == f"upserted {10 * PER_CATEGORY} failed 0\n"
    return folder


@pytest.fixture(scope="module")
def python_client(gateway) -> Iterator[Client]:
    with Client(gateway, deadline_s=60) as client:
        yield client


# --- every language: the same answers as the Python client --------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("text", ["sneaker", "运动鞋"])
def test_search_text_agrees(language, text, gateway, catalog, python_client):
    printed = hit_lines(run_client(language, "--target", gateway, "search-text", text))
    reference = python_client.search_by_text(text)
    assert len(reference) == 10
    # Titles are category names; the six "Sneaker" titles embed identically and come first.
    assert [h.title for h in reference[:PER_CATEGORY]] == ["Sneaker"] * PER_CATEGORY
    assert_same_hits(printed, reference)


@pytest.mark.parametrize("language", LANGUAGES)
def test_search_image_agrees(language, gateway, catalog, python_client):
    image = sorted(catalog.glob("*.png"))[3]
    printed = hit_lines(run_client(language, "--target", gateway, "search-image", str(image), "--top-k", "7"))
    reference = python_client.search_by_image(image, top_k=7)
    assert reference[0].product_id == image.stem and reference[0].score > 0.999
    assert_same_hits(printed, reference)


@pytest.mark.parametrize("language", LANGUAGES)
def test_similar_agrees(language, gateway, catalog, python_client):
    product_id = sorted(catalog.glob("*.png"))[11].stem
    printed = hit_lines(run_client(language, "--target", gateway, "similar", product_id))
    reference = python_client.search_similar(product_id)
    assert len(reference) == 10 and product_id not in [h.product_id for h in reference]
    assert [h.score for h in reference] == sorted((h.score for h in reference), reverse=True)
    assert_same_hits(printed, reference)


# --- every language: upload a folder, then find it ----------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_upsert_folder(language, gateway, catalog, fmnist, python_client, tmp_path):
    """3 good images (.png, .jpeg, .webp) + 1 corrupt .jpg at the top, 1 in a subfolder; a
    stray file is ignored; titles come from <stem>.txt, trimmed; the subfolder's image is
    `nested/<stem>` in category "nested", the others have none."""
    folder = tmp_path / "upload"
    first = 1000 + 10 * LANGUAGES.index(language)  # distinct images per language
    images = {
        f"{language}-1.png": encode_png(fmnist.rgb(first)),
        f"{language}-2.jpeg": image_file(fmnist.rgb(first + 1), "JPEG"),
        f"{language}-3.webp": image_file(fmnist.rgb(first + 2), "WEBP"),
        f"{language}-4-corrupt.jpg": b"\xff\xd8 this is not a JPEG",
        f"nested/{language}-5.png": encode_png(fmnist.rgb(first + 3)),
    }
    for name, data in images.items():
        write(folder / name, data)
    write(folder / f"{language}-1.txt", "  Red wool scarf 红色围巾 \n")
    write(folder / f"{language}-2.txt", "Blue jeans")
    write(folder / "notes.md", "not a product")

    result = run_client(language, "--target", gateway, "--deadline", "120", "upsert", str(folder))
    assert upserted(result, 4, 1) == [(f"{language}-4-corrupt", "INVALID_ARGUMENT")]

    assert python_client.get(f"{language}-1").title == "Red wool scarf 红色围巾"
    assert python_client.get(f"{language}-2").title == "Blue jeans"
    assert python_client.get(f"{language}-3").title == ""
    assert {python_client.get(f"{language}-{n}").category for n in (1, 2, 3)} == {""}
    nested = python_client.get(f"nested/{language}-5")
    assert (nested.title, nested.category) == ("", "nested")
    for missing in (f"{language}-4-corrupt", f"{language}-5", f"{language}-1.txt", "notes"):
        with pytest.raises(ProductSearchError) as raised:
            python_client.get(missing)
        assert raised.value.code == grpc.StatusCode.NOT_FOUND

    for name in [*list(images)[:3], f"nested/{language}-5.png"]:
        found = hit_lines(run_client(language, "--target", gateway, "search-image", str(folder / name)))
        assert found[0][0] == name.rsplit(".", 1)[0] and found[0][1] >= 0.999, found[:3]


# --- every language: the folder rule of `productsearch index --folder` -------------------------

# Products in id order (UTF-8 bytes): upper case before lower, "-" before "/", "！" (U+FF01)
# before "😀" (U+1F600), which UTF-16 (JavaScript strings) orders the other way round.
RULE_PRODUCTS = [
    ("Sneaker/Trail/mud", "Muddy\ntrail shoe", "Trail"),
    ("Sneaker/red_runner", "Red runner 红色跑鞋", "Sneaker"),
    ("link", "", ""),
    ("top", "", ""),
]
RULE_FAILURES = ["broken/B", "broken/a", "broken/x-y", "broken/x/y", "broken/！", "broken/😀"]


@pytest.fixture(scope="module")
def rule_folder(fmnist, tmp_path_factory) -> Path:
    """A folder with what the rule decides on: depth, <stem>.txt titles (trimmed like Python's
    str.strip() after text-mode newlines), hidden files and folders, files that are not images,
    a title without an image, links to a file and to a folder, and corrupt images whose
    failure lines show the upload order."""
    root = tmp_path_factory.mktemp("rule") / "shop"
    write(root / "top.png", encode_png(fmnist.rgb(3300)))
    write(root / "Sneaker" / "red_runner.png", encode_png(fmnist.rgb(3301)))
    write(root / "Sneaker" / "red_runner.txt", "\u3000 Red runner 红色跑鞋 \r\n")
    write(root / "Sneaker" / "Trail" / "mud.JPEG", image_file(fmnist.rgb(3302), "JPEG"))
    write(root / "Sneaker" / "Trail" / "mud.txt", "Muddy\r\ntrail shoe\n")
    write(root / "Sneaker" / ".hidden.png", encode_png(fmnist.rgb(3303)))
    write(root / ".cache" / "cached.png", encode_png(fmnist.rgb(3304)))
    write(root / "Sneaker" / "readme.md", "not a product")
    write(root / "Sneaker" / "photo.gif", b"GIF89a not a product")
    write(root / "Sneaker" / "notes.txt", "a title without an image")
    for name in ("B", "a", "x-y", "x/y", "！", "😀"):
        write(root / "broken" / f"{name}.jpg", b"\xff\xd8 this is not a JPEG")
    (root / "link.png").symlink_to("top.png")
    (root / "linked-folder").symlink_to("Sneaker", target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def rule_reference(gateway, rule_folder, python_client) -> list[Product]:
    """The folder as the server's own `productsearch index --folder` uploads it."""
    python_client.create_catalog("rule-server")
    command = [sys.executable, "-m", "server.tools.cli", "index", "--server", gateway]
    command += ["--catalog", "rule-server", "--folder", str(rule_folder)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, env=environment())
    assert f"done; {len(RULE_FAILURES)} failed" in result.stdout, describe(result)
    return list(python_client.list_products(catalog="rule-server"))


def test_the_rule_is_the_servers(rule_folder, rule_reference):
    """The expectations below are what server/tools/sources.py reads and uploads."""
    entries = [(e.id, e.title, e.category) for e in folder_entries(rule_folder)]
    assert [e[0] for e in entries] == sorted([p[0] for p in RULE_PRODUCTS] + RULE_FAILURES, key=str.encode)
    assert [e for e in entries if e[0] not in RULE_FAILURES] == RULE_PRODUCTS
    assert [(p.id, p.title, p.category) for p in rule_reference] == RULE_PRODUCTS


@pytest.mark.parametrize("language", LANGUAGES)
def test_upsert_follows_the_servers_folder_rule(
    language, gateway, rule_folder, rule_reference, python_client
):
    """Uploaded into a catalog of its own, the folder gives the same products, with the same
    ids, titles and categories, as the server's `productsearch index --folder`, sent in the
    same order."""
    catalog_id = f"rule-{language}"
    python_client.create_catalog(catalog_id)
    result = run_client(
        language,
        "--target",
        gateway,
        "--catalog",
        catalog_id,
        "--deadline",
        "120",
        "upsert",
        str(rule_folder),
    )
    failures = upserted(result, len(RULE_PRODUCTS), len(RULE_FAILURES))
    assert failures == [(product_id, "INVALID_ARGUMENT") for product_id in RULE_FAILURES]

    expected = [(p.id, p.title, p.category) for p in rule_reference]
    listed = list(python_client.list_products(catalog=catalog_id))
    assert [(p.id, p.title, p.category) for p in listed] == expected
    for product_id, title, category in expected:
        stored = python_client.get(product_id, catalog=catalog_id)
        assert (stored.id, stored.title, stored.category) == (product_id, title, category)


# --- every language: catalogs ----------------------------------------------------------------


@pytest.fixture(scope="module")
def shops(gateway, fmnist, python_client) -> dict[str, set[str]]:
    """catalogs/shop-a, empty (each client fills it), and catalogs/shop-b with three products
    of its own; made with the Python client library. The ids of shop-b's products by catalog."""
    python_client.create_catalog("shop-a", display_name="Shop A", description="each client's uploads")
    python_client.create_catalog("shop-b", display_name="Shop B")
    products = [Product(id=f"b-{n}", image=encode_png(fmnist.rgb(3100 + n))) for n in range(3)]
    assert python_client.upsert(products, catalog="shop-b").upserted == 3
    return {"shop-b": {p.id for p in products}}


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogs_keep_products_apart(language, gateway, shops, fmnist, python_client, tmp_path):
    """A folder upserted into shop-a is found there (by id or by name, flag or environment),
    never in shop-b or the default catalog."""
    first = 3000 + 10 * LANGUAGES.index(language)
    folder = tmp_path / "shop"
    images = [
        write(folder / f"{language}-a1.png", encode_png(fmnist.rgb(first))),
        write(folder / "Bags" / f"{language}-a2.png", encode_png(fmnist.rgb(first + 1))),
    ]
    ids = [f"{language}-a1", f"Bags/{language}-a2"]
    upserted(run_client(language, "--target", gateway, "--catalog", "shop-a", "upsert", str(folder)), 2)
    assert python_client.get(ids[1], catalog="shop-a").category == "Bags"
    shop_a = {p.id for p in python_client.list_products(catalog="shop-a")}
    assert set(ids) <= shop_a

    cli = functools.partial(run_client, language, "--target", gateway)
    for image, product_id in zip(images, ids, strict=True):
        in_b = hit_lines(cli("--catalog", "shop-b", "search-image", str(image)))
        assert {hit[0] for hit in in_b} == shops["shop-b"]  # all of shop-b, none of shop-a
        by_name = cli("--catalog", "catalogs/shop-a", "search-image", str(image))
        by_environment = cli("search-image", str(image), env={"PRODUCTSEARCH_CATALOG": "shop-a"})
        for in_a in (hit_lines(by_name), hit_lines(by_environment)):
            assert in_a[0][0] == product_id and in_a[0][1] >= 0.999, in_a[:3]
            assert {hit[0] for hit in in_a} <= shop_a
        in_default = hit_lines(cli("search-image", str(image)))
        assert not {hit[0] for hit in in_default} & set(ids)

    error_line(cli("--catalog", "shop-b", "similar", ids[0]), "NOT_FOUND")
    assert hit_lines(cli("--catalog", "shop-a", "similar", ids[0]))
    with pytest.raises(ProductSearchError) as raised:
        python_client.get(ids[0])
    assert raised.value.code == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("language", LANGUAGES)
def test_unknown_and_malformed_catalogs(language, gateway):
    result = run_client(language, "--target", gateway, "--catalog", "no-such-shop", "search-text", "bag")
    assert "no-such-shop" in error_line(result, "NOT_FOUND")
    result = run_client(language, "--target", gateway, "--catalog", "catalogs/a/b", "search-text", "bag")
    error_line(result, "INVALID_ARGUMENT")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_key_limited_to_shop_a_may_not_use_shop_b(language, keyed_gateway, fmnist, tmp_path):
    """Key line `... write sha256:... catalogs=shop-a`: upserts and searches in shop-a work;
    shop-b (which exists) and the default catalog are PERMISSION_DENIED; no key at all is
    UNAUTHENTICATED."""
    image = encode_png(fmnist.rgb(3200 + LANGUAGES.index(language)))
    image_path = write(tmp_path / "shop" / f"{language}-keyed.png", image)
    cli = functools.partial(run_client, language, "--target", keyed_gateway.address)
    keyed = functools.partial(cli, "--api-key", keyed_gateway.shop_a_key)

    upserted(keyed("--catalog", "shop-a", "upsert", str(image_path.parent)), 1)
    hits = hit_lines(keyed("--catalog", "shop-a", "search-image", str(image_path)))
    assert hits[0][0] == f"{language}-keyed" and hits[0][1] >= 0.999, hits[:3]

    for args in (
        ("--catalog", "shop-b", "upsert", str(image_path.parent)),
        ("--catalog", "catalogs/shop-b", "search-image", str(image_path)),
        ("--catalog", "shop-b", "search-text", "bag"),
        ("search-text", "bag"),  # the default catalog
    ):
        assert "shop-a-writer" in error_line(keyed(*args), "PERMISSION_DENIED")
    environment_key = {"PRODUCTSEARCH_API_KEY": keyed_gateway.shop_a_key, "PRODUCTSEARCH_CATALOG": "shop-b"}
    error_line(cli("search-text", "bag", env=environment_key), "PERMISSION_DENIED")
    error_line(cli("--catalog", "shop-a", "search-text", "bag"), "UNAUTHENTICATED")


# --- every language: failures ----------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_search_image_of_a_non_image_is_invalid_argument(language, gateway, tmp_path):
    text_file = tmp_path / "not-an-image.png"
    text_file.write_text("just some text")
    result = run_client(language, "--target", gateway, "search-image", str(text_file))
    error_line(result, "INVALID_ARGUMENT")


@pytest.mark.parametrize("language", LANGUAGES)
def test_deadline_exceeded(language, gateway):
    result = run_client(language, "--target", gateway, "--deadline", "0.0001", "search-text", "sneaker")
    error_line(result, "DEADLINE_EXCEEDED")


@pytest.mark.parametrize("language", LANGUAGES)
def test_nothing_listening_is_unavailable(language):
    result = run_client(language, "--target", f"127.0.0.1:{free_port()}", "search-text", "sneaker")
    error_line(result, "UNAVAILABLE")


@pytest.mark.parametrize("language", LANGUAGES)
def test_unknown_product_is_not_found(language, gateway, catalog):
    result = run_client(language, "--target", gateway, "similar", "no-such-product")
    error_line(result, "NOT_FOUND")


BAD_USAGE = {
    "no command": [],
    "unknown command": ["frobnicate"],
    "missing text": ["search-text"],
    "missing folder": ["upsert"],
    "top-k not a number": ["search-text", "sneaker", "--top-k", "many"],
    "deadline not a number": ["--deadline", "soon", "search-text", "sneaker"],
    "catalog without a value": ["--catalog"],
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("args", BAD_USAGE.values(), ids=BAD_USAGE.keys())
def test_bad_usage_exits_1(language, args):
    result = run_client(language, "--target", f"127.0.0.1:{free_port()}", *args, timeout=30)
    assert result.returncode == 1, describe(result)
    assert result.stdout == "", describe(result)


class RecordingServer(grpc.GenericRpcHandler):
    """A bare gRPC server answering SearchByText with no hits and recording what came: the
    request, the metadata and the deadline left. Only for what the gateway cannot show."""

    def __init__(self) -> None:
        self.calls: list[tuple[pb.SearchByTextRequest, dict[str, str], float | None]] = []
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self._server.add_generic_rpc_handlers([self])
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    def service(self, handler_call_details):
        if handler_call_details.method != "/productsearch.v1.ProductSearch/SearchByText":
            return None
        return grpc.unary_unary_rpc_method_handler(
            self._search, request_deserializer=pb.SearchByTextRequest.FromString
        )

    def _search(self, request: pb.SearchByTextRequest, context: grpc.ServicerContext) -> bytes:
        with self._lock:
            self.calls.append((request, dict(context.invocation_metadata()), context.time_remaining()))
        return pb.SearchResponse().SerializeToString()

    def __enter__(self) -> RecordingServer:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop(None)


@pytest.mark.parametrize("language", LANGUAGES)
def test_environment_api_key_catalog_and_deadline(language):
    """$PRODUCTSEARCH_TARGET, $PRODUCTSEARCH_API_KEY and $PRODUCTSEARCH_CATALOG are the
    defaults, flags win; the key goes as `authorization: Bearer KEY`; a catalog id becomes
    `catalogs/ID`, a name goes as it is, none leaves the field empty (the default catalog);
    every call has a deadline (10 s unless --deadline)."""
    with RecordingServer() as server:
        target = f"127.0.0.1:{server.port}"
        env = {"PRODUCTSEARCH_TARGET": target, "PRODUCTSEARCH_API_KEY": "key-from-env"}
        runs = [
            run_client(language, "search-text", "运动鞋", env=env | {"PRODUCTSEARCH_CATALOG": "shop-a"}),
            run_client(
                language,
                "--api-key",
                "from-flag",
                "--deadline",
                "3",
                "--catalog",
                "catalogs/shop-b",
                "search-text",
                "a",
                env=env | {"PRODUCTSEARCH_CATALOG": "shop-a"},
            ),
            run_client(language, "--target", target, "search-text", "red sneakers", "--top-k", "3"),
            run_client(language, "--target", target, "--catalog", "shop-c", "search-text", "b"),
        ]
    for result in runs:
        assert result.returncode == 0 and result.stdout == "", describe(result)
    assert len(server.calls) == 4
    (
        (first, first_metadata, first_left),
        (second, second_metadata, second_left),
        (third, third_metadata, _),
        (
            fourth,
            _,
            _,
        ),
    ) = server.calls
    assert first.text == "运动鞋" and first_metadata.get("authorization") == "Bearer key-from-env"
    # The deadline travels as a grpc-timeout header, which gRPC core encodes with few digits,
    # rounding up ("encoding may round up arbitrarily", timeout_encoding.h): near 10 s by up
    # to 100 ms (Python arrived with 10.099 s left of 10 s; C++ with 3.009 of 3 s).
    slack = 0.15
    assert first_left is not None and 5 < first_left <= 10 + slack
    assert first.catalog == "catalogs/shop-a"
    assert second_metadata.get("authorization") == "Bearer from-flag"
    assert second_left is not None and 0 < second_left <= 3 + slack
    assert second.catalog == "catalogs/shop-b"
    assert third.text == "red sneakers" and third.options.top_k == 3
    assert "authorization" not in third_metadata and third.catalog == ""
    assert fourth.catalog == "catalogs/shop-c"


# --- the Python package's API ------------------------------------------------------------------


def test_python_error_details_come_from_the_servers_status():
    """The BadRequest details server/errors.py attaches are the client's field violations."""
    status = to_status(InvalidArgumentError([("options.top_k", "too big"), ("text", "must not be empty")]))
    assert field_violations(status.trailing_metadata) == (
        FieldViolation("options.top_k", "too big"),
        FieldViolation("text", "must not be empty"),
    )
    assert field_violations(to_status(NotFoundError("product 'x' not found")).trailing_metadata) == ()


def test_python_client_raises_field_violations(python_client, catalog):
    with pytest.raises(ProductSearchError) as raised:
        python_client.search_by_text("shoes", top_k=5000, min_score=2.0)
    error = raised.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in error.field_violations] == ["options.top_k", "options.min_score"]
    assert "5000" in error.field_violations[0].description
    assert str(error).startswith("INVALID_ARGUMENT: ")

    with pytest.raises(ProductSearchError) as raised:
        python_client.search_by_image(b"GIF89a, or rather not")
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in raised.value.field_violations] == ["image"]

    with pytest.raises(ProductSearchError) as raised:
        python_client.search_similar("no-such-product")
    assert raised.value.code == grpc.StatusCode.NOT_FOUND and raised.value.field_violations == ()


def test_python_client_round_trip(python_client, fmnist, catalog):
    """Upsert with every field, get, filtered search, duplicates, list, stats, delete."""
    coat, sneaker = fmnist.rgb(2000), fmnist.rgb(2001)  # a Coat and a Sneaker, not in the catalog
    products = [
        Product(
            id="api-coat",
            title="wool coat",
            category="Outerwear",
            price=42.5,
            attributes={"colour": "grey"},
            image=encode_png(coat),
            image_uri="https://example.com/coat.png",
        ),
        Product(id="api-sneaker", title="canvas trainer", category="Shoes", image=encode_png(sneaker)),
        Product(id="api-no-image", title="nothing to see"),
    ]
    summary = python_client.upsert(products)
    assert (summary.upserted, summary.failed) == (2, 1)
    assert [s.id for s in summary.statuses] == ["api-coat", "api-sneaker", "api-no-image"]
    assert [(s.id, s.code) for s in summary.failures] == [("api-no-image", grpc.StatusCode.INVALID_ARGUMENT)]

    stored = python_client.get("api-coat")
    assert (stored.title, stored.category, stored.price, dict(stored.attributes), stored.image_uri) == (
        "wool coat",
        "Outerwear",
        42.5,
        {"colour": "grey"},
        "https://example.com/coat.png",
    )
    assert stored.thumbnail.startswith(b"\xff\xd8") and stored.update_time > 0
    assert python_client.get("api-sneaker").price is None

    hits = python_client.search_by_text("coat", filter=Filter(categories=["Outerwear", "Shoes"]), top_k=5)
    assert [h.product_id for h in hits] == ["api-coat", "api-sneaker"]
    assert hits[0].signals["title"] == pytest.approx(hits[0].score)
    assert hits[0].price == 42.5 and hits[0].thumbnail == b""
    with pytest.raises(dataclasses.FrozenInstanceError):
        hits[0].score = 1.0  # type: ignore[misc]
    priced = python_client.search_by_text("coat", filter=Filter(min_price=40, max_price=50), top_k=5)
    assert [h.product_id for h in priced] == ["api-coat"]
    grey = python_client.search_by_text("coat", filter=Filter(attributes={"colour": "grey"}), top_k=5)
    assert [h.product_id for h in grey] == ["api-coat"]
    with_thumbnails = python_client.search_by_image(encode_png(sneaker), top_k=1, include_thumbnails=True)
    assert with_thumbnails[0].product_id == "api-sneaker"
    assert with_thumbnails[0].thumbnail.startswith(b"\xff\xd8")

    copies = python_client.find_duplicates(encode_png(coat), threshold=0.95)
    assert copies[0].product_id == "api-coat" and copies[0].score > 0.999

    listed = list(python_client.list_products(page_size=7))
    assert len(listed) == python_client.stats().product_count
    assert [p.id for p in listed] == sorted(p.id for p in listed)
    assert {"api-coat", "api-sneaker"} <= {p.id for p in listed}

    deleted = python_client.delete(["api-coat", "api-sneaker", "api-never-was"])
    assert (deleted.deleted, deleted.not_found) == (2, ("api-never-was",))
    with pytest.raises(ProductSearchError) as raised:
        python_client.get("api-coat")
    assert raised.value.code == grpc.StatusCode.NOT_FOUND


def test_python_client_reraises_errors_of_the_product_iterable(python_client):
    def products():
        raise RuntimeError("the caller's own failure")
        yield  # pragma: no cover

    with pytest.raises(RuntimeError, match="the caller's own failure"):
        python_client.upsert(products())


def test_python_client_api_key_and_closed_channel(gateway, catalog):
    """A gateway without a key file does not check keys: a keyed client works like any other."""
    with Client(gateway, api_key="secret", deadline_s=30) as client:
        assert client.stats().product_count >= 10 * PER_CATEGORY
    with pytest.raises(ValueError):
        client.stats()


async def test_python_async_client_matches_blocking_client(gateway, catalog, python_client):
    image = sorted(catalog.glob("*.png"))[0]
    async with AsyncClient(gateway, deadline_s=60) as client:
        assert await client.search_by_text("运动鞋") == python_client.search_by_text("运动鞋")
        assert await client.search_by_image(image, top_k=3) == python_client.search_by_image(image, top_k=3)
        stats = await client.stats()
        assert stats.product_count == len([p async for p in client.list_products()])
        with pytest.raises(ProductSearchError) as raised:
            await client.get("no-such-product")
        assert raised.value.code == grpc.StatusCode.NOT_FOUND


def test_python_client_manages_catalogs(python_client, fmnist):
    """Create (with display name and description), get, list every page, stats, refusals,
    delete with and without force."""
    created = python_client.create_catalog(
        "py-admin", display_name="Python shop", description="for the API test"
    )
    assert (created.name, created.id, created.display_name, created.description, created.product_count) == (
        "catalogs/py-admin",
        "py-admin",
        "Python shop",
        "for the API test",
        0,
    )
    assert created.create_time > 0
    with pytest.raises(ProductSearchError) as raised:
        python_client.create_catalog("py-admin")
    assert raised.value.code == grpc.StatusCode.ALREADY_EXISTS

    python_client.upsert([Product(id="p-1", image=encode_png(fmnist.rgb(3400)))], catalog="catalogs/py-admin")
    assert python_client.get_catalog("py-admin").product_count == 1
    with Client(python_client.target, catalog="py-admin") as in_catalog:
        assert in_catalog.get_catalog() == python_client.get_catalog("catalogs/py-admin")
        stats = in_catalog.stats()
        assert stats.catalog == in_catalog.get_catalog() and stats.product_count == 1
        assert {i.space for i in stats.indexes} >= {"image"} and all(
            i.engine and i.dimension for i in stats.indexes
        )
        assert [p.id for p in in_catalog.list_products()] == ["p-1"]
    assert python_client.get_catalog().id == "default"

    listed = list(python_client.list_catalogs(page_size=1))  # one page per catalog
    assert [c.id for c in listed] == sorted(c.id for c in listed)
    assert {"default", "py-admin"} <= {c.id for c in listed}
    assert all(isinstance(c, Catalog) for c in listed)

    with pytest.raises(ProductSearchError) as raised:
        python_client.delete_catalog("py-admin")
    assert raised.value.code == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(ProductSearchError) as raised:
        python_client.delete_catalog("default", force=True)
    assert raised.value.code == grpc.StatusCode.FAILED_PRECONDITION
    python_client.delete_catalog("py-admin", force=True)
    with pytest.raises(ProductSearchError) as raised:
        python_client.get_catalog("py-admin")
    assert raised.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(ProductSearchError) as raised:
        python_client.search_by_text("bag", catalog="py-admin")
    assert raised.value.code == grpc.StatusCode.NOT_FOUND
