"""deepbehavior infer: a trained model over a cohort (cohort=FILE) or loose videos (videos=[…]).

Writes one Zarr store per session to ``out/stores/<subject>_<session>.zarr`` and a run report to
``out/infer_report.json``; with ``videos=[…]`` also the manifest of those videos, ``out/cohort.yaml``,
which the next job (track, analyze, triangulate) takes as ``cohort=``. Rerunning the same command skips finished shards (``force=true`` redoes
them); a shard that fails is retried, then recorded, and the job exits non-zero naming the
incomplete sessions.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from deepbehavior.config import InferJob, PredictConfig, to_plain

from ._hydra import hydra_job


def backend_kwargs(model: PredictConfig) -> dict:
    """Constructor arguments of the configured backend (``threads``: one per CPU of its predictor)."""
    if model.backend not in ("yolo", "yolo_pose"):
        return dict(model.options)
    return {"weights": str(Path(model.weights).expanduser()) if Path(model.weights).suffix else model.weights,
            "imgsz": model.imgsz, "conf": model.conf, "iou": model.iou, "max_individuals": model.max_individuals,
            "device": model.device, "half": model.half, "threads": None, **model.options}


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


def pick_runner(cfg: InferJob, videos: list) -> str:
    """``"local"`` (this process) or ``"ray"`` for this job (:func:`deepbehavior.runtime.local.choose_runner`)."""
    from deepbehavior.runtime.local import choose_runner

    if cfg.runner != "auto" or cfg.ray.address:
        return choose_runner(cfg.runner, address=cfg.ray.address, frames=0, gpu=False)
    gpu = cfg.model.device.startswith("cuda") or (cfg.model.device == "auto" and _cuda_available())
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
    from deepbehavior.store import write_atomic

    if not cfg.cohort:  # the manifest of these videos, for track, analyze and triangulate to take
        manifest = write_cohort(cohort, Path(cfg.out) / "cohort.yaml")
        print(f"[infer] cohort of these videos: {manifest} (next: deepbehavior track out={cfg.out} "
              f"cohort={manifest})", flush=True)
    inputs = [v for s in cohort.sessions for v in s.videos.values()]
    common = dict(backend=cfg.model.backend, backend_kwargs=backend_kwargs(cfg.model), chunk=cfg.store.chunk,
                  frames_per_batch=cfg.model.batch_size, force=cfg.force, retries=cfg.retries,
                  provenance=provenance.record(to_plain(cfg), inputs))
    if pick_runner(cfg, inputs) == "local":
        from deepbehavior.runtime.local import infer_local

        report = infer_local(cohort, cfg.out, **common)
    else:
        from deepbehavior.runtime.environment import start_ray
        from deepbehavior.runtime.inference import infer_cohort

        start_ray(cfg.ray)
        report = infer_cohort(cohort, cfg.out, readers=cfg.readers, **common)
    out = Path(cfg.out)
    if cfg.render:
        render_videos(cohort, out)
    summary = {"frames": report.frames, "seconds": round(report.seconds, 3), "frames_per_s": round(report.fps, 2),
               "shards_done": report.shards_done, "failures": report.failures}
    write_atomic(out / "infer_report.json", json.dumps(summary, indent=2))
    print(f"[infer] stores: {out / 'stores'}  report: {out / 'infer_report.json'}")
    if report.failures:
        sessions = sorted({f["session"] for f in report.failures})
        for failure in report.failures:
            print(f"[infer] FAILED {failure['session']} {failure['view']} frames "
                  f"{failure['start']}-{failure['stop']}: {failure['error']}", file=sys.stderr)
        print(f"deepbehavior infer: error: incomplete sessions: {', '.join(sessions)} "
              f"(rerun the same command to retry them)", file=sys.stderr)
        raise SystemExit(1)
