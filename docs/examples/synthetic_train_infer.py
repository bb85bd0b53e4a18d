"""Train a tiny mouse detector on rendered videos, run it over a new video, and track the mouse.

Data: made here (:mod:`deepbehavior.synthetic.mice`: rendered mice with their true boxes), so the
result can be checked against the truth. Fifteen epochs at 128 px on a CPU (a few minutes): the
detector is rough; more epochs and a larger image size make it better. Run:
``python docs/examples/synthetic_train_infer.py [OUT_FOLDER]``.
"""

import sys
from pathlib import Path

import numpy as np

import deepbehavior as db
from deepbehavior.synthetic.mice import render_session, write_yolo_dataset

out = Path(sys.argv[1] if len(sys.argv) > 1 else "example-out")
training = [render_session(out / f"train{i}.mp4", frames=120, seed=i) for i in range(3)]
data = write_yolo_dataset(training, out / "dataset", frames_per_session=40)
new = render_session(out / "new.mp4", frames=90, seed=10)  # a mouse the model never saw

trained = db.train(data, out=out / "model", model="yolo11n.yaml", epochs=15, imgsz=128, batch=8, augment=False,
                   optimizer="AdamW", lr0=0.002, overrides={"warmup_epochs": 0, "nbs": 8})
run = db.infer([new.video], out=out / "run", weights=str(trained.weights), imgsz=128, conf=0.05)
tracked = db.track(run.stores["new_s1"], n_identities=1, method="naive").tracked

found = tracked["position"].squeeze(drop=True).transpose("time", "space").values  # box centre, px
truth = new.boxes["position"].squeeze(drop=True).transpose("time", "space").values
error = np.linalg.norm(found - truth, axis=1)  # px
print(f"trained {trained.task} model: {trained.weights}; {run.frames} frames predicted, failures: {run.failures}")
print(f"mouse found in {np.isfinite(error).mean():.0%} of frames, median centre error {np.nanmedian(error):.1f} px")
