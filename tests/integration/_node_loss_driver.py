"""Run by test_node_loss.py in a fresh process: inference on a two-node loopback Ray cluster whose
worker node is killed mid-run. Prints one JSON line with the report and what the stores hold."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

from deepbehavior.models.yolo import YoloPredictor


class SlowYolo(YoloPredictor):
    """A YOLO predictor taking ``delay`` seconds more per batch, so the run lasts past the kill.
    (Loaded by Ray workers as ``_node_loss_driver:SlowYolo``: this folder is on their PYTHONPATH.)"""

    def __init__(self, *, delay: float, **kwargs):
        super().__init__(**kwargs)
        self.delay = delay

    def __call__(self, batch):
        time.sleep(self.delay)
        return super().__call__(batch)


def random_yolo(path: Path) -> Path:
    import torch
    from ultralytics import YOLO

    torch.manual_seed(0)
    model = YOLO("yolo11n.yaml")
    model.save(path)
    return path


def main(folder: Path) -> None:
    from ray.cluster_utils import Cluster

    from deepbehavior import store, synthetic
    from deepbehavior.cohort import Cohort, Session
    from deepbehavior.runtime.environment import offline_ultralytics
    from deepbehavior.runtime.inference import infer_cohort

    offline_ultralytics()
    frames = 160
    videos = [synthetic.render_session(folder / f"v{i}.mp4", frames=frames, width=128, height=96, seed=i,
                                       noise=0).video for i in range(2)]
    weights = random_yolo(folder / "random.pt")
    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False}
    cluster = Cluster(initialize_head=True, connect=True, head_node_args=node)
    worker = cluster.add_node(**node)
    cluster.wait_for_nodes()
    import ray

    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    cohort = Cohort("t", ("top",), tuple(Session(f"m{i}", "g", "d1", {"top": v}) for i, v in enumerate(videos)))
    started = threading.Event()
    lines: list[str] = []

    def printer(line: str) -> None:
        lines.append(line)
        if "frames," in line and not line.startswith("[infer] 0/"):
            started.set()

    def kill_worker_node() -> None:
        started.wait(timeout=300)
        time.sleep(1.0)
        cluster.remove_node(worker, allow_graceful=False)
        lines.append("<killed the worker node>")

    killer = threading.Thread(target=kill_worker_node, daemon=True)
    killer.start()
    kwargs = {"weights": str(weights), "imgsz": 96, "conf": 0.0, "max_individuals": 1, "threads": 1,
              "delay": 0.3}
    report = infer_cohort(cohort, folder / "out", backend="_node_loss_driver:SlowYolo",
                          backend_kwargs=kwargs, chunk=40, frames_per_batch=8, retries=2, printer=printer,
                          progress_every=0)
    killer.join(timeout=5)
    complete = {}
    finite = {}
    for session in cohort.sessions:
        path = folder / "out" / "stores" / f"{session.key}.zarr"
        complete[session.key] = store.is_complete(path)
        finite[session.key] = int(np.isfinite(store.open_store(path)["confidence"].values).reshape(frames, -1)
                                  .any(axis=1).sum())
    print(json.dumps({"frames": report.frames, "shards_done": report.shards_done, "failures": report.failures,
                      "complete": complete, "finite_frames": finite, "killed": "<killed the worker node>" in lines,
                      "lines": [l for l in lines if "incomplete" in l or "killed" in l]}))
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
