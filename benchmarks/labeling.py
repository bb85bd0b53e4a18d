"""Labelling throughput on this machine: frame selection, saving labels over HTTP, export.

Writes ``benchmarks/results/labeling.json``: seconds to pick and extract frames (uniform and
k-means) from the DeepLabCut open-field video, label saves per second through the server (each
one an atomic file replace), and seconds to import the 116-image DLC labels and export them as YOLO.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

import psutil

from deepbehavior.labeling.formats import export_labels, import_labels
from deepbehavior.labeling.project import Project
from deepbehavior.labeling.selection import extract_frames, select
from deepbehavior.labeling.server import make_server

DATA = Path(os.environ.get("DEEPBEHAVIOR_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
OUT = Path(__file__).resolve().parent / "results" / "labeling.json"


def machine() -> dict:
    return {"cpu": platform.processor() or platform.machine(), "cores": psutil.cpu_count(),
            "ram_gb": round(psutil.virtual_memory().total / 2**30, 1), "python": platform.python_version()}


def main() -> None:
    video = DATA / "dlc-openfield" / "videos" / "m3v1mp4.mp4"
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for method, n, candidates in (("uniform", 20, 0), ("kmeans", 20, 200)):
            project = Project.create(tmp / method)
            start = time.perf_counter()
            picks = select([video], n, method=method, candidates=max(candidates, n))
            extract_frames([video], picks, project)
            results[f"select_{method}_{n}_frames_s"] = round(time.perf_counter() - start, 2)
        results["kmeans_candidates"] = 200
        project = Project(tmp / "uniform")
        server = make_server(project, port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
        name = project.images()[0]
        saves, revision = 200, 0
        start = time.perf_counter()
        for i in range(saves):
            body = json.dumps({"revision": revision, "instances": [{"class": 0, "box": [i, i, i + 10, i + 10]}]})
            conn.request("PUT", f"/api/labels/{name}", body=body, headers={"Content-Type": "application/json"})
            revision = json.loads(conn.getresponse().read())["revision"]
        elapsed = time.perf_counter() - start
        server.shutdown()
        results["label_saves_per_s"] = round(saves / elapsed, 1)
        results["label_save_ms"] = round(1000 * elapsed / saves, 2)
        start = time.perf_counter()
        dlc, _ = import_labels(DATA / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv",
                               tmp / "dlc", format="dlc")
        results["import_dlc_116_images_s"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        export_labels(dlc, tmp / "yolo", format="yolo")
        results["export_yolo_116_images_s"] = round(time.perf_counter() - start, 2)
    results["machine"] = machine()
    results["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
