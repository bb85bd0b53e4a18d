"""Throughput of the cohort analysis: the locomotion, regions and social measures over a synthetic
cohort of two-mouse sessions stored in Zarr, with the local Dask scheduler (threads).

Writes ``benchmarks/results/analyze.json`` with ``sessions``, ``frames_per_session``,
``sessions_per_s``, ``frames_per_s`` (session frames measured per second, all three families),
``peak_rss_mb``, ``machine`` and ``date``. Run: ``python benchmarks/analyze.py``.
"""

from __future__ import annotations

import datetime
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import yaml

from deepbehavior.analysis.measure_settings import MeasureSettings
from deepbehavior.analysis.cohort import analyze_cohort
from deepbehavior.cohort import load_cohort
from deepbehavior.config import RegionsConfig, SocialConfig
from deepbehavior.schema import make_poses
from deepbehavior.store import create_store, regions, write_atomic, write_region

SESSIONS = 6
FRAMES = 54_000  # 30 minutes at 30 fps
FPS = 30.0


from _machine import cpu_model as _cpu_model  # noqa: E402


def _session(seed: int):
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, 2.0, size=(FRAMES, 2, 2))
    centres = np.clip(np.cumsum(steps, axis=0) + [320, 240], 0, [640, 480])
    position = np.stack([centres + [5, 0], centres, centres - [5, 0]], axis=2)  # nose, body, tail
    return make_poses(position, fps=FPS, keypoints=["nose", "body", "tail"], individuals=["a", "b"])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        entries = []
        for i in range(SESSIONS):
            ds = _session(i)
            path = root / "stores" / f"m{i:02d}_d1.zarr"
            create_store(path, ds, chunk=10_000)
            for region in regions(path):
                write_region(path, ds.isel(time=slice(region.start, region.stop)), region)
            entries.append({"subject": f"m{i:02d}", "group": "g" + str(i % 2), "session": "d1",
                            "videos": {"view0": "none.mp4"}})
        (root / "cohort.yaml").write_text(yaml.safe_dump({"sessions": entries}))
        cohort = load_cohort(root / "cohort.yaml", check_files=False)
        settings = MeasureSettings(
            measures=("locomotion", "regions", "social"),
            regions=RegionsConfig(regions={"left": [0, 0, 213, 480], "centre": [213, 0, 426, 480],
                                           "right": [426, 0, 640, 480]}, keypoint="body"),
            social=SocialConfig(threshold=40.0, min_duration_s=0.5, centre="body"))
        start = time.perf_counter()
        table = analyze_cohort(cohort, root / "stores", settings, workers=psutil.cpu_count())
        seconds = time.perf_counter() - start
    out = {
        "sessions": SESSIONS,
        "frames_per_session": FRAMES,
        "rows": len(table),
        "seconds": seconds,
        "sessions_per_s": SESSIONS / seconds,
        "frames_per_s": SESSIONS * FRAMES / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "machine": {"cpu": _cpu_model(), "cores": psutil.cpu_count(),
                    "ram_gb": round(psutil.virtual_memory().total / 2**30, 1), "python": platform.python_version()},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path = Path(__file__).resolve().parent / "results" / "analyze.json"
    write_atomic(path, json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
