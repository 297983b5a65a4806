"""The `productsearch` CLI end to end: `serve` with the embedded Triton (the default),
`index`, `search` with a contact sheet, `stats`, `delete`, Saleor's colour photos into a
second catalog, then a clean SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from server.tools import fashion_mnist, saleor
from server.tools.child import spawn_gateway, wait_serving
from server.triton.runtime import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server.tools.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_cli_end_to_end(tmp_path, model_repository):
    port = free_port()
    address = f"127.0.0.1:{port}"
    server = spawn_gateway(
        port,
        tmp_path / "data",
        model_repository,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_serving(address, server, timeout_s=180)
        triton_pids = children(server.pid)
        assert triton_pids, "no embedded Triton child"

        indexed = cli("index", "--server", address, "--fashion-mnist", "--limit", "100")
        assert indexed.returncode == 0, indexed.stderr
        assert "done; 0 failed" in indexed.stdout

        sheet = tmp_path / "hits.png"
        found = cli("search", "--server", address, "--text", "运动鞋", "--contact-sheet", str(sheet))
        assert found.returncode == 0, found.stderr
        first_hit = next(line for line in found.stdout.splitlines() if line.strip().startswith("1 "))
        assert "Sneaker" in first_hit
        assert Image.open(sheet).size[0] == 5 * 160

        # --heat: each hit's ExplainMatch heatmap in place of its thumbnail, tagged "heat"
        query = tmp_path / "query.png"
        Image.fromarray(fashion_mnist.load("test").rgb(0)).save(query)
        plain, heated = tmp_path / "plain.png", tmp_path / "heat.png"
        for path, extra in ((plain, []), (heated, ["--heat"])):
            args = ["--image", str(query), "--top-k", "5", "--contact-sheet", str(path), *extra]
            done = cli("search", "--server", address, *args)
            assert done.returncode == 0, done.stderr
        plain_pixels = np.asarray(Image.open(plain).convert("RGB")).astype(int)
        heat_pixels = np.asarray(Image.open(heated).convert("RGB")).astype(int)
        assert plain_pixels.shape == heat_pixels.shape
        tag = (24 + 9, 160 - 40)  # inside the first tile's tag (below the 24 px title)
        assert heat_pixels[tag].tolist() == [228, 87, 46] and plain_pixels[tag].tolist() != [228, 87, 46]
        first_tile = (slice(28, 180), slice(4, 156))
        assert np.abs(heat_pixels[first_tile] - plain_pixels[first_tile]).mean() > 5
        assert (plain_pixels[first_tile] != 255).any()  # the plain sheet shows the thumbnail
        refused = cli(
            "search", "--server", address, "--similar", "x", "--contact-sheet", str(plain), "--heat"
        )
        assert refused.returncode == 2 and "--heat" in refused.stderr

        stats = cli("stats", "--server", address)
        assert "product_count: 100" in stats.stdout

        product_id = first_hit.split()[2]
        deleted = cli("delete", "--server", address, product_id, "no-such-id")
        assert "deleted 1; not found: no-such-id" in deleted.stdout

        missing = cli("search", "--server", address, "--similar", "no-such-id")
        assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr

        # Saleor's colour photos into a catalog of their own, found again by another photo.
        created = cli("catalogs", "--server", address, "create", "saleor")
        assert created.returncode == 0, created.stderr
        shop = cli("index", "--server", address, "--catalog", "saleor", "--saleor")
        assert shop.returncode == 0, shop.stderr
        assert "done; 0 failed" in shop.stdout
        side_view = tmp_path / "plimsolls-side.png"
        side_view.write_bytes(next(p for p in saleor.load() if p.id == "white-plimsolls").views[0])
        found = cli("search", "--server", address, "--catalog", "saleor", "--image", str(side_view))
        assert found.returncode == 0, found.stderr
        first_hit = next(line for line in found.stdout.splitlines() if line.strip().startswith("1 "))
        assert "saleor-white-plimsolls" in first_hit
        assert "product_count: 35" in cli("stats", "--server", address, "--catalog", "saleor").stdout
        assert "product_count: 99" in cli("stats", "--server", address).stdout  # the default one untouched
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert code == 0, server.stderr.read()
    for pid in triton_pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
