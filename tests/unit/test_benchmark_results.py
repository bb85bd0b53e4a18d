"""Every benchmark result states its two headline ratios: against the baseline at its best, and as a
whole command (or, where one does not apply, why not)."""

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from _timing import headline  # noqa: E402

RESULTS = sorted((BENCHMARKS / "results").glob("*.json"))
HEADLINE = ("ratio_vs_baseline_best", "baseline_best", "whole_command_ratio", "whole_command")


@pytest.mark.parametrize("path", RESULTS, ids=[p.stem for p in RESULTS])
def test_each_result_carries_both_headline_ratios_and_says_what_they_compare(path):
    result = json.loads(path.read_text())
    missing = [key for key in HEADLINE if key not in result]
    assert not missing, f"{path.name} lacks {missing}"
    for ratio, words in (("ratio_vs_baseline_best", "baseline_best"), ("whole_command_ratio", "whole_command")):
        value = result[ratio]
        assert value is None or (isinstance(value, (int, float)) and value > 0), (path.name, ratio, value)
        assert isinstance(result[words], str) and len(result[words]) > 20, (path.name, words)
    assert "machine" in json.dumps(result), f"{path.name} does not name its machine"


def test_headline_refuses_a_ratio_that_is_not_positive_and_a_ratio_without_words():
    assert headline(best=1.23456, best_what="b at batch 4", whole=None, whole_what="no command: a kernel")[
        "ratio_vs_baseline_best"] == 1.235
    with pytest.raises(ValueError, match="positive ratio"):
        headline(best=0.0, best_what="x", whole=None, whole_what="y")
    with pytest.raises(ValueError, match="words"):
        headline(best=1.0, best_what=" ", whole=None, whole_what="y")
