"""``deepbehavior JOB --help``: every setting's description is whole, wrapped to the terminal, and its own
(the comment above its field, or the clause of its class docstring that is about it), for every job."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import typing

import pytest

from deepbehavior.cli import JOBS, MODULES, jobs_package


def _job(job: str):
    package = jobs_package().__name__
    module = importlib.import_module(f"{package}.{MODULES.get(job, job)}")
    helper = importlib.import_module(f"{package}._help")
    hydra = importlib.import_module(f"{package}._hydra")
    return module.main.schema, hydra.composed_defaults(job), helper


def _fields(schema: type, prefix: str = ""):
    """(dotted name, declaring class, field) of every leaf setting."""
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        if dataclasses.is_dataclass(hints[f.name]):
            yield from _fields(hints[f.name], f"{prefix}{f.name}.")
        else:
            owner = next(c for c in schema.__mro__ if f.name in c.__dict__.get("__annotations__", {}))
            yield prefix + f.name, owner, f


def _plain(text: str) -> str:
    return " ".join(text.replace("``", "").split()).rstrip(".")


def _comment_above(owner: type, name: str) -> str:
    """The comment lines right above ``name: ...`` in the class body (read independently of _help)."""
    lines = inspect.getsource(owner).splitlines()
    row = next(i for i, line in enumerate(lines) if re.match(rf"\s+{name}\s*:", line))
    above = []
    while row > 0 and lines[row - 1].strip().startswith("#"):
        row -= 1
        above.insert(0, lines[row].strip()[1:].strip())
    return " ".join(above)


@pytest.mark.parametrize("job", list(JOBS))
def test_each_setting_has_its_own_whole_description(job):
    schema, defaults, helper = _job(job)
    shown = {o.name: o.text for o in helper.options(schema, defaults)}
    for name, owner, field in _fields(schema):
        text, leaf = shown[name], name.rsplit(".", 1)[-1]
        assert text, f"{job}: {name} has no description"
        assert "…" not in text, f"{job}: {name} is cut: {text!r}"
        own = field.metadata.get("help") or _comment_above(owner, leaf)
        if own:
            assert text == _plain(own), f"{job}: {name} shows {text!r}, its comment says {own!r}"
            continue
        # From the docstring: a clause of it, whose subject (first word, or words joined by /) is this setting.
        doc = _plain(inspect.getdoc(owner))
        for clause in [text] if text in doc else text.split("; "):  # one clause, or several about it
            assert clause in doc, f"{job}: {name}: {clause!r} is not in {owner.__name__}'s docstring"
            subject = re.match(r"[\w.]+(?:\s*/\s*[\w.]+)*", clause).group(0)
            assert leaf in [s.strip() for s in subject.split("/")], \
                f"{job}: {name} shows a clause about {subject!r}: {clause!r}"


@pytest.mark.parametrize("width", [60, 100, 250])
@pytest.mark.parametrize("job", list(JOBS))
def test_help_is_wrapped_to_the_width_and_every_description_is_there_whole(job, width):
    schema, defaults, helper = _job(job)
    text = helper.job_help(job, schema, defaults, "A summary.", width=width)
    assert "…" not in text
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("settings")) + 1
    settings = lines[first:lines.index("examples:")]
    for line in settings:
        assert len(line) <= width or len(max(line.split(), key=len)) > width // 3, f"{width}: {line!r}"
    # Each description, its wrapped lines joined, appears whole after its setting's name.
    joined = " ".join(" ".join(settings).split())
    for option in helper.options(schema, defaults):
        assert f"{option.name} {option.type} {option.default} {option.text}" in joined, option.name


def test_sentences_are_not_cut_at_abbreviations_or_decimals():
    _, _, helper = _job("import")
    assert helper._clauses("``options`` go to the reader (e.g. ``x``). ``fps``: 0.5 s; else 30.") == \
        ["``options`` go to the reader (e.g. ``x``)", "``fps``: 0.5 s", "else 30"]
    assert helper.subject("``start_speed``/``stop_speed``: thresholds") == ["start_speed", "stop_speed"]


def test_a_clause_that_only_mentions_a_setting_does_not_describe_it():
    _, _, helper = _job("import")

    @dataclasses.dataclass
    class Schema:
        """``fps`` null takes the frame rate from ``video``. ``name`` names the store."""

        fps: float = 1.0
        video: str = ""
        name: str = ""

    texts = {o.name: o.text for o in helper.options(Schema, {})}
    assert texts == {"fps": "fps null takes the frame rate from video", "video": "", "name": "name names the store"}


def test_train_help_groups_settings_by_the_trainer_that_reads_them():
    schema, defaults, helper = _job("train")
    from deepbehavior.config import TrainConfig
    from deepbehavior.models import topdown_train, yolo_train

    groups = TrainConfig.HELP_GROUPS
    ultralytics_only = next(names for title, names in groups.items() if title.startswith("ultralytics"))
    topdown_only = next(names for title, names in groups.items() if title.startswith("top-down"))
    topdown_source, yolo_source = inspect.getsource(topdown_train), inspect.getsource(yolo_train)
    for name in ultralytics_only:
        assert f"train.{name}" not in topdown_source, f"the top-down trainer reads train.{name}"
        assert f"train.{name}" in yolo_source, f"the ultralytics trainer does not read train.{name}"
    assert topdown_only == ("topdown",) and "train.topdown" not in yolo_source
    for name in ("epochs", "batch", "seed", "augment", "pck_threshold"):  # listed with both
        assert f"train.{name}" in topdown_source and f"train.{name}" in yolo_source, name
    text = helper.job_help("train", schema, defaults, width=120)
    for title, names in groups.items():
        section = text.split(f"\n{title}:\n")[1].split("\n\n")[0]
        listed = {line.split()[0] for line in section.splitlines() if line.startswith("  train.")}
        assert {n.rsplit(".", 1)[0] if n.startswith("train.topdown.") else n for n in listed} == \
            {f"train.{n}" for n in names}, title


@pytest.mark.parametrize("width", [60, 120])
def test_the_job_list_is_wrapped_and_whole(width):
    from deepbehavior.cli import _usage

    text = _usage(width)
    assert all(len(line) <= width for line in text.splitlines())
    joined = " ".join(text.split())
    for job, description in JOBS.items():
        assert f"{job} {description}" in joined
