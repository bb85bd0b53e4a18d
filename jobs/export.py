"""deepbehavior export: stores into other tools' files (DeepLabCut, SLEAP, NWB, OpenPose, Lightning Pose, CSV).

``store=PATH`` exports one store; ``cohort=MANIFEST stores=DIR`` every session's store
(``DIR/<subject>_<session>.zarr``, as ``infer``, ``import`` and ``track`` write them). Files go to
``out`` as ``<store>.<suffix>`` (``<store>_<view>.<suffix>`` per camera of a multi-camera store):
DeepLabCut ``.csv``/``.h5`` (``dlc_suffix``), SLEAP ``.slp`` labels or ``.h5`` analysis
(``sleap_suffix``), NWB ``.nwb`` (one file per individual), an OpenPose ``--write_json`` folder,
Lightning Pose ``.csv``, or a long CSV table (poses or boxes). DeepLabCut, SLEAP analysis, NWB and
Lightning Pose are written by movement, SLEAP labels by sleap-io. Every store is opened and
checked before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from omegaconf import MISSING

from deepbehavior.config import require

from ._hydra import hydra_job


@dataclass
class ExportJob:
    """``deepbehavior export``: stores into another tool's files.

    ``store`` one Zarr store, or ``cohort`` (a manifest) with ``stores`` (the folder of its
    stores); ``format`` one of dlc, sleap, nwb, openpose, csv, lightning_pose. Files go to ``out``
    as ``<store>.<suffix>``, one per camera (``<store>_<view>.<suffix>``) for multi-camera stores.
    ``sleap_suffix`` chooses a labels file (``.slp``) or an analysis file (``.h5``); ``dlc_suffix``
    ``.csv`` or ``.h5``.
    """

    # Folder the exported files are written to.
    out: str = MISSING
    # Target format: dlc, sleap, nwb, openpose, csv or lightning_pose (formats.WRITERS).
    format: str = MISSING
    # One Zarr store to export (or give cohort= and stores=).
    store: Optional[str] = None
    # A cohort manifest: export every session's store found in stores=.
    cohort: Optional[str] = None
    # The folder of the cohort's stores (with cohort=).
    stores: Optional[str] = None
    # DeepLabCut file kind: .csv or .h5.
    dlc_suffix: str = ".csv"
    # SLEAP file kind: a labels file (.slp) or an analysis file (.h5).
    sleap_suffix: str = ".slp"
    # Overwrite files that already exist.
    force: bool = False

    def __post_init__(self):
        # format is checked by the job against formats.WRITERS, the registry of the writers.
        require((self.store is None) != (self.cohort is None),
                f"Expected store=PATH or cohort=MANIFEST stores=DIR, but got store={self.store!r} cohort={self.cohort!r}")
        require(self.cohort is None or self.stores is not None,
                "Expected stores=DIR (the folder of the cohort's stores) with cohort=, but got none")
        require(self.dlc_suffix in (".csv", ".h5"), f"Expected dlc_suffix .csv or .h5, but got {self.dlc_suffix!r}")
        require(self.sleap_suffix in (".slp", ".h5"),
                f"Expected sleap_suffix .slp or .h5, but got {self.sleap_suffix!r}")


@hydra_job("export", ExportJob)
def main(cfg: ExportJob) -> None:
    from deepbehavior import store
    from deepbehavior.formats import WRITERS
    from deepbehavior.formats.exporting import export_dataset

    if cfg.format not in WRITERS:
        raise ValueError(f"Expected format {', '.join(WRITERS)}, but got {cfg.format!r}")
    if cfg.cohort:
        from deepbehavior.cohort import load_cohort, store_path

        cohort = load_cohort(cfg.cohort, check_files=False)
        paths = [store_path(cfg.stores, s) for s in cohort.sessions]
    else:
        paths = [Path(cfg.store)]
    opened = []
    for path in paths:
        ds = store.open_complete(path)  # any job's finished store; an unfinished one is refused in one line
        if cfg.format != "csv" and ds.attrs.get("ds_type") != "poses":
            raise ValueError(f"{path}: Expected a poses store for format={cfg.format} (boxes export as csv), "
                             f"but got {ds.attrs.get('ds_type')}")
        if cfg.format != "csv" and ds.sizes.get("space") != 2:
            raise ValueError(f"{path}: Expected 2D poses for format={cfg.format} (3D exports as csv), "
                             f"but got {ds.sizes.get('space')} space entries")
        opened.append((path, ds))
    suffix = {"dlc": cfg.dlc_suffix, "sleap": cfg.sleap_suffix}.get(cfg.format)
    for path, ds in opened:
        written = export_dataset(ds, cfg.out, name=path.name.removesuffix(".zarr"), format=cfg.format,
                                 suffix=suffix, overwrite=cfg.force)
        for target in written:
            print(f"{path} -> {target} ({cfg.format})")
