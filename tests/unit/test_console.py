"""The CLI's stderr filter: harmless runtime lines dropped (from this process and its children),
everything else passed through unchanged; verbose leaves stderr alone."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Lines exactly as Ray 2.x and mediapipe 0.10.21 print them on a healthy run.
RAY_TOKEN = ("2026-11-30 05:10:14,192\tWARNING authentication_token_setup.py:85 -- Token authentication is enabled "
             "for this Ray cluster. Set RAY_AUTH_MODE=disabled to opt out.")
CORE_WORKER = ("[2026-11-30 05:10:30,815 E 7962 7962] core_worker.cc:2465: Actor with class name: "
               "'MapWorker(MapBatches(ReadAndPredict))' and ID: '9e6f' has constructor arguments in the object "
               "store and max_restarts > 0.")
MEDIAPIPE = "(MapWorker pid=123) AttributeError: 'MessageFactory' object has no attribute 'GetPrototype'"
REAL = "deepbehavior infer: error: Expected a video file at a.mp4, but there is none"

CHILD = f"import sys; sys.stderr.write({CORE_WORKER + chr(10) + MEDIAPIPE + chr(10)!r})"
SCRIPT = f"""
import os, subprocess, sys
from deepbehavior.cli import set_up_process
set_up_process(verbose=sys.argv[1] == "verbose")
os.write(2, ({RAY_TOKEN!r} + "\\n").encode())
sys.stderr.write({REAL!r} + "\\n"); sys.stderr.flush()
subprocess.run([sys.executable, "-c", {CHILD!r}])
sys.stderr.write("last line without newline")
"""


def _stderr(mode: str) -> str:
    result = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_harmless_lines_are_dropped_and_the_rest_kept_in_order():
    assert _stderr("quiet") == REAL + "\nlast line without newline"


def test_verbose_keeps_every_line():
    err = _stderr("verbose").splitlines()
    assert err == [RAY_TOKEN, REAL, CORE_WORKER, MEDIAPIPE, "last line without newline"]


def test_the_real_mediapipe_import_line_is_dropped():
    pytest.importorskip("mediapipe")
    code = ("import subprocess, sys\nfrom deepbehavior.cli import set_up_process\nset_up_process(verbose=False)\n"
            "subprocess.run([sys.executable, '-c', 'import mediapipe'])\n")
    plain = subprocess.run([sys.executable, "-c", "import mediapipe"], capture_output=True, text=True, timeout=300)
    if "GetPrototype" not in plain.stderr:
        pytest.skip("this mediapipe/protobuf pair prints no GetPrototype line")
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
    assert "GetPrototype" not in quiet.stderr, quiet.stderr
