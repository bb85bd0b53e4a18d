"""Fingerprints: a store made with other settings is never resumed into or skipped as done (issue #15)."""

from __future__ import annotations

import pytest

from deepbehavior import fingerprint, store
from deepbehavior.synthetic import mice as synthetic
from deepbehavior.cohort import Cohort, Session
from deepbehavior.models.base import ModelDescription
from deepbehavior.runtime.inference import check_resumable, plan_shards, session_fingerprints

DESCRIPTION = ModelDescription(kind="boxes", slots=1)


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fp")
    video = synthetic.render_session(folder / "v.mp4", frames=30, width=96, height=64, seed=0, noise=0).video
    other = synthetic.render_session(folder / "w.mp4", frames=30, width=96, height=64, seed=1, noise=0).video
    weights = folder / "a.pt"
    weights.write_bytes(b"weights A" * 100)
    return folder, video, other, weights


def _options(weights, **change):
    return {"weights": str(weights), "imgsz": 640, "conf": 0.25, "iou": 0.7, "max_individuals": 1,
            "device": "auto", "half": False, "threads": None, **change}


def _cohort(video):
    return Cohort("t", ("top",), (Session("m1", "g", "d1", {"top": video}),))


def _started_store(tmp_path, video, weights, **change):
    """A store as an interrupted ``infer`` leaves it: created with its fingerprint, one chunk done."""
    cohort = _cohort(video)
    fps = session_fingerprints(cohort, backend="yolo", backend_kwargs=_options(weights, **change), chunk=10)
    shards, _ = plan_shards(cohort, tmp_path / "stores", DESCRIPTION, chunk=10, fingerprints=fps)
    store.mark_done(shards[0].store, shards[0].region)
    return cohort, tmp_path / "stores"


def test_a_resume_with_another_imgsz_stops_naming_both_values(material, tmp_path):
    """Issue #15: a run stopped at imgsz 640 and resumed with imgsz 320 mixed two settings in one store."""
    _, video, _, weights = material
    cohort, stores = _started_store(tmp_path, video, weights)
    resumed = session_fingerprints(cohort, backend="yolo", backend_kwargs=_options(weights, imgsz=320), chunk=10)
    with pytest.raises(fingerprint.FingerprintMismatch) as error:
        check_resumable(cohort, stores, resumed)
    message = str(error.value)
    assert "\n" not in message
    assert "options.imgsz was 640, but this run has 320" in message and "force=true" in message
    # plan_shards, which the pipeline calls, refuses too; with force the store is made anew
    with pytest.raises(fingerprint.FingerprintMismatch):
        plan_shards(cohort, stores, DESCRIPTION, chunk=10, fingerprints=resumed)
    shards, _ = plan_shards(cohort, stores, DESCRIPTION, chunk=10, fingerprints=resumed, force=True)
    assert len(shards) == 3  # every chunk to do again
    path = stores / "m1_d1.zarr"
    assert fingerprint.of_store(store.open_store(path).attrs)["options.imgsz"] == "320"


@pytest.mark.parametrize("what", ["weights", "conf", "video", "chunk"])
def test_other_weights_threshold_video_or_chunk_are_refused(material, tmp_path, what):
    folder, video, other, weights = material
    session_video = tmp_path / "v.mp4"
    session_video.write_bytes(video.read_bytes())
    cohort, stores = _started_store(tmp_path, session_video, weights)
    kwargs, chunk = _options(weights), 10
    if what == "weights":
        changed = tmp_path / "b.pt"
        changed.write_bytes(b"weights B" * 100)
        kwargs = _options(changed)
    elif what == "conf":
        kwargs = _options(weights, conf=0.5)
    elif what == "video":  # the same path, now another recording
        session_video.write_bytes(other.read_bytes())
    else:
        chunk = 20
    current = session_fingerprints(cohort, backend="yolo", backend_kwargs=kwargs, chunk=chunk)
    with pytest.raises(fingerprint.FingerprintMismatch, match=what):
        check_resumable(cohort, stores, current)


def test_device_and_threads_do_not_count(material, tmp_path):
    _, video, _, weights = material
    cohort, stores = _started_store(tmp_path, video, weights)
    same = session_fingerprints(cohort, backend="yolo", chunk=10,
                                backend_kwargs=_options(weights, device="cpu", threads=2))
    check_resumable(cohort, stores, same)  # no error


def test_a_store_without_fingerprint_is_not_resumed(material, tmp_path):
    _, video, _, weights = material
    cohort = _cohort(video)
    plan_shards(cohort, tmp_path / "stores", DESCRIPTION, chunk=10)  # an older version: no fingerprint
    current = session_fingerprints(cohort, backend="yolo", backend_kwargs=_options(weights), chunk=10)
    with pytest.raises(fingerprint.FingerprintMismatch, match="has none"):
        check_resumable(cohort, tmp_path / "stores", current)


def test_differences_lists_every_part():
    a = fingerprint.make(backend="yolo", options={"imgsz": 640, "conf": 0.25})
    b = fingerprint.make(backend="yolo", options={"imgsz": 320, "conf": 0.5})
    assert fingerprint.differences(a, b) == [("options.conf", "0.25", "0.5"), ("options.imgsz", "640", "320")]
    assert fingerprint.digest(a) != fingerprint.digest(b)
    with pytest.raises(fingerprint.FingerprintMismatch, match=r"and 1 more: options.imgsz"):
        fingerprint.check(a, b, where="x", redo="force=true")


def test_a_number_given_as_int_or_float_is_the_same_setting():
    # TrackConfig(max_jump=15) from Python, max_jump=15.0 from the command line: one setting
    python = fingerprint.make(track={"max_jump": 15, "gate": [1, 2]})
    cli = fingerprint.make(track={"max_jump": 15.0, "gate": [1.0, 2.0]})
    assert fingerprint.differences(python, cli) == []
    fingerprint.check(python, cli, where="x", redo="force=true")
    other = fingerprint.make(track={"max_jump": 15.5, "gate": [1, 2]})
    assert fingerprint.differences(python, other) == [("track.max_jump", "15", "15.5")]
    assert fingerprint.differences(fingerprint.make(flag=True), fingerprint.make(flag=1)) != []  # a bool is no number


def test_numeric_variant_keeps_what_the_fingerprint_leaves_out():
    from deepbehavior.fingerprint import NOT_CONTENT, numeric_variant

    options = {"weights": "w.pt", "imgsz": 640, "threads": 2, "device": "cpu", "batch_size": 8}
    variant = numeric_variant(options, frames_per_batch=16)
    assert variant == {"batch_size": "8", "device": "cpu", "threads": "2", "frames_per_batch": "16"}
    assert set(variant) - {"frames_per_batch"} <= NOT_CONTENT  # the content settings are the fingerprint's


def test_variant_notice_names_the_setting_and_how_many_chunks():
    from deepbehavior.fingerprint import variant_notice

    now = {"threads": "2", "frames_per_batch": "16"}
    assert variant_notice({"top.0": dict(now), "top.1": None}, now, where="store s") is None
    line = variant_notice({"top.0": {"threads": "1", "frames_per_batch": "16"}, "top.1": dict(now), "top.2": None},
                          now, where="store s")
    assert line.startswith("store s: 1 of its 3 done chunks") and "threads=1" in line and "uses 2" in line
    assert "\n" not in line


def test_done_markers_keep_each_chunks_variant(tmp_path):
    from deepbehavior import store

    path = tmp_path / "s.zarr"
    path.mkdir()
    store.mark_done(path, store.Region("top", 0, 0, 10), variant={"threads": "1"})
    store.mark_done(path, store.Region("top", 1, 10, 20))
    assert store.done_variants(path) == {"top.0": {"threads": "1"}, "top.1": None}
    assert store.done_keys(path) == {"top.0", "top.1"}
