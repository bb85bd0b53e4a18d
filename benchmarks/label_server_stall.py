"""The labelling server under hostile bodies: how long the worst bodies take to answer, and how long
another client waits for ``GET /api/project`` meanwhile.

    python benchmarks/label_server_stall.py [--rounds 20]

The project is the DeepLabCut open-field labels (``../shared/data/dlc-openfield``, 116 images with 4
keypoints) imported with ``deepbehavior.labeling.formats.import_labels``. One thread sends, one after
another, the worst bodies known (a 64 KB and a 1 MiB run of ``"`` then ``\\"`` repeated, which made the
old regex pre-check of JSON nesting take 92 s for 64 KB; 1 MiB of ``[``; an integer of 1 MiB digits);
another client meanwhile asks for ``/api/project`` as fast as it is answered. Also the nesting pre-check
alone on those bodies, against ``json.loads`` alone on them (the baseline: what a server that does not
bound nesting would spend), and the old regex pre-check on 4-16 KB runs (quadratic: 64 KB is
extrapolated, not run). Writes ``benchmarks/results/label_server_stall.json``.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]
from _machine import LOAD_NOTE, described  # noqa: E402
from _timing import headline, spread  # noqa: E402

DATA = Path(os.environ.get("DEEPBEHAVIOR_SHARED_DATA", REPO.parent / "shared" / "data"))
LABELS = DATA / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv"
OUT = HERE / "results" / "label_server_stall.json"
MIB = 1024 * 1024


def _bodies() -> dict[str, bytes]:
    return {"quote_escapes_64KB": b'"' + b'\\"' * 32_767, "quote_escapes_1MiB": b'"' + b'\\"' * (MIB // 2 - 1),
            "brackets_1MiB": b"[" * MIB, "integer_1MiB_digits": b'{"revision": ' + b"9" * (MIB - 30) + b"}"}


def _request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, float]:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    res = conn.getresponse()
    res.read()
    conn.close()
    return res.status, time.perf_counter() - start


def _old_depth_check(body: bytes) -> None:
    re.sub(rb'"(?:[^"\\]|\\.)*"', b"", body)


def _best(fn, body: bytes, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        try:
            fn(body)
        except (ValueError, RecursionError):
            pass
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    from deepbehavior.labeling.formats import import_labels
    from deepbehavior.labeling.server import json_depth, make_server

    load_start = os.getloadavg()
    bodies = _bodies()
    check = {name: {"depth_check_s": round(_best(json_depth, body, 5), 4),
                    "json_loads_s": round(_best(json.loads, body, 5), 4)} for name, body in bodies.items()}
    old = {}
    for size in (4096, 8192, 16384):
        old[size] = _best(_old_depth_check, b'"' + b'\\"' * (size // 2 - 1), 1)
    exponent = (statistics.fmean([old[16384] / old[8192], old[8192] / old[4096]]))
    old_64k = old[16384] * exponent ** 2

    with tempfile.TemporaryDirectory() as tmp:
        project, report = import_labels(LABELS, Path(tmp) / "project")
        server = make_server(project, port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        quiet = [_request(port, "GET", "/api/project")[1] for _ in range(args.rounds)]
        answers: dict[str, list[float]] = {name: [] for name in bodies}
        waits: list[float] = []
        done = threading.Event()

        def attacker():
            for _ in range(3):
                for name, body in bodies.items():
                    status, seconds = _request(port, "PUT", f"/api/labels/{project.images()[0]}", body)
                    assert status == 400, (name, status)
                    answers[name].append(seconds)
            done.set()

        thread = threading.Thread(target=attacker)
        thread.start()
        while not done.is_set():
            status, seconds = _request(port, "GET", "/api/project")
            assert status == 200
            waits.append(seconds)
        thread.join()
        server.shutdown()
        server.server_close()

    worst_wait = max(waits)
    result = {
        "benchmark": "label_server_stall",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": described(load_start=load_start, load_end=os.getloadavg(), load_note=LOAD_NOTE),
        "project": f"{LABELS.relative_to(DATA)} imported: {report.images} images",
        "get_project_quiet_s": spread(quiet),
        "get_project_during_attack_s": spread(waits),
        "attack_answer_s": {name: spread(times) for name, times in answers.items()},
        "depth_check_vs_json_loads": check,
        "old_regex_check_s": {f"{size}_bytes": round(seconds, 3) for size, seconds in old.items()},
        "old_regex_check_64KB_extrapolated_s": round(old_64k, 1),
        **headline(best=check["quote_escapes_1MiB"]["depth_check_s"] / check["quote_escapes_1MiB"]["json_loads_s"],
                   best_what="the nesting pre-check over json.loads alone on the 1 MiB run of quote escapes "
                             "(the cost a bound on nesting adds to the parse a server does anyway)",
                   whole=None, whole_what="no command: requests to a running server; the figures are the answer "
                                          "times above (worst GET /api/project wait during the attack: "
                                          f"{worst_wait:.3f} s)"),
    }
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("get_project_quiet_s", "get_project_during_attack_s",
                                              "old_regex_check_64KB_extrapolated_s")}, indent=1))
    print({name: result["attack_answer_s"][name]["max"] for name in bodies})


if __name__ == "__main__":
    main()
