"""The embedded Triton: the `tritonserver` binary of the `nvidia-pytriton` wheel, started
and stopped by the gateway.

That binary ships only the python backend, so `start()` derives a runtime repository from
`model_repository/`: each model keeps its tensors, batching and parameters, and runs
through `server/triton/onnx_runner/model.py` (ONNX Runtime, CUDA when there is a GPU, else CPU).
The child is killed with its parent (PR_SET_PDEATHSIG) so no Triton outlives the gateway.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

RUNNER = Path(__file__).parent / "onnx_runner" / "model.py"
_PR_SET_PDEATHSIG = 1


class TritonStartError(RuntimeError):
    """Triton did not come up: missing binary, a model that does not load, a timeout."""


def pytriton_dir() -> Path:
    """`pytriton/tritonserver` inside the installed `nvidia-pytriton` wheel."""
    try:
        import pytriton
    except ImportError as error:
        raise TritonStartError(
            "the embedded Triton needs the nvidia-pytriton wheel: pip install nvidia-pytriton"
        ) from error
    return Path(pytriton.__file__).parent / "tritonserver"


def exported_models(repository: Path) -> list[str]:
    """Models of `repository` that have a config and at least one exported version."""
    return sorted(
        config.parent.name
        for config in repository.glob("*/config.pbtxt")
        if any(v.name.isdigit() and (v / "model.onnx").exists() for v in config.parent.iterdir())
    )


def gpu_available() -> bool:
    import onnxruntime as ort

    return Path("/dev/nvidiactl").exists() and "CUDAExecutionProvider" in ort.get_available_providers()


def python_backend_config(source: Path, kind: str, intra_op_threads: int):  # -> ModelConfig
    """The native-onnxruntime config of `source` rewritten for the python-backend runner."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    config = text_format.Parse(source.read_text(), model_config_pb2.ModelConfig())
    config.backend = "python"
    config.platform = ""
    config.ClearField("optimization")  # TensorRT / ORT accelerators mean nothing here
    for group in config.instance_group:
        group.kind = model_config_pb2.ModelInstanceGroup.Kind.Value(kind)
        if kind == "KIND_CPU":
            group.ClearField("gpus")
    config.parameters["intra_op_threads"].string_value = str(intra_op_threads)
    return config


def build_runtime_repository(
    repository: Path, target: Path, models: Sequence[str], kind: str, intra_op_threads: int = 0
) -> None:
    """Lay out `target` as Triton's repository: per model a derived config and, per exported
    version, the runner plus a link to the ONNX file."""
    for model in models:
        sync_runtime_model(repository, target, model, kind, intra_op_threads)


def sync_runtime_model(
    repository: Path, target: Path, model: str, kind: str, intra_op_threads: int = 0
) -> None:
    """Bring one model's runtime folder up to date with `repository` (new versions added;
    existing ones left alone, so Triton keeps serving them while it loads the new one)."""
    from google.protobuf import text_format

    source = repository / model
    versions = (
        [v for v in source.iterdir() if v.name.isdigit() and (v / "model.onnx").exists()]
        if source.exists()
        else []
    )
    if not versions:
        raise TritonStartError(
            f"model {model!r} has no exported ONNX file under {source}: run `make models` first"
        )
    (target / model).mkdir(parents=True, exist_ok=True)
    config = python_backend_config(source / "config.pbtxt", kind, intra_op_threads)
    (target / model / "config.pbtxt").write_text(text_format.MessageToString(config))
    for version in versions:
        folder = target / model / version.name
        if folder.exists():
            continue
        staging = target / model / f".{version.name}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        shutil.copy(RUNNER, staging / "model.py")
        (staging / "model.onnx").symlink_to((version / "model.onnx").resolve())
        staging.rename(folder)


def build_backend_directory(target: Path) -> None:
    """Triton's python backend with the stub for this interpreter copied beside it (the
    wheel keeps stubs for every Python in a separate folder)."""
    home = pytriton_dir()
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = home / "python_backend_stubs" / python / "triton_python_backend_stub"
    if not stub.exists():
        raise TritonStartError(f"nvidia-pytriton has no python backend stub for Python {python}")
    shutil.copytree(home / "backends" / "python", target / "python")
    shutil.copy(stub, target / "python" / stub.name)


WORKDIR_PREFIX = "embedded-triton-"
OWNER_FILE = "owner.pid"
GROUP_FILE = "triton.pgid"
SHM = Path("/dev/shm")
_REAP_WAIT_S = 5.0


def shm_prefix(workdir: Path) -> str:
    """The name prefix of the python backend's shared-memory regions of one Triton run."""
    return f"productsearch_{workdir.name}_"


def reap(workdir: Path) -> int:
    """Remove what a Triton run from `workdir` left: SIGKILL the processes of its process
    group that still run from that folder (python-backend stubs outlive a killed
    tritonserver and ignore SIGTERM), then its shared-memory regions. Only processes whose
    command names `workdir` are touched, so a recycled process-group id is safe. Returns
    how many processes were killed."""
    try:
        group = int((workdir / GROUP_FILE).read_text())
    except (OSError, ValueError):
        group = None
    victims = [] if group is None else _group_members(group, str(workdir).encode())
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + _REAP_WAIT_S
    while any(Path(f"/proc/{pid}").exists() for pid in victims) and time.monotonic() < deadline:
        time.sleep(0.05)  # a killed process holds its memory until it is gone
    for region in SHM.glob(shm_prefix(workdir) + "*"):
        with contextlib.suppress(OSError):
            region.unlink()
    return len(victims)


def _group_members(group: int, marker: bytes) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        # After the command in parentheses: state, ppid, pgrp, ...
        if int(stat.rsplit(")", 1)[1].split()[2]) == group and marker in cmdline:
            members.append(int(entry.name))
    return members


def remove_orphaned_workdirs() -> None:
    """Reap and delete runtime folders left by gateways that were killed (no `stop()` ran):
    their Triton died with them, its stubs and shared memory did not."""
    for workdir in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*"):
        try:
            owner = int((workdir / OWNER_FILE).read_text())
            os.kill(owner, 0)
        except ProcessLookupError:
            killed = reap(workdir)
            _LOGGER.info(
                "removing %s, left by process %d (%d stray processes killed)", workdir, owner, killed
            )
            shutil.rmtree(workdir, ignore_errors=True)
        except (OSError, ValueError):
            continue  # not ours to judge: unreadable, or another user's process


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when the parent dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class EmbeddedTriton:
    """One `tritonserver` child process serving `models` from `repository` over gRPC on
    loopback. `start()` blocks until every model is ready; `stop()` is idempotent."""

    def __init__(
        self,
        repository: Path,
        models: Sequence[str] | None = None,
        *,
        grpc_port: int | None = None,
        startup_timeout_s: float = 120.0,
        intra_op_threads: int = 0,
        log_verbose: int = 0,
    ) -> None:
        self.repository = Path(repository).resolve()
        self.models = list(models) if models is not None else exported_models(self.repository)
        if not self.models:
            raise TritonStartError(f"no exported models in {self.repository}: run `make models` first")
        self.grpc_port = grpc_port or free_port()
        self.startup_timeout_s = startup_timeout_s
        self.intra_op_threads = intra_op_threads
        self.log_verbose = log_verbose
        self.kind = "KIND_GPU" if gpu_available() else "KIND_CPU"
        self._workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def log_path(self) -> Path | None:
        return self._workdir / "triton.log" if self._workdir else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start Triton (again, on the same port, after a crash) and wait until ready."""
        if self.running():
            return
        self._cleanup_workdir()
        remove_orphaned_workdirs()
        self._workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
        (self._workdir / OWNER_FILE).write_text(str(os.getpid()))
        build_runtime_repository(
            self.repository, self._workdir / "models", self.models, self.kind, self.intra_op_threads
        )
        build_backend_directory(self._workdir / "backends")
        command = [
            str(pytriton_dir() / "bin" / "tritonserver"),
            f"--model-repository={self._workdir / 'models'}",
            f"--backend-directory={self._workdir / 'backends'}",
            f"--grpc-port={self.grpc_port}",
            "--grpc-address=127.0.0.1",
            "--allow-http=false",
            "--allow-metrics=false",
            "--model-control-mode=explicit",
            *[f"--load-model={m}" for m in self.models],
            "--exit-on-error=true",
            "--strict-readiness=true",
            f"--backend-config=python,shm-region-prefix-name={shm_prefix(self._workdir)}",
            f"--log-verbose={self.log_verbose}",
        ]
        _LOGGER.info("starting embedded Triton on %s with %s (%s)", self.url, self.models, self.kind)
        log = (self._workdir / "triton.log").open("wb")
        self._process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self._environment(),
            preexec_fn=_die_with_parent,
            start_new_session=True,  # its own process group, which its stubs join
        )
        log.close()
        (self._workdir / GROUP_FILE).write_text(str(self._process.pid))
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        libs = [
            str(pytriton_dir().parent.parent / "nvidia_pytriton.libs"),
            sysconfig.get_config_var("LIBDIR") or "",
        ]  # this Python's libpython for the stub
        env["LD_LIBRARY_PATH"] = os.pathsep.join([*libs, env.get("LD_LIBRARY_PATH", "")])
        # The stub embeds the interpreter found first on PATH: make it this one (the venv).
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        return env

    def _wait_ready(self) -> None:
        import tritonclient.grpc as grpcclient
        from tritonclient.utils import InferenceServerException

        deadline = time.monotonic() + self.startup_timeout_s
        with grpcclient.InferenceServerClient(self.url) as client:
            while time.monotonic() < deadline:
                if self._process is None or self._process.poll() is not None:
                    raise TritonStartError(
                        f"tritonserver exited while loading {self.models}:\n{self.log_tail()}"
                    )
                try:
                    if client.is_server_ready(client_timeout=1.0) and all(
                        client.is_model_ready(m, client_timeout=1.0) for m in self.models
                    ):
                        _LOGGER.info("embedded Triton ready on %s", self.url)
                        return
                except InferenceServerException:
                    pass  # not listening yet
                time.sleep(0.2)
        raise TritonStartError(f"Triton not ready after {self.startup_timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def add_model_versions(self, model: str) -> None:
        """Copy new versions of `model` (or a new model) into the running Triton's repository;
        the caller then asks Triton to load it (explicit model control)."""
        if self._workdir is None:
            raise TritonStartError("embedded Triton is not running")
        sync_runtime_model(self.repository, self._workdir / "models", model, self.kind, self.intra_op_threads)
        if model not in self.models:
            self.models.append(model)

    def remove_model(self, model: str) -> None:
        """Forget `model` (after Triton unloaded it): a restart no longer loads it."""
        if model in self.models:
            self.models.remove(model)
        if self._workdir is not None:
            shutil.rmtree(self._workdir / "models" / model, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL Triton and its stubs, as a crash would (fault tests)."""
        if self._process is not None:
            self._signal_group(signal.SIGKILL)
            self._process.wait()

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL the whole process group after `grace_s`."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            self._process = process
            self._signal_group(signal.SIGTERM)
            try:
                process.wait(grace_s)
            except subprocess.TimeoutExpired:
                _LOGGER.warning("Triton ignored SIGTERM for %.0f s: killing it", grace_s)
            self._signal_group(signal.SIGKILL)  # stubs left behind, if any
            process.wait()
            self._process = None
        self._cleanup_workdir()

    def _signal_group(self, signum: int) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signum)

    def _cleanup_workdir(self) -> None:
        """Reap what the last run left (stubs of a Triton that was killed) and delete its folder."""
        if self._workdir is not None:
            killed = reap(self._workdir)
            if killed:
                _LOGGER.warning("killed %d stray python-backend stubs of the previous Triton", killed)
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> EmbeddedTriton:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
