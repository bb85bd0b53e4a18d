"""Inference as a Python step: a trained model over videos, in this process, into one store per session."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..cohort import Cohort
    from ..config import PredictConfig
    from ..session_runner import SessionFailure


@dataclass(frozen=True)
class InferReport:
    """What :func:`infer` wrote.

    Attributes
    ----------
    stores
        Session key (``<subject>_<session>``) -> its store of detection slots, for the sessions
        that ran (``out/stores/<key>.zarr``).
    cohort
        The sessions run (for loose videos, one session per video; the next steps take it).
    frames
        Frames predicted by this call (shards already done are skipped, not counted).
    seconds
        Wall time of the predictions.
    failures
        One :class:`~deepbehavior.session_runner.SessionFailure` per session (or shard) that failed;
        the others are written.
    """

    stores: dict[str, Path]
    cohort: Cohort
    frames: int = 0
    seconds: float = 0.0
    failures: list[SessionFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every session was written."""
        return not self.failures


def _backend(model: PredictConfig) -> str:
    """A top-down checkpoint of ours given to the default ``yolo`` backend runs as ``topdown``."""
    if model.backend == "yolo" and Path(model.weights).suffix == ".pt":
        from ..models.topdown import is_checkpoint

        if is_checkpoint(Path(model.weights).expanduser()):
            return "topdown"
    return model.backend


def infer(
    videos: Cohort | Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    out: str | os.PathLike,
    settings: PredictConfig | None = None,
    chunk: int = 1000,
    force: bool = False,
    retries: int = 2,
    printer: Callable[[str], None] = print,
    **options: Any,
) -> InferReport:
    """Run a trained model over every frame of a cohort's videos, in this process.

    The same stores, fingerprints and resuming as ``deepbehavior infer runner=local``; to spread a
    cohort over a Ray cluster use the command line (``deepbehavior infer``).

    Parameters
    ----------
    videos
        A cohort (:class:`deepbehavior.cohort.Cohort`), the path of a manifest (``.yaml``,
        ``.yml``, ``.csv``), or video files (one session each).
    out
        Folder of the stores, ``out/stores/<subject>_<session>.zarr``.
    settings
        The model (:class:`deepbehavior.config.PredictConfig`: ``weights``, ``backend``, ``imgsz``
        in pixels, ``conf``, ``max_individuals``, ``batch_size``, ``device``...).
    chunk
        Frames per time chunk of the stores (also the unit of work and of resuming).
    force
        Redo shards already written; otherwise they are skipped once the store's fingerprint
        (weights, options, videos, chunk) matches this call's.
    retries
        Times a failed shard is tried again before it is recorded as failed.
    printer
        Where progress lines go.
    **options
        Fields of ``PredictConfig`` replacing those of ``settings`` (``weights=...``).

    Returns
    -------
    InferReport
        The stores written and the sessions that failed (a video that cannot be read fails its
        session alone).
    """
    from dataclasses import replace

    from .. import provenance
    from ..cohort import Cohort, cohort_from_videos, load_cohort
    from ..config import PredictConfig, to_plain
    from ..runtime.inference import check_resumable, session_fingerprints
    from ..runtime.local import infer_local, load_stage
    from ..runtime.stages import predictor_kwargs
    from ..session_runner import SessionFailure
    from ..video import VideoError, probe_videos
    from ._options import with_options

    model = with_options(PredictConfig, settings, options, where="infer")
    if model.backend in ("yolo", "yolo_pose") and not Path(model.weights).is_file():
        raise FileNotFoundError(f"Expected model weights at {model.weights!r} (a trained .pt file), but there is none")
    if isinstance(videos, Cohort):
        cohort = videos
    elif isinstance(videos, (str, os.PathLike)) and Path(videos).suffix in (".yaml", ".yml", ".csv"):
        cohort = load_cohort(videos, check_files=False)
    else:
        cohort = cohort_from_videos([videos] if isinstance(videos, (str, os.PathLike)) else list(videos))
    # every video is probed before the model loads: a bad one fails its session alone, at once
    good, failures = [], []
    for session in cohort.sessions:
        try:
            probe_videos(list(session.videos.values()), printer=printer)
            good.append(session)
        except VideoError as exc:
            failures.append(SessionFailure(session.key, "infer", "input", " ".join(str(exc).split()),
                                           (("view", "*"), ("unreadable", True))))
    cohort = replace(cohort, sessions=tuple(good))
    if not cohort.sessions:
        return InferReport({}, cohort, failures=failures)
    backend = _backend(model)
    kwargs = predictor_kwargs(model, backend)
    stage = load_stage(backend, kwargs)  # weights that are not a model fail here, in one line
    stores = Path(out) / "stores"
    check_resumable(cohort, stores, session_fingerprints(cohort, backend=backend, backend_kwargs=kwargs, chunk=chunk),
                    force=force)
    inputs: list[str | os.PathLike] = [v for s in cohort.sessions for v in s.videos.values()]
    run = infer_local(cohort, Path(out), stage=stage, backend=backend, backend_kwargs=kwargs, chunk=chunk,
                      frames_per_batch=model.batch_size, force=force, retries=retries, printer=printer,
                      provenance=provenance.record({"model": to_plain(model), "chunk": chunk}, inputs))
    failures += [SessionFailure.from_record(f, "infer") for f in run.failures]
    failed = {f.session for f in failures}
    written = {s.key: stores / f"{s.key}.zarr" for s in cohort.sessions if s.key not in failed}
    return InferReport(written, cohort, run.frames, run.seconds, failures)
