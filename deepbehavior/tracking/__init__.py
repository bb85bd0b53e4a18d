"""Identities over stored detections, for a whole video whatever the inference shards were.

Raw detections live in *slots* (``attrs["individuals_are"] == "slots"``): the k-th detection of a
frame, not an animal. This package turns slots into identities and says how well it went:

- ``classes``: identity from the detector's class (:func:`identities_from_classes`);
- ``matcher``: frame-by-frame matching per keypoint with a gated motion model
  (:class:`~.matcher.PoseMatcher`) and the naive baseline (:func:`~.matcher.match_naive`);
- ``repair``: relabelling of whole segments when the motion evidence says labels were exchanged;
- ``boxtrackers``: ultralytics' ByteTrack and BoT-SORT for boxes;
- ``motion``: :func:`track_identities`, which runs one of those per camera;
- ``report``: the per-frame quality report and its summary;
- ``metrics``: ID switches, MOTA counts and IDF1 against a ground truth;
- ``session``: a whole session as its config says, and the atomic write.

How to add a tracker: a function from ``(time, slots, keypoints, space)`` points to
``(time, identity)`` slot indices, a name in ``motion.METHODS`` and a branch in
``track_identities``; the report, metrics and job then work unchanged.
"""

from .classes import identities_from_classes
from .layout import reference_points
from .metrics import clear_mot, covers_from_labels, covers_from_positions
from .motion import METHODS, track_identities
from .report import quality_report, summarize_quality
from .session import track_session, write_tracked

__all__ = ["METHODS", "clear_mot", "covers_from_labels", "covers_from_positions", "identities_from_classes",
           "quality_report", "reference_points", "summarize_quality", "track_identities", "track_session",
           "write_tracked"]
