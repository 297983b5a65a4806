"""Gateway configuration: every limit and tunable in one place, with its default."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from server.api.access import ApiKey
from server.api.admission import AdmissionLimits
from server.models.images import ImageLimits


@dataclass(frozen=True)
class ConsoleLimits:
    """Connections of the web console (server/api/web.py)."""

    max_connections: int = 64  # open at once (a page for people, not a bulk API); more are closed
    first_request_s: float = 10.0  # a connection that sends no request by then is closed
    keepalive_s: float = 30.0  # an idle keep-alive connection is closed after this


@dataclass(frozen=True)
class Limits:
    """Request limits; requests beyond them get INVALID_ARGUMENT."""

    max_top_k: int = 1000
    default_top_k: int = 10
    max_text_chars: int = 1000
    max_id_chars: int = 128
    max_category_chars: int = 200
    max_attributes: int = 64
    max_attribute_key_chars: int = 64
    max_attribute_value_chars: int = 256
    max_delete_ids: int = 1000
    max_stream_products: int = 10_000  # per UpsertProducts stream: bounds the response
    max_page_size: int = 1000
    default_page_size: int = 100
    max_message_bytes: int = 32 * 1024 * 1024
    # Per HTTP/2 connection, above every call the server takes at once (max_concurrent_rpcs),
    # so that a spike is answered RESOURCE_EXHAUSTED by gRPC or admission, never refused by
    # the transport (REFUSED_STREAM reaches callers as UNAVAILABLE, without a message).
    max_concurrent_streams: int = 1024

    @property
    def max_concurrent_rpcs(self) -> int:
        """Calls gRPC takes at once, beyond: RESOURCE_EXHAUSTED before any handler runs.
        Admission's reads (running and waiting) and upsert streams, and room for health."""
        admission = self.admission
        return admission.max_in_flight + admission.max_queued + admission.max_write_streams + 64

    # gRPC connections: open at once (beyond: closed as they arrive), the time a new one has
    # to finish its HTTP/2 (and TLS) handshake, and how long an idle one stays open.
    max_connections: int = 512
    handshake_timeout_s: float = 10.0
    connection_idle_s: float = 300.0
    image: ImageLimits = field(default_factory=ImageLimits)
    admission: AdmissionLimits = field(default_factory=AdmissionLimits)
    console: ConsoleLimits = field(default_factory=ConsoleLimits)


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path("data")
    model_repository: Path = Path("model_repository")
    # None: start the embedded Triton; else "host:port" of an external Triton's gRPC.
    triton_url: str | None = None
    # None: the catalogs live in SQLite under data_dir; else a PostgreSQL conninfo
    # ("postgresql://user@host:port/db") shared by every gateway that names it.
    catalog_store: str | None = None
    # None: vectors in hnswlib in this process; else a Milvus URI ("http://host:19530").
    vector_store: str | None = None
    # With a shared catalog store: how often a gateway catches up with what others wrote.
    follow_interval_s: float = 1.0
    image_model: str = "efficientnet_lite0"
    text_model: str = "text_encoder"
    host: str = "127.0.0.1"
    port: int = 50051  # 0: any free port
    http_port: int | None = None  # the web console (same host); None: off; 0: any free port
    embed_timeout_s: float = 10.0
    upsert_batch: int = 32  # products embedded and committed together
    upsert_batch_bytes: int = 32 * 1024 * 1024  # or fewer: a stream holds at most this many image bytes
    duplicate_threshold: float = 0.997  # copy score (server/copy_detection.py), calibrated
    hnsw_m: int = 16
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 64
    exact_search_max: int = 20_000
    health_interval_s: float = 1.0
    # A Triton that leaves this many probes in a row unanswered within probe_timeout_s is
    # hung (e.g. SIGSTOP): calls fail fast and the embedded one is killed and restarted.
    probe_timeout_s: float = 2.0
    hung_after_probes: int = 3
    shutdown_grace_s: float = 5.0
    limits: Limits = field(default_factory=Limits)
    # Access: no keys means no checks (refused beyond loopback unless `insecure`).
    api_keys: tuple[ApiKey, ...] = ()
    tls_cert: Path | None = None  # PEM certificate chain; with tls_key, the port speaks TLS
    tls_key: Path | None = None
    tls_client_ca: Path | None = None  # PEM CA bundle: clients must present a certificate it signed
    insecure: bool = False  # allow plaintext or keyless access on a non-loopback host

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "indexes"
