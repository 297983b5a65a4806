"""The web console end to end: a real gateway (`productsearch serve --http-port`, embedded
Triton) with 100 titled Fashion-MNIST products. The JSON API is checked against the gRPC
answers for the same queries (both call one SearchService), then the page is driven in
headless Chromium (Debian `chromium` + `chromium-driver`; `make browser` installs them).
The screenshot is kept at artifacts/test/web_console.png."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from PIL import Image

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.api.web import error_to_json, start_console
from server.config import Limits
from server.domain import (
    Code,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from server.models.embedding import EmbeddingError
from server.tools import fashion_mnist
from server.tools.child import wait_serving
from server.triton.runtime import free_port
from tests.gateway_helpers import fmnist_product, requests

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "test"
PER_CATEGORY = 10  # x 10 categories
PAGE_TOP_K = 20  # the page's default Top K


@dataclass
class Console:
    url: str  # http://127.0.0.1:PORT/
    stub: pb_grpc.ProductSearchStub
    products: list[pb.Product]


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes

    def json(self) -> dict:
        assert self.status == 200, (self.status, self.body[:2000])
        return json.loads(self.body)

    def error(self) -> dict:
        return json.loads(self.body)


def fetch(console: Console, path: str, data: bytes | None = None, headers: dict | None = None) -> Reply:
    request = urllib.request.Request(console.url.rstrip("/") + path, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return Reply(response.status, response.headers.get_content_type(), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers.get_content_type(), error.read())


def upload(
    console: Console, image: bytes, field: str = "image", query: str = "", path: str = "/api/search/image"
) -> Reply:
    """POST /api/search/image (or `path`) as a browser form would (multipart/form-data)."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="query.png"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    body = head.encode() + image + f"\r\n--{boundary}--\r\n".encode()
    return fetch(
        console,
        f"{path}{query}",
        body,
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


def quoted(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def hit_rows(response: pb.SearchResponse) -> list[tuple[str, float]]:
    return [(h.product.id, h.score) for h in response.hits]


def json_rows(body: dict) -> list[tuple[str, float]]:
    return [(h["id"], h["score"]) for h in body["hits"]]


def assert_same_hits(body: dict, response: pb.SearchResponse) -> None:
    """The console's JSON and the gRPC reply to the same query: same products, same order,
    same scores (gRPC carries float32)."""
    assert [i for i, _ in json_rows(body)] == [i for i, _ in hit_rows(response)]
    assert [s for _, s in json_rows(body)] == pytest.approx([s for _, s in hit_rows(response)], abs=1e-5)
    assert [h["rank"] for h in body["hits"]] == list(range(1, len(body["hits"]) + 1))
    for hit, expected in zip(body["hits"], response.hits, strict=True):
        assert hit["signals"] == pytest.approx({s.signal: s.score for s in expected.signals}, abs=1e-5)
        assert hit["score"] == pytest.approx(max(hit["signals"].values()))
        assert hit["category"] == expected.product.category
        assert hit["title"] == expected.product.title


@pytest.fixture(scope="module")
def console(tmp_path_factory, model_repository) -> Console:
    directory = tmp_path_factory.mktemp("web_console")
    grpc_port = free_port()
    http_port = free_port()
    while http_port == grpc_port:
        http_port = free_port()
    log = (directory / "gateway.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.tools.cli",
            "serve",
            "--port",
            str(grpc_port),
            "--http-port",
            str(http_port),
            "--data-dir",
            str(directory / "data"),
            "--model-repository",
            str(model_repository),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    address = f"127.0.0.1:{grpc_port}"
    try:
        wait_serving(address, process, timeout_s=180)
        split = fashion_mnist.load("train")
        products = [
            fmnist_product(split, int(i), "web") for i in fashion_mnist.stratified(split, PER_CATEGORY)
        ]
        with grpc.insecure_channel(
            address, options=[("grpc.max_receive_message_length", 64 << 20)]
        ) as channel:
            stub = pb_grpc.ProductSearchStub(channel)
            upserted = stub.UpsertProducts(requests(products), timeout=300)
            assert upserted.upserted == len(products), upserted
            yield Console(f"http://127.0.0.1:{http_port}/", stub, products)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        log.close()
    assert code == 0, (directory / "gateway.log").read_text()[-4000:]


# -- error mapping (pure) -------------------------------------------------------------------


def test_domain_errors_map_to_http_status():
    status, body = error_to_json(InvalidArgumentError([("text", "must not be empty")]))
    assert status == 400 and body["code"] == "INVALID_ARGUMENT"
    assert body["violations"] == [{"field": "text", "description": "must not be empty"}]
    assert error_to_json(NotFoundError("product 'x' not found")) == (
        404,
        {"code": "NOT_FOUND", "message": "product 'x' not found"},
    )
    assert error_to_json(FailedPreconditionError("too few pairs"))[0] == 409
    assert error_to_json(EmbeddingError("m", Code.UNAVAILABLE, "down"))[0] == 503
    assert error_to_json(PermissionDeniedError("key 'a' may not use catalogs/b"))[0] == 403
    assert error_to_json(ValueError("a bug")) is None


async def test_console_binds_a_free_port_and_stops():
    """Port 0 → a free port; stop() closes it (no gateway needed to serve the static page)."""
    started = await start_console(service=None, host="127.0.0.1", port=0)
    try:
        assert started.port > 0 and started.url == f"http://127.0.0.1:{started.port}/"
        page = await asyncio.to_thread(urllib.request.urlopen, started.url, timeout=10)
        assert page.status == 200 and b"console.js" in page.read()
    finally:
        await started.stop()
    with pytest.raises(urllib.error.URLError):
        await asyncio.to_thread(urllib.request.urlopen, started.url, timeout=10)


# -- the JSON API against gRPC ----------------------------------------------------------------


@pytest.mark.integration
def test_text_search_matches_grpc(console):
    reply = fetch(console, f"/api/search?q={quoted('运动鞋')}&top_k=10")
    assert reply.status == 200 and reply.content_type == "application/json"
    body = reply.json()
    assert len(body["hits"]) == 10
    categories = [h["category"] for h in body["hits"]]
    assert categories[0] == "Sneaker"
    assert categories.count("Sneaker") >= 8, categories
    assert "title" in body["hits"][0]["signals"]
    assert body["embedding_ms"] > 0 and body["index_ms"] >= 0
    expected = console.stub.SearchByText(
        pb.SearchByTextRequest(text="运动鞋", options=pb.SearchOptions(top_k=10)), timeout=30
    )
    assert_same_hits(body, expected)

    default = fetch(console, f"/api/search?q={quoted('bag')}").json()
    assert len(default["hits"]) == Limits().default_top_k
    assert default["hits"][0]["category"] == "Bag"


@pytest.mark.integration
def test_image_upload_finds_the_product_and_matches_grpc(console):
    product = console.products[17]
    body = upload(console, product.image, query="?top_k=5").json()
    assert len(body["hits"]) == 5
    first = body["hits"][0]
    assert first["id"] == product.id and first["score"] > 0.99, first
    assert first["signals"]["image"] > 0.99
    assert first["thumbnail"] == f"/api/thumbnail?catalog=default&id={quoted(product.id)}"
    expected = console.stub.SearchByImage(
        pb.SearchByImageRequest(image=product.image, options=pb.SearchOptions(top_k=5)), timeout=30
    )
    assert_same_hits(body, expected)


@pytest.mark.integration
def test_similar_matches_grpc_and_leaves_the_product_out(console):
    product = console.products[3]
    body = fetch(console, f"/api/similar?id={quoted(product.id)}&top_k=12").json()
    assert len(body["hits"]) == 12
    assert product.id not in [h["id"] for h in body["hits"]]
    expected = console.stub.SearchSimilar(
        pb.SearchSimilarRequest(product_id=product.id, options=pb.SearchOptions(top_k=12)), timeout=30
    )
    assert_same_hits(body, expected)


@pytest.mark.integration
def test_thumbnail_is_the_stored_jpeg(console):
    product = console.products[0]
    reply = fetch(console, f"/api/thumbnail?id={quoted(product.id)}")
    assert reply.status == 200 and reply.content_type == "image/jpeg"
    stored = console.stub.GetProduct(pb.GetProductRequest(id=product.id), timeout=30).product.thumbnail
    assert reply.body == stored
    assert Image.open(io.BytesIO(reply.body)).format == "JPEG"


@pytest.mark.integration
def test_errors_are_json_with_http_status(console):
    def error(reply: Reply, status: int, code: str) -> dict:
        assert reply.status == status, reply
        assert reply.content_type == "application/json"
        body = reply.error()
        assert body["code"] == code, body
        assert body["message"]
        return body

    bad_image = error(upload(console, b"this is not an image"), 400, "INVALID_ARGUMENT")
    assert [v["field"] for v in bad_image["violations"]] == ["image"]
    error(upload(console, console.products[0].image, field="picture"), 400, "INVALID_ARGUMENT")
    limit = Limits().image.max_bytes
    too_big = error(upload(console, b"\xff" * (limit + 1)), 400, "INVALID_ARGUMENT")
    assert str(limit) in too_big["message"]
    error(fetch(console, "/api/search/image", b"raw bytes"), 400, "INVALID_ARGUMENT")

    empty = error(fetch(console, "/api/search?q=%20"), 400, "INVALID_ARGUMENT")
    assert [v["field"] for v in empty["violations"]] == ["text"]
    error(fetch(console, "/api/search?q=bag&top_k=many"), 400, "INVALID_ARGUMENT")
    error(fetch(console, "/api/search?q=bag&top_k=0"), 400, "INVALID_ARGUMENT")
    error(fetch(console, "/api/similar?id="), 400, "INVALID_ARGUMENT")

    error(fetch(console, "/api/similar?id=no-such-product"), 404, "NOT_FOUND")
    error(fetch(console, "/api/thumbnail?id=no-such-product"), 404, "NOT_FOUND")
    error(fetch(console, "/api/search?q=bag&catalog=no-such-catalog"), 404, "NOT_FOUND")
    error(fetch(console, "/api/search?q=bag&catalog=Not%20An%20Id"), 400, "INVALID_ARGUMENT")


@pytest.mark.integration
def test_explain_returns_the_heatmap_of_the_hit(console):
    product = console.products[17]
    reply = upload(console, product.image, query=f"?id={quoted(product.id)}", path="/api/explain/image")
    body = reply.json()
    expected = console.stub.ExplainMatch(
        pb.ExplainMatchRequest(image=product.image, product_id=product.id), timeout=30
    )
    assert body["id"] == product.id and body["query_space"] == "image"
    assert (body["grid_height"], body["grid_width"]) == (expected.grid_height, expected.grid_width) == (7, 7)
    assert body["grid"] == pytest.approx(list(expected.grid), abs=1e-4)
    assert body["score"] == pytest.approx(expected.score, abs=1e-5) and body["score"] > 0.99
    prefix = "data:image/png;base64,"
    assert body["heatmap"].startswith(prefix)
    with Image.open(io.BytesIO(base64.b64decode(body["heatmap"][len(prefix) :]))) as picture:
        assert picture.size == (body["image_width"], body["image_height"]) == (28, 28)

    # a keyword needs a projection (none trained here), an unknown product is 404
    text = fetch(console, f"/api/explain?q=bag&id={quoted(product.id)}")
    assert text.status == 409 and text.error()["code"] == "FAILED_PRECONDITION"
    unknown = upload(console, product.image, query="?id=nope", path="/api/explain/image")
    assert unknown.status == 404 and unknown.error()["code"] == "NOT_FOUND"
    assert fetch(console, f"/api/explain?id={quoted(product.id)}").status == 400
    other = console.products[18]
    similar = fetch(console, f"/api/explain?similar={quoted(other.id)}&id={quoted(product.id)}").json()
    expected = console.stub.ExplainMatch(
        pb.ExplainMatchRequest(query_product_id=other.id, product_id=product.id), timeout=30
    )
    assert similar["grid"] == pytest.approx(list(expected.grid), abs=1e-4)


@pytest.mark.integration
def test_stats_page_and_read_only(console):
    stats = fetch(console, "/api/stats").json()
    assert stats["product_count"] == len(console.products)
    assert {"efficientnet_lite0", "text_encoder"} <= {m["name"] for m in stats["models"]}
    assert {i["space"]: i["count"] for i in stats["indexes"]}["image"] == len(console.products)

    page = fetch(console, "/")
    assert page.status == 200 and page.content_type == "text/html"
    assert b"/static/console.js" in page.body
    for name, kind in (("console.js", "javascript"), ("console.css", "text/css")):
        static = fetch(console, f"/static/{name}")
        assert static.status == 200 and kind in static.content_type, (name, static.content_type)

    # No route writes: other methods are refused and the catalog is unchanged.
    assert fetch(console, "/api/search?q=bag", b"").status == 405
    assert fetch(console, "/api/stats", b"{}").status == 405
    count = console.stub.GetStats(pb.GetStatsRequest(), timeout=30).product_count
    assert count == len(console.products)


# -- the page in headless Chromium ------------------------------------------------------------


def chromium_driver():
    """Selenium on Debian's chromium + chromedriver; fails (not skips) when they are missing."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (browser and driver):
        pytest.fail("chromium and chromedriver are needed: `make browser` installs them")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1750",
        "--lang=zh-CN",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def page_hits(driver) -> list[dict]:
    """What the grid shows, card by card."""
    return driver.execute_script(
        """
        return [...document.querySelectorAll('#results .hit')].map(card => ({
          id: card.dataset.id,
          rank: card.querySelector('.rank').textContent,
          score: card.querySelector('.score').textContent,
          category: card.querySelector('.category').textContent,
          idText: card.querySelector('.product-id').textContent,
          signals: Object.fromEntries([...card.querySelectorAll('.signal')].map(
            s => [s.dataset.signal, s.querySelector('.signal-value').textContent])),
          thumbnailLoaded: card.querySelector('img.thumbnail').complete
            && card.querySelector('img.thumbnail').naturalWidth > 0,
        }));
        """
    )


def wait_for_results(driver, label: str) -> list[dict]:
    """Wait until the query labelled `label` has finished and its thumbnails are loaded."""
    from selenium.webdriver.support.ui import WebDriverWait

    def done(d):
        if d.execute_script("return document.body.classList.contains('busy')"):
            return False
        if label not in d.find_element("id", "query-label").text:
            return False
        hits = page_hits(d)
        return hits if hits and all(h["thumbnailLoaded"] for h in hits) else False

    return WebDriverWait(driver, 60, poll_frequency=0.2).until(done)


def assert_grid_shows(hits: list[dict], body: dict) -> None:
    assert [h["id"] for h in hits] == [h["id"] for h in body["hits"]]
    for shown, expected in zip(hits, body["hits"], strict=True):
        assert shown["rank"] == f"#{expected['rank']}"
        assert shown["score"] == f"{expected['score']:.3f}"
        assert shown["idText"] == expected["id"]
        assert shown["category"] == expected["category"]
        assert shown["signals"] == {name: f"{value:.3f}" for name, value in expected["signals"].items()}


@pytest.mark.integration
def test_console_in_headless_chromium(console, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver = chromium_driver()
    try:
        driver.get(console.url)
        WebDriverWait(driver, 30).until(
            lambda d: f"{len(console.products)} 件商品" in d.find_element(By.ID, "stats").text
        )

        # A keyword: the ranked grid with scores and signals, as the API ranks it.
        box = driver.find_element(By.ID, "q")
        box.send_keys("运动鞋")
        box.send_keys(Keys.ENTER)
        hits = wait_for_results(driver, "运动鞋")
        expected = fetch(console, f"/api/search?q={quoted('运动鞋')}&top_k={PAGE_TOP_K}").json()
        assert_grid_shows(hits, expected)
        assert hits[0]["category"] == "Sneaker"
        timing = driver.find_element(By.ID, "timing").text
        assert "embedding" in timing and "index" in timing and "ms" in timing
        screenshot = ARTIFACTS / "web_console.png"
        assert driver.save_screenshot(str(screenshot))
        print(f"web console screenshot: {screenshot}")

        # Click a hit: products similar to it.
        clicked = hits[2]["id"]
        driver.find_element(By.CSS_SELECTOR, f'#results .hit[data-id="{clicked}"]').click()
        similar = wait_for_results(driver, clicked)
        assert "Similar" in driver.find_element(By.ID, "query-label").text
        assert_grid_shows(
            similar, fetch(console, f"/api/similar?id={quoted(clicked)}&top_k={PAGE_TOP_K}").json()
        )
        assert clicked not in [h["id"] for h in similar]
        assert driver.current_url.endswith(f"#catalog=default&similar={quoted(clicked)}")
        # a similar search's hits are explained against the product it started from
        card = driver.find_element(By.CSS_SELECTOR, f'#results .hit[data-id="{similar[0]["id"]}"]')
        card.find_element(By.CSS_SELECTOR, "button.explain").click()
        WebDriverWait(driver, 60, poll_frequency=0.2).until(
            lambda d: "explained" in card.get_attribute("class")
        )
        assert card.find_element(By.CSS_SELECTOR, "img.heat").is_displayed()
        driver.save_screenshot(str(ARTIFACTS / "web_console_similar.png"))

        # Back: the keyword results again.
        driver.back()
        assert_grid_shows(wait_for_results(driver, "运动鞋"), expected)

        # Upload an image (the file input): the product it shows comes first.
        product = console.products[42]
        query_image = tmp_path / "query.png"
        query_image.write_bytes(product.image)
        driver.find_element(By.ID, "file").send_keys(str(query_image))
        uploaded = wait_for_results(driver, "query.png")
        assert uploaded[0]["id"] == product.id and float(uploaded[0]["score"]) > 0.99
        assert_grid_shows(uploaded, upload(console, product.image, query=f"?top_k={PAGE_TOP_K}").json())

        # "Why this match": the button on a hit draws its heatmap over the thumbnail.
        second = uploaded[1]["id"]
        card = driver.find_element(By.CSS_SELECTOR, f'#results .hit[data-id="{second}"]')
        card.find_element(By.CSS_SELECTOR, "button.explain").click()
        WebDriverWait(driver, 60, poll_frequency=0.2).until(
            lambda d: d.execute_script(
                "const h = arguments[0].querySelector('img.heat');"
                "return !h.hidden && h.complete && h.naturalWidth > 0",
                card,
            )
        )
        heat = card.find_element(By.CSS_SELECTOR, "img.heat")
        assert heat.is_displayed() and heat.get_attribute("src").startswith("data:image/png;base64,")
        assert heat.get_attribute("data-grid-width") == "7"
        assert heat.size == card.find_element(By.CSS_SELECTOR, "img.thumbnail").size
        assert "explained" in card.get_attribute("class")
        assert "query.png" in driver.find_element(By.ID, "query-label").text  # no "similar" search
        screenshot = ARTIFACTS / "web_console_heatmap.png"
        assert driver.save_screenshot(str(screenshot))
        print(f"web console heatmap screenshot: {screenshot}")
        card.find_element(By.CSS_SELECTOR, "button.explain").click()  # pressed again: hidden
        assert not heat.is_displayed() and "explained" not in card.get_attribute("class")

        # Drop a file that is no image: the page shows the gateway's error.
        driver.execute_script(
            """
            const bytes = Uint8Array.from(atob(arguments[0]), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], 'notes.txt', {type: 'text/plain'}));
            document.getElementById('drop-zone').dispatchEvent(
              new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
            """,
            base64.b64encode(b"not an image").decode(),
        )
        error = WebDriverWait(driver, 30).until(
            lambda d: d.find_element(By.ID, "error").is_displayed() and d.find_element(By.ID, "error")
        )
        assert "INVALID_ARGUMENT" in error.text and "image" in error.text
        assert "notes.txt" in driver.find_element(By.ID, "query-label").text
        assert page_hits(driver) == []
        driver.save_screenshot(str(ARTIFACTS / "web_console_error.png"))
    finally:
        driver.quit()
