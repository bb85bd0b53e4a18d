"""``deepbehavior JOB --help``: every setting with its type, default and one line of description.

The descriptions come from the config dataclasses themselves, so they cannot drift from the code:
a field's ``metadata["help"]``, else the comment lines just above the field, else the sentence of
the class docstring that names it in double backquotes.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
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
    line, and a one-line ``text``."""

    name: str
    type: str
    default: str
    text: str


def _first_sentence(text: str, limit: int = 110) -> str:
    text = " ".join(text.replace("``", "").split())
    match = re.search(r"(?<=[.;])\s+(?=[A-Z(`\"'])", text)
    sentence = text[:match.start()] if match else text
    sentence = sentence.rstrip(".;")
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


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
    doc = " ".join((inspect.getdoc(cls) or "").split())
    if f"``{name}``" not in doc:
        return ""
    sentences = re.split(r"(?<=[.;])\s+(?=[A-Z(`\"'])", doc)
    for sentence in sentences:
        if f"``{name}``" in sentence:
            return sentence
    return ""


def _owner(cls: type, name: str) -> type:
    """The class of ``cls``'s hierarchy whose body declares the field ``name`` (a schema may extend a
    library's settings, as ``AnalyzeJob`` extends ``MeasureSettings``)."""
    return next((c for c in cls.__mro__ if name in c.__dict__.get("__annotations__", {})), cls)


def describe_field(cls: type, field: dataclasses.Field) -> str:
    """One line about ``field`` of the dataclass ``cls`` ("" when its code says nothing)."""
    owner = _owner(cls, field.name)
    text = field.metadata.get("help") or _comments(owner).get(field.name) or _from_docstring(owner, field.name)
    return _first_sentence(text) if text else ""


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
        text = str(value).replace("'", "").replace(" ", "")
        return text if len(text) <= 40 else text[:39] + "…"
    return str(value)


def options(schema: type, defaults: dict, prefix: str = "") -> list[Option]:
    """Every leaf setting of the dataclass ``schema``, depth first, with defaults from ``defaults``."""
    hints = typing.get_type_hints(schema)
    found = []
    # The schema's own settings first (out, ...), then those it inherits.
    for field in sorted(dataclasses.fields(schema), key=lambda f: _owner(schema, f.name) is not schema):
        hint = hints.get(field.name, field.type)
        value = defaults.get(field.name) if isinstance(defaults, dict) else None
        if dataclasses.is_dataclass(hint):
            found += options(hint, value or {}, f"{prefix}{field.name}.")
            continue
        found.append(Option(prefix + field.name, _type_name(hint), _shown(value), describe_field(schema, field)))
    return found


def job_help(job: str, schema: type, defaults: dict, summary: str = "") -> str:
    """The text of ``deepbehavior JOB --help``."""
    listed = options(schema, defaults)
    name_width = min(max(len(o.name) for o in listed), 28)
    type_width = min(max(len(o.type) for o in listed), 14)
    default_width = min(max(len(o.default) for o in listed), 16)
    required = " ".join(f"{o.name}=…" for o in listed if o.default == "(required)")
    lines = [f"usage: deepbehavior {job} {required + ' ' if required else ''}[key=value ...] [-m] [--help]"]
    if summary:
        lines += ["", summary]
    lines += ["", "settings (key=value; a key in a mapping is added with +, e.g. +model.options.NAME=VALUE):"]
    for o in listed:
        lines.append(f"  {o.name.ljust(name_width)}  {o.type.ljust(type_width)}  {o.default.ljust(default_width)}"
                     f"  {o.text}".rstrip())
    lines += ["", "examples:"] + [f"  {example}" for example in EXAMPLES.get(job, [])]
    lines += ["", "Also: -m sweeps comma-separated values (each run in its own folder under out), "
              "--cfg job prints the composed settings, verbose=true keeps the runtime's own log lines."]
    return "\n".join(lines)
