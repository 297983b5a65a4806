"""An external Triton restarted with explicit model control serves only the models it was
started with: a gateway loads a catalog's trained projection back from the shared model
repository (server/service/training.py `Training._reload`). Against a fake Triton client,
named as one: the real path needs a Triton restart under a gateway on a shared repository,
which the embedded Triton of the tests (a derived repository) cannot stand in for."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from server.config import Config
from server.domain import IMAGE_SPACE, CatalogInfo, Code
from server.index.store import IndexSpace
from server.models import projection
from server.models.embedding import EmbeddingError, ModelInfo
from server.service.catalogs import Catalog
from server.service.training import Training

IMAGE_MODEL = "efficientnet_lite0"


class FakeTriton:
    """A fake embedding client: which models are served, which loads fail, what was asked."""

    def __init__(self, served: set[str]) -> None:
        self.served = served
        self.failing: set[str] = set()
        self.loads: list[str] = []

    async def ready(self, models: list[str], timeout_s: float | None = None) -> bool:
        return all(m in self.served for m in models)

    async def load_model(self, model: str) -> None:
        self.loads.append(model)
        if model in self.failing:
            raise EmbeddingError(model, Code.INVALID_ARGUMENT, "load failed")
        self.served.add(model)

    def forget(self, model: str) -> None:
        pass

    async def model_info(self, model: str) -> ModelInfo:
        return ModelInfo(model, 8, 4, None, parameters={"image_model": IMAGE_MODEL})


def training(repository: Path, triton: FakeTriton) -> Training:
    spaces = {IMAGE_SPACE: IndexSpace(IMAGE_SPACE, IMAGE_MODEL, "1", 4)}
    return Training(Config(model_repository=repository), triton, spaces, None)  # type: ignore[arg-type]


def catalog(catalog_id: str) -> Catalog:
    return Catalog(CatalogInfo(catalog_id, "uid-" + catalog_id), None, {})  # type: ignore[arg-type]


def trained(repository: Path, catalog_id: str) -> str:
    model = projection.model_name(catalog_id)
    projection.write_version(repository, model, np.eye(4, dtype=np.float32), IMAGE_MODEL, {})
    return model


def test_a_trained_projection_is_loaded_again_after_a_triton_restart(tmp_path: Path) -> None:
    model = trained(tmp_path, "shop")
    triton = FakeTriton({IMAGE_MODEL})  # restarted: only what it was started with
    shop = catalog("shop")
    asyncio.run(training(tmp_path, triton).discover_projection(shop))
    assert triton.loads == [model] and shop.projection == model


def test_nothing_is_loaded_without_a_version_on_disk_or_while_triton_is_down(tmp_path: Path) -> None:
    triton = FakeTriton({IMAGE_MODEL})
    shop = catalog("shop")
    asyncio.run(training(tmp_path, triton).discover_projection(shop))
    assert triton.loads == [] and shop.projection is None, "never trained"
    trained(tmp_path, "shop")
    down = FakeTriton(set())
    asyncio.run(training(tmp_path, down).discover_projection(shop))
    assert down.loads == [] and shop.projection is None, "Triton down: no load to wait on"


def test_a_failing_load_is_tried_once_per_version(tmp_path: Path) -> None:
    model = trained(tmp_path, "shop")
    triton = FakeTriton({IMAGE_MODEL})
    triton.failing.add(model)
    gateway, shop = training(tmp_path, triton), catalog("shop")
    for _ in range(3):  # the follow loop asks every second
        asyncio.run(gateway.discover_projection(shop))
    assert triton.loads == [model] and shop.projection is None
    trained(tmp_path, "shop")  # retrained: version 2
    triton.failing.clear()
    asyncio.run(gateway.discover_projection(shop))
    assert triton.loads == [model, model] and shop.projection == model
