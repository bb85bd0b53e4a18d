"""deepbehavior demo: the whole path on a generated cohort, on the embedded runtime.

1. renders a cohort of synthetic sessions (mice with known keypoints) and its manifest;
2. trains the top-down keypoint model (the default of ``deepbehavior train`` for keypoint datasets)
   briefly, through the train job (in this process: one worker on the CPUs, the job's default), on
   evenly spaced frames labelled with the exact keypoints;
3. runs inference through the inference runner into one Zarr store of keypoints per session;
4. computes position, velocity, acceleration, speed and path length of the ``body`` keypoint with
   Dask from the stores;
5. writes per-session tables and a summary (CSV), and trajectory and speed figures (PNG), scored
   against the ground truth: the median error of every keypoint in every frame, and the exact path
   and speed of each mouse's body centre (the ``body`` keypoint: median error, speed error, mean
   speed and path length against the true ones).

All frames of the cohort are scored, the training frames among them (a sixth of each video): the
demo shows the recipe at work on a small case, it is not a held-out benchmark (that is
``benchmarks/keypoints.py`` on real labelled frames).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, TYPE_CHECKING

from deepbehavior.config import (
    KinematicsConfig, PredictConfig, RayConfig, StoreConfig, SyntheticConfig, TopDownConfig, TrainConfig,
    to_plain,
)

from ._hydra import hydra_job


@dataclass
class DemoJob:
    # Folder for the cohort, model, stores, tables and figures.
    out: str = "demo-out"
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    # The top-down keypoint recipe (model=auto on a keypoint dataset), kept small to train in a few
    # minutes on a CPU: 64 px crops and a 128 px view of the frame for finding the mouse, 20 short
    # epochs of 256 augmented crops in batches of 8 (10 left the body keypoint at 0.8 px in one run and
    # 2.3 px in another after a tiny change in the labels; 20 gave 0.7-1.0 px for every keypoint).
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        data="", model="auto", epochs=20, batch=8,
        topdown=TopDownConfig(crop_size=64, centroid_size=128, samples_per_epoch=256)))
    # The trained top-down checkpoint's backend; conf is the lowest centroid peak that counts as a mouse.
    # One torch thread and 16 frames a call: with two threads on a loaded 2-core machine, inference
    # ran at 2.3 frames/s (threads waiting on each other), with one and 16 frames a call at 26.
    model: PredictConfig = field(default_factory=lambda: PredictConfig(
        weights="", backend="topdown", conf=0.1, batch_size=16, options={"threads": 1}))
    store: StoreConfig = field(default_factory=lambda: StoreConfig(chunk=100))
    # Savitzky-Golay window of 11 frames (0.37 s at 30 frames/s) before differentiating: the body
    # keypoint jitters by about a pixel from frame to frame, which at 7 frames still lengthened the
    # slower mouse's path by 3.2 % (measured; 1.9 % at 11, 14 % unsmoothed).
    kinematics: KinematicsConfig = field(default_factory=lambda: KinematicsConfig(smooth_window=11))
    ray: RayConfig = field(default_factory=RayConfig)
    # Frames of each session put into the training set.
    train_frames_per_session: int = 60
    # CPUs (torch threads) of the training (the train job's cpus_per_worker); null: every CPU. One thread
    # trains these tiny networks at 5 s of CPU an epoch; two on a loaded 2-core machine spent 60-90 s.
    train_cpus: Optional[int] = 1


if TYPE_CHECKING:
    from deepbehavior.synthetic import mice as synthetic
    from deepbehavior.cohort import Cohort


def _say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def _render_cohort(cfg: DemoJob, out: Path) -> tuple[Cohort, dict[str, synthetic.SyntheticSession]]:
    from deepbehavior.synthetic import mice as synthetic
    from deepbehavior.cohort import Cohort, Session, load_cohort, write_cohort

    sessions, truth = [], {}
    s = cfg.synthetic
    for i in range(s.sessions):
        subject, group = f"m{i + 1:02d}", ("control" if i % 2 == 0 else "treated")
        video = out / "videos" / f"{subject}_day1.mp4"
        rendered = synthetic.render_session(video, frames=s.frames, width=s.width, height=s.height, fps=s.fps,
                                            mice=s.mice, seed=s.seed + i)
        session = Session(subject=subject, group=group, session="day1", videos={"top": video})
        sessions.append(session)
        truth[session.key] = rendered
    cohort = Cohort(name="synthetic-demo", views=("top",), sessions=tuple(sessions))
    manifest = write_cohort(cohort, out / "cohort.yaml")
    return load_cohort(manifest), truth


def _train(cfg: DemoJob, data: Path, out: Path) -> Path:
    """Train with the `deepbehavior train` job itself (its default runner, checkpointed)."""
    from dataclasses import replace

    from .train import TrainJob
    from . import train

    job = TrainJob(out=str(out / "model"), train=replace(cfg.train, data=str(data)), ray=cfg.ray,
                   cpus_per_worker=cfg.train_cpus)
    train.main.run(job)
    return out / "model" / "weights" / "best.pt"


def rate_line(report) -> str:
    """Both rates of the inference, each said for what it is: the report's end-to-end rate (start-up
    and model loading included, ``inference_frames_per_s``) and the progress lines' rate from the
    first predictions on (``inference_steady_frames_per_s``)."""
    steady = "?" if report.steady_fps is None else f"{report.steady_fps:.1f}"
    return (f"inference: {report.frames} frames in {report.seconds:.1f} s, {report.fps:.1f} frames/s end to end "
            f"(start-up and model loading included; inference_frames_per_s in the report), {steady} frames/s "
            f"from the first predictions on (the progress lines' rate; inference_steady_frames_per_s)")


@hydra_job("demo", DemoJob)
def main(cfg: DemoJob) -> None:
    # Imported here, not at the top: `deepbehavior demo --help` and bad input answer at once.
    import numpy as np
    import pandas as pd

    from deepbehavior import provenance, schema
    from deepbehavior.synthetic import mice as synthetic
    from deepbehavior.analysis.tables import kinematics_table, summarize
    from deepbehavior.runtime.environment import start_ray
    from deepbehavior.runtime.inference import infer_cohort
    from deepbehavior.store import open_store, write_atomic
    from deepbehavior.viz.trajectory import plot_speed, plot_trajectory

    from deepbehavior.runtime.stages import predictor_kwargs

    from .infer import render_videos, resolve_backend

    started, cpu_started = time.monotonic(), time.process_time()
    out = Path(cfg.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    _say(f"rendering {cfg.synthetic.sessions} synthetic sessions of {cfg.synthetic.frames} frames")
    cohort, truth = _render_cohort(cfg, out)

    data = synthetic.write_pose_dataset(list(truth.values()), out / "dataset",
                                        frames_per_session=cfg.train_frames_per_session, seed=cfg.synthetic.seed)
    _say(f"training {cfg.train.model} (keypoints: {', '.join(synthetic.KEYPOINTS)}) for at most "
         f"{cfg.train.epochs} epochs on {data}")
    weights = _train(cfg, data, out)

    start_ray(cfg.ray)
    model = type(cfg.model)(**{**to_plain(cfg.model), "weights": str(weights)})
    backend = resolve_backend(model)
    inputs = [v for s in cohort.sessions for v in s.videos.values()]
    report = infer_cohort(cohort, out, backend=backend, backend_kwargs=predictor_kwargs(model, backend),
                          chunk=cfg.store.chunk, frames_per_batch=model.batch_size, force=True,
                          provenance=provenance.record(to_plain(cfg), inputs), printer=lambda m: print(m, flush=True))
    if report.failures:
        raise RuntimeError(f"inference failed on {len(report.failures)} shard(s): {report.failures[0]['error']}")
    _say(rate_line(report))
    render_videos(cohort, out)

    rows = []
    for session in cohort.sessions:
        ds = open_store(out / "stores" / f"{session.key}.zarr")  # lazy: Dask arrays chunked as stored
        fps = float(ds.attrs["fps"])
        one = schema.select_view(ds)  # the demo's one camera, "top"
        names = [str(k) for k in one["keypoints"].values]
        if names != list(synthetic.KEYPOINTS):
            raise ValueError(f"{out / 'stores' / session.key}.zarr: Expected keypoints {list(synthetic.KEYPOINTS)}, "
                             f"but got {names}")
        points = one["position"].isel(individuals=0).transpose("time", "keypoints", "space")
        track = one["position"].sel(keypoints="body").isel(individuals=0)
        body_confidence = one["confidence"].sel(keypoints="body").isel(individuals=0)
        confident = track.where(body_confidence >= cfg.kinematics.min_confidence)
        table = kinematics_table(confident, fps=fps, pixel_size_mm=cfg.kinematics.pixel_size_mm,
                                 smooth_window=cfg.kinematics.smooth_window)
        gt = truth[session.key]
        gt_points = gt.poses["position"].isel(individuals=0).transpose("time", "keypoints", "space").values
        # every keypoint of every frame against the exact one (raw predictions, before any smoothing);
        # a frame where the mouse was not found counts as missing, not as an error
        keypoint_error = np.linalg.norm(points.values - gt_points, axis=-1)  # (time, keypoints), px
        error = keypoint_error[:, names.index("body")]
        body = gt.poses["position"].sel(keypoints="body").isel(individuals=0)  # the exact body path
        gt_table = kinematics_table(body, fps=fps, pixel_size_mm=cfg.kinematics.pixel_size_mm)  # no smoothing
        # closed-form speed of the body centre; its integral over time is the true path length
        scale = cfg.kinematics.pixel_size_mm or 1.0
        true_speed = gt.speed[:, 0] * scale
        true_path = float(np.trapezoid(true_speed, dx=1.0 / fps))
        tables = out / "tables"
        tables.mkdir(exist_ok=True)
        tmp = tables / f".{session.key}.partial.csv"
        table.to_csv(tmp, index=False)
        tmp.replace(tables / f"{session.key}_kinematics.csv")
        plot_trajectory(table, out / "figures" / f"{session.key}_trajectory.png", title=session.key,
                        size=(cfg.synthetic.width, cfg.synthetic.height) if not cfg.kinematics.pixel_size_mm else None,
                        truth=gt_table)
        plot_speed(table, out / "figures" / f"{session.key}_speed.png", title=session.key, truth=true_speed)
        summary = summarize(table)
        true_mean_speed = float(np.mean(true_speed))
        rows.append({
            "subject": session.subject, "group": session.group, "session": session.session, **summary,
            "true_path_length": true_path,
            "median_centre_error_px": float(np.nanmedian(error)),
            **{f"median_error_{name}_px": float(np.nanmedian(keypoint_error[:, j])) for j, name in enumerate(names)},
            "median_speed_error": float(np.nanmedian(np.abs(table["speed"] - true_speed))),
            "true_mean_speed": true_mean_speed,
            "mean_speed_error_pct": 100 * (summary["mean_speed"] / true_mean_speed - 1),
            "path_length_error_pct": 100 * (summary["path_length"] / true_path - 1),
        })
    summary = pd.DataFrame(rows)
    tmp = out / "tables" / ".summary.partial.csv"
    summary.to_csv(tmp, index=False)
    tmp.replace(out / "tables" / "summary.csv")
    # CPU time beside the wall time (a shared machine inflates the wall time, not these): the training
    # worker's (its epochs and their validation, from results.csv) and this process's own
    train_cpu_s = float(pd.read_csv(out / "model" / "results.csv")["cpu_s"].sum())
    result = {"seconds": round(time.monotonic() - started, 1), "train_cpu_s": round(train_cpu_s, 1),
              "driver_cpu_s": round(time.process_time() - cpu_started, 1),
              "inference_frames_per_s": round(report.fps, 1),
              "inference_steady_frames_per_s": None if report.steady_fps is None else round(report.steady_fps, 1),
              "median_centre_error_px": float(summary["median_centre_error_px"].median()),
              "median_keypoint_error_px": {name: float(summary[f"median_error_{name}_px"].median())
                                           for name in synthetic.KEYPOINTS},
              "sessions": summary.to_dict(orient="records")}
    write_atomic(out / "demo_report.json", json.dumps(result, indent=2, default=float))
    with pd.option_context("display.width", 160, "display.max_columns", 30):
        print(summary.round(3).to_string(index=False))
    _say(f"done in {result['seconds']} s (training: {result['train_cpu_s']} s of CPU); median body-centre error "
         f"{result['median_centre_error_px']:.2f} px; median error per keypoint: "
         + ", ".join(f"{k} {v:.2f} px" for k, v in result["median_keypoint_error_px"].items()))
    _say(f"videos and manifest: {out / 'videos'}, {out / 'cohort.yaml'}")
    _say(f"weights:  {weights}")
    _say(f"stores:   {out / 'stores'}  (xarray.open_zarr(path))   labelled videos: {out / 'videos'}")
    _say(f"tables:   {out / 'tables'}   figures: {out / 'figures'}   report: {out / 'demo_report.json'}")
