"""The labelling app in a real browser: draw boxes and keypoints by mouse, reload, restart the
server, find every label again, export YOLO and train one epoch on it.

Needs Debian's ``chromium`` (``/usr/bin/chromium``) and the ``playwright`` Python package (no
``playwright install``: the system browser is used); skips with the reason when either is missing.
Screenshots go to ``tests/e2e/artifacts/``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

# Chromium probes IPv6 reachability with a UDP connect that netcheck counts: CI runs this module in
# a network namespace that has nothing but loopback instead (see .ci/run).
pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path(os.environ.get("DEEPBEHAVIOR_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
        # No name lookups at all (Chromium otherwise resolves names and probes IPv6 reachability
        # by "connecting" a UDP socket to a public address): everything it needs is on 127.0.0.1.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--no-pings", "--disable-domain-reliability",
        "--disable-client-side-phishing-detection", "--disable-default-apps", "--disable-extensions",
        "--no-default-browser-check", "--safebrowsing-disable-auto-update",
        "--disable-features=OptimizationHints,MediaRouter,DialMediaRouteProvider,NetworkTimeServiceQuerying,"
        "Translate,AutofillServerCommunication"]



def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(project: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "deepbehavior.cli", "label", f"project={project}", f"port={port}"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/project", timeout=1).read()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"the label server exited: {proc.stdout.read()}")
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the label server did not answer within 60 s")


def _stop(proc: subprocess.Popen) -> None:
    proc.kill()  # as hard as a crash: nothing may depend on a clean shutdown
    proc.wait(timeout=10)


def _get(port: int, path: str) -> dict:
    return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read())


def _make_project(root: Path) -> None:
    from deepbehavior.labeling.project import Project

    project = Project.create(root, classes=["mouse", "paw"], keypoints=["nose", "tail"], skeleton=[[0, 1]])
    rng = np.random.default_rng(0)
    for i in range(4):
        image = np.full((240, 320, 3), 40, np.uint8)
        cv2.ellipse(image, (100 + 30 * i, 120), (50, 25), 10 * i, 0, 360, (200, 200, 200), -1)
        cv2.rectangle(image, (220, 40 + 10 * i), (260, 80 + 10 * i), (60, 160, 230), -1)
        image = cv2.add(image, rng.integers(0, 20, image.shape, dtype=np.uint8))
        project.add_image(name=f"frame{i:02d}.png", image=image)
    project.save_meta()


def _wait_idle(page) -> None:
    page.wait_for_function("window.labelApp && window.labelApp.idle()", timeout=10_000)


def _drag(page, a, b) -> None:
    start = page.evaluate(f"window.labelApp.toPage({a[0]}, {a[1]})")
    end = page.evaluate(f"window.labelApp.toPage({b[0]}, {b[1]})")
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=3)
    page.mouse.move(*end, steps=3)
    page.mouse.up()


def _click(page, p) -> None:
    page.mouse.click(*page.evaluate(f"window.labelApp.toPage({p[0]}, {p[1]})"))


def _open(browser, port: int, image: str):
    page = browser.new_page(viewport={"width": 1100, "height": 700})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://127.0.0.1:{port}/?image={image}")
    page.wait_for_function(f"document.body.dataset.loaded === '{image}'", timeout=15_000)
    return page, errors


def _train_one_epoch(data_yaml: Path, out: Path) -> tuple[str, Path]:
    """One epoch with ``deepbehavior train`` when that job runs here, else with ultralytics directly."""
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    try:
        from deepbehavior.config import TrainConfig
        from jobs.train import TrainJob
        from jobs import train as train_job

        cfg = TrainJob(out=str(out / "train-job"), train=TrainConfig(
            data=str(data_yaml), model="yolo11n-pose.yaml", epochs=1, imgsz=64, batch=4, workers=0,
            device="cpu", augment=False))
        train_job.main.run(cfg)
        weights = out / "train-job" / "weights" / "last.pt"
        if weights.is_file():
            return "deepbehavior train", weights
    except Exception as exc:  # the train job belongs to another area; say so and still check the data
        warnings.warn(f"deepbehavior train failed ({exc!r}); training with ultralytics directly", stacklevel=1)
    from ultralytics import YOLO

    model = YOLO("yolo11n-pose.yaml")
    model.train(data=str(data_yaml), epochs=1, imgsz=64, batch=4, workers=0, device="cpu", plots=False,
                amp=False, project=str(out), name="ultra", exist_ok=True, verbose=False, val=True)
    return "ultralytics", out / "ultra" / "weights" / "last.pt"


def test_label_in_browser_survives_reload_and_restart_then_trains(tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (pip install playwright)")
    ARTIFACTS.mkdir(exist_ok=True)
    project = tmp_path / "project"
    _make_project(project)
    port = _free_port()
    server = _start_server(project, port)
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            page, errors = _open(browser, port, "frame00.png")
            # two boxes of two classes
            page.keyboard.press("1")
            _drag(page, (40, 85), (140, 140))
            page.keyboard.press("Escape")
            page.keyboard.press("2")
            _drag(page, (215, 35), (255, 75))
            _wait_idle(page)
            # move the first box by (+10, +5) by dragging its inside, then undo and redo it
            _drag(page, (90, 110), (100, 115))
            _wait_idle(page)
            page.keyboard.press("Control+z")
            _wait_idle(page)
            assert page.evaluate("window.labelApp.state.label.instances[0].box[0]") == pytest.approx(40, abs=1.5)
            page.keyboard.press("Control+y")
            _wait_idle(page)
            # resize the second box from its bottom-right corner
            _drag(page, (255, 75), (265, 85))
            # one mouse: class 1, nose and tail as keypoints of a new individual
            page.keyboard.press("Escape")
            page.keyboard.press("1")
            page.keyboard.press("n")
            page.keyboard.press("q")
            _click(page, (148, 118))
            _click(page, (55, 122))  # the tail follows the nose without a key
            _wait_idle(page)
            page.screenshot(path=str(ARTIFACTS / "label-boxes-keypoints.png"))
            assert page.locator("#progress").inner_text().startswith("1 / 4 labelled")
            # the next image holds nothing to label: Enter marks it labelled (a true negative)
            page.keyboard.press("ArrowRight")
            page.wait_for_function("document.body.dataset.loaded === 'frame01.png'")
            page.keyboard.press("Enter")
            page.wait_for_function("document.body.dataset.loaded === 'frame02.png'")
            _wait_idle(page)
            page.reload()
            page.wait_for_function("document.body.dataset.loaded === 'frame02.png'")
            assert page.locator("#progress").inner_text().startswith("2 / 4 labelled")
            assert errors == []
            browser.close()
        _stop(server)
        server = _start_server(project, port)
        label = _get(port, "/api/labels/frame00.png")
        assert _get(port, "/api/labels/frame01.png")["status"] == "labelled"
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            page, errors = _open(browser, port, "frame00.png")
            shown = page.evaluate("window.labelApp.state.label.instances.length")
            page.keyboard.press("Escape")
            page.screenshot(path=str(ARTIFACTS / "label-after-restart.png"))
            assert errors == []
            browser.close()
    finally:
        _stop(server)
    assert shown == 3
    instances = label["instances"]
    tol = 1.5  # one screen pixel at the page's zoom, plus rounding of mouse positions
    assert [i["class"] for i in instances] == [0, 1, 0]
    assert instances[0]["box"] == pytest.approx([50, 90, 150, 145], abs=tol)
    assert instances[1]["box"] == pytest.approx([215, 35, 265, 85], abs=tol)
    assert instances[2]["box"] is None
    assert instances[2]["keypoints"][0] == pytest.approx([148, 118], abs=tol)
    assert instances[2]["keypoints"][1] == pytest.approx([55, 122], abs=tol)
    # The README's docs/labeling.png is a copy of this artefact, refreshed by hand: a test never writes the checkout.

    from deepbehavior.labeling.formats import export_labels
    from deepbehavior.labeling.project import Project

    data_yaml = export_labels(Project(project), tmp_path / "yolo", format="yolo", val_fraction=0.5)
    rows = [line.split() for p in sorted((tmp_path / "yolo" / "labels").rglob("frame00.txt"))
            for line in p.read_text().splitlines()]
    assert len(rows) == 3 and all(len(r) == 5 + 3 * 2 for r in rows)
    used, weights = _train_one_epoch(data_yaml, tmp_path)
    (ARTIFACTS / "training-path.txt").write_text(f"trained one epoch with {used}\n")
    assert weights.is_file(), f"no weights after one epoch with {used}"
