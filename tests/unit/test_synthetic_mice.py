"""Synthetic sessions: the body truth the demo is scored against (issue #15)."""

import numpy as np

from deepbehavior.synthetic import mice as synthetic


def _length(path: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())


def test_body_box_is_centred_on_the_body_and_the_animal_box_is_not(tmp_path):
    session = synthetic.render_session(tmp_path / "m.mp4", frames=300, seed=1, noise=0)
    body = session.poses["position"].sel(keypoints="body").isel(individuals=0).values
    t = np.arange(300) / 30.0
    # the body keypoint is the closed-form path whose speed the session reports
    np.testing.assert_allclose(np.linalg.norm(np.gradient(body, t, axis=0), axis=1)[5:-5], session.speed[5:-5, 0],
                               rtol=2e-3)
    body_box = session.body_boxes["position"].isel(individuals=0).values
    np.testing.assert_allclose(body_box, body, atol=1e-4)
    # the whole-animal box's centre wanders with the paw and the turns: its path is much longer
    animal_box = session.boxes["position"].isel(individuals=0).values
    assert _length(animal_box) > 1.1 * _length(body)
    # the body box holds the drawn ellipse (semi-axes 1.1 x half length, half width) in any heading
    size = session.body_boxes["shape"].isel(individuals=0).values
    a, b = 1.1 * synthetic.BODY_HALF_LENGTH * 240, synthetic.BODY_HALF_WIDTH * 240
    assert (size >= 2 * b - 1e-4).all() and (size <= 2 * a + 1e-4).all()


def test_yolo_labels_of_body_boxes(tmp_path):
    session = synthetic.render_session(tmp_path / "m.mp4", frames=20, seed=0, noise=0)
    data = synthetic.write_yolo_dataset([session], tmp_path / "ds", frames_per_session=20, box="body", val_fraction=0)
    label = (data.parent / "labels" / "train" / "s0_f00000.txt").read_text().split()
    body = session.poses["position"].sel(keypoints="body").isel(individuals=0, time=0).values
    # YOLO's origin is the top-left pixel's corner, the rendering's (OpenCV's) that pixel's centre
    np.testing.assert_allclose([float(label[1]) * 320, float(label[2]) * 240], body + 0.5, atol=1e-3)


def test_pose_labels_are_the_exact_keypoints_and_train_reads_them(tmp_path):
    from deepbehavior.models.dataset_checks import check_dataset
    from deepbehavior.models.topdown_train import read_split

    session = synthetic.render_session(tmp_path / "m.mp4", frames=20, seed=0, noise=0)
    data = synthetic.write_pose_dataset([session], tmp_path / "ds", frames_per_session=5, val_fraction=0.4, seed=0)
    summary = check_dataset(data)
    assert summary.task == "pose" and tuple(summary.data["kpt_names"][0]) == synthetic.KEYPOINTS
    assert summary.images["train"] + summary.images["val"] == 5
    truth = session.poses["position"].isel(individuals=0).transpose("time", "keypoints", "space").values
    for split in ("train", "val"):
        read = read_split(summary.data, split, len(synthetic.KEYPOINTS))
        for path, points in zip(read.paths, read.points):
            frame = int(path.stem.split("_f")[1])  # s0_f00005 → frame 5
            assert frame in (0, 5, 10, 14, 19)
            # labels are stored to 6 decimals of the frame's width and height: ~0.0003 px
            np.testing.assert_allclose(points[0], truth[frame] + 0.5, atol=1e-3)  # corner origin, as YOLO's
