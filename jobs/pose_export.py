"""deepbehavior pose_export: a 2D human poses store (``deepbehavior infer`` with the ``mediapipe`` or
``yolo_pose`` backend, or any poses store with OpenPose keypoint names) written for OpenPose users and
for eyes. Inputs: ``store`` (Zarr), optionally ``video`` (the recording it was predicted on) and
``view``. Outputs under ``out``: ``openpose/<video>_<12-digit frame>_keypoints.json`` (OpenPose
``--write_json`` layout, version 1.2; every slot a person) and, with ``video``,
``<video>_skeleton.mp4`` with the BODY_25 skeleton and both hands drawn.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from omegaconf import MISSING

from deepbehavior.config import require

from ._hydra import hydra_job


@dataclass
class PoseExportJob:
    """``deepbehavior pose_export``: a 2D poses store (from ``infer`` with a pose backend) as an
    OpenPose ``--write_json`` folder and, given ``video``, a video with the skeletons drawn.
    ``video``: the store's video, to draw the skeletons on (null: no video). ``view`` null: the store's
    first view. ``min_confidence``: points below it are not drawn."""

    # Folder for the OpenPose JSON files and the video.
    out: str = MISSING
    # 2D poses store written by infer with a pose backend.
    store: str = MISSING
    video: Optional[str] = None
    view: Optional[str] = None
    # Write OpenPose --write_json files (one per frame).
    openpose: bool = True
    min_confidence: float = 0.1

    def __post_init__(self):
        require(0.0 <= self.min_confidence <= 1.0,
                f"Expected min_confidence in [0, 1], but got {self.min_confidence}")


@hydra_job("pose_export", PoseExportJob)
def main(cfg: PoseExportJob) -> None:
    from deepbehavior import schema
    from deepbehavior.formats.openpose import save_openpose
    from deepbehavior.store import open_store
    from deepbehavior.viz.skeleton import write_pose_video

    ds = open_store(cfg.store)
    if ds.attrs.get("ds_type") != schema.POSES or ds.sizes.get("space") != 2:
        raise ValueError(f"Expected a 2D poses store at {cfg.store}, but got {ds.attrs.get('ds_type')!r} "
                         f"with {ds.sizes.get('space')} space entries")
    views = schema.view_names(ds)
    view = cfg.view if cfg.view is not None else views[0]
    if view not in views:
        raise ValueError(f"Expected view among {views}, but got {view!r}")
    if cfg.video is not None and not Path(cfg.video).is_file():
        raise FileNotFoundError(f"Expected a video at {cfg.video}, but there is no such file")
    ds = schema.select_view(ds, view).load()
    out = Path(cfg.out)
    name = Path(cfg.video).stem if cfg.video else Path(cfg.store).stem
    if cfg.openpose:
        files = save_openpose(ds, out / "openpose", video_name=name)
        print(f"[pose_export] {len(files)} OpenPose JSON files -> {out / 'openpose'}")
    if cfg.video:
        path = write_pose_video(ds, cfg.video, out / f"{name}_skeleton.mp4", min_confidence=cfg.min_confidence)
        print(f"[pose_export] labelled video -> {path}")
