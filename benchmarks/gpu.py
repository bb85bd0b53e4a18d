"""One-GPU benchmark: every figure of a lent GPU's one run, into ONE JSON (``benchmarks/results/gpu.json``).

    bash benchmarks/gpu.sh                      # on a machine with one GPU and ~16 cores
    bash benchmarks/gpu.sh --cpu --tiny --out /tmp/gpu.json   # a few frames on the CPU (tested)

Each part runs in a process of its own under its own timeout (``TIMEOUTS``, 450 s in all; a part
that hangs or crashes is reported as such, the others still run). Inside a part every measurement
is time-boxed to its share of the part's time (``Clock``): it runs whole batches until its share is
spent, so a part fits its timeout whatever the device's speed, and each figure says how many frames
it rests on. Steady and stream figures use a clip of at most ``MAX_FRAMES`` (1,000) frames, decoded
once; clips are written as H.264 where an encoder exists (``codec`` keys say which). Parts and keys:

``decode``
    Frames/s decoding the clip with OpenCV on the CPU: one process, and ``readers`` processes each
    decoding its own range; on the GPU through ``torchcodec``, the optional dependency
    ``deepbehavior[gpu-decode]``, when it is installed (otherwise ``gpu_decode`` says why not).
``inference``
    ``precisions``: for fp32, fp16 (GPU only) and bf16, our predictor on in-memory frames in batches
    of ``--batch`` (``ours_fps``), ultralytics' batched predict on the same frames and precision
    (``ultralytics_batch_fps``) and its stream mode over the clip at batch 1
    (``ultralytics_stream_fps``), once per precision, each with ``accuracy_vs_fp32`` (from the
    ``accuracy`` part) beside it. ``batch_sweep``: batch 1, 8, 32, 64, 128, 256, ours against
    ultralytics' own batched video predict (``predict(source=video, stream=True, batch=B)``), fp16 on a GPU.
``end_to_end``
    ``deepbehavior``'s whole run through Ray (CPU readers decode, the GPU predicts, Zarr written):
    ``end_to_end_fps`` on a fresh Ray, ``end_to_end_warm_fps`` again; ``local_runner_fps``: the
    in-process runner. The clip is cut to what the part's time allows, from a rate measured first.
``export``
    ultralytics at its documented fastest: its TensorRT export at fp16 (ONNX Runtime where TensorRT is
    absent) through its own batched predict, when the export works offline; otherwise why not.
``accuracy``
    fp16 and bf16 against fp32 on a TRAINED model: yolo11n-pose trained on synthetic triangles with 3
    keypoints (as the tests train), boxes and keypoints compared on held-out images.
``training``
    Images/s of Ray Train (what ``use_gpu=true`` trains with) against ultralytics' own trainer, same
    data, epochs, batch, seed (``benchmarks/training.py``'s runners).
``pose``
    yolo11n-pose through our backend (``yolo_pose``) against ultralytics' batch predict, fp16 on a GPU.

Speed figures use seeded random weights (speed does not depend on weights); accuracy uses the trained model.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]
from _timing import headline  # noqa: E402

VIDEO = ROOT.parent / "shared" / "data" / "dlc-openfield" / "videos" / "m3v1mp4.mp4"
PARTS = ("decode", "inference", "end_to_end", "export", "accuracy", "pose", "training")
# Seconds each part may take, its process's start-up included; they sum to 450 s, within gpu.sh's 470 s
# and the 8 minutes a lent GPU run has. Inside a part every measurement is time-boxed to its share
# (``Clock``), so a part fits its timeout by construction whatever the GPU's speed.
TIMEOUTS = {"decode": 30, "inference": 130, "end_to_end": 90, "export": 50, "accuracy": 70, "pose": 30,
            "training": 50}
#: Frames per call of the batch-size sweep, ours and ultralytics' batched predict alike.
SWEEP = (1, 8, 32, 64, 128, 256)
#: At most this many frames for any steady or stream measurement (decoded once, kept in memory).
MAX_FRAMES = 1000


# ---------------------------------------------------------------------------------------------
# Settings shared by the parts


def settings(args) -> dict:
    """Frame counts, batch and sizes for the run: a GPU's, or a few frames on the CPU (``--tiny``)."""
    cores = os.cpu_count() or 1
    if args.tiny:
        return {"frames": 24, "repeat": 1, "batch": 4, "imgsz": 160, "chunk": 12, "readers": 1, "sweep": (1, 8),
                "train": {"epochs": 1, "images": 8, "imgsz": 64, "batch": 4},
                "accuracy": {"epochs": 1, "images": 8, "imgsz": 64, "batch": 4}, "threads": _cpu_threads()}
    return {"frames": 0, "repeat": 1, "batch": args.batch, "imgsz": 640, "chunk": 500, "readers": max(cores - 1, 1),
            "sweep": SWEEP, "train": {"epochs": 2, "images": 256, "imgsz": 320, "batch": 64},
            "accuracy": {"epochs": 10, "images": 192, "imgsz": 320, "batch": 32}, "threads": cores}


def _cpu_threads() -> int:
    """Torch threads for the CPU mode: the runtime's rule (the CPUs not busy with other work), as
    ``deepbehavior infer`` picks them; a test machine is often busy, and more threads then run slower."""
    from deepbehavior.runtime.threads import choose_threads

    return choose_threads().threads


class Clock:
    """A part's seconds shared out among its measurements: each gets ``share()`` of what is left,
    so that the part ends within the timeout its process was given, whatever the device's speed."""

    def __init__(self, seconds: float, measurements: int, *, reserve: float = 0.3):
        self.deadline = time.perf_counter() + seconds * (1 - reserve)  # model loads, warm-ups, writing
        self.left = max(measurements, 1)

    def share(self) -> float:
        """Seconds for the next measurement (at least a tenth of a second)."""
        seconds = max((self.deadline - time.perf_counter()) / self.left, 0.1)
        self.left = max(self.left - 1, 1)
        return seconds


def boxed(step, batches: int, seconds: float, *, sync: bool) -> dict:
    """Run ``step(i)`` for batch ``i`` of ``batches`` until all ran or ``seconds`` passed (after the
    first); frames/s over the batches that ran, from ``step``'s returned frame counts."""
    import torch

    frames, start = 0, time.perf_counter()
    for i in range(batches):
        frames += step(i)
        if time.perf_counter() - start > seconds:
            break
    if sync:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return {"fps": round(frames / elapsed, 3), "frames": frames, "seconds": round(elapsed, 3)}


def device_of(args) -> str:
    import torch

    if args.cpu or not torch.cuda.is_available():
        return "cpu"
    return "cuda:0"


def clip(work: Path, s: dict, *, frames: int | None = None) -> Path:
    """The 640×480 clip, H.264 where an encoder exists (GPU decoders want it; the codec written is in
    ``clip_codec(work)``): the open-field video (its first ``frames``, all if 0) repeated ``repeat``
    times, or a synthetic video of that size where the real one is absent. ``frames``: only the
    first that many (a clip of its own, for the stream baselines)."""
    from deepbehavior.video import iter_frames, probe

    path = work / ("clip.mp4" if frames is None else f"clip-{frames}.mp4")
    if path.exists():
        return path
    if VIDEO.is_file():
        info = probe(VIDEO)
        source, count, fps = VIDEO, s["frames"] or info.frames, info.fps
    else:
        from deepbehavior.synthetic import mice as synthetic

        source = synthetic.render_session(work / "synthetic.mp4", frames=s["frames"] or 600, width=640, height=480,
                                          seed=0).video
        count, fps = probe(source).frames, probe(source).fps
    repeat = s["repeat"] if frames is None else 1
    count = count if frames is None else min(count, frames)
    stream = (f for _ in range(repeat) for f in iter_frames(source, 0, count))
    codec = write_h264(path, stream, fps=fps)
    (work / f"{path.stem}.codec").write_text(codec)
    return path


def clip_codec(work: Path, name: str = "clip") -> str:
    """The codec :func:`clip` wrote ``name``'s clip with."""
    file = work / f"{name}.codec"
    return file.read_text() if file.exists() else "unknown"


def write_h264(path: Path, frames, *, fps: float) -> str:
    """Write BGR ``frames`` to ``path`` as H.264 (OpenCV's ``avc1``, else the ``ffmpeg`` command with
    libx264), else as MPEG-4 part 2 (``mp4v``); which one, and why not H.264, as words."""
    import shutil

    import cv2
    import numpy as np

    from deepbehavior.video import write_video

    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"avc1"), fps, (width, height))
    if writer.isOpened():
        writer.write(first)
        for frame in frames:
            writer.write(np.ascontiguousarray(frame))
        writer.release()
        return "h264 (OpenCV avc1)"
    writer.release()
    path.unlink(missing_ok=True)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        command = [ffmpeg, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
                   "-r", str(fps), "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                   str(path)]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            process.stdin.write(first.tobytes())
            for frame in frames:
                process.stdin.write(np.ascontiguousarray(frame).tobytes())
            process.stdin.close()
        except BrokenPipeError:
            pass
        error = process.stderr.read().decode(errors="replace")
        if process.wait() == 0:
            return "h264 (ffmpeg libx264)"
        raise RuntimeError(f"ffmpeg could not write H.264: {error[-300:]}")
    write_video(path, (f for g in ([first], frames) for f in g), fps=fps)
    return "mp4v: no H.264 encoder here (OpenCV without avc1, no ffmpeg command)"


def weights(work: Path, architecture: str) -> Path:
    """An ultralytics ``.pt`` of ``architecture`` with seeded random weights (nothing downloaded)."""
    from deepbehavior.offline import offline_ultralytics

    path = work / f"{architecture.replace('.yaml', '')}-random.pt"
    if not path.exists():
        offline_ultralytics()
        import torch
        from ultralytics import YOLO

        torch.manual_seed(0)
        YOLO(architecture).save(path)
    return path


def timed(fn, *, sync: bool) -> float:
    import torch

    start = time.perf_counter()
    fn()
    if sync:
        torch.cuda.synchronize()
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# The parts (each in its own process)


def part_decode(args, s, work: Path) -> dict:
    from concurrent.futures import ProcessPoolExecutor

    from deepbehavior.video import probe

    clock = Clock(args.seconds, 3)
    video = clip(work, s)
    n = probe(video).frames
    start = time.perf_counter()
    one = _decode_range(str(video), 0, n, clock.share())
    single = one / (time.perf_counter() - start)
    readers = s["readers"]
    # each reader decodes its own range, sized from the one process's rate to fit its share
    each = max(min(n // readers, int(single * clock.share())), 1)
    bounds = [(i * n // readers, i * n // readers + each) for i in range(readers)]
    with ProcessPoolExecutor(readers) as pool:
        start = time.perf_counter()
        decoded = sum(pool.map(_decode_range, [str(video)] * readers, *zip(*bounds)))
        parallel = decoded / (time.perf_counter() - start)
    out = {"frames": n, "codec": clip_codec(work), "cpu_one_process_frames": one,
           "cpu_one_process_fps": round(single, 1), "readers": readers, "cpu_readers_fps": round(parallel, 1),
           "gpu_decode": "unavailable: torchcodec is not installed (pip install 'deepbehavior[gpu-decode]')"}
    try:
        from torchcodec.decoders import VideoDecoder
    except ImportError:
        return out
    if device_of(args) == "cpu":
        out["gpu_decode"] = "not measured on the CPU"
        return out
    try:
        import torch

        seconds = clock.share()
        decoder = VideoDecoder(str(video), device="cuda")
        start = time.perf_counter()
        count = 0
        for first in range(0, n, 256):
            count += len(decoder.get_frames_in_range(first, min(first + 256, n)).data)
            if time.perf_counter() - start > seconds:
                break
        torch.cuda.synchronize()
        out["gpu_decode"] = "torchcodec"
        out["gpu_torchcodec_frames"] = count
        out["gpu_torchcodec_fps"] = round(count / (time.perf_counter() - start), 1)
    except Exception as exc:  # noqa: BLE001 - reported: a decoder built without CUDA, a codec it lacks
        out["gpu_decode"] = f"torchcodec failed: {type(exc).__name__}: {exc}"[:300]
    return out


def _decode_range(video: str, start: int, stop: int, seconds: float = float("inf")) -> int:
    from deepbehavior.video import iter_frames

    began, count = time.perf_counter(), 0
    for _ in iter_frames(video, start, stop):
        count += 1
        if time.perf_counter() - began > seconds:
            break
    return count


def _ours(predictor, frames, batch: int, seconds: float, sync: bool) -> dict:
    """Our predictor's frames/s on in-memory ``frames`` in calls of ``batch``, time-boxed."""
    import numpy as np

    batch = min(batch, len(frames))
    predictor({"frames": frames[:batch], "frame": np.arange(batch)})  # warm-up (cuDNN picks its kernels)

    def step(i):
        first = (i * batch) % (len(frames) - batch + 1)
        predictor({"frames": frames[first:first + batch], "frame": np.arange(first, first + batch)})
        return batch

    return boxed(step, max(len(frames) // batch, 1), seconds, sync=sync)


def _ultralytics_batch(model, frames, batch: int, half: bool, device: str, imgsz: int, seconds: float,
                       sync: bool) -> dict:
    """ultralytics' batched predict on lists of ``batch`` in-memory frames, time-boxed."""
    batch = min(batch, len(frames))
    common = {"imgsz": imgsz, "half": half, "device": device, "conf": 0.25, "max_det": 4, "verbose": False}
    model.predict(list(frames[:batch]), batch=batch, **common)  # warm-up

    def step(i):
        first = (i * batch) % (len(frames) - batch + 1)
        model.predict(list(frames[first:first + batch]), batch=batch, **common)
        return batch

    return boxed(step, max(len(frames) // batch, 1), seconds, sync=sync)


def _ultralytics_stream(model, video: Path, *, batch: int, half: bool, device: str, imgsz: int, seconds: float,
                        sync: bool) -> dict:
    """ultralytics' own video mode (``predict(source=video, stream=True, batch=B)``), time-boxed."""
    import torch

    start, count = time.perf_counter(), 0
    for _ in model.predict(source=str(video), stream=True, batch=batch, imgsz=imgsz, half=half, device=device,
                           conf=0.25, max_det=4, verbose=False):
        count += 1
        # a batch's results come one by one after the whole batch ran: stop only between batches
        if count % batch == 0 and time.perf_counter() - start > seconds:
            break
    if sync:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return {"fps": round(count / elapsed, 3), "frames": count, "seconds": round(elapsed, 3)}


def _precisions(device: str) -> list[tuple[str, bool, bool]]:
    """(name, half, bfloat16) of the precisions measured on ``device`` (no float16 on a CPU)."""
    rows = [("fp32", False, False), ("fp16", True, False), ("bf16", False, True)]
    return [r for r in rows if not (r[1] and device == "cpu")]


def part_inference(args, s, work: Path) -> dict:
    """Per precision: ours and ultralytics' batched and stream predict; then the batch-size sweep."""
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    import torch
    from ultralytics import YOLO

    from deepbehavior.models.yolo import YoloPredictor
    from deepbehavior.video import probe, read_frames

    torch.set_num_threads(s["threads"])
    device = device_of(args)
    sync = device != "cpu"
    precisions = _precisions(device)
    sweep = [b for b in s["sweep"]]
    clock = Clock(args.seconds, 3 * len(precisions) + 2 * len(sweep), reserve=0.35)
    stream_video = clip(work, s, frames=MAX_FRAMES)
    model_path = weights(work, "yolo11n.yaml")
    frames = read_frames(stream_video, 0, probe(stream_video).frames)
    out: dict = {"frames_in_memory": int(len(frames)), "stream_clip_frames": int(len(frames)),
                 "stream_clip_codec": clip_codec(work, stream_video.stem), "batch": s["batch"], "imgsz": s["imgsz"],
                 "device": device, "threads": s["threads"], "precisions": {}}
    for precision, half, bf16 in precisions:
        ours = YoloPredictor(str(model_path), imgsz=s["imgsz"], conf=0.25, max_individuals=4, device=device,
                             half=half, bfloat16=bf16, threads=s["threads"])
        row = {"ours": _ours(ours, frames, s["batch"], clock.share(), sync)}
        del ours
        # ultralytics has no bfloat16 mode: it runs at its own best there (fp16 on a GPU, fp32 on a CPU)
        theirs_half = half or (bf16 and device != "cpu")
        model = YOLO(str(model_path))
        row["ultralytics_batch"] = _ultralytics_batch(model, frames, s["batch"], theirs_half, device, s["imgsz"],
                                                      clock.share(), sync)
        row["ultralytics_stream"] = _ultralytics_stream(model, stream_video, batch=1, half=theirs_half, device=device,
                                                        imgsz=s["imgsz"], seconds=clock.share(), sync=sync)
        row["ours_fps"] = row["ours"]["fps"]
        row["ultralytics_batch_fps"] = row["ultralytics_batch"]["fps"]
        row["ultralytics_stream_fps"] = row["ultralytics_stream"]["fps"]
        row["ours_vs_ultralytics_batch"] = round(row["ours_fps"] / row["ultralytics_batch_fps"], 3)
        row["ours_vs_ultralytics_stream"] = round(row["ours_fps"] / row["ultralytics_stream_fps"], 3)
        row["ms_per_frame_ours"] = round(1000 / row["ours_fps"], 3)
        out["precisions"][precision] = row
        out[precision] = row  # the old keys
    # the batch sweep at the fastest precision ultralytics has here (fp16 on a GPU, fp32 on a CPU):
    # ours against ultralytics' own batched video predict (its documented batch mode over a video)
    half = device != "cpu"
    ours = YoloPredictor(str(model_path), imgsz=s["imgsz"], conf=0.25, max_individuals=4, device=device, half=half,
                         threads=s["threads"])
    model = YOLO(str(model_path))
    rows = {}
    for batch in sweep:
        mine = _ours(ours, frames, batch, clock.share(), sync)
        theirs = _ultralytics_stream(model, stream_video, batch=batch, half=half, device=device, imgsz=s["imgsz"],
                                     seconds=clock.share(), sync=sync)
        rows[str(batch)] = {"ours_fps": mine["fps"], "ultralytics_video_batch_fps": theirs["fps"],
                            "ours_vs_ultralytics": round(mine["fps"] / theirs["fps"], 3),
                            "frames": {"ours": mine["frames"], "ultralytics": theirs["frames"]}}
    out["batch_sweep"] = {"precision": "fp16" if half else "fp32", "rows": rows,
                          "best_ours": max(rows.items(), key=lambda r: r[1]["ours_fps"])[0],
                          "best_ultralytics": max(rows.items(), key=lambda r: r[1]["ultralytics_video_batch_fps"])[0]}
    best = max(r["ours_fps"] for r in rows.values())
    out["batch_sweep"]["best_ours_vs_best_ultralytics"] = round(
        best / max(r["ultralytics_video_batch_fps"] for r in rows.values()), 3)
    return out


def part_end_to_end(args, s, work: Path) -> dict:
    """``deepbehavior``'s whole run through Ray over the clip (fresh Ray, then again), and the in-process
    runner; the clip is cut to what the part's time allows at a rate measured on its first frames."""
    from deepbehavior.cohort import cohort_from_videos
    from deepbehavior.config import RayConfig
    from deepbehavior.runtime.environment import start_ray
    from deepbehavior.runtime.inference import infer_cohort
    from deepbehavior.runtime.local import infer_local
    from deepbehavior.video import probe

    began = time.perf_counter()
    device = device_of(args)
    gpu = device != "cpu"
    model_path = weights(work, "yolo11n.yaml")
    kwargs = {"weights": str(model_path), "imgsz": s["imgsz"], "conf": 0.25, "max_individuals": 4, "device": device,
              "half": gpu, "threads": s["threads"]}
    full = clip(work, s)
    # the per-frame estimate: the in-process runner over a short clip (its fixed cost included, so an over-estimate)
    probe_frames = min(probe(full).frames, 4 * s["batch"] if args.tiny else 512)
    short = clip(work, s, frames=probe_frames)
    report = infer_local(cohort_from_videos([short]), work / "e2e-probe", backend="yolo", backend_kwargs=kwargs,
                         chunk=s["chunk"], frames_per_batch=s["batch"], force=True, printer=lambda m: None)
    per_frame = 1 / max(report.fps, 1e-6)
    ray_start = 20.0  # seconds a fresh Ray takes to start here
    left = args.seconds * 0.7 - (time.perf_counter() - began) - ray_start
    frames = int(min(probe(full).frames, max(left / 3 / per_frame, probe_frames)))
    video = full if frames >= probe(full).frames else clip(work, s, frames=frames)
    start_ray(RayConfig(num_cpus=os.cpu_count(), num_gpus=1 if gpu else 0))
    out = {"half": gpu, "readers": s["readers"] if gpu else 0, "estimate_ms_per_frame": round(1000 * per_frame, 3),
           "frames": frames, "codec": clip_codec(work, video.stem)}
    for name in ("end_to_end_fps", "end_to_end_warm_fps"):
        report = infer_cohort(cohort_from_videos([video]), work / name, backend="yolo", backend_kwargs=kwargs,
                              chunk=s["chunk"], frames_per_batch=s["batch"], force=True,
                              readers=s["readers"] if gpu else None, printer=lambda m: None)
        if report.failures:
            raise RuntimeError(f"end-to-end run failed: {report.failures[:2]}")
        out[name], out["frames"] = round(report.fps, 2), report.frames
    # The in-process runner (one decoding thread) on the same clip: where it stops paying to skip
    # Ray's start-up on a GPU machine (deepbehavior.runtime.local.LOCAL_GPU_MAX_FRAMES).
    report = infer_local(cohort_from_videos([video]), work / "local", backend="yolo", backend_kwargs=kwargs,
                         chunk=s["chunk"], frames_per_batch=s["batch"], force=True, printer=lambda m: None)
    if report.failures:
        raise RuntimeError(f"local run failed: {report.failures[:2]}")
    out["local_runner_fps"] = round(report.fps, 2)
    return out


def part_export(args, s, work: Path) -> dict:
    """ultralytics' exported model at fp16 (TensorRT on a GPU, else ONNX) through its own batched predict:
    ultralytics at its documented fastest, when the export works offline; otherwise why not."""
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    import importlib.util

    from ultralytics import YOLO

    from deepbehavior.video import probe, read_frames

    device = device_of(args)
    gpu = device != "cpu"
    tried = []
    for fmt, module in ((("engine", "tensorrt"),) if gpu else ()) + (("onnx", "onnxruntime"),):
        if importlib.util.find_spec(module) is None or (fmt == "onnx" and importlib.util.find_spec("onnx") is None):
            tried.append(f"{fmt}: unavailable ({module}{' / onnx' if fmt == 'onnx' else ''} not installed; "
                         f"ultralytics would try to download it)")
            continue
        clock = Clock(args.seconds, 2, reserve=0.5)
        model_path = weights(work, "yolo11n.yaml")
        try:
            exported = YOLO(str(model_path)).export(format=fmt, half=gpu, imgsz=s["imgsz"], batch=s["batch"],
                                                    device=device, verbose=False)
        except Exception as exc:  # noqa: BLE001 - reported
            tried.append(f"{fmt}: export failed: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        video = clip(work, s, frames=MAX_FRAMES)
        frames = read_frames(video, 0, probe(video).frames)
        model = YOLO(exported, task="detect")
        speed = _ultralytics_batch(model, frames, s["batch"], gpu, device, s["imgsz"], clock.share(), gpu)
        return {"export": "measured", "format": fmt, "half": gpu, "batch": s["batch"], "fps": speed["fps"],
                "frames": speed["frames"], "tried": tried}
    return {"export": "unavailable", "why": "; ".join(tried)}


def _match(reference, other, max_px: float = 20.0):
    """Pairs (i, j) of detections of one frame, nearest box centres first, within ``max_px``."""
    import numpy as np

    ok_r = np.flatnonzero(~np.isnan(reference[:, 0]))
    ok_o = np.flatnonzero(~np.isnan(other[:, 0]))
    centre = lambda b: (b[:, :2] + b[:, 2:]) / 2  # noqa: E731
    pairs, used = [], set()
    for i in ok_r:
        if not len(ok_o):
            break
        d = np.linalg.norm(centre(other[ok_o]) - centre(reference[[i]]), axis=1)
        for k in np.argsort(d):
            if ok_o[k] not in used and d[k] <= max_px:
                pairs.append((i, ok_o[k]))
                used.add(ok_o[k])
                break
    return pairs


def part_accuracy(args, s, work: Path) -> dict:
    """fp16 and bf16 against fp32 on a TRAINED pose model (boxes and keypoints): a yolo11n-pose trained
    on synthetic triangles with 3 keypoints (as the tests train), run by our predictor on held-out frames."""
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    import cv2
    import numpy as np
    import torch
    from ultralytics import YOLO

    from deepbehavior.models.yolo import YoloPredictor
    from deepbehavior.synthetic.shapes_dataset import write_synthetic_dataset

    torch.set_num_threads(s["threads"])
    device = device_of(args)
    a = s["accuracy"]
    import yaml

    from deepbehavior.models.dataset_checks import check_dataset

    written = write_synthetic_dataset(work / "pose-data", kind="pose", images=a["images"],
                                      val_images=max(a["images"] // 4, 4), size=a["imgsz"], objects=2, seed=1)
    data = work / "pose-data.resolved.yaml"  # absolute paths, as ultralytics wants them
    data.write_text(yaml.safe_dump(check_dataset(written).data))
    torch.manual_seed(0)
    YOLO("yolo11n-pose.yaml").train(data=str(data), epochs=a["epochs"], imgsz=a["imgsz"], batch=a["batch"],
                                    device=0 if device != "cpu" else "cpu", workers=0, amp=False, plots=False,
                                    val=False, project=str(work / "pose-train"), name="run", exist_ok=True,
                                    seed=0, verbose=False)
    trained = work / "pose-train" / "run" / "weights" / "last.pt"
    images = sorted((work / "pose-data" / "images" / "val").glob("*"))
    frames = np.stack([cv2.imread(str(p)) for p in images])
    results = {}
    for precision, half, bf16 in _precisions(device):
        predictor = YoloPredictor(str(trained), imgsz=a["imgsz"], conf=0.01, max_individuals=4, device=device,
                                  half=half, bfloat16=bf16, threads=s["threads"])
        results[precision] = predictor({"frames": frames, "frame": np.arange(len(frames))})
    reference = results["fp32"]
    out = {"model": f"yolo11n-pose trained {a['epochs']} epoch(s) on {a['images']} synthetic {a['imgsz']} px "
                    "images of triangles (3 keypoints), conf 0.01", "frames": int(len(frames)),
           "detections_fp32": int(np.sum(~np.isnan(reference["boxes"][..., 0])))}
    for precision, got in results.items():
        if precision == "fp32":
            continue
        box_err, kpt_err, matched = [], [], 0
        for f in range(len(frames)):
            for i, j in _match(reference["boxes"][f], got["boxes"][f]):
                matched += 1
                box_err.append(np.abs(reference["boxes"][f, i] - got["boxes"][f, j]).max())
                kpt_err.append(np.nanmax(np.linalg.norm(reference["keypoints"][f, i] - got["keypoints"][f, j], axis=-1)))
        count = int(np.sum(~np.isnan(got["boxes"][..., 0])))
        out[precision] = {
            "detections": count, "matched": matched,
            "unmatched_share_of_fp32": round(1 - matched / out["detections_fp32"], 4) if out["detections_fp32"] else None,
            "box_max_abs_px": {"median": round(float(np.median(box_err)), 4) if box_err else None,
                               "max": round(float(np.max(box_err)), 4) if box_err else None},
            "keypoint_px": {"median": round(float(np.nanmedian(kpt_err)), 4) if kpt_err else None,
                            "max": round(float(np.nanmax(kpt_err)), 4) if kpt_err else None},
        }
    return out


def part_pose(args, s, work: Path) -> dict:
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    import torch
    from ultralytics import YOLO

    from deepbehavior.models.yolo_pose import YoloPosePredictor
    from deepbehavior.video import probe, read_frames

    torch.set_num_threads(s["threads"])
    clock = Clock(args.seconds, 2, reserve=0.4)
    device = device_of(args)
    half = device != "cpu"
    video, model_path = clip(work, s, frames=MAX_FRAMES), weights(work, "yolo11n-pose.yaml")
    frames = read_frames(video, 0, min(probe(video).frames, 512))
    ours = YoloPosePredictor(str(model_path), imgsz=s["imgsz"], conf=0.25, max_individuals=4, device=device, half=half)
    row = {"ours_fps": _ours(ours, frames, s["batch"], clock.share(), device != "cpu")["fps"]}
    row["ultralytics_batch_fps"] = _ultralytics_batch(YOLO(str(model_path)), frames, s["batch"], half, device,
                                                      s["imgsz"], clock.share(), device != "cpu")["fps"]
    row["ours_vs_ultralytics_batch"] = row["ours_fps"] / row["ultralytics_batch_fps"]
    return {"frames": int(len(frames)), "batch": s["batch"], "half": half, "device": device,
            **{k: round(v, 3) for k, v in row.items()}}


def part_training(args, s, work: Path) -> dict:
    import torch
    import yaml

    import training as bench  # benchmarks/training.py
    from deepbehavior.models.dataset_checks import check_dataset
    from deepbehavior.synthetic.shapes_dataset import write_synthetic_dataset
    from deepbehavior.models.yolo_train import NO_AUGMENTATION, LoopSpec

    t = s["train"]
    gpu = device_of(args) != "cpu"
    torch.set_num_threads(s["threads"])
    summary = check_dataset(write_synthetic_dataset(work / "data", images=t["images"],
                                                    val_images=max(t["images"] // 4, 4), size=t["imgsz"]))
    data = work / "data.resolved.yaml"
    data.write_text(yaml.safe_dump(summary.data))
    common = dict(data=str(data), task="detect", model="yolo11n.yaml", epochs=t["epochs"], batch=t["batch"], seed=0,
                  overrides={"imgsz": t["imgsz"], "workers": 0, "warmup_epochs": 1, "nbs": t["batch"],
                             **NO_AUGMENTATION})
    reference = bench.run_ultralytics(LoopSpec(out=str(work / "u"), **common), work, "0" if gpu else "cpu")
    # Ray Train, as `deepbehavior train use_gpu=true` runs it
    ours = bench.run_ours(LoopSpec(out=str(work / "ray"), **common), work, gpu, s["threads"], runner="ray")
    return {"epochs": t["epochs"], "images": t["images"], "imgsz": t["imgsz"], "batch": t["batch"],
            "ray_images_per_s": round(ours["images_per_s"], 2),
            "ultralytics_images_per_s": round(reference["images_per_s"], 2),
            "ray_vs_ultralytics": round(ours["images_per_s"] / reference["images_per_s"], 3),
            "ray_wall_s": round(ours["wall_s"], 1), "ultralytics_wall_s": round(reference["wall_s"], 1),
            "ray_map50": round(ours["map50"], 4), "ultralytics_map50": round(reference["map50"], 4)}


# ---------------------------------------------------------------------------------------------
# The driver


def machine() -> dict:
    import psutil
    import torch

    from _machine import cpu_model

    gpu = torch.cuda.is_available()
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "gpu": torch.cuda.get_device_name(0) if gpu else None,
            "gpu_memory_gb": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1) if gpu else None,
            "python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "load_average_1min": round(os.getloadavg()[0], 2)}


def run_part(name: str, args, work: Path, timeout: float) -> dict:
    """Run one part in a process of its own; its result, or what stopped it."""
    result = work / f"{name}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--part", name, "--work", str(work),
               "--batch", str(args.batch), "--seconds", str(timeout), *(["--cpu"] if args.cpu else []), *(["--tiny"] if args.tiny else [])]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, timeout=timeout, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "seconds": round(time.perf_counter() - start, 1), "timeout_s": timeout}
    seconds = round(time.perf_counter() - start, 1)
    if done.returncode or not result.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-6:]
        return {"status": "error", "seconds": seconds, "error": " | ".join(tail)[-800:]}
    return {"status": "ok", "seconds": seconds, **json.loads(result.read_text())}


def summary(parts: dict) -> dict:
    """The headline ratios where their parts ran; each precision's accuracy against fp32 set beside its speed."""
    out = {}
    inference = parts.get("inference", {})
    accuracy = parts.get("accuracy", {}) if parts.get("accuracy", {}).get("status") == "ok" else {}
    if inference.get("status") == "ok":
        for precision, row in inference["precisions"].items():
            row["accuracy_vs_fp32"] = (accuracy.get(precision, "reference") if accuracy else
                                       f"not measured: accuracy part {parts.get('accuracy', {}).get('status')}")
        best = inference.get("fp16") or inference["fp32"]
        out["steady_fps"] = best["ours_fps"]
        out["steady_vs_ultralytics_batch"] = best["ours_vs_ultralytics_batch"]
        out["steady_vs_ultralytics_stream"] = best["ours_vs_ultralytics_stream"]
        out["batch_sweep_best_ours_vs_best_ultralytics"] = inference["batch_sweep"]["best_ours_vs_best_ultralytics"]
        out["targets"] = {"steady_vs_stream_at_least": 10, "end_to_end_fps_at_least": 3000}
        export = parts.get("export", {})
        if export.get("status") == "ok" and export.get("fps"):
            out["steady_vs_ultralytics_export"] = round(best["ours_fps"] / export["fps"], 3)
            out["export_format"] = export["format"]
        else:
            out["steady_vs_ultralytics_export"] = None
            out["export_format"] = export.get("why") or export.get("error") or export.get("status")
    end = parts.get("end_to_end", {})
    if end.get("status") == "ok":
        out["end_to_end_fps"] = end["end_to_end_warm_fps"]
        if inference.get("status") == "ok":
            best = inference.get("fp16") or inference["fp32"]
            out["end_to_end_vs_ultralytics_stream"] = round(end["end_to_end_warm_fps"] / best["ultralytics_stream_fps"],
                                                            3)
    if parts.get("training", {}).get("status") == "ok":
        out["training_vs_ultralytics"] = parts["training"]["ray_vs_ultralytics"]
    if parts.get("pose", {}).get("status") == "ok":
        out["pose_vs_ultralytics_batch"] = parts["pose"]["ours_vs_ultralytics_batch"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="run everything on the CPU (for tests)")
    parser.add_argument("--tiny", action="store_true", help="a few frames, one epoch of 8 images (for tests)")
    parser.add_argument("--batch", type=int, default=64, help="frames per predictor call on the GPU")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, among {PARTS}")
    parser.add_argument("--budget", type=float, default=450.0, help="seconds for all parts together")
    parser.add_argument("--timeout-scale", type=float, default=1.0,
                        help="multiply each part's timeout (a slow or busy machine, in tests)")
    parser.add_argument("--out", default=str(HERE / "results" / "gpu.json"))
    parser.add_argument("--part", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=60.0, help=argparse.SUPPRESS)  # a part's timeout
    args = parser.parse_args()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")

    if args.part:  # a child: one part, its JSON into the work folder
        work = Path(args.work)
        result = globals()[f"part_{args.part}"](args, settings(args), work)
        (work / f"{args.part}.json").write_text(json.dumps(result, indent=2))
        return

    names = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(names) - set(PARTS))
    if unknown:
        raise SystemExit(f"Expected --parts among {PARTS}, but got {unknown}")
    started = time.perf_counter()
    parts: dict = {}
    with tempfile.TemporaryDirectory(prefix="deepbehavior-gpu-bench-") as tmp:
        work = Path(tmp)
        for name in names:
            left = args.budget - (time.perf_counter() - started)
            if left < 10:
                parts[name] = {"status": "skipped", "error": "the time budget was spent"}
                continue
            parts[name] = run_part(name, args, work, min(TIMEOUTS[name] * args.timeout_scale, left))
            print(f"[gpu-bench] {name}: {parts[name]['status']} in {parts[name].get('seconds', 0)} s", flush=True)
    headline_ratios = summary(parts)
    result = {**headline(best=headline_ratios.get("steady_vs_ultralytics_batch"),
                         best_what="our predictor's steady frames/s over ultralytics' batch predict, same frames, batch, "
                                   "imgsz and precision (fp16 on a GPU, fp32 on a CPU); bf16 in parts.inference.bf16",
                         whole=None, whole_what="in-process parts on one GPU, no whole command: end-to-end (decode "
                                                "included) in summary.end_to_end_fps"),
              "summary": headline_ratios, "parts": parts, "settings": settings(args), "cpu_mode": args.cpu,
              "tiny": args.tiny, "video": str(VIDEO) if VIDEO.is_file() else "synthetic 640x480 (real one absent)",
              "model": "yolo11n / yolo11n-pose architectures, seeded random weights (speed only)",
              "machine": machine(), "seconds": round(time.perf_counter() - started, 1),
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp_out, out)
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()
