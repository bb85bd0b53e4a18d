"""What every benchmark records about the machine it ran on."""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_model() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def described(**extra) -> dict:
    """The machine as a result JSON records it: processor, cores, memory (GB), Python, and ``extra``."""
    import os

    import psutil

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), **extra}


#: What a benchmark says of the load averages it records (and no more: it cannot tell whose work ran).
LOAD_NOTE = ("the 1/5/15-minute load averages at the start and the end are recorded; the benchmark's own "
             "processes count in them, and whether other work shared the machine is said where the figures are quoted")
