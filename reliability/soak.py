"""Soak: mixed read/write load through a real gateway (a `productsearch serve` child with its
embedded Triton) for `--minutes`, sampling the resident memory of the gateway and of Triton
(tritonserver and its python-backend stubs, where the models run) every 10 s and counting
calls and errors per minute; at the end every acknowledged product must still be there.

    python -m reliability.soak --minutes 10 --output reliability/SOAK.md     (make soak)

Writes replace and delete products within a fixed pool of ids, so the catalog stays about
the same size and memory that keeps growing is a leak, not data.
"""

from __future__ import annotations

import argparse
import datetime
import random
import subprocess
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
from google.rpc import code_pb2

from bench.machine import describe_machine
from productsearch.v1 import product_search_pb2 as pb
from productsearch.v1 import product_search_pb2_grpc as pb_grpc
from server.tools import fashion_mnist
from server.tools.child import spawn_gateway, wait_serving
from server.triton.runtime import free_port
from tests.gateway_helpers import fmnist_product

SAMPLE_EVERY_S = 10
CALL_TIMEOUT_S = 30
# Share of calls by kind (a write is one UpsertProducts stream of WRITE_BATCH products).
MIX = {
    "search_image": 35,
    "search_text": 20,
    "search_similar": 15,
    "get": 8,
    "list": 5,
    "upsert": 14,
    "delete": 3,
}
WRITE_BATCH = 4
KEYWORDS = ["T-shirt/top", "Trouser", "Dress", "Sneaker", "Bag", "Ankle boot", "运动鞋", "连衣裙", "包"]


@dataclass
class Ledger:
    """What the gateway acknowledged: id → product for those it stored, ids it deleted."""

    products: dict[str, pb.Product] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Ids a write is in flight for: one write per id at a time, so the ledger's order of
    # acknowledgements is the gateway's order of commits.
    busy: set[str] = field(default_factory=set)

    def claim(self, pool: list[pb.Product], count: int, rng: random.Random) -> list[pb.Product]:
        with self.lock:
            products = rng.sample([p for p in pool if p.id not in self.busy], count)
            self.busy.update(p.id for p in products)
        return products

    def release(self, products: list[pb.Product]) -> None:
        with self.lock:
            self.busy.difference_update(p.id for p in products)

    def unknown(self, product_id: str) -> None:
        """A write whose outcome the caller never learnt: neither promised nor refused."""
        with self.lock:
            self.products.pop(product_id, None)
            self.deleted.discard(product_id)

    def stored(self, products: list[pb.Product], statuses) -> None:
        by_id = {p.id: p for p in products}
        with self.lock:
            for status in statuses:
                if status.code == code_pb2.OK:
                    self.products[status.id] = by_id[status.id]
                    self.deleted.discard(status.id)

    def removed(self, product_id: str) -> None:
        with self.lock:
            self.products.pop(product_id, None)
            self.deleted.add(product_id)


@dataclass
class Minute:
    calls: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # "kind CODE" → count
    latencies_ms: list[float] = field(default_factory=list)
    rss_mib: list[tuple[float, float]] = field(default_factory=list)  # (gateway, triton)


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def triton_pids(gateway_pid: int) -> list[int]:
    """tritonserver under the gateway and everything under it (the model stubs)."""
    pids, todo = [], [c for c in children(gateway_pid) if comm(c) == "tritonserver"]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo += children(pid)
    return pids


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class Soak:
    def __init__(self, stub: pb_grpc.ProductSearchStub, pool: list[pb.Product], seed: int) -> None:
        self.stub = stub
        self.pool = pool
        self.ledger = Ledger()
        self.rng = random.Random(seed)
        self.minutes: dict[int, Minute] = defaultdict(Minute)
        self.started = time.monotonic()
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def minute(self) -> int:
        return int((time.monotonic() - self.started) // 60)

    def preload(self, count: int) -> None:
        for start in range(0, count, 32):
            products = self.pool[start : min(start + 32, count)]
            response = self.stub.UpsertProducts(iter_requests(products), timeout=120)
            self.ledger.stored(products, response.statuses)

    def worker(self, seed: int) -> None:
        rng = random.Random(seed)
        kinds, weights = zip(*MIX.items(), strict=True)
        while not self.stop.is_set():
            kind = rng.choices(kinds, weights)[0]
            started = time.monotonic()
            code = self.call(kind, rng)
            elapsed_ms = (time.monotonic() - started) * 1000
            with self.lock:
                minute = self.minutes[self.minute()]
                minute.calls[kind] += 1
                minute.latencies_ms.append(elapsed_ms)
                if code != "OK":
                    minute.errors[f"{kind} {code}"] += 1

    def call(self, kind: str, rng: random.Random) -> str:
        """One call; its status code name ("OK" or the first failed product's code)."""
        product = rng.choice(self.pool)
        try:
            if kind == "search_image":
                self.stub.SearchByImage(pb.SearchByImageRequest(image=product.image), timeout=CALL_TIMEOUT_S)
            elif kind == "search_text":
                text = rng.choice(KEYWORDS)
                self.stub.SearchByText(pb.SearchByTextRequest(text=text), timeout=CALL_TIMEOUT_S)
            elif kind in ("search_similar", "get"):
                with self.ledger.lock:
                    stored = list(self.ledger.products)
                product_id = rng.choice(stored)
                try:
                    if kind == "get":
                        self.stub.GetProduct(pb.GetProductRequest(id=product_id), timeout=CALL_TIMEOUT_S)
                    else:
                        request = pb.SearchSimilarRequest(product_id=product_id)
                        self.stub.SearchSimilar(request, timeout=CALL_TIMEOUT_S)
                except grpc.RpcError as error:
                    # Deleted by another worker in the meantime: the right answer.
                    if error.code() != grpc.StatusCode.NOT_FOUND or product_id in self.ledger.products:
                        raise
            elif kind == "list":
                token = rng.choice(["", product.id])
                self.stub.ListProducts(pb.ListProductsRequest(page_size=50, page_token=token), timeout=30)
            elif kind in ("upsert", "delete"):
                return self.write(kind, rng)
        except grpc.RpcError as error:
            return error.code().name
        return "OK"

    def write(self, kind: str, rng: random.Random) -> str:
        products = self.ledger.claim(self.pool, WRITE_BATCH if kind == "upsert" else 1, rng)
        try:
            if kind == "upsert":
                response = self.stub.UpsertProducts(iter_requests(products), timeout=CALL_TIMEOUT_S)
                self.ledger.stored(products, response.statuses)
                failed = [s.code for s in response.statuses if s.code != code_pb2.OK]
                return code_pb2.Code.Name(failed[0]) if failed else "OK"
            self.stub.DeleteProducts(pb.DeleteProductsRequest(ids=[products[0].id]), timeout=CALL_TIMEOUT_S)
            self.ledger.removed(products[0].id)  # deleted now, or was not there
            return "OK"
        except grpc.RpcError:
            for product in products:
                self.ledger.unknown(product.id)
            raise
        finally:
            self.ledger.release(products)

    def sample(self, gateway_pid: int) -> None:
        while not self.stop.wait(SAMPLE_EVERY_S):
            triton = sum(rss_mib(pid) for pid in triton_pids(gateway_pid))
            with self.lock:
                self.minutes[self.minute()].rss_mib.append((rss_mib(gateway_pid), triton))


def iter_requests(products: list[pb.Product]):
    for product in products:
        yield pb.UpsertProductsRequest(product=product)


def verify(stub: pb_grpc.ProductSearchStub, ledger: Ledger, sample: int, seed: int) -> dict:
    """Every acknowledged product present once, every deleted one absent, GetStats agreeing,
    and a sample found by its own image."""
    ids, token = [], ""
    while True:
        page = stub.ListProducts(pb.ListProductsRequest(page_size=1000, page_token=token), timeout=60)
        ids += [p.id for p in page.products]
        if not (token := page.next_page_token):
            break
    present = set(ids)
    lost = sorted(set(ledger.products) - present)
    resurrected = sorted(ledger.deleted & present)
    stats = stub.GetStats(pb.GetStatsRequest(), timeout=60)
    image_count = next(i.count for i in stats.indexes if i.space == "image")
    rng = random.Random(seed)
    not_found = 0
    for product_id in rng.sample(sorted(ledger.products), min(sample, len(ledger.products))):
        image = ledger.products[product_id].image
        hits = stub.SearchByImage(
            pb.SearchByImageRequest(image=image, options=pb.SearchOptions(top_k=10)), timeout=60
        ).hits
        not_found += [h.product.id for h in hits].count(product_id) != 1
    return {
        "acknowledged": len(ledger.products),
        "present": len(present),
        "duplicates": len(ids) - len(present),
        "lost": len(lost),
        "lost_ids": lost[:10],
        "deleted_but_present": len(resurrected),
        "stats_agree": stats.product_count == len(present) == image_count,
        "image_checked": min(sample, len(ledger.products)),
        "image_not_found_once": not_found,
    }


def render(soak: Soak, args: argparse.Namespace, context: dict, result: dict) -> str:
    whole = max(1, round(args.minutes))  # calls that ended a moment after the last minute: left out
    minutes = [soak.minutes[m] for m in sorted(soak.minutes) if m < whole and soak.minutes[m].calls]
    lines = [
        "# Soak: mixed load through the real gateway",
        "",
        f"- command: `python -m reliability.soak --minutes {args.minutes:g} --workers {args.workers}"
        f" --catalog {args.catalog} --pool {args.pool}` (`make soak`)",
        f"- machine: {context['machine']}; gateway, embedded Triton and the load share it",
        f"- date: {context['date']}; load average before: {context['load_before']}, after: "
        f"{context['load_after']}",
        f"- load: {args.workers} closed-loop workers (one call in flight each) for {args.minutes:g} min; mix "
        + ", ".join(f"{k} {v} %" for k, v in MIX.items())
        + f"; a write is one UpsertProducts stream of {WRITE_BATCH} products from a pool of {args.pool} "
        f"Fashion-MNIST products ({args.catalog} stored first), so the catalog stays about the same size",
        f"- memory: VmRSS every {SAMPLE_EVERY_S} s (per minute: the highest sample) of the gateway process "
        "and of Triton (tritonserver plus its python-backend stubs, which run the models), in MiB",
        "",
        "| minute | calls | calls/s | errors | error % | p50 ms | p99 ms | gateway MiB | Triton MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for number, minute in enumerate(minutes, 1):
        calls, errors = sum(minute.calls.values()), sum(minute.errors.values())
        latencies = np.array(minute.latencies_ms)
        gateway = max((g for g, _ in minute.rss_mib), default=0)
        triton = max((t for _, t in minute.rss_mib), default=0)
        lines.append(
            f"| {number} | {calls} | {calls / 60:.1f} | {errors} | {100 * errors / max(calls, 1):.2f} "
            f"| {np.percentile(latencies, 50):.0f} | {np.percentile(latencies, 99):.0f} "
            f"| {gateway:.0f} | {triton:.0f} |"
        )
    errors = Counter()
    for minute in minutes:
        errors.update(minute.errors)
    samples = [s for minute in minutes for s in minute.rss_mib]
    lines += ["", "## Verdict", ""]
    lines += verdict(minutes, samples, result)
    lines += [
        "",
        "## End check",
        "",
        f"- acknowledged and not deleted: {result['acknowledged']}; present: {result['present']}; "
        f"duplicates in ListProducts: {result['duplicates']}",
        f"- **products lost: {result['lost']}**" + (f" ({result['lost_ids']})" if result["lost"] else ""),
        f"- deleted (acknowledged) but present: {result['deleted_but_present']}",
        f"- GetStats product count = ListProducts = image index count: {result['stats_agree']}",
        f"- SearchByImage with their own image, {result['image_checked']} sampled products: "
        f"{result['image_not_found_once']} not found exactly once",
        "",
        "## Errors by call and code",
        "",
        "none" if not errors else "\n".join(f"- {key}: {n}" for key, n in errors.most_common()),
        "",
        f"## RSS samples (MiB, every {SAMPLE_EVERY_S} s): gateway / Triton",
        "",
        " · ".join(f"{g:.0f}/{t:.0f}" for g, t in samples),
        "",
    ]
    return "\n".join(lines)


def verdict(minutes: list[Minute], samples: list[tuple[float, float]], result: dict) -> list[str]:
    """Memory bounded: the last minute's peak within 10 % (or 50 MiB) of the peak after the
    first two minutes of warm-up. No error creep: the last half's error rate no higher than
    the first half's plus 0.5 points."""
    lines = []
    warm = [s for minute in minutes[1:2] for s in minute.rss_mib] or samples[:6]
    last = minutes[-1].rss_mib or samples[-3:]
    for name, part in (("gateway", 0), ("Triton", 1)):
        reference = max(s[part] for s in warm)
        end = max(s[part] for s in last)
        peak = max(s[part] for s in samples)
        bounded = end <= max(reference * 1.10, reference + 50)
        lines.append(
            f"- {name} RSS: {reference:.0f} MiB after minute 2, {end:.0f} MiB in the last minute, "
            f"peak {peak:.0f} MiB: **{'bounded' if bounded else 'GROWING'}**"
        )
    half = len(minutes) // 2
    rates = []
    for part in (minutes[:half], minutes[half:]):
        calls = sum(sum(m.calls.values()) for m in part)
        rates.append(100 * sum(sum(m.errors.values()) for m in part) / max(calls, 1))
    creep = rates[1] > rates[0] + 0.5
    lines.append(
        f"- error rate: {rates[0]:.2f} % in the first half, {rates[1]:.2f} % in the second: "
        f"**{'CREEPING' if creep else 'no creep'}**"
    )
    lines.append(f"- products lost: **{result['lost']}**")
    return lines


def uptime() -> str:
    return ", ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--catalog", type=int, default=400, help="products stored before the load")
    parser.add_argument("--pool", type=int, default=600, help="ids the writes replace and delete within")
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--output", type=Path, default=Path("reliability/SOAK.md"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train = fashion_mnist.load("train")
    indices = fashion_mnist.stratified(train, args.pool // 10 + 1, args.seed)[: args.pool]
    pool = [fmnist_product(train, int(i), "soak", titled=n % 4 != 0) for n, i in enumerate(indices)]
    context = {
        "machine": describe_machine(),
        "date": datetime.date.today().isoformat(),
        "load_before": uptime(),
    }
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        port = free_port()
        address = f"127.0.0.1:{port}"
        log = Path(folder) / "gateway.log"
        with log.open("w") as output:
            process = spawn_gateway(
                port, Path(folder) / "data", args.repository, stdout=output, stderr=output
            )
        try:
            wait_serving(address, process)
            with grpc.insecure_channel(address) as channel:
                soak = Soak(pb_grpc.ProductSearchStub(channel), pool, args.seed)
                soak.preload(args.catalog)
                soak.started = time.monotonic()
                threads = [
                    threading.Thread(target=soak.worker, args=(args.seed + w,)) for w in range(args.workers)
                ]
                threads.append(threading.Thread(target=soak.sample, args=(process.pid,)))
                for thread in threads:
                    thread.start()
                time.sleep(args.minutes * 60)
                soak.stop.set()
                for thread in threads:
                    thread.join()
                if process.poll() is not None:
                    raise SystemExit(f"the gateway died during the soak:\n{log.read_text()[-4000:]}")
                result = verify(soak.stub, soak.ledger, sample=100, seed=args.seed)
        finally:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
    context["load_after"] = uptime()
    report = render(soak, args, context, result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
