"""The batched ultralytics predictor: its fast input path must compute what the plain model does."""

import numpy as np
import pytest

from deepbehavior.models.yolo import YoloPredictor, letterbox_geometry
from tests.helpers.models import random_yolo


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return random_yolo(tmp_path_factory.mktemp("yolo") / "random.pt", seed=3)


def reference_output(weights, frames: np.ndarray, imgsz: int):
    """The unchanged network on ultralytics' own input (letterboxed RGB in 0..1, NCHW contiguous):
    its first layer's output, and its final output."""
    import cv2
    import torch
    from ultralytics import YOLO

    model = YOLO(str(weights)).model.fuse().float().eval()
    n, height, width = frames.shape[:3]
    scale, new_w, new_h, canvas_w, canvas_h = letterbox_geometry(height, width, imgsz)
    left, top = (canvas_w - new_w) // 2, (canvas_h - new_h) // 2
    canvas = np.full((n, canvas_h, canvas_w, 3), 114, np.uint8)
    for i, frame in enumerate(frames):
        canvas[i, top:top + new_h, left:left + new_w] = cv2.resize(frame, (new_w, new_h))
    rgb = torch.from_numpy(canvas[..., ::-1].copy()).permute(0, 3, 1, 2).contiguous().float() / 255
    with torch.inference_mode():
        first, out = model.model[0](rgb), model(rgb)
    return first.numpy(), (out[0] if isinstance(out, (list, tuple)) else out).numpy()


@pytest.mark.parametrize("shape", [(96, 128), (100, 150)], ids=["exact", "letterboxed"])
@pytest.mark.parametrize("channels_last", [True, False])
def test_folded_input_and_channels_last_match_the_plain_network(weights, shape, channels_last):
    import torch

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(3, *shape, 3), dtype=np.uint8)
    predictor = YoloPredictor(str(weights), imgsz=128, device="cpu", channels_last=channels_last)
    assert predictor.raw_input  # yolo11's first layer is a plain convolution: the transform is folded
    tensor, *_ = predictor._preprocess(frames)
    assert tensor.is_contiguous(memory_format=torch.channels_last) == channels_last
    with torch.inference_mode():
        first, out = predictor.model.model[0](tensor), predictor.model(tensor)
    expected_first, expected = reference_output(weights, frames, 128)
    # A network with random weights barely depends on its input by the end, so the first layer,
    # where the colour order and the scaling are folded in, is compared on its own.
    assert np.abs(expected_first).max() > 0.1
    np.testing.assert_allclose(first.numpy(), expected_first, rtol=1e-4, atol=1e-5)
    ours = (out[0] if isinstance(out, (list, tuple)) else out).numpy()
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


def test_bfloat16_runs_the_body_in_bfloat16_and_the_head_and_decoding_in_float32(weights):
    """The convolutions before the head run in bfloat16; the head gets their features cast up and
    computes exactly what the float32 head computes on them (a bfloat16 head would round its scores
    and its anchors: a box corner near x = 600 px to 4 px)."""
    import torch

    frames = np.random.default_rng(1).integers(0, 256, size=(2, 96, 128, 3), dtype=np.uint8)
    predictor = YoloPredictor(str(weights), imgsz=128, device="cpu", bfloat16=True)
    head = predictor.model.model[-1]
    seen = {}
    predictor.model.model[0].register_forward_hook(lambda m, i, o: seen.update(body=o.dtype))  # None: o kept
    head.register_forward_pre_hook(lambda m, args: seen.update(features=[f.clone() for f in args[0]]))
    raw, *_ = predictor._forward(frames)
    out = raw[0] if isinstance(raw, (list, tuple)) else raw
    assert seen["body"] == torch.bfloat16
    assert out.dtype == torch.float32
    plain = YoloPredictor(str(weights), imgsz=128, device="cpu")
    with torch.inference_mode():
        expected = plain.model.model[-1]([f.float() for f in seen["features"]])
    expected = expected[0] if isinstance(expected, (list, tuple)) else expected
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)
    # and the whole output stays close to float32's (a random network: scores near 0.5)
    full, *_ = plain._forward(frames)
    full = full[0] if isinstance(full, (list, tuple)) else full
    assert np.abs(out.numpy() - full.numpy()).max() < 0.05


def test_bfloat16_and_half_together_are_refused(weights):
    with pytest.raises(ValueError, match="one of half"):
        YoloPredictor(str(weights), imgsz=128, device="cpu", bfloat16=True, half=True)
