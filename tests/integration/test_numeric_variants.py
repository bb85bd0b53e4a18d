"""A store resumed with other settings outside its fingerprint (batch size, threads): allowed, each chunk
records what it was predicted with, and the run says so in one line."""

import numpy as np
import pytest
import xarray as xr

from deepbehavior import store
from deepbehavior.cohort import Cohort, Session
from deepbehavior.runtime.local import infer_local
from deepbehavior.synthetic import mice as synthetic
from tests.helpers.models import random_yolo

FRAMES = 100


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    folder = tmp_path_factory.mktemp("variants")
    video = synthetic.render_session(folder / "v.mp4", frames=FRAMES, width=160, height=128, noise=0).video
    return video, random_yolo(folder / "random.pt")


def _run(video, weights, out, *, frames_per_batch, threads):
    lines = []
    cohort = Cohort("t", ("top",), (Session("m0", "g", "d1", {"top": video}),))
    kwargs = {"weights": str(weights), "imgsz": 160, "conf": 0.0, "max_individuals": 2, "threads": threads}
    report = infer_local(cohort, out, backend="yolo", backend_kwargs=kwargs, chunk=25,
                         frames_per_batch=frames_per_batch, retries=1, printer=lines.append, progress_every=0)
    return report, lines


def test_a_resume_with_another_batch_size_is_recorded_per_chunk(material, tmp_path):
    video, weights = material
    out = tmp_path / "out"
    _run(video, weights, out, frames_per_batch=16, threads=1)
    path = out / "stores" / "m0_d1.zarr"
    first = store.done_variants(path)
    assert len(first) == 4 and all(v == {"threads": "1", "frames_per_batch": "16"} for v in first.values())
    before = xr.open_zarr(path)["position"].values
    for key in ("top.1", "top.3"):  # an interrupted run: two chunks not done
        (out / "stores" / "m0_d1.zarr.progress" / "done" / key).unlink()
    report, lines = _run(video, weights, out, frames_per_batch=8, threads=1)
    assert report.shards_done == 2
    notes = [line for line in lines if "done chunks were predicted with" in line]
    assert len(notes) == 1 and "frames_per_batch=16" in notes[0] and "uses 8" in notes[0], lines
    after = store.done_variants(path)
    assert {k: v["frames_per_batch"] for k, v in after.items()} == {"top.0": "16", "top.1": "8", "top.2": "16",
                                                                      "top.3": "8"}
    # the redone chunks agree with the first run's to far below a pixel
    np.testing.assert_allclose(xr.open_zarr(path)["position"].values, before, atol=1e-3, equal_nan=True)
    _, lines = _run(video, weights, out, frames_per_batch=8, threads=1)  # nothing left to do: no note
    assert not [line for line in lines if "done chunks" in line]
