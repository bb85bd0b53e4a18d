"""Load SLEAP's predictions of two flies, track them afresh, and measure how they move.

Data: ``sleap-flies/centered_pair_predictions.slp`` (SLEAP's test recording: 1100 frames, 24 nodes,
27 track fragments). Run: ``python docs/examples/flies_track_kinematics.py [DATA_FOLDER]``.
"""

import sys
from pathlib import Path

import deepbehavior as db

data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data") / "sleap-flies"

flies = db.load(data / "centered_pair_predictions.slp")  # movement's poses dataset, pixels
report = db.track(flies, retrack=True, n_identities=2, max_jump=20)  # SLEAP's fragments as slots
measures = db.analyze(report.tracked, subject="flies").table  # distance and mean speed per fly
speed = db.kinematics.compute_speed(report.tracked["position"].sel(keypoints="thorax"))  # px/s

print(f"{flies.sizes['individuals']} SLEAP tracks -> {report.tracked.sizes['individuals']} identities; "
      f"{report.summary['swaps_repaired']} swaps repaired, {report.summary['extra_frames']} frames with an "
      f"extra detection")
print(measures[["measure", "value", "unit"]].to_string(index=False))
print("median thorax speed (px/s):", speed.median("time").round(1).values)
