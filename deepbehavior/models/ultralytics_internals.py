"""Every use of ultralytics beyond its documented interface, in one place.

Checked against ultralytics **8.4.190** (the version pinned by this checkout's environment). The
documented interface (``YOLO(path)``, ``results``, ``model.train``, ``ultralytics.trackers``) is used
where it is needed; what is here is not promised by ultralytics and may move or disappear in any
release:

- the training toolbox (:func:`setup_scheduler`, :func:`close_dataloader_mosaic`,
  :func:`check_max_det`): private methods of ``BaseTrainer``/``DetectionValidator`` that our own
  data-parallel loop (:mod:`.yolo_train`) calls in place of ``trainer.train()``; plus the trainer
  methods and attributes it sets and calls, listed in :data:`REQUIRED`;
- :func:`keypoint_pixel_validator_class`: a ``PoseValidator`` whose private ``_process_batch`` is
  extended to keep keypoint errors in pixels of the original image;
- :func:`training_utils`: ``ModelEMA``, ``EarlyStopping``, ``unwrap_model`` of
  ``ultralytics.utils.torch_utils``; validators built with the private ``_callbacks=`` keyword.

:func:`check` imports each of these and names whatever is missing; ``tests/unit/models/
test_ultralytics_internals.py`` runs it, so an upgrade that breaks one of them fails loudly there,
not at epoch 3 of a cohort's training. After checking a new version, add it to
:data:`CHECKED_VERSIONS`.

Nothing here imports ultralytics at module import: the training loop must import it with the DDP
variables hidden (:func:`.yolo_train._import_ultralytics`), and predictors only when they load.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

#: ultralytics versions whose internals were checked against this module.
CHECKED_VERSIONS = ("8.4.190",)

#: ``module:object`` → the attributes of it this package relies on (``""``: the module itself).
REQUIRED: dict[str, tuple[str, ...]] = {
    "ultralytics.utils:": ("RANK",),
    "ultralytics.utils.ops:": ("scale_boxes", "scale_coords"),
    "ultralytics.utils.torch_utils:": ("EarlyStopping", "ModelEMA", "unwrap_model"),
    "ultralytics.nn.tasks:": ("BaseModel",),
    "ultralytics.models.yolo.detect:DetectionTrainer": (
        "setup_model", "set_model_attributes", "get_dataloader", "build_optimizer", "set_class_weights",
        "_setup_scheduler", "_close_dataloader_mosaic", "preprocess_batch", "callbacks"),
    "ultralytics.models.yolo.pose:PoseTrainer": ("setup_model", "get_dataloader", "_setup_scheduler"),
    "ultralytics.models.yolo.detect:DetectionValidator": ("_check_max_det", "init_metrics"),
    "ultralytics.models.yolo.pose:PoseValidator": ("_process_batch", "init_metrics"),
}


def _resolve(target: str):
    module_name, _, name = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, name) if name else module


def check() -> list[str]:
    """What of :data:`REQUIRED` the installed ultralytics lacks (``module:object.attr``); empty when
    everything is there. Imports ultralytics (call :func:`deepbehavior.offline.offline_ultralytics`
    first)."""
    missing = []
    for target, attributes in REQUIRED.items():
        try:
            owner = _resolve(target)
        except (ImportError, AttributeError) as exc:
            missing.append(f"{target} ({type(exc).__name__}: {exc})")
            continue
        if isinstance(owner, type) and "callbacks" in attributes:
            attributes = tuple(a for a in attributes if a != "callbacks")  # an instance attribute
        missing += [f"{target}.{a}" for a in attributes if not hasattr(owner, a)]
    try:  # the loop builds its validator with the trainer's callbacks, a private keyword
        import inspect

        init = _resolve("ultralytics.models.yolo.detect:DetectionValidator").__init__
        if "_callbacks" not in inspect.signature(init).parameters:
            missing.append("ultralytics.models.yolo.detect:DetectionValidator(_callbacks=)")
    except (ImportError, AttributeError):
        pass  # already named above
    return missing


def version() -> str:
    """The installed ultralytics version."""
    from ultralytics import __version__

    return __version__


def rank() -> int:
    """The DDP rank ultralytics took from the environment when it was imported (-1: one process)."""
    import ultralytics.utils as uutils

    return uutils.RANK


def setup_scheduler(trainer) -> None:
    """Build ``trainer.scheduler`` for ``trainer.optimizer`` (``BaseTrainer._setup_scheduler``)."""
    trainer._setup_scheduler()


def close_dataloader_mosaic(trainer) -> None:
    """Turn mosaic off in ``trainer.train_loader`` (``BaseTrainer._close_dataloader_mosaic``)."""
    trainer._close_dataloader_mosaic()


def check_max_det(args, datasets: dict) -> None:
    """Raise ``args.max_det`` to the most objects of an image of ``datasets`` (``train``, ``val``)
    as ``DetectionValidator._check_max_det`` does before training."""
    from ultralytics.models.yolo.detect import DetectionValidator

    DetectionValidator._check_max_det(args, datasets)


def training_utils() -> SimpleNamespace:
    """``ModelEMA``, ``EarlyStopping`` and ``unwrap_model`` of ``ultralytics.utils.torch_utils``."""
    from ultralytics.utils.torch_utils import EarlyStopping, ModelEMA, unwrap_model

    return SimpleNamespace(EarlyStopping=EarlyStopping, ModelEMA=ModelEMA, unwrap_model=unwrap_model)


def keypoint_pixel_validator_class():
    """ultralytics' ``PoseValidator`` that also keeps each matched keypoint's error in pixels of the
    original image (``pixel_errors``, ``pixel_scales``: lists of arrays, one per batch), by extending
    its private ``_process_batch``."""
    from ultralytics.models.yolo.pose import PoseValidator
    from ultralytics.utils import ops

    from .keypoint_metrics import keypoint_errors

    class KeypointPixelValidator(PoseValidator):
        def init_metrics(self, model):
            super().init_metrics(model)
            self.pixel_errors, self.pixel_scales = [], []

        def _process_batch(self, preds, batch):
            tp = super()._process_batch(preds, batch)
            ratio_pad, shape, imgsz = batch["ratio_pad"], batch["ori_shape"], batch["imgsz"]
            true_boxes = ops.scale_boxes(imgsz, batch["bboxes"].clone(), shape, ratio_pad=ratio_pad)
            true_kpts = ops.scale_coords(imgsz, batch["keypoints"].clone(), shape, ratio_pad=ratio_pad)
            pred_boxes = ops.scale_boxes(imgsz, preds["bboxes"].clone(), shape, ratio_pad=ratio_pad)
            pred_kpts = ops.scale_coords(imgsz, preds["keypoints"].clone(), shape, ratio_pad=ratio_pad)
            kpts = true_kpts.cpu().numpy()
            visible = kpts[..., 2] > 0 if kpts.shape[-1] == 3 else (kpts[..., :2] != 0).any(-1)
            errors, scale = keypoint_errors(true_boxes.cpu().numpy(), kpts[..., :2], visible,
                                            pred_boxes.cpu().numpy(), pred_kpts[..., :2].cpu().numpy(),
                                            preds["conf"].cpu().numpy())
            self.pixel_errors.append(errors)
            self.pixel_scales.append(scale)
            return tp

    return KeypointPixelValidator
