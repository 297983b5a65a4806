"""Shared fixtures: the exported models and one real embedded Triton for the session.

Heavy imports (torch, Triton) happen inside the fixtures, so that the unit tier, which
uses none of them, starts in a second."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

REPOSITORY = Path(__file__).resolve().parent.parent / "model_repository"
SERVED_MODELS = ["efficientnet_lite0", "efficientnet_lite2", "text_encoder"]

logging.getLogger("server").setLevel(logging.INFO)


@pytest.fixture(scope="session")
def model_repository() -> Path:
    """`model_repository/` with the default models exported (a no-op when current)."""
    from exporters import efficientnet_lite, text_encoder

    for model in efficientnet_lite.VARIANTS:
        efficientnet_lite.export(REPOSITORY, model=model)
    text_encoder.export(REPOSITORY)
    return REPOSITORY


@pytest.fixture(scope="session")
def triton(model_repository: Path):
    from server.triton.runtime import EmbeddedTriton

    with EmbeddedTriton(model_repository, SERVED_MODELS) as server:
        yield server


@pytest.fixture(scope="session")
def tokenizer():
    from server.models.text import Tokenizer, sentencepiece_model

    return Tokenizer(sentencepiece_model())


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Real photos bundled with scikit-image."""
    from skimage import data

    return {name: getattr(data, name)() for name in ("chelsea", "coffee", "astronaut", "rocket")}


@pytest.fixture(scope="session")
def postgres():
    """One private PostgreSQL server for the session (tests/engines.py)."""
    from tests.engines import local_postgres

    with local_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def milvus():
    """One embedded Milvus for the session (tests/engines.py); the tests that use it are
    marked `milvus` and run in a loopback-only network namespace (`make test-milvus`)."""
    from server.tools.local_milvus import loopback_only
    from tests.engines import local_milvus

    if not loopback_only():
        pytest.skip("embedded Milvus runs only in a loopback-only network namespace: make test-milvus")
    with local_milvus() as server:
        yield server
