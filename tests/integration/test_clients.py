"""Every client in clients/ (Python, Go, Node, C++) against one real gateway, through its
`run.sh` CLI: the same queries give the same ranked ids and scores as the Python client,
folder uploads and failures follow the shared CLI contract. Then the Python package's API.

The clients are built first (`make clients`); a missing or unbuilt one fails, never skips.
While only some are built, select them: `pytest tests/test_clients.py -k python`."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from PIL import Image
from productsearch_client import (
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
from server.api.errors import to_status
from server.domain import InvalidArgumentError, NotFoundError
from server.models.images import encode_png
from server.tools import fashion_mnist
from server.tools.child import spawn_gateway, wait_serving
from server.triton.runtime import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ["python", "go", "node", "cpp"]
PER_CATEGORY = 6  # 60 catalog products
HIT_LINE = re.compile(r"(?P<rank>\d+)\t(?P<id>[^\t]+)\t(?P<score>-?\d+\.\d{4})\t(?P<title>.*)")
SCORE_TOLERANCE = 1e-4


# --- running a client's CLI -------------------------------------------------------------------


def run_client(language: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
    """`clients/<language>/run.sh ARGS` with PRODUCTSEARCH_* unset unless `env` sets them."""
    script = ROOT / "clients" / language / "run.sh"
    if not script.is_file():
        pytest.fail(f"{script.relative_to(ROOT)} is missing: build every client first with `make clients`")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PRODUCTSEARCH_")}
    environment.update(env or {})
    result = subprocess.run(
        [str(script), *args], capture_output=True, text=True, timeout=timeout, env=environment, cwd=ROOT
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


# --- one gateway and catalog for the module ---------------------------------------------------


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, model_repository) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("clients-gateway")
    port = free_port()
    address = f"127.0.0.1:{port}"
    with open(folder / "gateway.log", "w") as log:
        process = spawn_gateway(port, folder / "data", model_repository, cwd=ROOT, stdout=log, stderr=log)
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


def image_file(rgb, format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=format, **({"quality": 95} if format == "JPEG" else {}))
    return buffer.getvalue()


@pytest.mark.parametrize("language", LANGUAGES)
def test_upsert_folder(language, gateway, catalog, fmnist, python_client, tmp_path):
    """3 good images (.png, .jpeg, .webp) + 1 corrupt .jpg; a stray file and a subfolder are
    ignored; titles come from <stem>.txt, trimmed."""
    folder = tmp_path / "upload"
    (folder / "nested").mkdir(parents=True)
    first = 1000 + 10 * LANGUAGES.index(language)  # distinct images per language
    images = {
        f"{language}-1.png": encode_png(fmnist.rgb(first)),
        f"{language}-2.jpeg": image_file(fmnist.rgb(first + 1), "JPEG"),
        f"{language}-3.webp": image_file(fmnist.rgb(first + 2), "WEBP"),
        f"{language}-4-corrupt.jpg": b"\xff\xd8 this is not a JPEG",
    }
    for name, data in images.items():
        (folder / name).write_bytes(data)
    (folder / f"{language}-1.txt").write_text("  Red wool scarf 红色围巾 \n", encoding="utf-8")
    (folder / f"{language}-2.txt").write_text("Blue jeans", encoding="utf-8")
    (folder / "notes.md").write_text("not a product")
    (folder / "nested" / f"{language}-5.png").write_bytes(encode_png(fmnist.rgb(first + 3)))

    result = run_client(language, "--target", gateway, "--deadline", "120", "upsert", str(folder))
    assert result.returncode == 0, describe(result)
    lines = result.stdout.splitlines()
    assert lines[0] == "upserted 3 failed 1", describe(result)
    assert len(lines) == 2, describe(result)
    failed, product_id, code, message = lines[1].split("\t", 3)
    assert (failed, product_id, code) == ("failed", f"{language}-4-corrupt", "INVALID_ARGUMENT")
    assert message

    assert python_client.get(f"{language}-1").title == "Red wool scarf 红色围巾"
    assert python_client.get(f"{language}-2").title == "Blue jeans"
    assert python_client.get(f"{language}-3").title == ""
    for missing in (f"{language}-4-corrupt", f"{language}-5"):
        with pytest.raises(ProductSearchError) as raised:
            python_client.get(missing)
        assert raised.value.code == grpc.StatusCode.NOT_FOUND

    for name in list(images)[:3]:
        found = hit_lines(run_client(language, "--target", gateway, "search-image", str(folder / name)))
        assert found[0][0] == Path(name).stem and found[0][1] >= 0.999, found[:3]


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
def test_environment_api_key_and_deadline(language):
    """$PRODUCTSEARCH_TARGET and $PRODUCTSEARCH_API_KEY are the defaults, flags win; the key
    goes as `authorization: Bearer KEY`; every call has a deadline (10 s unless --deadline)."""
    with RecordingServer() as server:
        target = f"127.0.0.1:{server.port}"
        env = {"PRODUCTSEARCH_TARGET": target, "PRODUCTSEARCH_API_KEY": "key-from-env"}
        runs = [
            run_client(language, "search-text", "运动鞋", env=env),
            run_client(language, "--api-key", "from-flag", "--deadline", "3", "search-text", "a", env=env),
            run_client(language, "--target", target, "search-text", "red sneakers", "--top-k", "3"),
        ]
    for result in runs:
        assert result.returncode == 0 and result.stdout == "", describe(result)
    assert len(server.calls) == 3
    (first, first_metadata, first_left), (_, second_metadata, second_left), (third, third_metadata, _) = (
        server.calls
    )
    assert first.text == "运动鞋" and first_metadata.get("authorization") == "Bearer key-from-env"
    assert first_left is not None and 5 < first_left <= 10
    assert second_metadata.get("authorization") == "Bearer from-flag"
    assert second_left is not None and 0 < second_left <= 3
    assert third.text == "red sneakers" and third.options.top_k == 3
    assert "authorization" not in third_metadata


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
    """The gateway does not check keys yet: a keyed client works like any other."""
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
