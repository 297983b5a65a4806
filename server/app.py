"""The gateway process: `create_server(config)` wires Triton, the embedding client, the
search service and the gRPC server; `serve(config)` runs it until SIGTERM/SIGINT.

Health (grpc.health.v1) is SERVING only while Triton's models are ready and the catalogs
are open (until then the port answers NOT_SERVING, and calls UNAVAILABLE); a background
task watches Triton and restarts the embedded one if it dies.

Before anything starts, the gateway takes the data directory's lock (one gateway or restore
at a time), makes its files private and checks every catalog file (quick_check within a
time budget, server/catalog/integrity.py): a damaged one stops the start with one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import resource
import signal
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from productsearch.v1 import product_search_pb2, product_search_pb2_grpc
from server.api.access import AccessInterceptor, KeyRing, is_loopback
from server.api.admission import AdmissionInterceptor
from server.api.interceptors import ErrorInterceptor
from server.api.servicer import ProductSearchServicer
from server.api.web import WebConsole, start_console
from server.catalog.integrity import StartCheck
from server.catalog.lock import DataDirectoryLock
from server.catalog.sqlite import REGISTRY_FILE, SqliteCatalogRegistry
from server.catalog.store import CatalogRegistry
from server.config import Config, ConsoleLimits
from server.domain import DEFAULT_CATALOG
from server.files import restrict_tree
from server.index.embedded import EmbeddedVectors
from server.index.hnsw import IndexParams
from server.index.store import VectorBackend
from server.models import trained
from server.models.embedding import EmbeddingClient
from server.models.text import Tokenizer, sentencepiece_model
from server.service.facade import ProductSearchService
from server.triton.runtime import EmbeddedTriton

_LOGGER = logging.getLogger(__name__)

MILVUS_TOKEN_ENV = "PRODUCTSEARCH_MILVUS_TOKEN"
SERVICE_NAME = product_search_pb2.DESCRIPTOR.services_by_name["ProductSearch"].full_name
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Gateway:
    """A running gateway; `stop()` shuts it down in order."""

    config: Config
    server: grpc.aio.Server
    port: int
    service: ProductSearchService
    embedder: EmbeddingClient
    health: health_aio.HealthServicer
    triton: EmbeddedTriton | None
    _monitor: asyncio.Task | None = field(default=None, repr=False)
    _follower: asyncio.Task | None = field(default=None, repr=False)  # with a shared catalog store
    console: WebConsole | None = None  # the web console, when config.http_port is set
    lock: DataDirectoryLock | None = field(default=None, repr=False)  # the data directory's, till stopped

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.port}"

    async def set_serving(self, serving: bool) -> None:
        for name in ("", SERVICE_NAME):
            await self.health.set(name, SERVING if serving else NOT_SERVING)

    async def watch(self) -> None:
        """Keep health in step with Triton: bring the embedded Triton back when it dies or
        leaves `hung_after_probes` probes in a row unanswered (frozen); while a probe fails,
        embedding calls fail at once (UNAVAILABLE) instead of waiting for their deadline."""
        models = [self.config.image_model, self.config.text_model]
        serving, unanswered = True, 0
        while True:
            if self.triton is not None and not self.triton.running():
                await self._restart_triton("the embedded Triton died")
                serving, unanswered = False, 0
            ready = await self.embedder.ready(models, timeout_s=self.config.probe_timeout_s)
            unanswered = 0 if ready else unanswered + 1
            if not ready:  # calls fail at once rather than at their deadline
                self.embedder.down = f"Triton at {self.embedder.url} does not answer; retry shortly"
            elif self.triton is None or self.triton.running():
                self.embedder.down = None
            if unanswered >= self.config.hung_after_probes and self.triton is not None:
                _LOGGER.error(
                    "Triton answered no health probe for %d tries: killing and restarting it", unanswered
                )
                await self.set_serving(False)
                serving = False
                await asyncio.to_thread(self.triton.kill)  # SIGKILL works on a stopped process
                continue  # restarted at the top
            if ready != serving:
                _LOGGER.warning(
                    "models %s: health now %s",
                    "ready" if ready else "unavailable",
                    "SERVING" if ready else "NOT_SERVING",
                )
                await self.set_serving(ready)
                serving = ready
            await asyncio.sleep(self.config.health_interval_s)

    async def follow(self) -> None:
        """Catch up with what other gateways write to the shared catalog store, every
        `follow_interval_s` (server/service/follow.py); a failed round is logged and retried."""
        while True:
            await asyncio.sleep(self.config.follow_interval_s)
            try:
                await self.service.follow()
            except Exception:
                _LOGGER.exception("following the shared catalog store failed; retrying")

    async def _restart_triton(self, why: str) -> None:
        assert self.triton is not None
        _LOGGER.error("%s: restarting it\n%s", why, self.triton.log_tail(10))
        self.embedder.down = f"{why}; the gateway is restarting it, retry shortly"
        await self.set_serving(False)
        try:
            await asyncio.to_thread(self.triton.start)
            self.embedder.down = None
        except Exception:
            _LOGGER.exception("embedded Triton did not restart; trying again")

    async def stop(self, grace_s: float | None = None) -> None:
        await self.set_serving(False)
        if self.console is not None:
            await self.console.stop()
        await self.server.stop(self.config.shutdown_grace_s if grace_s is None else grace_s)
        for task in (self._monitor, self._follower):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.service.close()
        await self.embedder.close()
        if self.triton is not None:
            await asyncio.to_thread(self.triton.stop)
        if self.lock is not None:
            self.lock.release()


class InsecureExposureError(ValueError):
    """A non-loopback bind without TLS or API keys and `insecure` not set, or a TLS
    configuration that is not whole (which would otherwise serve plaintext)."""


def check_exposure(config: Config) -> None:
    """Secure by default: TLS is all or nothing, and beyond loopback both TLS and API keys
    are needed unless told otherwise."""
    given = {
        "--tls-cert": config.tls_cert,
        "--tls-key": config.tls_key,
        "--tls-client-ca": config.tls_client_ca,
    }
    if any(given.values()) and not (config.tls_cert and config.tls_key):
        named = ", ".join(flag for flag, value in given.items() if value)
        missing = " and ".join(flag for flag in ("--tls-cert", "--tls-key") if not given[flag])
        raise InsecureExposureError(
            f"incomplete TLS configuration: {named} given without {missing}; "
            "refusing to serve plaintext (give both --tls-cert and --tls-key, or none of the TLS options)"
        )
    missing_parts = [
        what
        for what, present in (("TLS (--tls-cert, --tls-key)", config.tls_cert), ("API keys", config.api_keys))
        if not present
    ]
    if missing_parts and not is_loopback(config.host) and not config.insecure:
        raise InsecureExposureError(
            f"refusing to serve on {config.host} without {' and '.join(missing_parts)}; "
            "give them, bind to 127.0.0.1, or pass --insecure to accept the risk"
        )
    for flag, path in given.items():
        if path is not None and not Path(path).is_file():
            raise InsecureExposureError(f"{flag} {path}: no such file")


def server_credentials(config: Config) -> grpc.ServerCredentials | None:
    if config.tls_cert is None or config.tls_key is None:
        return None
    client_ca = config.tls_client_ca.read_bytes() if config.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(config.tls_key.read_bytes(), config.tls_cert.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def console_ssl(config: Config) -> ssl.SSLContext | None:
    """The console speaks HTTPS with the gRPC port's certificate (and client CA) when set."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    if config.tls_client_ca is not None:
        context.load_verify_locations(config.tls_client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def open_registry(config: Config) -> CatalogRegistry:
    """The catalogs: in PostgreSQL when `catalog_store` names one, else `open_sqlite_registry`."""
    if config.catalog_store is not None:
        from server.catalog.postgres import PostgresCatalogRegistry

        restrict_tree(config.data_dir)
        registry: CatalogRegistry = PostgresCatalogRegistry(config.catalog_store, config.data_dir)
        remove_orphan_projections(config, registry)
        return registry
    return open_sqlite_registry(config)


def open_vectors(config: Config, registry: CatalogRegistry) -> VectorBackend:
    """Where vectors live: Milvus when `vector_store` names one, else hnswlib in process."""
    params = IndexParams(
        M=config.hnsw_m,
        ef_construction=config.hnsw_ef_construction,
        ef_search=config.hnsw_ef_search,
        exact_search_max=config.exact_search_max,
    )
    if config.vector_store is not None:
        from server.index.milvus import MilvusVectors

        # A token (user:password, or an API key) from the environment, not the command line.
        return MilvusVectors(config.vector_store, params, token=os.environ.get(MILVUS_TOKEN_ENV, ""))
    return EmbeddedVectors(registry.directory, params)


def remove_orphan_projections(config: Config, registry: CatalogRegistry) -> None:
    """Projections of catalogs that no longer exist are removed from the model repository."""
    for model in trained.trained_models(config.model_repository):
        catalog_id = trained.catalog_of(model)
        if catalog_id is not None and registry.get(catalog_id) is None:
            trained.remove(config.model_repository, model)


def open_sqlite_registry(config: Config) -> SqliteCatalogRegistry:
    """The data directory's catalogs, their files made private (0600, folders 0700) and
    checked (CatalogCorruptError for a damaged one); a single-catalog data directory
    becomes the default catalog, and projections of catalogs that no longer exist are
    removed."""
    restrict_tree(config.data_dir)
    check = StartCheck(config.data_dir)
    check.require_intact([("the catalog registry", config.data_dir / REGISTRY_FILE)])
    registry = SqliteCatalogRegistry(config.data_dir)
    try:
        registry.adopt_legacy(DEFAULT_CATALOG)
        check.require_intact((f"catalog {info.id!r}", path) for info, path in registry.databases())
    except BaseException:
        registry.close()
        raise
    remove_orphan_projections(config, registry)
    return registry


# Descriptors kept for catalogs, snapshots, Triton, logs, and connections accepted in a
# burst before the cap closes them (asyncio accepts up to its backlog of 128 at once). 384
# was too few once: with the open-file limit at 1,024, a console flood beside 512 held gRPC
# connections hit EMFILE (tests/system/test_connection_limits.py).
FILE_RESERVE = 512


def connection_caps(config: Config) -> tuple[int, ConsoleLimits]:
    """The gRPC connection cap and the console's limits, fitted to the open-file limit
    (raised to the hard one first: the usual soft 1,024 is too few) so that a reserve is
    left for catalogs, snapshots, Triton and connections accepted before they are refused."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard or hard == resource.RLIM_INFINITY:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    limits = config.limits
    budget = max(soft - FILE_RESERVE, 64)
    console = min(limits.console.max_connections, budget // 8)
    grpc_cap = min(limits.max_connections, budget - console)
    if (grpc_cap, console) != (limits.max_connections, limits.console.max_connections):
        _LOGGER.warning(
            "open-file limit %d: at most %d gRPC and %d console connections (raise ulimit -n for more)",
            soft,
            grpc_cap,
            console,
        )
    return grpc_cap, dataclasses.replace(limits.console, max_connections=console)


async def create_server(config: Config) -> Gateway:
    """Start everything and return once the gateway serves its catalogs (port 0 → a free
    port). The port answers while they open: health NOT_SERVING, calls UNAVAILABLE."""
    check_exposure(config)
    max_connections, console_limits = connection_caps(config)
    credentials = server_credentials(config)  # read before starting anything: fail fast
    lock = DataDirectoryLock(config.data_dir, required=False)
    try:
        registry = await asyncio.to_thread(open_registry, config)
    except BaseException:
        lock.release()
        raise
    triton = None
    url = config.triton_url
    if url is None:
        models = [config.image_model, config.text_model, *trained.trained_models(config.model_repository)]
        triton = EmbeddedTriton(config.model_repository, models)
        try:
            await asyncio.to_thread(triton.start)
        except BaseException:
            registry.close()
            lock.release()
            raise
        url = triton.url
    embedder = EmbeddingClient(
        url,
        Tokenizer(sentencepiece_model()),
        timeout_s=config.embed_timeout_s,
        image_limits=config.limits.image,
    )
    try:
        service = await ProductSearchService.create(
            config, embedder, registry, open_vectors(config, registry), triton
        )
    except BaseException:
        await embedder.close()
        registry.close()
        if triton is not None:
            triton.stop()
        lock.release()
        raise
    size = config.limits.max_message_bytes
    # Outermost first: refuse unknown callers, then admit, then map errors of the handler.
    admission = AdmissionInterceptor(config.limits.admission)
    interceptors: list[grpc.aio.ServerInterceptor] = [admission, ErrorInterceptor()]
    if config.api_keys:
        interceptors.insert(0, AccessInterceptor(KeyRing(config.api_keys)))
    server = grpc.aio.server(
        interceptors=interceptors,
        maximum_concurrent_rpcs=config.limits.max_concurrent_rpcs,
        options=[
            ("grpc.max_receive_message_length", size),
            ("grpc.max_send_message_length", size),
            ("grpc.max_concurrent_streams", config.limits.max_concurrent_streams),
            ("grpc.max_allowed_incoming_connections", max_connections),
            ("grpc.server_handshake_timeout_ms", int(config.limits.handshake_timeout_s * 1000)),
            ("grpc.max_connection_idle_ms", int(config.limits.connection_idle_s * 1000)),
        ],
    )
    product_search_pb2_grpc.add_ProductSearchServicer_to_server(ProductSearchServicer(service), server)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        [SERVICE_NAME, "grpc.health.v1.Health", reflection.SERVICE_NAME], server
    )
    address = f"{config.host}:{config.port}"
    port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    gateway = Gateway(config, server, port, service, embedder, health, triton, lock=lock)
    await gateway.set_serving(False)  # until the catalogs are open
    await server.start()
    try:
        await service.open_catalogs()
    except BaseException:
        await gateway.stop(0)
        raise
    if config.http_port is not None:
        try:
            keys = KeyRing(config.api_keys) if config.api_keys else None
            gateway.console = await start_console(
                service,
                config.host,
                config.http_port,
                config.shutdown_grace_s,
                keys,
                console_ssl(config),
                admission.admission,  # one read budget for gRPC and the console
                console_limits,
            )
        except BaseException:
            await gateway.stop(0)
            raise
    await gateway.set_serving(True)
    gateway._monitor = asyncio.create_task(gateway.watch())
    if registry.shared:
        gateway._follower = asyncio.create_task(gateway.follow())
    _LOGGER.info("product search gateway listening on %s (Triton %s)", gateway.address, url)
    if gateway.console is not None:
        _LOGGER.info("web console on %s", gateway.console.url)
    return gateway


async def serve(config: Config) -> None:
    """Run until SIGTERM or SIGINT, then drain: NOT_SERVING first, then stop with grace.
    A signal while the catalogs open (waiting for Milvus, say) stops the start cleanly."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    starting = asyncio.create_task(create_server(config))
    signalled = asyncio.create_task(stopping.wait())
    await asyncio.wait({starting, signalled}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        _LOGGER.info("stopped while starting")
        starting.cancel()  # create_server stops what it started
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        return
    if starting.exception() is not None:
        signalled.cancel()
    gateway = starting.result()  # raises what stopped the start
    await signalled
    _LOGGER.info("shutting down")
    await gateway.stop()
