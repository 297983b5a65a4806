"""The architecture as the code has it (unit tier): the model registry matches the model
repository and the exporters, and dependencies go one way."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from server.models.registry import MODELS, default_models, image_models

ROOT = Path(__file__).resolve().parents[2]


def test_every_registered_model_has_a_config_and_an_exporter():
    for name, entry in MODELS.items():
        config_file = ROOT / "model_repository" / name / "config.pbtxt"
        config = text_format.Parse(config_file.read_text(), model_config_pb2.ModelConfig())
        assert config.name == name and list(config.output[0].dims) == [entry.dimension], name
        inputs = [i.name for i in config.input]
        assert inputs == (["images"] if entry.kind == "image" else ["input_ids", "attention_mask"]), name
        spec = importlib.util.find_spec(entry.exporter)
        assert spec is not None and "def export_model(" in Path(spec.origin).read_text(), entry.exporter
    assert "efficientnet_lite0" in image_models() and "text_encoder" not in image_models()
    assert set(default_models()) <= set(MODELS)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_dependencies_go_one_way():
    """exporters may use server.models, never the reverse; the service, index and catalog
    layers know nothing of gRPC or the API layer."""
    for path in (ROOT / "server").rglob("*.py"):
        imported = imports_of(path)
        relative = path.relative_to(ROOT).as_posix()
        assert not any(name.split(".")[0] == "exporters" for name in imported), relative
        if relative.startswith(("server/service/", "server/index/", "server/catalog/", "server/models/")):
            assert not any(
                name == "grpc" or name.startswith(("grpc.", "server.api", "productsearch"))
                for name in imported
            ), (
                relative,
                sorted(imported),
            )
    for path in (ROOT / "exporters").glob("*.py"):
        server_imports = {name for name in imports_of(path) if name.startswith("server")}
        assert all(name.startswith("server.models") or name == "server.files" for name in server_imports), (
            path
        )
