"""3D from several views: opens the 2D poses or boxes ``store`` (its ``view`` labels name cameras of
``calibration``: anipose TOML, OpenCV YAML/XML or Caltech .mat), triangulates every keypoint (or box
centre) lazily chunk by chunk with Dask (method, confidence threshold and robust mode in
``triangulate``), and writes the 3D poses store ``<out>/<name>`` (``space`` x, y, z in calibration
units, ``reprojection_error`` in pixels). With ``figure`` it draws ``<out>/trajectories3d.png``;
with ``movie_frames`` > 0 a short movie ``<out>/skeleton3d.mp4`` of that many frames.
"""

from pathlib import Path

from deepbehavior.config import TriangulateJob
from jobs._hydra import hydra_job


@hydra_job("triangulate", TriangulateJob)
def main(cfg: TriangulateJob) -> None:
    import dask
    import numpy as np

    from deepbehavior.geometry.calib_io import load_calibration
    from deepbehavior.geometry.triangulation import triangulate_dataset, write_3d
    from deepbehavior.store import open_store

    group = load_calibration(cfg.calibration)
    ds = open_store(cfg.store)
    t = cfg.triangulate
    ds3d = triangulate_dataset(ds, group, method=t.method, min_confidence=t.min_confidence, refine=t.refine,
                               max_error=t.max_error_px, chunk=cfg.chunk)
    ds3d.attrs["calibration"] = str(Path(cfg.calibration).resolve())
    ds3d.attrs["source_store"] = str(Path(cfg.store).resolve())
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    with dask.config.set(scheduler="threads", num_workers=2):
        path = write_3d(ds3d, out / cfg.name, overwrite=cfg.force)
    result = open_store(path)
    error = result["reprojection_error"].values
    found = np.isfinite(error)
    print(f"triangulated {int(found.sum())} of {found.size} points ({t.method}); median reprojection error "
          f"{np.nanmedian(error) if found.any() else float('nan'):.2f} px -> {path}")
    if cfg.figure or cfg.movie_frames > 0:
        from deepbehavior.viz.three_d import plot_trajectories_3d, write_movie_3d

        if cfg.figure:
            fig = plot_trajectories_3d(result)
            tmp = out / ".trajectories3d.partial.png"
            fig.savefig(tmp, dpi=100)
            tmp.replace(out / "trajectories3d.png")
            print(f"figure -> {out / 'trajectories3d.png'}")
        if cfg.movie_frames > 0:
            movie = write_movie_3d(result, out / "skeleton3d.mp4", frames=cfg.movie_frames)
            print(f"movie -> {movie}")
