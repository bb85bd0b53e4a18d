"""Identity from the detector's class, where the class says who is who (DeepBehavior's social test
trained ``body`` for one mouse and ``body_mini`` for the other)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from .layout import VIEW, check_slots, gather, individuals_dim


def identities_from_classes(ds: xr.Dataset, class_to_identity: Mapping[str, str]) -> xr.Dataset:
    """Identities from class names, e.g. ``{"body": "mouse1", "body_mini": "mouse2"}``.

    For every identity and frame the most confident slot whose class maps to it is kept; the other
    slots of that class in the frame, and classes not in the mapping, are left out (the quality
    report lists them as extra detections).

    Parameters
    ----------
    ds
        Boxes dataset in slots, with ``class_index (time, individuals[, view])`` and
        ``attrs["class_names"]``.
    class_to_identity
        Class name → identity name (several classes may map to one identity).

    Returns
    -------
    xr.Dataset
        ``individuals`` = the identity names in order of first appearance in the mapping,
        ``attrs["individuals_are"] == "identities"``, ``attrs["identity_from"] == "class"``.
    """
    check_slots(ds)
    if "class_index" not in ds or "class_names" not in ds.attrs:
        raise ValueError("Expected 'class_index' and attrs['class_names'] in the dataset, but they are missing")
    class_names = list(ds.attrs["class_names"])
    unknown = sorted(set(class_to_identity) - set(class_names))
    if unknown:
        raise ValueError(f"Expected class names from {class_names}, but got {unknown}")
    ind = individuals_dim(ds)
    names = list(dict.fromkeys(class_to_identity.values()))
    order = ("time", ind, VIEW) if VIEW in ds["class_index"].dims else ("time", ind)
    cls = ds["class_index"].transpose(*order).values
    conf = ds["confidence"].transpose(*order).values if "confidence" in ds else np.ones(cls.shape)
    if cls.ndim == 2:
        cls, conf = cls[..., None], conf[..., None]
    conf = np.where(np.isnan(conf), 0.0, conf)
    slot_of = np.full((cls.shape[0], len(names), cls.shape[2]), -1, dtype=np.int64)
    for k, name in enumerate(names):
        codes = [class_names.index(c) for c, ident in class_to_identity.items() if ident == name]
        member = np.isin(cls, codes)
        score = np.where(member, conf, -np.inf)
        best = np.argmax(score, axis=1)  # (time, view)
        found = np.take_along_axis(member, best[:, None, :], axis=1)[:, 0, :]
        slot_of[:, k, :] = np.where(found, best, -1)
    out = gather(ds, slot_of, names)
    out.attrs["identity_from"] = "class"
    return out
