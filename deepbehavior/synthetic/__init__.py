"""Synthetic data with known answers, for the demo, the tests, the benchmarks and trying settings.

- :mod:`.mice`: rendered videos of mice in an arena with exact keypoints and boxes
  (``render_session``, ``write_yolo_dataset`` of boxes, ``write_pose_dataset`` of keypoints); the demo's
  and the inference tests' input.
- :mod:`.human_reach`: a person reaching, filmed by a calibrated two-camera rig, with closed-form
  joint angles and wrist path (``write_session``: calibration, 2D store, cohort and truth).
- :mod:`.camera_rigs`: rings of calibrated cameras, a walking 14-keypoint mouse skeleton, cameras
  broken the ways real calibrations break, and board detections, for triangulation and calibration.
- :mod:`.shapes_dataset`: a tiny YOLO-layout dataset of shapes (boxes) and triangles (keypoints)
  for training tests (``write_synthetic_dataset``).
- :mod:`.crossing_animals`: trajectories of animals that cross and the detections a pose detector
  would make of them, with the true animal of each, for the trackers.

Each module is imported on its own (this package imports none of them). How to add a generator:
a module here that writes or returns data of :mod:`deepbehavior.schema` together with the true
quantities, computed independently of the code it is meant to test.
"""
