"""The evaluation harness runs end to end on a small split (figures: sanity only)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.harness import average_precision_at_k

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_average_precision_at_k():
    assert average_precision_at_k([True] * 10) == 1.0
    assert average_precision_at_k([False] * 10) == 0.0
    assert average_precision_at_k([True, False] + [False] * 8) == pytest.approx(0.1)
    assert average_precision_at_k([False, True] + [False] * 8) == pytest.approx(0.05)


def test_harness_on_a_small_split(tmp_path, model_repository):
    report = tmp_path / "REPORT.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "evaluation.harness",
            "--repository",
            str(model_repository),
            "--catalog",
            "100",
            "--queries",
            "20",
            "--duplicates",
            "10",
            "--output",
            str(report),
            "--sheets",
            str(tmp_path / "sheets"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = report.read_text()
    overall = next(line for line in text.splitlines() if line.startswith("| **all**"))
    precision = float(overall.split("|")[2].strip(" *"))
    assert 0.3 < precision <= 1.0  # far above chance (0.1) even on 100 products
    assert "| 0.997 (default) |" in text and "SearchByImage" in text and "FindDuplicates" in text
    assert len(list((tmp_path / "sheets").glob("image-*.png"))) == 10
