"""Calibrate two cameras from chessboard pairs, then triangulate the board's corners in 3D.

Data: ``stereo-chessboard/opencv`` (OpenCV's stereo sample: 13 left/right pairs, 640 x 480, a 9 x 6
chessboard of 25 mm squares). The corners 3D must come out 25 mm apart. Run:
``python docs/examples/stereo_calibrate_triangulate.py [DATA_FOLDER]``.
"""

import sys
from pathlib import Path

import numpy as np

import deepbehavior as db
from deepbehavior.config import Board
from deepbehavior.geometry.calibration import detect_in_images
from deepbehavior.schema import make_poses

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data") / "stereo-chessboard" / "opencv"
board = Board(columns=9, rows=6, square_size=25.0)  # mm
images = {view: sorted(folder.glob(f"{view}[0-9]*.jpg")) for view in ("left", "right")}

calibration = db.calibrate(images, board=board)  # the cameras, in mm; errors in pixels
print(f"calibrated {calibration.cameras.names}: reprojection RMS {calibration.errors.rms:.3f} px")

# The board's corners as 54 keypoints of one "individual", one frame per image pair, two views.
found = {view: detect_in_images(paths, board)[0] for view, paths in images.items()}
position = np.full((len(images["left"]), 2, 54, 1, 2), np.nan)
for v, view in enumerate(images):
    for t, detection in enumerate(found[view]):
        if detection is not None:
            position[t, :, detection.ids, 0, v] = detection.corners
corners = make_poses(position, fps=1.0, views=list(images))

points = db.triangulate(corners, calibration.cameras).points["position"].values  # (time, xyz, 54, 1), mm
grid = points[:, :, :, 0].reshape(len(points), 3, 6, 9)  # rows x columns of corners
spacing = np.linalg.norm(np.diff(grid, axis=-1), axis=1)  # neighbours along a row, mm
print(f"corner spacing: median {np.nanmedian(spacing):.2f} mm (board: 25 mm), "
      f"{np.isfinite(spacing).sum()} neighbour pairs in {np.isfinite(grid).all(axis=(1, 2, 3)).sum()} frames")
