"""Embedded Triton process management: derived configs, clear failures, no orphans."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from server.triton.runtime import (
    SHM,
    EmbeddedTriton,
    TritonStartError,
    exported_models,
    python_backend_config,
    remove_orphaned_workdirs,
    shm_prefix,
)

ROOT = Path(__file__).resolve().parents[2]


def test_python_backend_config_keeps_tensors_and_batching():
    source = ROOT / "model_repository" / "efficientnet_lite0" / "config.pbtxt"
    original = text_format.Parse(source.read_text(), model_config_pb2.ModelConfig())
    derived = python_backend_config(source, "KIND_CPU", intra_op_threads=2)
    assert derived.backend == "python"
    assert derived.input == original.input and derived.output == original.output
    assert derived.max_batch_size == original.max_batch_size
    assert derived.dynamic_batching == original.dynamic_batching
    assert derived.parameters["image_size"].string_value == "224"
    assert derived.parameters["intra_op_threads"].string_value == "2"
    assert all(g.kind == model_config_pb2.ModelInstanceGroup.KIND_CPU for g in derived.instance_group)


def test_every_config_names_the_exporters_tensors(model_repository):
    import onnx

    for model in exported_models(model_repository):
        config = text_format.Parse(
            (model_repository / model / "config.pbtxt").read_text(), model_config_pb2.ModelConfig()
        )
        graph = onnx.load(str(model_repository / model / "1" / "model.onnx"), load_external_data=False).graph
        assert [i.name for i in config.input] == [i.name for i in graph.input]
        assert [o.name for o in config.output] == [o.name for o in graph.output]
        for tensor, value in zip(config.output, graph.output, strict=True):
            assert tensor.dims[-1] == value.type.tensor_type.shape.dim[-1].dim_value


def copy_model(source: Path, target: Path, model: str) -> Path:
    shutil.copytree(source / model, target / model)
    return target / model


def test_model_that_does_not_load_fails_with_a_clear_message(model_repository, tmp_path):
    broken = copy_model(model_repository, tmp_path, "text_encoder")
    (broken / "1" / "model.onnx").write_bytes(b"this is not an onnx file")
    with pytest.raises(TritonStartError) as raised:
        EmbeddedTriton(tmp_path, ["text_encoder"], startup_timeout_s=60).start()
    assert "text_encoder" in str(raised.value)


def test_model_not_exported_fails_before_starting(tmp_path):
    shutil.copytree(
        ROOT / "model_repository" / "vgg16", tmp_path / "vgg16", ignore=shutil.ignore_patterns("[0-9]*")
    )
    with pytest.raises(TritonStartError, match="make models"):
        EmbeddedTriton(tmp_path, ["vgg16"]).start()
    with pytest.raises(TritonStartError, match="no exported models"):
        EmbeddedTriton(tmp_path)


def test_missing_binary_is_reported(model_repository, monkeypatch, tmp_path):
    import server.triton.runtime as runtime

    monkeypatch.setattr(runtime, "pytriton_dir", lambda: tmp_path / "nowhere")
    with pytest.raises((TritonStartError, FileNotFoundError)):
        EmbeddedTriton(model_repository, ["text_encoder"]).start()


def stub_pids(marker: str) -> list[int]:
    """Processes whose command line mentions `marker` (Triton's runtime folder)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline:
                pids.append(int(entry.name))
    return pids


def wait_until(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too; its parent (the killed gateway) can no longer reap it.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.integration
def test_triton_dies_with_a_killed_parent(model_repository):
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from server.triton.runtime import EmbeddedTriton
        triton = EmbeddedTriton(Path({str(model_repository)!r}), ["text_encoder"])
        triton.start()
        print(triton.pid, triton.log_path.parent, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        triton_pid, workdir = parent.stdout.readline().split()
        assert alive(int(triton_pid))
        assert stub_pids(workdir), "no python backend stub found"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert wait_until(lambda: not alive(int(triton_pid)), 10), "tritonserver outlived its parent"
        assert wait_until(lambda: not [p for p in stub_pids(workdir) if alive(p)], 30), "stubs left behind"
    finally:
        parent.kill()
    assert Path(workdir).exists()  # nobody ran stop(); the next start cleans it up
    remove_orphaned_workdirs()
    assert not Path(workdir).exists()


@pytest.mark.integration
def test_restarts_after_crashes_leave_no_processes_or_shared_memory(model_repository):
    """Triton killed three times the way a crash kills it (the server process only): each
    restart reaps the old run's stubs and its /dev/shm regions; stop() leaves nothing."""
    triton = EmbeddedTriton(model_repository, ["text_encoder"])
    runs = []
    try:
        for _ in range(3):
            triton.start()
            workdir = triton.log_path.parent
            runs.append(workdir)
            assert stub_pids(str(workdir)), "no python backend stub found"
            assert list(SHM.glob(shm_prefix(workdir) + "*")), "no shared memory of this run"
            os.kill(triton.pid, signal.SIGKILL)  # the server only: its stubs are orphaned
            assert wait_until(lambda: not triton.running(), 10)
        triton.start()
        for old in runs:
            assert not [p for p in stub_pids(str(old)) if alive(p)], f"stubs of {old} still run"
            assert not list(SHM.glob(shm_prefix(old) + "*")), f"shared memory of {old} left"
        current = triton.log_path.parent
    finally:
        triton.stop()
    assert not [p for p in stub_pids(str(current)) if alive(p)] and not list(
        SHM.glob(shm_prefix(current) + "*")
    )
