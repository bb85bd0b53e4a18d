"""``deepbehavior JOB --help``: every setting with its type, default and description, wrapped to the terminal.

The descriptions come from the config dataclasses themselves, so they cannot drift from the code:
a field's ``metadata["help"]``, else the comment lines just above the field, else the clause of the
class docstring whose subject is the field (``name``: text, ``name`` is text, or ``a``/``b``: text
for a pair described together). A clause that only mentions a field in passing never describes it:
that is how settings once showed another setting's text. Descriptions are shown whole.

A schema may group its settings for the help with a class variable ``HELP_GROUPS`` (title -> field
names, a nested dataclass's name standing for all its settings), as ``TrainConfig`` separates the
settings of the keypoint recipe from those of ultralytics.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import shutil
import textwrap
import typing
from functools import lru_cache

# Worked examples per job, shown at the end of its help (backend-specific options included).
EXAMPLES: dict[str, list[str]] = {
    "demo": ["deepbehavior demo",
             "deepbehavior demo out=demo2 synthetic.sessions=4 train.epochs=20 train.topdown.crop_size=96"],
    "infer": [
        "deepbehavior infer out=results cohort=cohort.yaml model.weights=model/weights/best.pt",
        "deepbehavior infer out=results videos=[m01.mp4,m02.mp4] model.weights=best.pt model.imgsz=320",
        "deepbehavior infer out=people videos=[a.mp4] model.backend=mediapipe "
        "+model.options.model_complexity=1",
        "deepbehavior infer out=results cohort=cohort.yaml model.weights=best.pt ray.address=auto model.batch_size=64",
    ],
    "train": [
        "deepbehavior train out=model train.data=labels/exports/yolo/data.yaml train.epochs=100",
        "deepbehavior train out=model train.data=data.yaml train.model=yolo11n-pose.yaml +train.overrides.mosaic=0.5",
        "deepbehavior train -m out=sweep train.data=data.yaml train.lr0=0.01,0.003",
    ],
    "frames": ["deepbehavior frames out=labels videos=[m01.mp4] n=100 method=kmeans"],
    "label": ["deepbehavior label project=labels", "deepbehavior label project=labels export=yolo"],
    "import": ["deepbehavior import out=stores source=CollectedData_me.csv video=m01.mp4",
               "deepbehavior import out=stores source=openpose_json/ +options.people=all",
               "deepbehavior import out=run sources='{front: front.slp, side: side.slp}' name=m01_day1",
               "deepbehavior import out=run cohort=cohort.yaml source='preds/{subject}_{session}_{view}.slp'"],
    "export": ["deepbehavior export out=exported store=run/stores/m01_day1.zarr format=dlc",
               "deepbehavior export out=exported cohort=cohort.yaml stores=run/stores format=nwb"],
    "track": ["deepbehavior track out=results cohort=results/cohort.yaml track.n_identities=2",
              "deepbehavior track out=results store=results/stores/m01_day1.zarr "
              "track.classes='{body: resident, body_mini: intruder}'"],
    "analyze": ["deepbehavior analyze out=results cohort=results/cohort.yaml measures=[locomotion,regions] "
                "+regions.regions.left='[0,0,160,240]'"],
    "calibrate": ["deepbehavior calibrate out=calib cameras=[front,side] sources=[front.mp4,side.mp4] "
                  "board.columns=9 board.rows=6 board.square_size=25"],
    "triangulate": ["deepbehavior triangulate out=results3d store=results/stores/m01_day1.zarr "
                    "calibration=calib/calibration.toml triangulate.method=robust"],
    "pose_export": ["deepbehavior pose_export out=openpose store=people/stores/a_s1.zarr video=a.mp4"],
}


@dataclasses.dataclass(frozen=True)
class Option:
    """One setting: its dotted ``name``, a readable ``type``, the ``default`` as typed on the command
    line, its whole description ``text`` and the ``group`` of the help it is listed under ("" for the
    job's general settings)."""

    name: str
    type: str
    default: str
    text: str
    group: str = ""


# Abbreviations whose full stop ends no sentence.
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.")


def first_sentence(text: str) -> str:
    """The first sentence of ``text``, whole, with its full stop."""
    sentences = _clauses(text.replace(";", "\0"))
    return (sentences[0].replace("\0", ";") + ".") if sentences else ""


def _clauses(text: str) -> list[str]:
    """``text`` cut into sentences and, within them, clauses separated by ";", never inside brackets
    or after an abbreviation such as "e.g."."""
    text = " ".join(text.split())
    found, depth, begin = [], 0, 0
    for i, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif depth == 0 and char in ".;" and text[i + 1:i + 2] == " ":
            if char == "." and text[:i + 1].lower().endswith(_ABBREVIATIONS):
                continue
            if char == "." and not re.match(r" [A-Z(`\"'\[]", text[i + 1:i + 3]):
                continue  # "0.5 s", "v. 2": not a sentence's end
            found.append(text[begin:i].strip())
            begin = i + 1
    found.append(text[begin:].strip().rstrip("."))
    return [clause for clause in found if clause]


_SUBJECT = re.compile(r"(?:``)?[A-Za-z_][\w.]*(?:``)?(?:\s*/\s*(?:``)?[A-Za-z_][\w.]*(?:``)?)*")


def subject(clause: str) -> list[str]:
    """The setting names a clause is about: its first word, or its first words joined by "/"
    (``start_speed``/``stop_speed``: ...), double backquotes dropped."""
    match = _SUBJECT.match(clause)
    if not match:
        return []
    return [name.strip().strip("`") for name in match.group(0).split("/")]


@lru_cache(maxsize=None)
def _comments(cls: type) -> dict[str, str]:
    """Comment lines directly above each field of ``cls``'s class body."""
    try:
        lines, _ = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return {}
    tree = ast.parse(textwrap.dedent("".join(lines)))
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    found = {}
    for node in body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            above, row = [], node.lineno - 2
            while row >= 0 and lines[row].strip().startswith("#"):
                above.insert(0, lines[row].strip().lstrip("#").strip())
                row -= 1
            if above:
                found[node.target.id] = " ".join(above)
    return found


def _from_docstring(cls: type, name: str) -> str:
    """The clauses of ``cls``'s docstring whose subject is ``name`` (joined by "; "), else ""."""
    doc = inspect.getdoc(cls) or ""
    if cls.__doc__ is None or f"``{name}``" not in doc:
        return ""  # a dataclass without a docstring gets a generated signature: no description
    return "; ".join(clause for clause in _clauses(doc) if name in subject(clause))


def _owner(cls: type, name: str) -> type:
    """The class of ``cls``'s hierarchy whose body declares the field ``name`` (a schema may extend a
    library's settings, as ``AnalyzeJob`` extends ``MeasureSettings``)."""
    return next((c for c in cls.__mro__ if name in c.__dict__.get("__annotations__", {})), cls)


def describe_field(cls: type, field: dataclasses.Field) -> str:
    """The whole description of ``field`` of the dataclass ``cls`` ("" when its code says nothing)."""
    owner = _owner(cls, field.name)
    text = field.metadata.get("help") or _comments(owner).get(field.name) or _from_docstring(owner, field.name)
    text = " ".join(text.replace("``", "").split())
    return text[:-1] if text.endswith(".") and not text.lower().endswith(_ABBREVIATIONS) else text


def _type_name(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        rest = [a for a in args if a is not type(None)]
        return "|".join(_type_name(a) for a in rest) + ("|null" if len(rest) < len(args) else "")
    if origin in (list, tuple):
        return f"list[{_type_name(args[0])}]" if args else "list"
    if origin is dict:
        return "mapping"
    if hint is typing.Any:
        return "any"
    return getattr(hint, "__name__", str(hint))


def _shown(value) -> str:
    if value is None:
        return "null"
    if value == "???":
        return "(required)"
    if isinstance(value, bool):
        return str(value).lower()
    if value == "":
        return "''"
    if isinstance(value, (list, dict)):
        return str(value).replace("'", "").replace(" ", "")
    return str(value)


def _groups(schema: type) -> dict[str, str]:
    """Field name -> the title of its group in ``schema.HELP_GROUPS``."""
    return {name: title for title, names in getattr(schema, "HELP_GROUPS", {}).items() for name in names}


def options(schema: type, defaults: dict, prefix: str = "", group: str = "") -> list[Option]:
    """Every leaf setting of the dataclass ``schema``, depth first, with defaults from ``defaults``."""
    hints = typing.get_type_hints(schema)
    groups = _groups(schema)
    found = []
    # The schema's own settings first (out, ...), then those it inherits.
    for field in sorted(dataclasses.fields(schema), key=lambda f: _owner(schema, f.name) is not schema):
        hint = hints.get(field.name, field.type)
        value = defaults.get(field.name) if isinstance(defaults, dict) else None
        in_group = groups.get(field.name, group)
        if dataclasses.is_dataclass(hint):
            found += options(hint, value or {}, f"{prefix}{field.name}.", in_group)
            continue
        found.append(Option(prefix + field.name, _type_name(hint), _shown(value), describe_field(schema, field),
                            in_group))
    return found


def terminal_width() -> int:
    """Columns of the terminal (``COLUMNS`` when set; 100 when there is no terminal)."""
    return max(shutil.get_terminal_size(fallback=(100, 24)).columns, 40)


def _wrapped(text: str, width: int, indent: str, hanging: str = "") -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=hanging or indent,
                         break_long_words=False, break_on_hyphens=False) or [indent.rstrip()]


def _rows(listed: list[Option], width: int, columns: list[Option]) -> list[str]:
    """Name, type and default in columns (as wide as ``columns`` need), then the description wrapped
    beside them (or below them, indented, where the columns leave it too little room)."""
    name_width = min(max(len(o.name) for o in columns), 32)
    type_width = min(max(len(o.type) for o in columns), 16)
    default_width = min(max(len(o.default) for o in columns), 16)
    column = 2 + name_width + 2 + type_width + 2 + default_width + 2
    lines = []
    for o in listed:
        left = f"  {o.name.ljust(name_width)}  {o.type.ljust(type_width)}  {o.default.ljust(default_width)}  "
        if len(left) <= column and width - column >= 30:
            lines += _wrapped(o.text, width, left, " " * column)
        else:  # a long name or default, or a narrow terminal: the description on lines of its own
            lines += _wrapped(left.rstrip(), width, "", "      ")
            lines += _wrapped(o.text, width, " " * 6)
    return lines


def job_help(job: str, schema: type, defaults: dict, summary: str = "", width: int | None = None) -> str:
    """The text of ``deepbehavior JOB --help``, wrapped to ``width`` columns (default: the terminal's)."""
    width = width or terminal_width()
    listed = options(schema, defaults)
    required = " ".join(f"{o.name}=VALUE" for o in listed if o.default == "(required)")
    lines = _wrapped(f"usage: deepbehavior {job} {required + ' ' if required else ''}[key=value ...] [-m] [--help]",
                     width, "", "  ")
    if summary:
        lines += [""] + _wrapped(summary, width, "")
    lines += [""] + _wrapped("settings (key=value; a key in a mapping is added with +, "
                             "e.g. +model.options.NAME=VALUE):", width, "")
    titles = list(dict.fromkeys(o.group for o in listed))
    for title in sorted(titles, key=bool):  # the general settings first, then each group in order
        if title:
            lines += [""] + _wrapped(title + ":", width, "")
        lines += _rows([o for o in listed if o.group == title], width, listed)
    lines += ["", "examples:"] + [f"  {example}" for example in EXAMPLES.get(job, [])]  # whole, to copy
    lines += [""] + _wrapped("Also: -m sweeps comma-separated values (each run in its own folder under out), "
                             "--cfg job prints the composed settings, verbose=true keeps the runtime's own log lines.",
                             width, "")
    return "\n".join(lines)
