"""What machine a benchmark ran on, for the tables' "machine" line."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def describe_machine() -> str:
    """CPU model and core count, and whether a GPU is visible."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    gpu = "NVIDIA GPU" if Path("/dev/nvidiactl").exists() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}" if cpu else platform.platform()
