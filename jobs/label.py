"""Serve the browser labelling app for a project, or import labels into it / export them, and exit.

``deepbehavior label project=PROJECT [port=8765] [host=127.0.0.1] [weights=best.pt]`` prints the
URL and serves until Ctrl-C (through SSH: ``ssh -L 8765:127.0.0.1:8765 server``); every change in
the page is written to ``PROJECT/labels/`` at once. ``import_from=PATH`` reads a YOLO data.yaml,
COCO or TensorBox JSON, Yolo_mark folder or DeepLabCut CSV into the project (created if needed);
``export=yolo|coco|tensorbox|yolo_mark`` writes a dataset under ``out`` (default
``PROJECT/exports``): ``out/yolo/data.yaml``, ``out/coco.json``, ``out/labels.json``,
``out/yolo_mark/obj.data``. With either, the job exits instead of serving.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from omegaconf import MISSING

from deepbehavior.config import require

from ._hydra import hydra_job


@dataclass
class LabelJob:
    """``deepbehavior label``: serve the labelling app for ``project``, or import/export and exit.

    ``export`` (yolo, coco, tensorbox, yolo_mark) writes a dataset under ``out``; ``import_from``
    reads a YOLO data.yaml, COCO/TensorBox JSON, Yolo_mark folder or DLC CSV into the project.
    ``weights`` (an ultralytics ``.pt``) pre-fills suggestions in the app. Bound beyond loopback
    (``host=0.0.0.0``) every request needs ``token`` (generated and printed in the URL when null).
    """

    # Folder of exports (default <project>/exports).
    out: str = MISSING
    # The labelling project folder.
    project: str = MISSING
    # Address the app listens on (127.0.0.1: this machine only).
    host: str = "127.0.0.1"
    # Port of the app (0: any free port).
    port: int = 8765
    # Bound beyond loopback (host=0.0.0.0), every request needs this token (null: one is generated
    # and printed in the URL).
    token: Optional[str] = None
    export: Optional[str] = None
    import_from: Optional[str] = None
    # Format of import_from when its name does not tell (yolo, coco, tensorbox, yolo_mark, dlc).
    import_format: Optional[str] = None
    weights: Optional[str] = None
    # Confidence (0-1) above which suggestions are shown.
    conf: float = 0.25
    # Image size (px) of the suggesting model.
    imgsz: int = 640
    # Share of labelled images put into the validation set of an export.
    val_fraction: float = 0.2
    # Random seed of the train/validation split.
    seed: int = 0

    def __post_init__(self):
        # export is checked by the job against labeling.formats.EXPORT_FORMATS, defined with the formats.
        require(0 <= self.port < 65536, f"Expected a port in [0, 65535], but got {self.port}")
        require(0.0 <= self.val_fraction < 1.0, f"Expected val_fraction in [0, 1), but got {self.val_fraction}")


@hydra_job("label", LabelJob)
def main(cfg: LabelJob) -> None:
    from deepbehavior.labeling.formats import EXPORT_FORMATS, export_labels, import_labels
    from deepbehavior.labeling.project import Project

    if cfg.export is not None and cfg.export not in EXPORT_FORMATS:
        raise ValueError(f"Expected export {', '.join(EXPORT_FORMATS)}, but got {cfg.export!r}")
    if cfg.import_from:
        if not Path(cfg.import_from).exists():
            raise FileNotFoundError(f"Expected labels to import at {cfg.import_from}, but there is nothing")
        project, report = import_labels(cfg.import_from, cfg.project, format=cfg.import_format)
        print(f"{cfg.import_from}: {report.summary()} into {project.root}")
    if not (Path(cfg.project) / "project.json").is_file():
        raise FileNotFoundError(
            f"Expected a labelling project at {cfg.project}, but it has no project.json "
            "(make one with 'deepbehavior frames' or import_from=...)"
        )
    project = Project(cfg.project)
    if cfg.export:
        out = Path(cfg.out)
        target = {"yolo": out / "yolo", "coco": out / "coco.json", "tensorbox": out / "labels.json",
                  "yolo_mark": out / "yolo_mark"}[cfg.export]
        kwargs = {"val_fraction": cfg.val_fraction, "seed": cfg.seed} if cfg.export == "yolo" else {}
        written = export_labels(project, target, format=cfg.export, **kwargs)
        progress = project.progress()
        print(f"exported {progress['labelled']} labelled images ({cfg.export}) to {written}")
    if cfg.import_from or cfg.export:
        return
    from deepbehavior.labeling.server import UltralyticsSuggester, make_server, url_of

    suggester = UltralyticsSuggester(cfg.weights, project, conf=cfg.conf, imgsz=cfg.imgsz) if cfg.weights else None
    server = make_server(project, host=cfg.host, port=cfg.port, suggester=suggester, token=cfg.token)
    progress = project.progress()
    print(f"labelling {project.root}: {progress['labelled']}/{progress['total']} images labelled", flush=True)
    for problem in project.problems():  # a damaged label file is reported and left alone; the app runs
        print(f"warning: {problem}", flush=True)
    if server.token is not None:
        print(f"serving beyond loopback ({cfg.host}): every request needs the token in this URL", flush=True)
    print(f"open {url_of(server)} (Ctrl-C stops; every change is already saved)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
