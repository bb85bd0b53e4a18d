"""deepbehavior infer: a trained model over a cohort (cohort=FILE) or loose videos (videos=[…]).

Writes one Zarr store per session to ``out/stores/<subject>_<session>.zarr`` and a run report to
``out/infer_report.json``; with ``videos=[…]`` also the manifest of those videos, ``out/cohort.yaml``,
which the next job (track, analyze, triangulate) takes as ``cohort=``. Videos and weights are
checked before Ray starts (a session whose video cannot be read fails alone, at once; with none
readable the job stops there). Rerunning the same command skips finished shards (``force=true``
redoes them) once the store's fingerprint (weights, backend options, videos, chunk) matches this
run's; otherwise it stops naming the difference. A shard that fails is retried, then recorded, and
the job exits with status 1 naming each failed session on stderr (bad input: status 2, before any work).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from omegaconf import MISSING

from deepbehavior.config import PredictConfig, RayConfig, StoreConfig, to_plain

from ._hydra import finish, hydra_job


@dataclass
class InferJob:
    # Folder for the stores (out/stores), the run report and, with videos=, cohort.yaml.
    out: str = MISSING
    # Cohort manifest (YAML or CSV) of the sessions to run on.
    cohort: Optional[str] = None
    # Loose video files instead of a manifest (one session each).
    videos: list[str] = field(default_factory=list)
    model: PredictConfig = field(default_factory=PredictConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    # Redo finished shards instead of skipping them.
    force: bool = False
    # Times a failed shard is tried again before it is recorded as failed.
    retries: int = 2
    # Decoding processes feeding the GPU predictors; null: every CPU the predictors leave (a GPU
    # eats frames faster than one decoder makes them). Without GPUs, each node's predictor reads
    # its own frames in a thread and this is not used.
    readers: Optional[int] = None
    # Also write out/videos/<session>_<view>_labelled.mp4 with the predictions drawn.
    render: bool = False
    # auto: in this process when Ray would run on this machine alone (no ray.address) and there is
    # no GPU or the job is short; "ray" or "local" to choose (deepbehavior.runtime.local).
    # (runtime.local.RUNNERS; checked there, by choose_runner, before any model is loaded).
    runner: str = "auto"


def resolve_backend(model: PredictConfig) -> str:
    """The backend that runs ``model.weights``: ``topdown`` for a top-down checkpoint of ours given to the
    default ``yolo`` backend (what ``deepbehavior train`` writes for keypoint datasets), else as configured."""
    if model.backend == "yolo" and Path(model.weights).suffix == ".pt":
        from deepbehavior.models.topdown import is_checkpoint

        if is_checkpoint(Path(model.weights).expanduser()):
            return "topdown"
    return model.backend


def render_videos(cohort, out: Path) -> None:
    """A labelled video per session and view, from the stores just written."""
    from deepbehavior.cohort import store_path
    from deepbehavior.store import open_store
    from deepbehavior.viz.labelled import render_labelled_video

    for session in cohort.sessions:
        path = store_path(out / "stores", session)
        if not path.exists():
            continue
        ds = open_store(path)
        for view, video in session.videos.items():
            written = render_labelled_video(ds, video, out / "videos" / f"{session.key}_{view}_labelled.mp4", view=view)
            print(f"[infer] labelled video: {written}")


def next_step(cohort, out: Path, *, manifest: Path | None, cohort_file: str | None, failed: set[str]) -> str | None:
    """The command that tracks the stores just written, on its own line after a line saying how many
    animals their detections show (:func:`deepbehavior.store.animals_in_most_frames` of each store's first
    frames, the largest over the sessions that did not fail), or None when none finished or none could
    be read: the hint is advice, so a store it cannot read only leaves it out."""
    import shlex

    from deepbehavior.cohort import store_path
    from deepbehavior.store import animals_in_most_frames

    counts = []
    for session in cohort.sessions:
        path = store_path(out / "stores", session)
        if session.key in failed or not path.exists():
            continue
        try:
            counts.append(animals_in_most_frames(path))
        except Exception:  # noqa: BLE001 - the job has finished; its report stands without the hint
            continue
    if not counts:
        return None
    n = max(max(counts), 1)
    return (f"{n} {'animal' if n == 1 else 'animals'} in most frames of the stores; track them with:\n"
            f"deepbehavior track out={shlex.quote(str(out))} cohort={shlex.quote(str(manifest or cohort_file))} "
            f"track.n_identities={n}")


def pick_runner(cfg: InferJob, videos: list, backend: str) -> str:
    """``"local"`` (this process) or ``"ray"`` for this job (:func:`deepbehavior.runtime.local.choose_runner`).

    Only the torch backends (:data:`deepbehavior.runtime.stages.THREADED_BACKENDS`) run on a GPU, so
    only for them is CUDA looked for (importing torch costs seconds that a MediaPipe job need not wait).
    """
    from deepbehavior.runtime.local import choose_runner
    from deepbehavior.runtime.stages import THREADED_BACKENDS

    if cfg.runner != "auto" or cfg.ray.address:
        return choose_runner(cfg.runner, address=cfg.ray.address, frames=0, gpu=False)
    gpu = backend in THREADED_BACKENDS and (
        cfg.model.device.startswith("cuda") or (cfg.model.device == "auto" and _cuda_available()))
    frames = 0
    if gpu:  # only then does the length matter
        from deepbehavior.video import VideoError, probe

        for video in videos:
            try:
                frames += probe(video).frames
            except VideoError:
                pass  # reported as that session's failure by the runner
    return choose_runner("auto", address=None, frames=frames, gpu=gpu)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def readable_sessions(cohort, printer=print):
    """The cohort without its sessions whose videos cannot be read, and those as failures
    (:class:`deepbehavior.session_runner.SessionFailure`, kind ``"input"``).

    Every video is probed (it decodes, has frames and a frame rate) before any cluster starts, so
    that a bad one is named in seconds; its session fails alone and the others run.
    """
    from dataclasses import replace

    from deepbehavior.session_runner import SessionFailure
    from deepbehavior.video import VideoError, probe_videos

    good, failures, probed = [], [], 0
    total = sum(len(s.videos) for s in cohort.sessions)
    for session in cohort.sessions:
        try:
            for video in session.videos.values():
                probe_videos([video])
                probed += 1
                if probed % 20 == 0:
                    printer(f"[infer] {probed}/{total} videos probed")
            good.append(session)
        except VideoError as exc:
            error = " ".join(str(exc).split())
            printer(f"[infer] {session.key}: unreadable video, skipped: {error}")
            failures.append(SessionFailure(session.key, "infer", "input", error,
                                           (("view", "*"), ("start", 0), ("stop", 0), ("unreadable", True))))
    return replace(cohort, sessions=tuple(good)), failures


@hydra_job("infer", InferJob)
def main(cfg: InferJob) -> None:
    if bool(cfg.cohort) == bool(cfg.videos):
        raise ValueError("Expected either cohort=FILE or videos=[...], but got "
                         + ("both" if cfg.cohort else "neither"))
    if cfg.model.backend in ("yolo", "yolo_pose") and not cfg.model.weights:
        raise ValueError("Expected model.weights=PATH of a trained .pt file, but got none")
    if cfg.model.backend in ("yolo", "yolo_pose") and Path(cfg.model.weights).suffix and not Path(cfg.model.weights).is_file():
        raise FileNotFoundError(f"Expected model weights at {cfg.model.weights}, but there is no such file")
    from deepbehavior.cohort import cohort_from_videos, load_cohort, write_cohort

    # In a manifest, a missing or unreadable video fails its own session (named in the report, exit 1),
    # not the cohort; a video typed on the command line (videos=[...]) is checked here, in one line.
    cohort = load_cohort(cfg.cohort, check_files=False) if cfg.cohort else cohort_from_videos(cfg.videos)
    # Imported after the checks above: `deepbehavior infer --help` and bad input answer at once.
    from deepbehavior import provenance
    from deepbehavior.runtime.inference import check_resumable, describe_model, session_fingerprints
    from deepbehavior.session_runner import SessionFailure
    from deepbehavior.store import write_atomic
    from deepbehavior.video import VideoError

    # Everything that can be checked is checked before the cluster starts: each video decodes and
    # has frames and a rate (a session whose video does not fails alone, named in the report, exit
    # 1), the weights are a model of the backend's kind, and existing stores were made with these
    # same settings.
    sessions = len(cohort.sessions)
    cohort, unreadable = readable_sessions(cohort)
    if not cohort.sessions:
        more = f" (and {len(unreadable) - 1} more sessions with unreadable videos)" if len(unreadable) > 1 else ""
        raise VideoError(f"{unreadable[0].message}{more}")
    backend = resolve_backend(cfg.model)
    from deepbehavior.runtime.stages import predictor_kwargs

    kwargs = predictor_kwargs(cfg.model, backend)
    inputs = [v for s in cohort.sessions for v in s.videos.values()]
    runner = pick_runner(cfg, inputs, backend)
    # The model is loaded here, once: weights that are not a model fail in one line, before anything runs.
    if runner == "local":
        from deepbehavior.runtime.local import load_stage

        stage = load_stage(backend, kwargs)  # infer_local runs this very predictor
        description = stage.predictor.describe()
    else:
        stage, description = None, describe_model(backend, kwargs)  # the Ray actors load their own
    check_resumable(cohort, Path(cfg.out) / "stores",
                    session_fingerprints(cohort, backend=backend, backend_kwargs=kwargs,
                                         chunk=cfg.store.chunk), force=cfg.force)

    if not cfg.cohort:  # the manifest of these videos, for track, analyze and triangulate to take
        manifest = write_cohort(cohort, Path(cfg.out) / "cohort.yaml")
        print(f"[infer] cohort of these videos: {manifest}", flush=True)
    common = dict(backend=backend, backend_kwargs=kwargs, chunk=cfg.store.chunk, frames_per_batch=cfg.model.batch_size,
                  force=cfg.force, retries=cfg.retries, provenance=provenance.record(to_plain(cfg), inputs))
    if runner == "local":
        from deepbehavior.runtime.local import infer_local

        report = infer_local(cohort, cfg.out, stage=stage, **common)
    else:
        from deepbehavior.runtime.environment import start_ray
        from deepbehavior.runtime.inference import infer_cohort

        start_ray(cfg.ray)
        report = infer_cohort(cohort, cfg.out, readers=cfg.readers, description=description, **common)
    # The runtime's records (one per failed shard or unplannable session) become typed failures here.
    failures = unreadable + [SessionFailure.from_record(f, "infer") for f in report.failures]
    out = Path(cfg.out)
    if cfg.render:
        render_videos(cohort, out)
    summary = {"frames": report.frames, "seconds": round(report.seconds, 3), "frames_per_s": round(report.fps, 2),
               "shards_done": report.shards_done, "threads": report.threads,
               "failures": [f.to_json() for f in failures]}
    report_json = out / "infer_report.json"
    write_atomic(report_json, json.dumps(summary, indent=2))
    print(f"[infer] stores: {out / 'stores'}  report: {report_json}", flush=True)
    hint = next_step(cohort, out, manifest=None if cfg.cohort else out / "cohort.yaml", cohort_file=cfg.cohort,
                     failed={f.session for f in failures})
    if hint:
        print(f"[infer] next: {hint}", flush=True)
    finish("infer", failures, report_json, sessions=sessions)
