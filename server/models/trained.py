"""Models a catalog trains for itself, in the model repository: its keyword → image
projection (server/models/projection.py) and its image head (server/models/image_head.py).

Each is one Triton model per catalog, `<prefix><catalog id>`, and every retrain adds a
numbered version folder with its ONNX graph and a `training.json` record beside it.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from server.files import sha256_file

_LOGGER = logging.getLogger(__name__)

PREFIXES = ("text_to_image__", "image_head__")  # projection.MODEL_PREFIX, image_head.MODEL_PREFIX


def catalog_of(model: str) -> str | None:
    """The catalog id a trained model belongs to; None for other models."""
    for prefix in PREFIXES:
        if model.startswith(prefix):
            return model.removeprefix(prefix)
    return None


def versions(repository: Path, model: str) -> list[int]:
    folder = Path(repository) / model
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.exists() else []


def trained_models(repository: Path, prefixes: tuple[str, ...] = PREFIXES) -> list[str]:
    """The trained models (of `prefixes`) with at least one version in `repository`."""
    return sorted(
        folder.name
        for prefix in prefixes
        for folder in Path(repository).glob(prefix + "*")
        if folder.is_dir() and versions(repository, folder.name)
    )


def remove(repository: Path, model: str) -> None:
    """Delete every version of a trained model (its catalog is gone)."""
    shutil.rmtree(Path(repository) / model, ignore_errors=True)


def write_version(repository: Path, model: str, graph, config: str, record: dict) -> int:
    """Write `graph` as the next version of `model` (and `config` on first use); returns
    the version number. `graph` is an onnx.ModelProto; `record` (data, method, figures)
    is kept beside it."""
    import onnx

    folder = Path(repository) / model
    version = (versions(repository, model) or [0])[-1] + 1
    target = folder / str(version)
    target.mkdir(parents=True)
    onnx.save(graph, str(target / "model.onnx"))
    record = {"sha256": sha256_file(target / "model.onnx"), **record}
    (target / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    if not (folder / "config.pbtxt").exists():
        (folder / "config.pbtxt").write_text(config)
    _LOGGER.info("%s version %d written", model, version)
    return version


def record(repository: Path, model: str, version: int) -> dict:
    """The `training.json` of one version ({} when missing or unreadable)."""
    try:
        return json.loads((Path(repository) / model / str(version) / "training.json").read_text())
    except (OSError, ValueError):
        return {}


def private_repository(source: Path, target: Path) -> Path:
    """A model repository at `target` whose models are links to `source`'s, so retrains
    write their versions there and leave `source` as it is."""
    target.mkdir(parents=True, exist_ok=True)
    for model in Path(source).iterdir():
        if model.is_dir() and catalog_of(model.name) is None:
            (target / model.name).symlink_to(model.resolve())
        elif model.is_file():
            (target / model.name).write_bytes(model.read_bytes())
    return target
