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

from pathlib import Path

from deepbehavior.config import ExportJob
from ._hydra import hydra_job


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
        if not store.is_complete(path):
            raise FileNotFoundError(f"Expected a complete store at {path}, but there is none (or it is unfinished)")
        ds = store.open_store(path)
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
