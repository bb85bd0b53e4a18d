"""One-GPU benchmark: inference (fp32, fp16, bf16), decoding, training and the pose backend against
ultralytics on the same GPU, into ONE JSON (``benchmarks/results/gpu.json``).

    bash benchmarks/gpu.sh                      # on a machine with one GPU and ~16 cores
    python benchmarks/gpu.py --cpu --tiny --out /tmp/gpu.json   # a few frames on the CPU (tested)

Each part runs in a process of its own under its own timeout (a part that hangs or crashes is
reported as such, the others still run), so the whole stays under ``--budget`` seconds (default
450, within the 8 minutes the script is allowed). Parts and their keys:

``decode``
    Frames/s decoding the 640×480 clip with OpenCV on the CPU: one process, and ``readers``
    processes each decoding its own range; GPU decoding is measured only when a maintained decoder
    that can use the GPU is installed (``torchcodec``), otherwise reported unavailable.
``inference``
    For fp32 and fp16: our predictor's steady rate on decoded frames in batches of ``batch``
    (``ours_fps``), ultralytics at its best on the same frames (``model.predict`` on a list of
    ``batch`` frames, same ``half``; ``ultralytics_batch_fps``) and in its stream mode over the
    video file (``ultralytics_stream_fps``), and ``deepbehavior``'s whole run through Ray (CPU
    readers decode, the GPU predicts, Zarr written), decoding included: ``end_to_end_fps`` counts
    from the job's start, ``end_to_end_warm_fps`` is a second run on the same Ray;
    ``local_runner_fps``: the in-process runner (one decoding thread) on the same clip. ``bf16``:
    ours with ``bfloat16=True`` (convolutions in bfloat16, head in float32) against ultralytics at
    its own best (it has no bfloat16 mode: fp16 on a GPU, fp32 on a CPU).
``training``
    Images/s of Ray Train (what ``use_gpu=true`` trains with) against ultralytics' own trainer, same
    data, epochs, batch, seed (``benchmarks/training.py``'s runners).
``pose``
    yolo11n-pose through our backend (``yolo_pose``) against ultralytics' batch predict, fp16 on
    a GPU.

Models have seeded random weights (nothing can be downloaded; speed does not depend on weights).
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
PARTS = ("decode", "inference", "pose", "training")
# Seconds each part may take (they sum to under the 8 minutes with the start-up of each process).
TIMEOUTS = {"decode": 45, "inference": 200, "pose": 60, "training": 150}


# ---------------------------------------------------------------------------------------------
# Settings shared by the parts


def settings(args) -> dict:
    """Frame counts, batch and sizes for the run: a GPU's, or a few frames on the CPU (``--tiny``)."""
    cores = os.cpu_count() or 1
    if args.tiny:
        return {"frames": 24, "repeat": 1, "batch": 4, "imgsz": 160, "chunk": 12, "readers": 1,
                "train": {"epochs": 1, "images": 8, "imgsz": 64, "batch": 4}, "threads": min(cores, 2)}
    return {"frames": 0, "repeat": 4, "batch": args.batch, "imgsz": 640, "chunk": 500, "readers": max(cores - 1, 1),
            "train": {"epochs": 3, "images": 512, "imgsz": 320, "batch": 64}, "threads": cores}


def device_of(args) -> str:
    import torch

    if args.cpu or not torch.cuda.is_available():
        return "cpu"
    return "cuda:0"


def clip(work: Path, s: dict) -> Path:
    """The 640×480 clip: the open-field video (its first ``frames``, all if 0) repeated ``repeat``
    times, or a synthetic video of that size where the real one is absent."""
    from deepbehavior.video import iter_frames, probe, write_video

    path = work / "clip.mp4"
    if path.exists():
        return path
    if VIDEO.is_file():
        info = probe(VIDEO)
        frames = list(iter_frames(VIDEO, 0, s["frames"] or info.frames))
        fps = info.fps
    else:
        from deepbehavior.synthetic import mice as synthetic

        source = synthetic.render_session(work / "synthetic.mp4", frames=s["frames"] or 600, width=640, height=480,
                                          seed=0).video
        frames, fps = list(iter_frames(source)), probe(source).fps
    return write_video(path, (f for _ in range(s["repeat"]) for f in frames), fps=fps)


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

    video = clip(work, s)
    n = probe(video).frames
    start = time.perf_counter()
    one = _decode_range(str(video), 0, n)
    single = one / (time.perf_counter() - start)
    readers = s["readers"]
    bounds = [(i * n // readers, (i + 1) * n // readers) for i in range(readers)]
    with ProcessPoolExecutor(readers) as pool:
        start = time.perf_counter()
        decoded = sum(pool.map(_decode_range, [str(video)] * readers, *zip(*bounds)))
        parallel = decoded / (time.perf_counter() - start)
    out = {"frames": n, "cpu_one_process_fps": round(single, 1), "readers": readers,
           "cpu_readers_fps": round(parallel, 1), "gpu_decode": "unavailable: no torchcodec installed"}
    try:
        from torchcodec.decoders import VideoDecoder
    except ImportError:
        return out
    if device_of(args) == "cpu":
        out["gpu_decode"] = "not measured on the CPU"
        return out
    try:
        import torch

        decoder = VideoDecoder(str(video), device="cuda")
        start = time.perf_counter()
        count = 0
        for first in range(0, n, 256):
            count += len(decoder.get_frames_in_range(first, min(first + 256, n)).data)
        torch.cuda.synchronize()
        out["gpu_decode"] = "torchcodec"
        out["gpu_torchcodec_fps"] = round(count / (time.perf_counter() - start), 1)
    except Exception as exc:  # noqa: BLE001 - reported: a decoder built without CUDA, a codec it lacks
        out["gpu_decode"] = f"torchcodec failed: {type(exc).__name__}: {exc}"[:300]
    return out


def _decode_range(video: str, start: int, stop: int) -> int:
    from deepbehavior.video import iter_frames

    return sum(1 for _ in iter_frames(video, start, stop))


def _ours_fps(predictor, frames, batch: int, sync: bool) -> float:
    import numpy as np

    predictor({"frames": frames[:batch], "frame": np.arange(batch)})  # warm-up (cuDNN picks its kernels)

    def run():
        for first in range(0, len(frames) - batch + 1, batch):
            predictor({"frames": frames[first:first + batch], "frame": np.arange(first, first + batch)})

    usable = (len(frames) // batch) * batch
    return usable / timed(run, sync=sync)


def _ultralytics_batch_fps(model, frames, batch: int, half: bool, device: str, imgsz: int, sync: bool) -> float:
    common = {"imgsz": imgsz, "half": half, "device": device, "conf": 0.25, "max_det": 4, "verbose": False}
    model.predict(list(frames[:batch]), batch=batch, **common)  # warm-up

    def run():
        for first in range(0, len(frames) - batch + 1, batch):
            model.predict(list(frames[first:first + batch]), batch=batch, **common)

    usable = (len(frames) // batch) * batch
    return usable / timed(run, sync=sync)


def part_inference(args, s, work: Path) -> dict:
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    import torch
    from ultralytics import YOLO

    from deepbehavior.models.yolo import YoloPredictor
    from deepbehavior.video import probe, read_frames

    torch.set_num_threads(s["threads"])
    device = device_of(args)
    sync = device != "cpu"
    video, model_path = clip(work, s), weights(work, "yolo11n.yaml")
    n = probe(video).frames
    frames = read_frames(video, 0, min(n, 1024 if not args.tiny else n))
    out: dict = {"frames_steady": int(len(frames)), "frames_end_to_end": n, "batch": s["batch"], "imgsz": s["imgsz"],
                 "device": device, "threads": s["threads"]}
    # bf16: ours with model.bfloat16 (ultralytics has no bfloat16 mode: it runs at its own best, fp16 on a GPU)
    for precision, half, bf16 in (("fp32", False, False), ("fp16", True, False), ("bf16", False, True)):
        if half and device == "cpu":
            continue  # float16 convolutions on a CPU are not a mode anyone uses
        ours = YoloPredictor(str(model_path), imgsz=s["imgsz"], conf=0.25, max_individuals=4, device=device,
                             half=half, bfloat16=bf16, threads=s["threads"])
        row = {"ours_fps": _ours_fps(ours, frames, s["batch"], sync)}
        del ours
        model = YOLO(str(model_path))
        theirs_half = half or (bf16 and device != "cpu")
        row["ultralytics_batch_fps"] = _ultralytics_batch_fps(model, frames, s["batch"], theirs_half, device,
                                                              s["imgsz"], sync)
        start, count = time.perf_counter(), 0
        for _ in model.predict(source=str(video), stream=True, imgsz=s["imgsz"], half=theirs_half, device=device,
                               conf=0.25, max_det=4, verbose=False):
            count += 1
        row["ultralytics_stream_fps"] = count / (time.perf_counter() - start)
        row["ours_vs_ultralytics_batch"] = row["ours_fps"] / row["ultralytics_batch_fps"]
        row["ours_vs_ultralytics_stream"] = row["ours_fps"] / row["ultralytics_stream_fps"]
        out[precision] = {k: round(v, 3) for k, v in row.items()}
    out["end_to_end"] = _end_to_end(args, s, work, video, model_path, device)
    best = out["fp16"] if "fp16" in out else out["fp32"]
    out["end_to_end"]["vs_ultralytics_stream"] = round(out["end_to_end"]["end_to_end_warm_fps"]
                                                       / best["ultralytics_stream_fps"], 3)
    return out


def _end_to_end(args, s, work, video, model_path, device) -> dict:
    """``deepbehavior``'s whole run through Ray over the clip: first on a fresh Ray, then again."""
    from deepbehavior.cohort import cohort_from_videos
    from deepbehavior.config import RayConfig
    from deepbehavior.runtime.environment import start_ray
    from deepbehavior.runtime.inference import infer_cohort

    gpu = device != "cpu"
    start_ray(RayConfig(num_cpus=os.cpu_count(), num_gpus=1 if gpu else 0))
    kwargs = {"weights": str(model_path), "imgsz": s["imgsz"], "conf": 0.25, "max_individuals": 4, "device": device,
              "half": gpu, "threads": s["threads"]}
    out = {"half": gpu, "readers": s["readers"] if gpu else 0}
    for name in ("end_to_end_fps", "end_to_end_warm_fps"):
        report = infer_cohort(cohort_from_videos([video]), work / name, backend="yolo", backend_kwargs=kwargs,
                              chunk=s["chunk"], frames_per_batch=s["batch"], force=True,
                              readers=s["readers"] if gpu else None, printer=lambda m: None)
        if report.failures:
            raise RuntimeError(f"end-to-end run failed: {report.failures[:2]}")
        out[name], out["frames"] = round(report.fps, 2), report.frames
    # The in-process runner (one decoding thread) on the same clip: where it stops paying to skip
    # Ray's start-up on a GPU machine (deepbehavior.runtime.local.LOCAL_GPU_MAX_FRAMES).
    from deepbehavior.runtime.local import infer_local

    report = infer_local(cohort_from_videos([video]), work / "local", backend="yolo", backend_kwargs=kwargs,
                         chunk=s["chunk"], frames_per_batch=s["batch"], force=True, printer=lambda m: None)
    if report.failures:
        raise RuntimeError(f"local run failed: {report.failures[:2]}")
    out["local_runner_fps"] = round(report.fps, 2)
    return out


def part_pose(args, s, work: Path) -> dict:
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    import torch
    from ultralytics import YOLO

    from deepbehavior.models.yolo_pose import YoloPosePredictor
    from deepbehavior.video import probe, read_frames

    torch.set_num_threads(s["threads"])
    device = device_of(args)
    half = device != "cpu"
    video, model_path = clip(work, s), weights(work, "yolo11n-pose.yaml")
    frames = read_frames(video, 0, min(probe(video).frames, 512))
    ours = YoloPosePredictor(str(model_path), imgsz=s["imgsz"], conf=0.25, max_individuals=4, device=device, half=half)
    row = {"ours_fps": _ours_fps(ours, frames, s["batch"], device != "cpu")}
    row["ultralytics_batch_fps"] = _ultralytics_batch_fps(YOLO(str(model_path)), frames, s["batch"], half, device,
                                                          s["imgsz"], device != "cpu")
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
               "--batch", str(args.batch), *(["--cpu"] if args.cpu else []), *(["--tiny"] if args.tiny else [])]
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
    """The headline ratios, where their parts ran."""
    out = {}
    inference = parts.get("inference", {})
    if inference.get("status") == "ok":
        best = inference.get("fp16") or inference["fp32"]
        out["steady_fps"] = best["ours_fps"]
        out["steady_vs_ultralytics_batch"] = best["ours_vs_ultralytics_batch"]
        out["steady_vs_ultralytics_stream"] = best["ours_vs_ultralytics_stream"]
        out["end_to_end_fps"] = inference["end_to_end"]["end_to_end_warm_fps"]
        out["end_to_end_vs_ultralytics_stream"] = inference["end_to_end"]["vs_ultralytics_stream"]
        out["targets"] = {"steady_vs_stream_at_least": 10, "end_to_end_fps_at_least": 3000}
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
