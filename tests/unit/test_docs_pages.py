"""The generated docs pages: the benchmark figures come from the JSONs, every one of them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_benchmarks", REPO / "docs" / "gen_benchmarks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_page_and_readme_lines_name_every_result_with_its_ratios():
    gen = _generator()
    results = gen.load()
    paths = sorted((REPO / "benchmarks" / "results").glob("*.json"))
    assert list(results) == [p.stem for p in paths] and paths
    page, lines = gen.page(results), gen.readme_lines(results)
    assert len(lines.splitlines()) == len(paths)
    for path in paths:
        result = json.loads(path.read_text())
        ratio = result.get("ratio_vs_baseline_best")
        shown = "n/a" if ratio is None else f"{ratio:.2f}x"
        assert f"## {path.stem}\n" in page
        if ratio is None and result.get("whole_command_ratio") is None and result.get("summary"):
            # an accuracy benchmark: its own one-line summary instead of two n/a ratios
            assert f"**{path.stem}**: {' '.join(result['summary'].split())}" in lines
        else:
            assert f"**{path.stem}**: {shown} vs the baseline" in lines


def test_readme_carries_the_generated_benchmark_lines():
    readme = (REPO / "README.md").read_text()
    assert _generator().readme_lines(_generator().load()) in readme, (
        "README's benchmark lines are stale: run python docs/gen_benchmarks.py --write-readme")
