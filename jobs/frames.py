"""Pick frames to label from one or many videos and extract them into a labelling project.

``deepbehavior frames videos=[a.mp4,b.mp4] out=PROJECT n=50 method=uniform|kmeans|uncertain|jumps``.
``uniform`` spreads frames evenly, ``kmeans`` picks one frame per cluster of downsampled grey frames,
``uncertain`` and ``jumps`` (refinement rounds) need ``stores=[...]``, one prediction store per
video (``videos`` may then be left out: each store's recorded video is used), and pick the frames
where the model was least sure or its points jumped farthest. Images go
to ``PROJECT/frames`` (existing ones are kept, so rounds add up); ``PROJECT/project.json`` records
classes, keypoints, skeleton and each image's video and frame number.
"""

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import MISSING

from deepbehavior.config import require

from ._hydra import hydra_job


@dataclass
class FramesJob:
    """``deepbehavior frames``: pick frames of ``videos`` and extract them into the project ``out``.

    ``method`` is uniform, kmeans, uncertain or jumps (``labeling.selection.METHODS``); the last two need ``stores`` (one Zarr
    store of predictions per video). ``classes``/``keypoints``/``skeleton`` describe a new project.
    """

    # The labelling project folder the frames go to.
    out: str = MISSING
    # Videos to pick frames from (empty with stores=: the video each store records).
    videos: list[str] = field(default_factory=list)
    # Frames to pick over all videos.
    n: int = 50
    method: str = "uniform"
    # Zarr stores of predictions, one per video (needed by method=uncertain and method=jumps).
    stores: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=lambda: ["object"])
    keypoints: list[str] = field(default_factory=list)
    skeleton: list[list[int]] = field(default_factory=list)
    # Frames sampled per video before picking (kmeans, uncertain, jumps).
    candidates: int = 400
    # Fewest frames between two picks of one video.
    min_gap: int = 10
    # Random seed of the sampling.
    seed: int = 0

    def __post_init__(self):
        require(self.n >= 1, f"Expected n >= 1 frames, but got {self.n}")
        # method is checked by labeling.selection, where METHODS is defined next to the code.
        require(self.min_gap >= 0, f"Expected min_gap >= 0 frames, but got {self.min_gap}")


def store_video(ds, path: str) -> str:
    """The one video the store at ``path`` records (:func:`deepbehavior.store.recorded_videos`), for
    ``stores=[...]`` given without ``videos=[...]``; a one-line error when it records none, several,
    or one that is not there."""
    from deepbehavior.store import recorded_videos

    videos = recorded_videos(ds)
    if len(videos) != 1:
        got = "none" if not videos else f"{len(videos)} (views {', '.join(videos)})"
        raise ValueError(f"{path}: Expected the store to record one video, but it records {got}; "
                         f"give videos=[...], one per store")
    video = next(iter(videos.values()))
    if not Path(video).is_file():
        raise FileNotFoundError(f"{path}: Expected its recorded video at {video}, but there is none; "
                                f"give videos=[...], one per store")
    return video


@hydra_job("frames", FramesJob)
def main(cfg: FramesJob) -> None:
    from deepbehavior.labeling.project import Project
    from deepbehavior.labeling.selection import METHODS, extract_frames, select

    if cfg.method not in METHODS:  # before the project folder is made
        raise ValueError(f"Expected method one of {', '.join(METHODS)}, but got {cfg.method!r}")
    if not cfg.videos and not cfg.stores:
        raise ValueError("Expected videos=[...] with at least one video, but got none")
    stores = None
    if cfg.stores:  # the store module imports Dask (seconds): only when there are stores to read
        from deepbehavior.store import open_complete

        stores = [open_complete(s) for s in cfg.stores]
    videos = list(cfg.videos) or [store_video(ds, path) for ds, path in zip(stores, cfg.stores)]
    for video in videos:
        if not Path(video).is_file():
            raise FileNotFoundError(f"Expected a video at {video}, but there is none")
    project = Project.create(cfg.out, classes=cfg.classes, keypoints=cfg.keypoints, skeleton=cfg.skeleton)
    picks = select(videos, cfg.n, method=cfg.method, stores=stores, candidates=cfg.candidates,
                   min_gap=cfg.min_gap, seed=cfg.seed)
    names = extract_frames(videos, picks, project)
    progress = project.progress()
    print(f"{len(names)} frames ({cfg.method}) in {project.frames_dir}; the project has {progress['total']} "
          f"images, {progress['labelled']} labelled")
    print(f"label them with: deepbehavior label project={project.root}")
