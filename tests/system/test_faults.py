"""Fault injection against real gateway child processes (`python -m server.tools.cli serve`, each
with its embedded Triton): what a lost machine, a crashed Triton, a damaged disk or a full or
read-only data directory do to the products users were told are stored.

- kill -9 of the gateway while 8 clients stream upserts: after a restart every acknowledged
  product is there once, found by GetProduct and by SearchByImage with its own image;
- SIGKILL of the embedded Triton under load: embedding calls fail fast with UNAVAILABLE,
  catalog reads go on, health turns NOT_SERVING, then SERVING again after the gateway (same
  pid) restarted Triton, and searches work;
- damaged index snapshots (truncated, garbage manifest, missing, another space's) → rebuilt
  from the catalog at start (tests/test_gateway_durability.py covers deleted, zeroed and
  stale ones in-process);
- full, then read-only data directory (an ext4 image on a loop device: a real ENOSPC, a
  real emergency read-only remount) → RESOURCE_EXHAUSTED / UNAVAILABLE naming the directory,
  reads and health unaffected, recovery once space is freed / the file system is repaired.

A product is acknowledged when its UpsertProducts stream's answer says OK for it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.rpc import code_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.tools import fashion_mnist
from server.tools.child import spawn_gateway, wait_serving
from server.triton.runtime import free_port
from tests.gateway_helpers import all_ids_blocking, catalog_dir, fmnist_product, requests

pytestmark = [pytest.mark.integration, pytest.mark.faults]

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
CALL_TIMEOUT_S = 30
FAIL_FAST_S = 3.0  # an embedding call while Triton is down fails within this
CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


@dataclass
class Child:
    """One gateway process over a data directory; start() again after a kill or stop."""

    data_dir: Path
    repository: Path
    log: Path
    process: subprocess.Popen | None = None
    address: str = ""
    channel: grpc.Channel | None = None
    stub: pb_grpc.ProductSearchStub | None = None
    health: health_pb2_grpc.HealthStub | None = None
    starts: int = 0

    def start(self) -> None:
        self.address = f"127.0.0.1:{free_port()}"
        self.starts += 1
        with self.log.open("a") as output:
            output.write(f"\n===== start {self.starts} =====\n")
            output.flush()
            self.process = spawn_gateway(
                int(self.address.rsplit(":", 1)[1]),
                self.data_dir,
                self.repository,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_serving(self.address, self.process, timeout_s=180)
        except BaseException:
            self.kill()
            raise
        self.channel = grpc.insecure_channel(self.address)
        self.stub = pb_grpc.ProductSearchStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def health_status(self) -> int:
        return self.health.Check(health_pb2.HealthCheckRequest(), timeout=5).status

    def kill(self) -> None:
        """SIGKILL, as a lost machine: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_channel()

    def stop(self) -> int:
        """SIGTERM and wait for the drain; returns the exit code."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail(f"gateway ignored SIGTERM for 60 s:\n{self.tail()}")
        self._close_channel()
        return self.process.returncode if self.process is not None else 0

    def _close_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def triton_pid(self) -> int:
        """The tritonserver child of this gateway (started from a worker thread)."""
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            for pid in (task / "children").read_text().split():
                if Path(f"/proc/{pid}/comm").read_text().strip() == "tritonserver":
                    return int(pid)
        raise AssertionError("the gateway has no tritonserver child")


@pytest.fixture
def child(tmp_path, model_repository):
    gateway = Child(tmp_path / "data", model_repository, tmp_path / "gateway.log")
    yield gateway
    gateway.kill()


@pytest.fixture(scope="module")
def train():
    return fashion_mnist.load("train")


# -- checks shared by the tests ----------------------------------------------------------------


def assert_catalog_whole(stub, acknowledged: dict[str, pb.Product], sent: dict[str, pb.Product]) -> list[str]:
    """Every acknowledged product present exactly once, as acknowledged; nothing that was never
    sent; every product present (acknowledged or not) found by GetProduct and by its own image
    exactly once; GetStats agrees with ListProducts. Returns the ids present."""
    ids = all_ids_blocking(stub)
    duplicated = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicated, f"ListProducts repeats {duplicated[:5]}"
    lost = sorted(set(acknowledged) - set(ids))
    assert not lost, f"{len(lost)} acknowledged products lost: {lost[:5]}"
    foreign = sorted(set(ids) - set(sent))
    assert not foreign, f"products nobody sent: {foreign[:5]}"
    for product_id in ids:
        product = sent[product_id]
        stored = stub.GetProduct(pb.GetProductRequest(id=product_id), timeout=30).product
        assert (stored.title, stored.category) == (product.title, product.category), product_id
        hits = stub.SearchByImage(
            pb.SearchByImageRequest(image=product.image, options=pb.SearchOptions(top_k=10)), timeout=30
        ).hits
        found = [h.product.id for h in hits].count(product_id)
        assert found == 1, f"{product_id} found {found} times by its own image"
    stats = stub.GetStats(pb.GetStatsRequest(), timeout=30)
    assert stats.product_count == len(ids)
    counts = {index.space: index.count for index in stats.indexes}
    assert counts["image"] == len(ids), counts
    assert counts["title"] == sum(bool(sent[i].title) for i in ids), counts
    return ids


def upsert(
    stub, products: list[pb.Product], acknowledged: dict[str, pb.Product]
) -> pb.UpsertProductsResponse:
    response = stub.UpsertProducts(requests(products), timeout=CALL_TIMEOUT_S)
    by_id = {p.id: p for p in products}
    acknowledged.update((s.id, by_id[s.id]) for s in response.statuses if s.code == code_pb2.OK)
    return response


def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


# -- kill -9 of the gateway --------------------------------------------------------------------


def test_kill_9_while_8_clients_stream_upserts(child, train):
    """Nothing acknowledged is lost, nothing is stored twice, the rebuilt indexes agree."""
    child.start()
    clients, per_stream = 8, 4
    sent: dict[str, pb.Product] = {}
    acknowledged: dict[str, pb.Product] = {}
    lock = threading.Lock()
    stop = threading.Event()
    failures: Counter[str] = Counter()

    def stream(client: int) -> None:
        stub = child.stub
        for start in range(0, 400, per_stream):
            if stop.is_set():
                return
            index = 2000 + client * 400 + start
            products = [
                fmnist_product(train, i, f"k{client}", titled=i % 3 != 0)
                for i in range(index, index + per_stream)
            ]
            with lock:
                sent.update((p.id, p) for p in products)
            try:
                response = stub.UpsertProducts(requests(products), timeout=CALL_TIMEOUT_S)
            except grpc.RpcError as error:  # the kill: nothing of this stream is acknowledged
                with lock:
                    failures[error.code().name] += 1
                return
            with lock:
                for status in response.statuses:
                    if status.code == code_pb2.OK:
                        acknowledged[status.id] = sent[status.id]
                    else:
                        failures[f"status {status.code}"] += 1

    threads = [threading.Thread(target=stream, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while len(acknowledged) < 48 and time.monotonic() < deadline:
        time.sleep(0.05)
    child.kill()  # mid-stream: the clients are still sending
    stop.set()
    for thread in threads:
        thread.join(60)
    assert len(acknowledged) >= 48, f"only {len(acknowledged)} acknowledged before the kill"
    assert set(failures) <= {"UNAVAILABLE", "CANCELLED"}, failures
    assert failures["UNAVAILABLE"] + failures["CANCELLED"] >= 1, "no stream was in flight at the kill"

    child.start()
    ids = assert_catalog_whole(child.stub, acknowledged, sent)
    assert "snapshot at seq" in child.tail() or "rebuilding" in child.tail(), "indexes not rebuilt"
    print(f"acknowledged {len(acknowledged)}, present {len(ids)}, streams cut {dict(failures)}")


# -- SIGKILL of the embedded Triton ------------------------------------------------------------


def test_triton_sigkill_under_load(child, train):
    """Fail fast with UNAVAILABLE, keep serving catalog reads, restart Triton in place."""
    child.start()
    acknowledged: dict[str, pb.Product] = {}
    products = [fmnist_product(train, 3000 + i, "t") for i in range(16)]
    assert upsert(child.stub, products, acknowledged).upserted == 16
    gateway_pid, old_triton = child.process.pid, child.triton_pid()

    calls: list[tuple[str, float, float, str]] = []  # (kind, started, seconds, code)
    lock = threading.Lock()
    stop = threading.Event()
    extra = iter(range(3100, 3400))
    sent = {p.id: p for p in products}

    def one_call(stub, kind: str, product: pb.Product) -> str:
        """The status code name of one call of `kind` (an upsert: of its one product)."""
        try:
            if kind == "image":
                stub.SearchByImage(pb.SearchByImageRequest(image=product.image), timeout=20)
            elif kind == "text":
                stub.SearchByText(pb.SearchByTextRequest(text=product.title), timeout=20)
            elif kind == "get":
                stub.GetProduct(pb.GetProductRequest(id=product.id), timeout=20)
            else:
                return CODE_NAMES[upsert(stub, [product], acknowledged).statuses[0].code]
        except grpc.RpcError as error:
            return error.code().name
        return "OK"

    def load(worker: int) -> None:
        for n in range(10_000):
            if stop.is_set():
                return
            kind = ("image", "text", "upsert", "get")[(worker + n) % 4]
            product = products[(worker + n) % len(products)]
            if kind == "upsert":
                with lock:
                    product = fmnist_product(train, next(extra), "t")
                    sent[product.id] = product
            started = time.monotonic()
            code = one_call(child.stub, kind, product)
            with lock:
                calls.append((kind, started, time.monotonic() - started, code))
            time.sleep(0.02)

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    os.kill(old_triton, signal.SIGKILL)
    killed = time.monotonic()
    health: list[tuple[float, int]] = []
    while time.monotonic() - killed < 120:
        health.append((time.monotonic() - killed, child.health_status()))
        if health[-1][1] == SERVING and any(s == NOT_SERVING for _, s in health):
            break
        time.sleep(0.1)
    recovered = time.monotonic()
    deadline = recovered + 30  # load goes on after the recovery: a dozen calls, however busy the machine
    while time.monotonic() < deadline:
        with lock:
            if sum(c[1] > recovered for c in calls) >= 12:
                break
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(60)

    statuses = [s for _, s in health]
    assert NOT_SERVING in statuses, f"health never NOT_SERVING: {health[:5]}"
    assert statuses[-1] == SERVING, f"health not SERVING again within 120 s:\n{child.tail()}"
    assert child.process.poll() is None and child.process.pid == gateway_pid, "the gateway restarted"
    assert child.triton_pid() != old_triton
    during = [c for c in calls if killed <= c[1] + c[2] and c[1] <= recovered]
    failed = [c for c in during if c[3] != "OK"]
    assert failed, "no call failed while Triton was down"
    assert {c[3] for c in failed} == {"UNAVAILABLE"}, Counter(c[3] for c in failed)
    slow = [c for c in failed if c[2] >= FAIL_FAST_S]
    assert not slow, f"failures slower than {FAIL_FAST_S} s: {slow[:5]}"
    reads = [c for c in during if c[0] == "get"]
    assert reads and all(c[3] == "OK" for c in reads), "catalog reads failed while Triton was down"
    after = [c for c in calls if c[1] > recovered]
    assert after and all(c[3] == "OK" for c in after), Counter(c[3] for c in after)
    assert_catalog_whole(child.stub, acknowledged, sent)
    print(
        f"outage {recovered - killed:.1f} s, {len(failed)} calls failed "
        f"(slowest {max(c[2] for c in failed):.2f} s), {len(reads)} reads OK meanwhile"
    )


def test_a_frozen_triton_is_detected_and_restarted(child, train):
    """SIGSTOP: Triton accepts connections but answers nothing. Within a few probes health
    says NOT_SERVING, calls fail fast (UNAVAILABLE, not at their deadline), and the gateway
    kills the stopped process group and starts a new Triton; searches work again."""
    child.start()
    product = fmnist_product(train, 3500, "frozen")
    assert upsert(child.stub, [product], {}).upserted == 1
    old_triton = child.triton_pid()
    os.kill(old_triton, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        while child.health_status() == SERVING:
            assert time.monotonic() - stopped < 30, (
                f"health still SERVING 30 s after SIGSTOP:\n{child.tail()}"
            )
            time.sleep(0.2)
        detected = time.monotonic() - stopped
        outcomes = []
        while time.monotonic() - stopped < 120:
            started = time.monotonic()
            try:
                child.stub.SearchByText(pb.SearchByTextRequest(text="bag"), timeout=20)
                outcomes.append(("OK", time.monotonic() - started))
                if child.health_status() == SERVING:
                    break
            except grpc.RpcError as error:
                outcomes.append((error.code().name, time.monotonic() - started))
            time.sleep(0.2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(old_triton, signal.SIGCONT)  # in case it was not restarted: let it be stopped
    assert outcomes[-1][0] == "OK", f"no recovery within 120 s: {outcomes[-5:]}\n{child.tail()}"
    assert child.triton_pid() != old_triton and not Path(f"/proc/{old_triton}").exists()
    failed = [o for o in outcomes if o[0] != "OK"]
    assert {code for code, _ in failed} <= {"UNAVAILABLE"}, failed
    assert all(seconds < FAIL_FAST_S for _, seconds in failed), failed
    assert "answered no health probe" in child.tail(20_000)
    assert detected < 10, f"NOT_SERVING only after {detected:.1f} s"
    print(f"NOT_SERVING after {detected:.1f} s, served again after {time.monotonic() - stopped:.1f} s")


# -- damaged index snapshots -------------------------------------------------------------------


def truncate_data(folder: Path) -> str:
    """Cut the biggest snapshot file in half, as a torn write would."""
    data = max((p for p in folder.iterdir() if p.suffix != ".json"), key=lambda p: p.stat().st_size)
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    return f"{data.name} truncated"


def garbage_manifest(folder: Path) -> str:
    (folder / f"{folder.name}.json").write_bytes(os.urandom(512))
    return "manifest garbage"


def remove_folder(folder: Path) -> str:
    shutil.rmtree(folder)
    return "folder missing"


def other_space(folder: Path, donor: Path) -> str:
    """The snapshot files of another space under this one's manifest name."""
    for path in folder.iterdir():
        path.unlink()
    for path in donor.iterdir():
        target = folder / (f"{folder.name}.json" if path.name == f"{donor.name}.json" else path.name)
        shutil.copy(path, target)
    return f"{donor.name}'s snapshot"


def test_damaged_snapshots_are_rebuilt_from_the_catalog(child, train):
    child.start()
    acknowledged: dict[str, pb.Product] = {}
    products = [fmnist_product(train, 4000 + i, "s", titled=i % 4 != 0) for i in range(40)]
    assert upsert(child.stub, products, acknowledged).upserted == 40
    before = {i.space: i.count for i in child.stub.GetStats(pb.GetStatsRequest()).indexes}
    assert child.stop() == 0, child.tail()

    folders = sorted(p for p in (catalog_dir(child.data_dir) / "indexes").iterdir() if p.is_dir())
    assert {"image", "title"} <= {f.name for f in folders}
    donor = child.data_dir.parent / "donor" / folders[0].name
    shutil.copytree(folders[0], donor)  # taken before any damage
    damages = [truncate_data, garbage_manifest, remove_folder]
    done = {}
    for n, folder in enumerate(folders[:-1]):
        done[folder.name] = damages[n % len(damages)](folder)
    done[folders[-1].name] = other_space(folders[-1], donor)

    child.start()
    log = child.tail(20_000).split("===== start 2 =====")[-1]
    for name in done:
        assert f"{name} index: rebuilt" in log, f"{name} ({done[name]}) not rebuilt:\n{log[-3000:]}"
    after = {i.space: i.count for i in child.stub.GetStats(pb.GetStatsRequest()).indexes}
    assert after == before, (done, before, after)
    assert_catalog_whole(child.stub, acknowledged, {p.id: p for p in products})
    hits = child.stub.SearchByText(pb.SearchByTextRequest(text=products[1].title)).hits
    assert hits and all(h.product.title for h in hits[:3])
    for folder in folders:  # the rebuilt snapshots were saved: the next start loads them
        assert (folder / f"{folder.name}.json").is_file(), folder
    print(done)


# -- full and read-only data directory ---------------------------------------------------------


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=False)


@pytest.fixture
def ext4(tmp_path):
    """A 64 MiB ext4 file system on a loop device, mounted errors=remount-ro: (mount point,
    loop device name). Needs root and loop devices (CAP_SYS_ADMIN)."""
    image, mount = tmp_path / "disk.img", tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or not shutil.which("mkfs.ext4"):
        pytest.skip("needs root and mkfs.ext4 to make a real full / read-only file system")
    with image.open("wb") as f:
        f.truncate(64 << 20)
    made = run("mkfs.ext4", "-q", "-F", str(image))
    assert made.returncode == 0, made.stderr
    mounted = run("mount", "-o", "loop,errors=remount-ro", str(image), str(mount))
    if mounted.returncode != 0:
        pytest.skip(f"cannot loop-mount an ext4 image here: {mounted.stderr.strip()}")
    device = Path(run("findmnt", "-n", "-o", "SOURCE", str(mount)).stdout.strip()).name
    yield image, mount, device
    if run("umount", str(mount)).returncode != 0:
        run("umount", "-l", str(mount))


def fill(folder: Path) -> Path:
    """Write a ballast file until the file system says ENOSPC."""
    ballast = folder / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, bytes(size))
            except OSError as error:
                assert error.errno == 28, error  # ENOSPC
        os.fsync(fd)
    finally:
        os.close(fd)
    return ballast


def test_full_then_read_only_data_directory(child, train, ext4):
    image, mount, device = ext4
    child.data_dir = mount / "data"
    child.start()
    acknowledged: dict[str, pb.Product] = {}
    products = [fmnist_product(train, 5000 + i, "d") for i in range(40)]
    sent = {p.id: p for p in products}
    assert upsert(child.stub, products[:16], acknowledged).upserted == 16
    data_dir = str(child.data_dir)

    # Full: writes answer RESOURCE_EXHAUSTED naming the directory; reads and health go on.
    ballast = fill(mount)
    error = rpc_error(lambda: upsert(child.stub, products[16:24], acknowledged))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (error.code(), error.details())
    assert data_dir in error.details() and "full" in error.details(), error.details()
    error = rpc_error(lambda: child.stub.DeleteProducts(pb.DeleteProductsRequest(ids=[products[0].id])))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (error.code(), error.details())
    assert child.health_status() == SERVING
    assert_catalog_whole(child.stub, acknowledged, sent)
    # Space freed: the same gateway takes writes again.
    ballast.unlink()
    assert upsert(child.stub, products[16:24], acknowledged).upserted == 8

    # Read-only (ext4 remounts itself read-only after an error): UNAVAILABLE, reads go on.
    Path(f"/sys/fs/ext4/{device}/trigger_fs_error").write_text("fault test\n")
    with pytest.raises(OSError, match="Read-only file system"):
        (mount / "probe").write_bytes(b"x")
    error = rpc_error(lambda: upsert(child.stub, products[24:32], acknowledged))
    assert error.code() == grpc.StatusCode.UNAVAILABLE, (error.code(), error.details())
    assert data_dir in error.details() and "read-only" in error.details(), error.details()
    assert child.health_status() == SERVING
    assert_catalog_whole(child.stub, acknowledged, sent)
    assert child.stop() == 0, f"unclean exit on a read-only data directory:\n{child.tail()}"
    assert "Traceback" not in child.tail(20_000), child.tail()

    # Repaired, but mounted read-only: the gateway refuses to start, naming the directory.
    assert run("umount", str(mount)).returncode == 0
    checked = run("e2fsck", "-f", "-y", str(image))
    assert checked.returncode in (0, 1), checked.stdout + checked.stderr  # 1: errors corrected
    mounted = run("mount", "-o", "loop,ro", str(image), str(mount))
    assert mounted.returncode == 0, mounted.stderr
    with pytest.raises(RuntimeError, match="exited"):
        child.start()
    # The message names the folder that refused (a catalog's, inside the data directory).
    refused = f"data directory {re.escape(data_dir)}(/catalogs/[0-9a-f]+)? is read-only"
    assert re.search(refused, child.tail()), child.tail()

    # Writable again: every acknowledged product, none of the refused ones.
    assert run("umount", str(mount)).returncode == 0
    assert run("mount", "-o", "loop,errors=remount-ro", str(image), str(mount)).returncode == 0
    with sqlite3.connect(catalog_dir(child.data_dir) / "catalog.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    child.start()
    ids = assert_catalog_whole(child.stub, acknowledged, sent)
    assert set(ids) == set(acknowledged), sorted(set(ids) ^ set(acknowledged))[:5]
    assert upsert(child.stub, products[24:32], acknowledged).upserted == 8
