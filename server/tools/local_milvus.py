"""A Milvus server on this machine for tests and demos: PyPI `milvus` (embedded Milvus, the
real standalone binary with embedded etcd and rocksmq) started under a folder of ours.

That binary listens on every interface (19530, 9091, 2379, ...) and has no authentication,
so `LocalMilvus` refuses to start unless this process is in a network namespace whose only
interface is `lo` (e.g. `unshare -n sh -c 'ip link set lo up; exec CMD'`, as `make
test-milvus` runs): nothing outside the namespace can reach it, and the clients that use it
run in the same namespace.

`milvus.MilvusServer` runs `milvus run standalone` as a child of this process (no launcher
process in between; measured: the standalone starts no children of its own). Its own
`stop()` sends SIGTERM and SIGKILLs after one second, too soon for a clean shutdown, so this
module stops the processes by their pids itself. The `milvus-server` command line launcher,
when stopped, leaves that child running; it is not used here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

_LOGGER = logging.getLogger(__name__)

_STOP_GRACE_S = 30.0  # SIGTERM to SIGKILL; Milvus' own limit is set below this

# milvus.yaml settings (dotted paths) that differ from the wheel's template.
SETTINGS: dict[str, object] = {
    # A Strong read waits for the next time tick: 200 ms by default. Measured at 20 ms on the
    # congruence data: 27 ms per Strong search (Bounded: 1.6 ms).
    "proxy.timeTickInterval": 20,
    # A clean stop otherwise may take up to 30 minutes (2.3.5 waits out this limit, measured
    # 10 s at 10); acknowledged writes are in the log whatever the stop.
    "common.gracefulStopTimeout": 5,
}


class NotIsolatedError(RuntimeError):
    """This process is not in a loopback-only network namespace."""


def network_interfaces() -> list[str]:
    """The interfaces of this process's network namespace. /proc/self/net/dev is per
    namespace; /sys/class/net is not (it shows the namespace sysfs was mounted in)."""
    lines = Path("/proc/self/net/dev").read_text(encoding="utf-8").splitlines()[2:]
    return sorted(line.split(":", 1)[0].strip() for line in lines if ":" in line)


def loopback_only() -> bool:
    """Whether `lo` is this namespace's only interface, and up."""
    try:
        if network_interfaces() != ["lo"]:
            return False
    except OSError:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            with socket.create_connection(listener.getsockname(), timeout=1.0):
                return True
        except OSError:  # lo is down
            return False


def require_loopback_only() -> None:
    if not loopback_only():
        raise NotIsolatedError(
            "embedded Milvus listens on all interfaces: run it only in a loopback-only network "
            "namespace, e.g. unshare -n sh -c 'ip link set lo up; exec CMD' "
            f"(this one has {network_interfaces()})"
        )


class LocalMilvus:
    """One embedded Milvus server with its data under `directory`/milvus. A context manager:
    started on entry, stopped on exit. Its data survive `stop()` and `restart()`."""

    def __init__(
        self, directory: Path, start_timeout_s: float = 180.0, settings: dict[str, object] | None = None
    ) -> None:
        self.directory = Path(directory)
        self.start_timeout_s = start_timeout_s
        self.settings = {**SETTINGS, **(settings or {})}
        self._server: Any = None  # milvus.MilvusServer, imported when started
        self._process: subprocess.Popen | None = None
        self._ports: dict[str, int] = {}  # kept across restarts, so clients' uri stays valid
        self.start_seconds = 0.0

    def __enter__(self) -> LocalMilvus:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def port(self) -> int:
        if "proxy_port" not in self._ports:
            raise RuntimeError("LocalMilvus was never started")
        return self._ports["proxy_port"]

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The `milvus run standalone` process."""
        if self._process is None:
            raise RuntimeError("LocalMilvus is not running")
        return self._process.pid

    @property
    def pids(self) -> list[int]:
        """The standalone and any children it has (none in 2.3.5): what stop() ends."""
        return [self.pid, *_children(self.pid)]

    def rss_bytes(self) -> int:
        """Resident memory of the server's processes."""
        total = 0
        for pid in self.pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:  # it just ended
                continue
        return total

    def start(self) -> None:
        require_loopback_only()
        if self.running:
            return
        from milvus import MilvusServer  # heavy, and only tests and demos need it

        config = _new_config()
        server = MilvusServer(config, wait_for_started=False, **self._ports)
        server.set_base_dir(str(self.directory / "milvus"))
        for key, value in self.settings.items():
            config.set(key, value)  # milvus.yaml keys by dotted path, replaced in the template
        started = time.perf_counter()
        server.start()  # resolves ports, unpacks the binary, spawns it
        self._server, self._process = server, server.server_proc
        self._ports = {
            key: int(value[1])
            for key, value in config.configurable_items.items()
            if key.endswith("_port") and value[1] is not None
        }
        try:
            server.wait_started(timeout=int(self.start_timeout_s * 1000))
        except (TimeoutError, RuntimeError):
            self.kill()
            raise
        self.start_seconds = time.perf_counter() - started
        _LOGGER.info(
            "Milvus (pid %d) serving %s in %.1f s, data in %s",
            self.pid,
            self.uri,
            self.start_seconds,
            self.directory / "milvus",
        )

    def stop(self) -> None:
        """SIGTERM, wait for a clean shutdown, SIGKILL what is left."""
        self._end(signal.SIGTERM, _STOP_GRACE_S)

    def kill(self) -> None:
        """SIGKILL at once: a crash, for fault tests."""
        self._end(signal.SIGKILL, 0.0)

    def restart(self) -> None:
        """Stop cleanly and start again on the same data and ports."""
        self.stop()
        self.start()

    def _end(self, how: signal.Signals, grace_s: float) -> None:
        process = self._process
        if process is None:
            return
        pids = self.pids if process.poll() is None else _children(process.pid)
        for pid in pids:
            _signal(pid, how)
        deadline = time.monotonic() + grace_s
        try:
            process.wait(timeout=grace_s if grace_s else None)
        except subprocess.TimeoutExpired:
            _LOGGER.warning("Milvus (pid %d) did not stop in %.0f s: killing it", process.pid, grace_s)
            for pid in [process.pid, *_children(process.pid)]:
                _signal(pid, signal.SIGKILL)
            process.wait()
        for pid in pids[1:]:  # children, if any: wait until they are gone
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline + 10:
                time.sleep(0.05)
        self._process = None
        if self._server is not None:
            self._server.server_proc = None  # already ended: its stop() only closes the logs
            self._server.stop()
            self._server = None
        _LOGGER.info("Milvus (pid %d) stopped by %s", process.pid, how.name)


def _signal(pid: int, how: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, how)


def _children(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc/<pid>/task/*/children."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return sorted(set(found))


def _reusing_bind(port: int) -> socket.socket | None:
    """MilvusServerConfig's port probe, with SO_REUSEADDR as the Go server itself binds:
    after a stop the old connections linger in TIME_WAIT, and the plain probe would move
    a restarted server to other ports under its clients."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
        return sock
    except OSError:
        sock.close()
        return None


def _new_config() -> Any:
    """A MilvusServerConfig whose port probe is `_reusing_bind`."""
    from milvus import MilvusServerConfig

    class ReusingConfig(MilvusServerConfig):
        def try_bind_port(self, port: int) -> socket.socket | None:
            return _reusing_bind(port)

    return ReusingConfig()


def seal_collection(client: Any, name: str, rows: int, timeout_s: float = 300.0) -> None:
    """Flush, wait until every sealed segment has its HNSW index, then until the query
    node serves at least `rows` (live rows) from indexed sealed segments and no growing
    ones (for tests and benchmarks that must search through the graph, not brute force). Measured at 5,000
    vectors: the index was finished ~15 s before the query node swapped the sealed segment
    in, and searches meanwhile missed rows (recall 0.23 instead of 1.0 with a 1 % filter)."""
    from pymilvus.grpc_gen.common_pb2 import SegmentState

    client.flush(name)
    deadline = time.monotonic() + timeout_s
    while True:
        index = client.describe_index(name, "vector")
        if index["total_rows"] and not index["pending_index_rows"] and index["indexed_rows"]:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: index not built in {timeout_s:.0f} s: {index}")
        time.sleep(0.5)
    stable = 0
    while stable < 3:  # the same complete set of segments three polls in a row
        segments = client.list_loaded_segments(name)
        sealed = sum(s.num_rows for s in segments if s.index_name and s.state == SegmentState.Sealed)
        ready = sealed >= rows and all(s.state == SegmentState.Sealed for s in segments)
        stable = stable + 1 if ready else 0
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{name}: {sealed} of {rows} rows in indexed sealed segments after {timeout_s:.0f} s"
            )
        time.sleep(1.0)
