"""Per model and batch size: throughput and latency through the embedded Triton (gRPC,
python backend + ONNX Runtime) vs ONNX Runtime in-process, in the same run. The ratio of
the two is what serving through Triton costs on this machine.

    python -m bench.triton_overhead --output bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.machine import describe_machine
from exporters.common import onnx_path
from server.models.text import Tokenizer, sentencepiece_model
from server.triton.runtime import EmbeddedTriton, exported_models

_LOGGER = logging.getLogger(__name__)

BATCH_SIZES = (1, 8, 32)
TEXTS = [
    "红色手机",
    "运动鞋 男款 透气",
    "red sneakers",
    "women's summer dress with floral print",
    "黑色真皮手提包",
    "ankle boots",
    "Damen Sommerkleid",
    "trousers slim fit",
]


@dataclass(frozen=True)
class Measurement:
    items_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int


def measure(run: Callable[[], object], batch: int, budget_s: float, min_requests: int) -> Measurement:
    run()  # warm-up: first-call allocations and shape-specific kernels
    latencies = []
    started = time.perf_counter()
    while len(latencies) < min_requests or time.perf_counter() - started < budget_s:
        t0 = time.perf_counter()
        run()
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return Measurement(
        batch * len(latencies) / elapsed,
        float(np.percentile(ms, 50)),
        float(np.percentile(ms, 99)),
        len(latencies),
    )


def inputs_for(model: str, batch: int, tokenizer: Tokenizer, image_size: int | None) -> dict[str, np.ndarray]:
    if image_size is None:
        ids, mask = tokenizer.encode_batch([TEXTS[i % len(TEXTS)] for i in range(batch)])
        return {"input_ids": ids, "attention_mask": mask}
    rng = np.random.default_rng(0)
    return {"images": rng.integers(0, 256, (batch, image_size, image_size, 3), dtype=np.uint8)}


def triton_runner(client, model: str, feeds: dict[str, np.ndarray]) -> Callable[[], object]:
    import tritonclient.grpc as grpcclient

    tensors = []
    for name, array in feeds.items():
        tensor = grpcclient.InferInput(
            name, list(array.shape), "UINT8" if array.dtype == np.uint8 else "INT64"
        )
        tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    return lambda: client.infer(model, tensors, client_timeout=120)


def onnxruntime_runner(path: Path, feeds: dict[str, np.ndarray]) -> Callable[[], object]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as the runner
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda: session.run(None, feeds)


def image_size_of(repository: Path, model: str) -> int | None:
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    config = text_format.Parse(
        (repository / model / "config.pbtxt").read_text(), model_config_pb2.ModelConfig()
    )
    return int(config.parameters["image_size"].string_value) if "image_size" in config.parameters else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--models", help="comma-separated; default: every exported model")
    parser.add_argument("--budget-s", type=float, default=10.0, help="time per (model, batch, path)")
    parser.add_argument("--min-requests", type=int, default=5)
    parser.add_argument("--output", type=Path, help="write the Markdown table here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    import tritonclient.grpc as grpcclient

    models = args.models.split(",") if args.models else exported_models(args.repository)
    tokenizer = Tokenizer(sentencepiece_model())
    rows = []
    with (
        EmbeddedTriton(args.repository, models) as triton,
        grpcclient.InferenceServerClient(triton.url) as client,
    ):
        for model in models:
            size = image_size_of(args.repository, model)
            for batch in BATCH_SIZES:
                feeds = inputs_for(model, batch, tokenizer, size)
                served = measure(triton_runner(client, model, feeds), batch, args.budget_s, args.min_requests)
                local = measure(
                    onnxruntime_runner(onnx_path(args.repository, model), feeds),
                    batch,
                    args.budget_s,
                    args.min_requests,
                )
                rows.append((model, batch, served, local))
                _LOGGER.info(
                    "%s batch %d: Triton %.1f/s, in-process %.1f/s",
                    model,
                    batch,
                    served.items_per_s,
                    local.items_per_s,
                )
    report = render(rows, args)
    print(report)
    if args.output:
        args.output.write_text(report)


def render(rows: list[tuple[str, int, Measurement, Measurement]], args: argparse.Namespace) -> str:
    import onnxruntime

    columns = [
        "model",
        "batch",
        "Triton items/s",
        "Triton p50 / p99 ms",
        "in-process items/s",
        "in-process p50 / p99 ms",
        "Triton / in-process throughput",
        "requests (Triton / in-process)",
    ]
    header = "| " + " | ".join(columns) + " |\n|---|" + "---:|" * (len(columns) - 1) + "\n"
    lines = [
        "| "
        + " | ".join(
            [
                model,
                str(batch),
                f"{s.items_per_s:.1f}",
                f"{s.p50_ms:.1f} / {s.p99_ms:.1f}",
                f"{loc.items_per_s:.1f}",
                f"{loc.p50_ms:.1f} / {loc.p99_ms:.1f}",
                f"{s.items_per_s / loc.items_per_s:.2f}",
                f"{s.requests} / {loc.requests}",
            ]
        )
        + " |"
        for model, batch, s, loc in rows
    ]
    return (
        "# Embedded Triton vs ONNX Runtime in-process\n\n"
        f"- command: `python -m bench.triton_overhead --budget-s {args.budget_s:g}"
        f"{' --models ' + args.models if args.models else ''}` (`make bench`)\n"
        f"- machine: {describe_machine()}\n"
        f"- date: {datetime.date.today().isoformat()}\n"
        f"- software: Triton 2.51 (nvidia-pytriton wheel), python backend + ONNX Runtime "
        f"{onnxruntime.__version__} CPU EP; in-process: the same ONNX file and session options\n"
        "- one request in flight at a time (sequential client); items = images, or texts for "
        "text_encoder; Triton figures include gRPC serialization on loopback\n\n"
        + header
        + "\n".join(lines)
        + "\n"
    )


if __name__ == "__main__":
    main()
