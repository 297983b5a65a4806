"""What a deleted product may have left in a data directory: its bytes (markers, images),
and copies of its vectors stored as float32 anywhere in any file, at any alignment, even
renormalised (as the indexes store them)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file() and not p.is_symlink())


def found_bytes(root: Path, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """Which needles occur in which files under `root` (name → relative paths)."""
    found: dict[str, list[str]] = {}
    for path in files_under(root):
        blob = path.read_bytes()
        for name, needle in needles.items():
            if needle in blob:
                found.setdefault(name, []).append(str(path.relative_to(root)))
    return found


def windows(data: bytes, size: int = 48, count: int = 8) -> list[bytes]:
    """`count` slices of `size` bytes spread over `data`: remnants of a part of it show too
    (a vector that SQLite split over two overflow pages, say). Slices that are mostly zeros
    are left out: zeroed space would match them."""
    step = max(1, (len(data) - size) // max(count - 1, 1))
    slices = [data[i : i + size] for i in range(0, max(len(data) - size, 0) + 1, step)][:count]
    return [s for s in slices if s.count(0) < len(s) // 4]


def best_cosine(blob: bytes, vector: np.ndarray) -> float:
    """The highest cosine between `vector` and any run of float32 values in `blob` whose
    largest component matches (to 0.1 %), at each of the four byte alignments."""
    vector = np.asarray(vector, dtype=np.float64)
    dim = len(vector)
    anchor = int(np.argmax(np.abs(vector)))
    target = vector[anchor]
    best = 0.0
    for shift in range(4):
        usable = (len(blob) - shift) // 4 * 4
        if usable < dim * 4:
            continue
        values = np.frombuffer(blob, dtype="<f4", count=usable // 4, offset=shift)
        with np.errstate(invalid="ignore"):
            hits = np.flatnonzero(np.abs(values - target) <= abs(target) * 1e-3)
        for hit in hits:
            start = hit - anchor
            if start < 0 or start + dim > len(values):
                continue
            with np.errstate(all="ignore"):
                window = values[start : start + dim].astype(np.float64)
            if not np.isfinite(window).all():
                continue
            norm = np.linalg.norm(window)
            if norm:
                best = max(best, float(window @ vector / (norm * np.linalg.norm(vector))))
    return best


def vector_copies(root: Path, vectors: dict[str, np.ndarray], threshold: float = 0.99) -> dict[str, list]:
    """Files under `root` holding a copy of a vector (cosine ≥ threshold): name → [(file, cosine)]."""
    found: dict[str, list] = {}
    for path in files_under(root):
        blob = path.read_bytes()
        for name, vector in vectors.items():
            score = best_cosine(blob, vector)
            if score >= threshold:
                found.setdefault(name, []).append((str(path.relative_to(root)), round(score, 4)))
    return found


def modes_not_private(root: Path) -> list[str]:
    """Files not 0600 and folders not 0700 under `root` (and `root`)."""
    wrong = []
    for path in [Path(root), *Path(root).rglob("*")]:
        status = os.lstat(path)
        if stat.S_ISLNK(status.st_mode):
            continue
        want = 0o700 if stat.S_ISDIR(status.st_mode) else 0o600
        if stat.S_IMODE(status.st_mode) != want:
            wrong.append(
                f"{path.relative_to(root) if path != Path(root) else '.'} {oct(stat.S_IMODE(status.st_mode))}"
            )
    return wrong
