"""Library calls leave the host process alone (a notebook, say): no environment variables of other
libraries, no matplotlib backend, runtime state where DEEPBEHAVIOR_HOME says at call time."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
HOST_KEYS = ("PYTHONWARNINGS", "MPLBACKEND", "TQDM_DISABLE")


def _run(code: str, env_drop=HOST_KEYS) -> str:
    env = {k: v for k, v in os.environ.items() if k not in env_drop}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_building_a_predictor_sets_none_of_the_host_variables(tmp_path):
    from tests.helpers.models import random_yolo

    weights = random_yolo(tmp_path / "w.pt")
    out = _run(f"""
import os
before = dict(os.environ)
from deepbehavior.models.yolo import YoloPredictor
YoloPredictor({str(weights)!r}, imgsz=64, device="cpu")
changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
print(",".join(changed))
""")
    changed = {k for k in out.split(",") if k}
    assert not changed & set(HOST_KEYS), changed
    # What importing OpenCV and ultralytics does to a process by itself (QT_*, OMP_NUM_THREADS, ...):
    # theirs, not ours.
    baseline = _run("""
import os
before = dict(os.environ)
import cv2, ultralytics
print(",".join(sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))))
""")
    theirs = {k for k in baseline.split(",") if k}
    # ultralytics reads its offline switches at call time, so those are set; nothing else of ours is
    assert {k for k in changed - theirs if not k.startswith("YOLO_")} == set(), changed - theirs


def test_a_predictors_threads_apply_to_its_own_calls_only(tmp_path):
    """threads=1 runs the network on one torch thread; the host's own setting is there before and after."""
    from tests.helpers.models import random_yolo

    weights = random_yolo(tmp_path / "w.pt")
    out = _run(f"""
import numpy as np, torch
from deepbehavior.models.yolo import YoloPredictor
torch.set_num_threads(2)
predictor = YoloPredictor({str(weights)!r}, imgsz=64, device="cpu", threads=1)
after_init = torch.get_num_threads()
seen = []
predictor.model.register_forward_pre_hook(lambda module, args: seen.append(torch.get_num_threads()))
predictor({{"frames": np.zeros((2, 48, 64, 3), np.uint8), "frame": np.arange(2)}})
print(after_init, seen, torch.get_num_threads())
""")
    assert out == "2 [1] 2", out


def test_figures_choose_no_matplotlib_backend_for_the_process(tmp_path):
    out = _run(f"""
import sys
import numpy as np, pandas as pd
from deepbehavior.viz.trajectory import plot_speed, plot_trajectory
from deepbehavior.models.train_report import plot_history
t = np.arange(30) / 30.0
table = pd.DataFrame({{"time_s": t, "x": 10 * t, "y": 5 * t, "speed": np.full(30, 11.2)}})
plot_trajectory(table, {str(tmp_path / 'path.png')!r})
plot_history(pd.DataFrame({{"epoch": [1, 2], "train/box_loss": [1.0, 0.5]}}), __import__("pathlib").Path({str(tmp_path / 'h.png')!r}))
import matplotlib
print("matplotlib.pyplot" in sys.modules, matplotlib.rcParams._get_backend_or_none())
""", env_drop=HOST_KEYS)
    assert out == "False None", out  # pyplot never imported, no backend chosen
    assert (tmp_path / "path.png").stat().st_size > 1000 and (tmp_path / "h.png").stat().st_size > 1000


def test_state_dir_follows_the_variable_at_call_time(tmp_path, monkeypatch):
    from deepbehavior.offline import state_dir

    monkeypatch.setenv("DEEPBEHAVIOR_HOME", str(tmp_path / "a"))
    assert state_dir() == tmp_path / "a" and (tmp_path / "a").is_dir()
    monkeypatch.setenv("DEEPBEHAVIOR_HOME", str(tmp_path / "b"))
    assert state_dir() == tmp_path / "b"


def test_the_cli_sets_up_its_own_process_only(tmp_path):
    """The variables a quiet console needs are the CLI's doing: set in a job's process, by the entry point."""
    from deepbehavior import cli

    saved = {k: os.environ.get(k) for k in HOST_KEYS}
    for k in HOST_KEYS:
        os.environ.pop(k, None)
    try:
        import deepbehavior.runtime.environment  # noqa: F401  (importing the library sets nothing)
        assert not any(k in os.environ for k in HOST_KEYS)
        cli.set_up_process(verbose=True)
        assert {k: os.environ[k] for k in HOST_KEYS} == cli.PROCESS_ENV
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
