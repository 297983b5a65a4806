"""The web console: a read-only JSON API and one static page, served over HTTP in the
gateway's asyncio loop beside the gRPC port. Handlers translate HTTP ↔ domain and call the
same service as the gRPC servicer; errors map through server/api/errors.py's table.

    GET  /                               the console (server/api/console/)
    GET  /api/catalogs                   the catalogs the key may use
    GET  /api/search?q=TEXT&top_k=N      keyword search
    POST /api/search/image?top_k=N       image search; multipart/form-data, field `image`
    GET  /api/similar?id=ID&top_k=N      products that look like product ID
    GET  /api/thumbnail?id=ID            the product's thumbnail (JPEG)
    GET  /api/explain?q=TEXT&id=ID       why product ID matches a keyword: its heatmap (JSON)
    GET  /api/explain?similar=Q&id=ID    why product ID is similar to product Q
    POST /api/explain/image?id=ID        why product ID matches an image; multipart, field `image`
    GET  /api/stats                      product count, models, indexes

Every /api/ call but /api/catalogs takes `catalog=ID` (default: the default catalog).

Errors are JSON {code, message[, violations]}: INVALID_ARGUMENT → 400, PERMISSION_DENIED →
403, NOT_FOUND → 404, FAILED_PRECONDITION → 409, UNAVAILABLE → 503, DEADLINE_EXCEEDED → 504.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import grpc
from aiohttp import BodyPartReader, web

from server.api.access import ApiKey, KeyRing, Role
from server.api.admission import Admission, BusyError
from server.api.errors import to_status
from server.config import ConsoleLimits
from server.domain import (
    ANYONE,
    DEFAULT_CATALOG,
    Hit,
    InvalidArgumentError,
    Principal,
    SearchOptions,
    SearchResult,
)
from server.service.catalogs import check_catalog_id
from server.service.explain import Explanation
from server.service.facade import ProductSearchService

_LOGGER = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).resolve().parent / "console"
SERVICE_KEY = web.AppKey("service", ProductSearchService)
CALLER_KEY = web.RequestKey("caller", Principal)  # set by requires_key
_READ_CHUNK = 64 * 1024
_MULTIPART_OVERHEAD = 64 * 1024
DEFAULT_CONSOLE_LIMITS = ConsoleLimits()  # boundaries, part headers, other small fields

HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


# -- domain → JSON ------------------------------------------------------------------------


def thumbnail_url(catalog_id: str, product_id: str) -> str:
    return f"/api/thumbnail?catalog={quote(catalog_id, safe='')}&id={quote(product_id, safe='')}"


def hit_to_json(catalog_id: str, rank: int, hit: Hit) -> dict:
    product = hit.product
    return {
        "rank": rank,
        "id": product.id,
        "title": product.title,
        "category": product.category,
        "price": product.price,
        "score": hit.score,
        "signals": dict(sorted(hit.signals.items())),
        "thumbnail": thumbnail_url(catalog_id, product.id),
    }


def result_to_json(catalog_id: str, result: SearchResult) -> dict:
    return {
        "catalog": catalog_id,
        "hits": [hit_to_json(catalog_id, rank, hit) for rank, hit in enumerate(result.hits, 1)],
        "embedding_ms": result.embedding_ms,
        "index_ms": result.index_ms,
    }


def explanation_to_json(catalog_id: str, explanation: Explanation) -> dict:
    """ExplainMatchResponse's fields, the PNG as a data: URL an <img> shows as it is."""
    height, width = explanation.grid.shape
    return {
        "catalog": catalog_id,
        "id": explanation.product.id,
        "score": explanation.score,
        "model": explanation.model,
        "query_space": explanation.query_space,
        "grid_height": height,
        "grid_width": width,
        "grid": [round(float(value), 5) for value in explanation.grid.ravel()],
        "image_width": explanation.image_size[0],
        "image_height": explanation.image_size[1],
        "heatmap": "data:image/png;base64," + base64.b64encode(explanation.heatmap_png).decode(),
    }


def error_to_json(error: Exception) -> tuple[int, dict] | None:
    """(HTTP status, body) for a known error, by its gRPC status; None for a bug."""
    status = to_status(error)
    if status is None:
        return None
    body: dict = {"code": status.code.name, "message": status.details}
    if isinstance(error, InvalidArgumentError):
        body["violations"] = [{"field": f, "description": d} for f, d in error.violations]
    return HTTP_STATUS.get(status.code, 500), body


# -- handlers -----------------------------------------------------------------------------


def _options(request: web.Request) -> SearchOptions:
    limits = request.app[SERVICE_KEY].config.limits
    raw = request.query.get("top_k", "")
    if not raw:
        return SearchOptions(top_k=limits.default_top_k)
    try:
        return SearchOptions(top_k=int(raw))
    except ValueError:
        raise InvalidArgumentError([("top_k", f"must be an integer, got {raw[:20]!r}")]) from None


def _caller(request: web.Request) -> Principal:
    return request.get(CALLER_KEY, ANYONE)


def _catalog(request: web.Request) -> str:
    catalog_id = request.query.get("catalog", "") or DEFAULT_CATALOG
    check_catalog_id(catalog_id, "catalog")
    return catalog_id


def _product_id(request: web.Request) -> str:
    product_id = request.query.get("id", "")
    if not product_id:
        raise InvalidArgumentError([("id", "must not be empty")])
    return product_id


async def search_text(request: web.Request) -> web.Response:
    service, catalog = request.app[SERVICE_KEY], _catalog(request)
    result = await service.search_by_text(
        catalog, request.query.get("q", ""), _options(request), _caller(request)
    )
    return web.json_response(result_to_json(catalog, result))


async def search_image(request: web.Request) -> web.Response:
    service, catalog = request.app[SERVICE_KEY], _catalog(request)
    options = _options(request)
    image = await _read_image_part(request, service.config.limits.image.max_bytes)
    result = await service.search_by_image(catalog, image, options, _caller(request))
    return web.json_response(result_to_json(catalog, result))


async def _read_image_part(request: web.Request, max_bytes: int) -> bytes:
    """The `image` part of a multipart upload, read in chunks up to the gateway's image
    byte limit (the whole body is never buffered beyond it)."""
    if not request.content_type.startswith("multipart/"):
        raise InvalidArgumentError([("image", "send a multipart/form-data upload with an `image` field")])
    too_big = [("image", f"is more than the limit of {max_bytes} bytes")]
    if (request.content_length or 0) > max_bytes + _MULTIPART_OVERHEAD:
        raise InvalidArgumentError(too_big)  # aiohttp reads and drops the rest (lingering close)
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name != "image":
            continue
        data = bytearray()
        while chunk := await part.read_chunk(_READ_CHUNK):
            data += chunk
            if len(data) > max_bytes:
                raise InvalidArgumentError(too_big)
        return bytes(data)
    raise InvalidArgumentError([("image", "is required: a multipart field named `image`")])


async def similar(request: web.Request) -> web.Response:
    service, catalog = request.app[SERVICE_KEY], _catalog(request)
    result = await service.search_similar(catalog, _product_id(request), _options(request), _caller(request))
    return web.json_response(result_to_json(catalog, result))


async def explain_text(request: web.Request) -> web.Response:
    """A keyword (`q`) or, with `similar`, a catalog product as the query."""
    service, catalog = request.app[SERVICE_KEY], _catalog(request)
    similar = request.query.get("similar")
    explanation = await service.explain_match(
        catalog,
        _product_id(request),
        None,
        None if similar is not None else request.query.get("q", ""),
        _caller(request),
        similar,
    )
    return web.json_response(explanation_to_json(catalog, explanation))


async def explain_image(request: web.Request) -> web.Response:
    service, catalog = request.app[SERVICE_KEY], _catalog(request)
    product_id = _product_id(request)
    image = await _read_image_part(request, service.config.limits.image.max_bytes)
    explanation = await service.explain_match(catalog, product_id, image, None, _caller(request))
    return web.json_response(explanation_to_json(catalog, explanation))


async def thumbnail(request: web.Request) -> web.Response:
    product = await request.app[SERVICE_KEY].get(_catalog(request), _product_id(request), _caller(request))
    return web.Response(
        body=product.thumbnail, content_type="image/jpeg", headers={"Cache-Control": "max-age=60"}
    )


async def stats(request: web.Request) -> web.Response:
    result = await request.app[SERVICE_KEY].stats(_catalog(request), _caller(request))
    return web.json_response(
        {
            "catalog": result.catalog.name,
            "product_count": result.product_count,
            "models": [
                {"name": m.name, "version": m.version, "dimension": m.dimension} for m in result.models
            ],
            "indexes": [
                {
                    "space": s.space.name,
                    "model": s.space.model,
                    "count": s.count,
                    "engine": s.engine,
                    **s.parameters,
                }
                for s in result.spaces
            ],
        }
    )


async def catalogs(request: web.Request) -> web.Response:
    summaries, _ = await request.app[SERVICE_KEY].list_catalogs(1000, "", _caller(request))
    return web.json_response(
        {
            "catalogs": [
                {
                    "id": s.info.id,
                    "name": s.info.name,
                    "display_name": s.info.display_name,
                    "product_count": s.product_count,
                }
                for s in summaries
            ]
        }
    )


async def index_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(CONSOLE_DIR / "index.html")


@web.middleware
async def errors_as_json(request: web.Request, handler) -> web.StreamResponse:
    """Domain errors → their HTTP status with a JSON body; bugs → 500, logged."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as error:
        mapped = error_to_json(error)
        if mapped is None:
            _LOGGER.exception("%s %s failed", request.method, request.path)
            return web.json_response({"code": "INTERNAL", "message": "internal error"}, status=500)
        status, body = mapped
        _LOGGER.info("%s %s → %d %s: %s", request.method, request.path, status, body["code"], body["message"])
        return web.json_response(body, status=status)


KEY_COOKIE = "productsearch_key"  # set by the page's key box; <img> requests cannot send headers


def requires_key(keys: KeyRing):
    """With API keys configured, /api/ needs a `search` key: a Bearer header or the cookie."""

    @web.middleware
    async def check(request: web.Request, handler) -> web.StreamResponse:
        if request.path.startswith("/api/"):
            cookie = request.cookies.get(KEY_COOKIE)
            authorization = request.headers.get("Authorization") or (f"Bearer {cookie}" if cookie else None)
            outcome = keys.check(authorization, Role.SEARCH)
            if not isinstance(outcome, ApiKey):
                code, message = outcome
                status = 401 if code == grpc.StatusCode.UNAUTHENTICATED else 403
                return web.json_response({"code": code.name, "message": message}, status=status)
            request[CALLER_KEY] = outcome.principal
        return await handler(request)

    return check


def admitted(admission: Admission, queue_wait_s: float):
    """/api/ calls take a slot of the gateway's read budget, shared with gRPC: beyond it 429
    at once (a thousand console uploads cannot pile up in memory)."""

    @web.middleware
    async def admit(request: web.Request, handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        try:
            async with admission.slot(queue_wait_s):
                return await handler(request)
        except BusyError as busy:
            message = f"server busy ({busy}); retry with backoff"
            return web.json_response({"code": "RESOURCE_EXHAUSTED", "message": message}, status=429)

    return admit


def create_app(
    service: ProductSearchService, keys: KeyRing | None = None, admission: Admission | None = None
) -> web.Application:
    middlewares = [requires_key(keys)] if keys else []
    if admission is not None:
        middlewares.append(admitted(admission, service.config.limits.admission.queue_wait_s))
    app = web.Application(middlewares=[*middlewares, errors_as_json])
    app[SERVICE_KEY] = service
    app.router.add_get("/", index_page)
    app.router.add_get("/api/search", search_text)
    app.router.add_post("/api/search/image", search_image)
    app.router.add_get("/api/similar", similar)
    app.router.add_get("/api/thumbnail", thumbnail)
    app.router.add_get("/api/explain", explain_text)
    app.router.add_post("/api/explain/image", explain_image)
    app.router.add_get("/api/stats", stats)
    app.router.add_get("/api/catalogs", catalogs)
    app.router.add_static("/static/", CONSOLE_DIR)
    return app


# -- lifecycle ----------------------------------------------------------------------------


@dataclass
class WebConsole:
    """A running console; `stop()` closes its port."""

    runner: web.AppRunner
    host: str
    port: int

    https: bool = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.https else 'http'}://{host}:{self.port}/"

    async def stop(self) -> None:
        await self.runner.cleanup()


def bound_connections(server: web.Server, limits: ConsoleLimits) -> None:
    """Cap the open connections of aiohttp's connection handler and give each a deadline
    for its first request: half-open connections cannot use up the process's file
    descriptors (what is beyond the cap is closed as it arrives)."""
    accept = server.connection_made

    def connection_made(handler, transport) -> None:
        accept(handler, transport)
        loop = asyncio.get_running_loop()
        if len(server.connections) > limits.max_connections:
            loop.call_soon(transport.close)  # once aiohttp has set the connection up
            return

        def close_if_silent() -> None:
            if handler._request_count == 0 and not transport.is_closing():
                transport.close()

        loop.call_later(limits.first_request_s, close_if_silent)

    server.connection_made = connection_made  # type: ignore[method-assign]


async def start_console(
    service: ProductSearchService,
    host: str,
    port: int,
    grace_s: float = 5.0,
    keys: KeyRing | None = None,
    ssl_context: ssl.SSLContext | None = None,
    admission: Admission | None = None,
    limits: ConsoleLimits = DEFAULT_CONSOLE_LIMITS,
) -> WebConsole:
    """Serve the console on host:port (0: a free port) in the running loop; HTTPS with
    `ssl_context`. `admission` is the gateway's read budget: the console's searches share
    it with gRPC's (beyond it: 429)."""
    host = host.strip("[]")
    app = create_app(service, keys, admission)
    runner = web.AppRunner(
        app, shutdown_timeout=grace_s, access_log=None, keepalive_timeout=limits.keepalive_s
    )
    await runner.setup()
    assert runner.server is not None
    bound_connections(runner.server, limits)
    try:
        await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
    except BaseException:
        await runner.cleanup()
        raise
    return WebConsole(runner, host, runner.addresses[0][1], https=ssl_context is not None)
