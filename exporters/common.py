"""Shared pieces of every exporter: where files go, the manifest, parity checks."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from server.files import sha256_file
from server.models.manifest import MANIFEST_NAME, read_manifest

_LOGGER = logging.getLogger(__name__)

# Exports are compared with their framework reference on these thresholds (DESIGN.md).
MIN_COSINE = 0.9999


class ParityError(RuntimeError):
    """An exported graph disagrees with its framework reference."""


@dataclass(frozen=True)
class ExportRecord:
    """What the manifest says about one exported file."""

    model: str
    version: int
    file: str  # relative to the model repository
    sha256: str
    weights: str  # where the weights came from
    settings: dict[str, Any] = field(default_factory=dict)
    parity: dict[str, float] = field(default_factory=dict)


def onnx_path(repository: Path, model: str, version: int = 1) -> Path:
    """`<repository>/<model>/<version>/model.onnx`, the layout Triton expects."""
    return repository / model / str(version) / "model.onnx"


def write_record(repository: Path, record: ExportRecord) -> None:
    """Add or replace one model's entry; the manifest is rewritten atomically."""
    models = read_manifest(repository)
    models[record.model] = asdict(record)
    path = repository / MANIFEST_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"models": dict(sorted(models.items()))}, indent=2) + "\n")
    tmp.replace(path)


def is_current(repository: Path, model: str, weights: str, settings: Mapping[str, Any]) -> bool:
    """True when the manifest's file for `model` exists, matches its checksum and was made
    from the same weights and settings — then `make models` has nothing to do."""
    entry = read_manifest(repository).get(model)
    if entry is None or entry["weights"] != weights or entry["settings"] != dict(settings):
        return False
    path = repository / entry["file"]
    return path.exists() and sha256_file(path) == entry["sha256"]


def record_export(
    repository: Path,
    model: str,
    weights: str,
    settings: Mapping[str, Any],
    parity: Mapping[str, float],
    version: int = 1,
) -> ExportRecord:
    """Pin the exported file by checksum in the manifest."""
    path = onnx_path(repository, model, version)
    record = ExportRecord(
        model=model,
        version=version,
        file=str(path.relative_to(repository)),
        sha256=sha256_file(path),
        weights=weights,
        settings=dict(settings),
        parity=dict(parity),
    )
    write_record(repository, record)
    _LOGGER.info("exported %s (%s) sha256=%s", path, weights, record.sha256[:12])
    return record


def compare_embeddings(reference: np.ndarray, exported: np.ndarray, name: str) -> dict[str, float]:
    """Row-wise cosine and max abs diff of two embedding batches; raises ParityError when
    any row's cosine falls below MIN_COSINE."""
    reference = np.asarray(reference, dtype=np.float64)
    exported = np.asarray(exported, dtype=np.float64)
    if reference.shape != exported.shape:
        raise ParityError(f"{name}: shape {exported.shape} != reference {reference.shape}")
    cosine = np.sum(reference * exported, axis=1) / (
        np.linalg.norm(reference, axis=1) * np.linalg.norm(exported, axis=1)
    )
    result = {
        "min_cosine": float(cosine.min()),
        "max_abs_diff": float(np.abs(reference - exported).max()),
    }
    if result["min_cosine"] < MIN_COSINE:
        raise ParityError(f"{name}: ONNX disagrees with its reference: {result}")
    return result


def run_onnx(path: Path, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
    """First output of an ONNX file run by ONNX Runtime on the CPU."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, dict(feeds))[0]


def run_onnx_outputs(path: Path, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every output of an ONNX file run by ONNX Runtime on the CPU, by name."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(feeds)), strict=True))


def sample_images() -> list[np.ndarray]:
    """Real photos (scikit-image's bundled ones) of different sizes and aspect ratios, as
    uint8 RGB, for parity checks."""
    from skimage import data

    return [data.chelsea(), data.coffee(), data.astronaut(), data.rocket()]
