"""deepbehavior demo: the whole path on a generated cohort, on the embedded runtime.

1. renders a cohort of synthetic sessions (mice with known paths) and its manifest;
2. trains a small single-class detector briefly on frames of it;
3. runs inference through Ray into one Zarr store per session;
4. computes position, velocity, acceleration, speed and path length with Dask from the stores;
5. writes per-session tables and a summary (CSV), and trajectory and speed figures (PNG),
   scored against the ground truth: the exact path and speed of each mouse's body centre
   (median centre error, speed error, mean speed and path length against the true ones).

The detector learns the box of the body ellipse, whose centre is the body's centre; the box of the
whole drawn animal would not do, as its centre moves with the swinging paw and swings round at
every turn, and so its path is some 10 % longer than the body's.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from typing import TYPE_CHECKING

from deepbehavior.config import DemoJob, to_plain

from ._hydra import hydra_job

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
    """Train with the `deepbehavior train` job itself (Ray Train, checkpointed)."""
    from dataclasses import replace

    from deepbehavior.config import TrainJob
    from . import train

    job = TrainJob(out=str(out / "model"), train=replace(cfg.train, data=str(data)), ray=cfg.ray)
    train.main.run(job)
    return out / "model" / "weights" / "best.pt"


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

    from .infer import render_videos

    started = time.monotonic()
    out = Path(cfg.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    _say(f"rendering {cfg.synthetic.sessions} synthetic sessions of {cfg.synthetic.frames} frames")
    cohort, truth = _render_cohort(cfg, out)

    data = synthetic.write_yolo_dataset(list(truth.values()), out / "dataset",
                                        frames_per_session=cfg.train_frames_per_session, seed=cfg.synthetic.seed,
                                        box="body")
    _say(f"training {cfg.train.model} for {cfg.train.epochs} epochs on {data}")
    weights = _train(cfg, data, out)

    start_ray(cfg.ray)
    model = type(cfg.model)(**{**to_plain(cfg.model), "weights": str(weights)})
    inputs = [v for s in cohort.sessions for v in s.videos.values()]
    report = infer_cohort(cohort, out, backend="yolo", backend_kwargs=predictor_kwargs(model),
                          chunk=cfg.store.chunk, frames_per_batch=model.batch_size, force=True,
                          provenance=provenance.record(to_plain(cfg), inputs), printer=lambda m: print(m, flush=True))
    if report.failures:
        raise RuntimeError(f"inference failed on {len(report.failures)} shard(s): {report.failures[0]['error']}")
    render_videos(cohort, out)

    rows = []
    for session in cohort.sessions:
        ds = open_store(out / "stores" / f"{session.key}.zarr")  # lazy: Dask arrays chunked as stored
        fps = float(ds.attrs["fps"])
        one = schema.select_view(ds)  # the demo's one camera, "top"
        track = one["position"].isel(individuals=0)
        confident = track.where(one["confidence"].isel(individuals=0) >= cfg.kinematics.min_confidence)
        table = kinematics_table(confident, fps=fps, pixel_size_mm=cfg.kinematics.pixel_size_mm,
                                 smooth_window=cfg.kinematics.smooth_window)
        gt = truth[session.key]
        body = gt.poses["position"].sel(keypoints="body").isel(individuals=0)  # the exact body path
        gt_centre = body.transpose("time", "space").values
        detected = track.transpose("time", "space").values  # raw detections, before any smoothing
        error = np.hypot(detected[:, 0] - gt_centre[:, 0], detected[:, 1] - gt_centre[:, 1])
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
            "median_speed_error": float(np.nanmedian(np.abs(table["speed"] - true_speed))),
            "true_mean_speed": true_mean_speed,
            "mean_speed_error_pct": 100 * (summary["mean_speed"] / true_mean_speed - 1),
            "path_length_error_pct": 100 * (summary["path_length"] / true_path - 1),
        })
    summary = pd.DataFrame(rows)
    tmp = out / "tables" / ".summary.partial.csv"
    summary.to_csv(tmp, index=False)
    tmp.replace(out / "tables" / "summary.csv")
    result = {"seconds": round(time.monotonic() - started, 1), "inference_frames_per_s": round(report.fps, 1),
              "median_centre_error_px": float(summary["median_centre_error_px"].median()),
              "sessions": summary.to_dict(orient="records")}
    write_atomic(out / "demo_report.json", json.dumps(result, indent=2, default=float))
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(summary.round(3).to_string(index=False))
    _say(f"done in {result['seconds']} s; median body-centre error {result['median_centre_error_px']:.2f} px")
    _say(f"videos and manifest: {out / 'videos'}, {out / 'cohort.yaml'}")
    _say(f"weights:  {weights}")
    _say(f"stores:   {out / 'stores'}  (xarray.open_zarr(path))   labelled videos: {out / 'videos'}")
    _say(f"tables:   {out / 'tables'}   figures: {out / 'figures'}   report: {out / 'demo_report.json'}")
