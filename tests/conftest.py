"""Shared fixtures: the exported models and one real embedded Triton for the session."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from exporters import efficientnet_lite, text_encoder
from server.text import Tokenizer
from server.triton_runtime import EmbeddedTriton

REPOSITORY = Path(__file__).resolve().parent.parent / "model_repository"
SERVED_MODELS = ["efficientnet_lite0", "efficientnet_lite2", "text_encoder"]

logging.getLogger("server").setLevel(logging.INFO)


@pytest.fixture(scope="session")
def model_repository() -> Path:
    """`model_repository/` with the default models exported (a no-op when current)."""
    for model in efficientnet_lite.VARIANTS:
        efficientnet_lite.export(REPOSITORY, model=model)
    text_encoder.export(REPOSITORY)
    return REPOSITORY


@pytest.fixture(scope="session")
def triton(model_repository: Path):
    with EmbeddedTriton(model_repository, SERVED_MODELS) as server:
        yield server


@pytest.fixture(scope="session")
def tokenizer() -> Tokenizer:
    return Tokenizer(text_encoder.sentencepiece_model())


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Real photos bundled with scikit-image."""
    return {name: getattr(data, name)() for name in ("chelsea", "coffee", "astronaut", "rocket")}
