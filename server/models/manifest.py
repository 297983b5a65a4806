"""The model repository's manifest (`model_repository/manifest.json`): which file each
exported model is, pinned by sha256, and where its weights came from. The exporters write
it; the gateway reads it to name the version that built an index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"


def read_manifest(repository: Path) -> dict[str, dict[str, Any]]:
    """Manifest entries keyed by model name; empty when nothing was exported yet."""
    path = Path(repository) / MANIFEST_NAME
    if not path.exists():
        return {}
    models: dict[str, dict[str, Any]] = json.loads(path.read_text())["models"]
    return models


def model_version(repository: Path, model: str) -> str:
    """The sha256 prefix of the exported file, which changes whenever the weights do;
    "served" for a model whose file we cannot see (an external Triton's)."""
    entry = read_manifest(repository).get(model)
    return str(entry["sha256"][:12]) if entry else "served"
