"""Cameras, calibration, triangulation and calibration file formats.

- :mod:`.camera`: :class:`Camera` and :class:`CameraGroup` (``project``, ``undistort``,
  ``reprojection_error``), the pinhole model with OpenCV's distortion; triangulating points with a
  group is :func:`.triangulation.triangulate` (cameras know nothing of triangulation).
- :mod:`.triangulation`: batched N-view linear triangulation weighted by confidence, the robust
  mode, the Caltech two-camera midpoint, and lazy triangulation of a multi-view store; the NumPy
  code is the reference, :mod:`._kernels` the fused numba kernel used by default.
- :mod:`.consensus`: the rule that names a camera whose error is far above the other cameras'.
- :mod:`.diagnostics`: per-camera reprojection errors against that consensus, tables and figures.
- :mod:`.cohort3d`: one 3D store per session of a cohort, failures recorded per session.
- :mod:`.calibration`: board detection, intrinsics, extrinsics and bundle adjustment.
- :mod:`.calibration_check`: an existing calibration checked against board images.
- :mod:`.calib_io`: anipose TOML, OpenCV YAML/XML and Caltech (Bouguet) ``.mat`` files.

How to add a calibration file format: write ``load_x(path) -> CameraGroup`` and
``save_x(group, path)`` in :mod:`.calib_io` and register the suffix in ``load_calibration``. How to
add a triangulation method: a branch of :func:`.triangulation.triangulate` and its name in
:data:`.triangulation.METHODS` (the one list; the job's ``triangulate.method`` is checked against it).
How to add a board kind: a branch of :func:`.calibration.detect_board` and its name in
:data:`deepbehavior.config.BOARD_KINDS` (the board, :class:`deepbehavior.config.Board`, is the
``calibrate`` job's ``board`` group itself).
"""

from .camera import Camera, CameraGroup

__all__ = ["Camera", "CameraGroup"]
