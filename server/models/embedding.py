"""Async embedding client: images and texts → L2-normalised vectors, computed by Triton.

One long-lived gRPC channel to Triton (KServe v2), a deadline on every call, retries with
backoff while Triton is UNAVAILABLE (restarting), and errors that name the model.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import tritonclient.grpc.aio as triton_aio
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from server.domain import Code
from server.models.images import DEFAULT_LIMITS, ImageLimits, decode_image, resize_for_model
from server.models.text import Tokenizer

_LOGGER = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024 * 1024
TEXT_MODEL = "text_encoder"
# The image models' second output: the trunk's last feature map, NHWC (model_repository/).
FEATURE_MAP = "feature_map"
# Reconnect quickly after Triton restarts; gRPC's default backoff grows to minutes.
_CHANNEL_ARGS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 30_000),
]

ImageInput = np.ndarray | bytes


class EmbeddingError(Exception):
    """Triton could not embed: `code` is the gRPC status to pass on, `model` the culprit."""

    def __init__(self, model: str, code: Code, message: str) -> None:
        super().__init__(f"model {model!r}: {code.name}: {message}")
        self.model = model
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ModelInfo:
    """What the gateway needs to know of a served model, read from its Triton config."""

    name: str
    max_batch_size: int
    dimension: int
    image_size: int | None  # square input side for image models, None for text
    output: str = "embeddings"
    parameters: dict[str, str] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()  # every output the config names, `output` first


def _status(error: InferenceServerException) -> Code:
    name = (error.status() or "").removeprefix("StatusCode.")
    return Code.__members__.get(name, Code.INTERNAL)


class EmbeddingClient:
    def __init__(
        self,
        url: str,
        tokenizer: Tokenizer,
        *,
        timeout_s: float = 10.0,
        backoff_s: float = 0.05,
        image_limits: ImageLimits = DEFAULT_LIMITS,
    ) -> None:
        self.url = url
        self.tokenizer = tokenizer
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.image_limits = image_limits
        self._client = triton_aio.InferenceServerClient(url, channel_args=_CHANNEL_ARGS)
        self._models: dict[str, ModelInfo] = {}
        # Why Triton is known to be down (the gateway's watcher sets it while it restarts the
        # embedded Triton): calls then fail at once with UNAVAILABLE instead of retrying.
        self.down: str | None = None

    async def close(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> EmbeddingClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def ready(self, models: Sequence[str], timeout_s: float | None = None) -> bool:
        """True when Triton answers within `timeout_s` (default: the call timeout) and every
        model in `models` is ready. Server readiness is not asked: it drops for a moment
        whenever any model (a projection) is reloaded."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        try:
            return all([await self._client.is_model_ready(m, client_timeout=timeout) for m in models])
        except InferenceServerException:
            return False

    async def model_info(self, model: str) -> ModelInfo:
        """The model's batch limit, output dimension and image size (cached)."""
        if model not in self._models:
            response = await self._call(
                model, lambda t: self._client.get_model_config(model, as_json=True, client_timeout=t)
            )
            config = response["config"]
            parameters = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
            size = parameters.get("image_size")
            self._models[model] = ModelInfo(
                name=model,
                max_batch_size=int(config.get("max_batch_size", 0)) or 1,
                dimension=int(config["output"][0]["dims"][-1]),
                image_size=int(size) if size else None,
                output=config["output"][0]["name"],
                parameters=parameters,
                outputs=tuple(output["name"] for output in config["output"]),
            )
        return self._models[model]

    async def embed_images(self, model: str, images: Sequence[ImageInput]) -> np.ndarray:
        """float32 [N, D] for N images, each a uint8 [H, W, 3] (or [H, W]) array or encoded
        JPEG/PNG/WebP bytes. Raises ImageError for a bad image, EmbeddingError otherwise."""
        info = await self.model_info(model)
        if info.image_size is None:
            raise ValueError(f"{model!r} is not an image model")
        size = info.image_size
        batch = await asyncio.to_thread(lambda: np.stack([self._prepare(im, size) for im in images]))
        return await self._infer_chunks(info, {"images": batch})

    async def embed_image_with_map(self, model: str, image: ImageInput) -> tuple[np.ndarray, np.ndarray]:
        """The embedding float32 [D] of one image and the trunk's last feature map float32
        [h, w, D] it pools (the model's `feature_map` output); EmbeddingError with
        FAILED_PRECONDITION when the served model has no such output."""
        info = await self.model_info(model)
        if info.image_size is None:
            raise ValueError(f"{model!r} is not an image model")
        if FEATURE_MAP not in info.outputs:
            raise EmbeddingError(
                model,
                Code.FAILED_PRECONDITION,
                f"the served model has no {FEATURE_MAP!r} output (re-export it)",
            )
        size = info.image_size
        batch = await asyncio.to_thread(lambda: self._prepare(image, size)[np.newaxis])
        result = await self._infer(info, {"images": batch}, (info.output, FEATURE_MAP))
        embeddings, maps = result.as_numpy(info.output), result.as_numpy(FEATURE_MAP)
        if embeddings is None or maps is None or maps.ndim != 4 or maps.shape[-1] != embeddings.shape[-1]:
            raise EmbeddingError(model, Code.INTERNAL, "Triton returned no or a malformed feature map")
        return embeddings[0], maps[0]

    def _prepare(self, image: ImageInput, size: int) -> np.ndarray:
        pixels = np.asarray(
            decode_image(bytes(image), self.image_limits)
            if isinstance(image, bytes | bytearray | memoryview)
            else image
        )
        if pixels.dtype != np.uint8:
            raise ValueError(f"image arrays must be uint8, got {pixels.dtype}")
        if pixels.ndim == 2:
            pixels = np.stack([pixels] * 3, axis=-1)
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError(f"image arrays must be [H, W, 3] or [H, W], got {pixels.shape}")
        return resize_for_model(pixels, size)

    async def embed_texts(self, texts: Sequence[str], model: str = TEXT_MODEL) -> np.ndarray:
        """float32 [N, D] for N strings, in any of the encoder's languages."""
        info = await self.model_info(model)
        if not texts:
            return np.zeros((0, info.dimension), dtype=np.float32)
        ids, mask = self.tokenizer.encode_batch(list(texts))
        return await self._infer_chunks(info, {"input_ids": ids, "attention_mask": mask})

    async def project_texts(self, text_embeddings: np.ndarray, model: str) -> np.ndarray:
        """Text-encoder embeddings mapped into an image model's space by `model`
        (the text_to_image projection)."""
        info = await self.model_info(model)
        vectors = np.ascontiguousarray(text_embeddings, dtype=np.float32)
        return await self._infer_chunks(info, {"text_embeddings": vectors})

    async def apply_head(self, image_embeddings: np.ndarray, model: str, version: int) -> np.ndarray:
        """Image-model embeddings mapped by one version of a catalog's image head `model`
        (Triton serves its two newest versions while a catalog moves to the new one)."""
        info = await self.model_info(model)
        vectors = np.ascontiguousarray(image_embeddings, dtype=np.float32)
        return await self._infer_chunks(info, {"image_embeddings": vectors}, str(version))

    def forget(self, model: str) -> None:
        """Drop a model's cached config (after Triton loaded a new version of it)."""
        self._models.pop(model, None)

    async def load_model(self, model: str) -> None:
        """Ask Triton to (re)load `model`: it then serves the newest version."""
        await self._call(model, lambda t: self._client.load_model(model, client_timeout=t))
        self.forget(model)

    async def unload_model(self, model: str) -> None:
        """Ask Triton to stop serving `model` (a deleted catalog's projection)."""
        await self._call(model, lambda t: self._client.unload_model(model, client_timeout=t))
        self.forget(model)

    async def _infer_chunks(
        self, info: ModelInfo, inputs: dict[str, np.ndarray], version: str = ""
    ) -> np.ndarray:
        """Split into batches Triton accepts, send them concurrently, keep the order."""
        total = next(iter(inputs.values())).shape[0]
        if total == 0:
            return np.zeros((0, info.dimension), dtype=np.float32)
        step = info.max_batch_size
        parts = await asyncio.gather(
            *[
                self._infer_embeddings(info, {k: v[start : start + step] for k, v in inputs.items()}, version)
                for start in range(0, total, step)
            ]
        )
        return np.concatenate(parts)

    async def _infer_embeddings(
        self, info: ModelInfo, arrays: dict[str, np.ndarray], version: str = ""
    ) -> np.ndarray:
        result = await self._infer(info, arrays, (info.output,), version)
        embeddings = result.as_numpy(info.output)
        if embeddings is None or embeddings.shape[0] != next(iter(arrays.values())).shape[0]:
            raise EmbeddingError(info.name, Code.INTERNAL, "Triton returned no or too few embeddings")
        return embeddings

    async def _infer(
        self, info: ModelInfo, arrays: dict[str, np.ndarray], names: Sequence[str], version: str = ""
    ):
        """One Triton call asking for the outputs `names` (only those are computed), of
        `version` of the model (default: the newest served)."""
        model = info.name
        inputs = []
        for name, array in arrays.items():
            tensor = InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(np.ascontiguousarray(array))
            inputs.append(tensor)
        outputs = [InferRequestedOutput(name) for name in names]
        return await self._call(
            model,
            lambda t: self._client.infer(
                model, inputs, model_version=version, outputs=outputs, client_timeout=t
            ),
        )

    async def _call(self, model: str, call):  # call(timeout_s) -> awaitable
        """Run `call` until it succeeds, retrying UNAVAILABLE with exponential backoff,
        all within `timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        delay = self.backoff_s
        while True:
            if self.down is not None:
                raise EmbeddingError(model, Code.UNAVAILABLE, self.down)
            remaining = deadline - loop.time()
            try:
                return await call(max(remaining, 0.001))
            except InferenceServerException as error:
                code = _status(error)
                remaining = deadline - loop.time()
                if code != Code.UNAVAILABLE or remaining <= delay:
                    if code == Code.UNAVAILABLE:
                        message = f"Triton at {self.url} is unavailable: {error.message()}"
                    else:
                        message = error.message() or str(error)
                    raise EmbeddingError(model, code, message) from None
                _LOGGER.warning("Triton unavailable for %s, retrying in %.2f s", model, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
