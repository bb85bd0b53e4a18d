"""The architecture, drawn from the imports: no import cycles, and no arrow pointing up.

Every module of ``deepbehavior/`` is parsed with :mod:`ast` (not imported) and every import it makes
of ``deepbehavior`` counts, relative or absolute, at module level or inside a function (a lazy import
is still a dependency). :data:`LAYERS` below is the documented architecture, bottom first; a module
may import from its own component and from components of lower layers only. Components in the same
layer are independent of one another.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "deepbehavior"

# The architecture, bottom layer first. A component is a top-level module or subpackage of
# ``deepbehavior``; ``""`` is the package's own ``__init__``.
LAYERS: list[tuple[str, ...]] = [
    # Base: the data model, atomic files, network-free ultralytics, configuration values, video
    # decoding, provenance records and console helpers. They import nothing of ours.
    ("", "schema", "files", "offline", "config", "video", "provenance", "_console"),
    # On the base: cohort manifests (videos probed), fingerprints of inputs (provenance), and Zarr
    # stores of the schema, written region by region.
    ("cohort", "fingerprint", "store"),
    # One loop over a cohort's sessions for every cohort job: resume, typed failures, progress.
    ("session_runner",),
    # The domain, one subpackage per capability, independent of one another.
    ("geometry", "models", "tracking", "analysis"),
    # Built on the domain: file formats (YOLO datasets are checked with models' dataset checks) and
    # synthetic data with known answers (cameras, pose layouts, model output → schema).
    ("formats", "synthetic"),
    # Applications of the library: figures, the Ray runtime (inference, training), the labelling app.
    ("viz", "runtime", "labeling"),
    # The pipeline steps as Python functions returning reports (``db.track``, ``db.infer``...).
    ("pipeline",),
    # The command line, the only place that sets up the process and finds the jobs.
    ("cli",),
]

LAYER_OF = {component: depth for depth, layer in enumerate(LAYERS) for component in layer}


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name → (file, is a package ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["deepbehavior", *path.relative_to(PACKAGE).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


MODULES = _modules()


def _known(name: str) -> str | None:
    """The innermost module of ours that ``name`` (a module or a name inside one) refers to."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str) -> set[str]:
    """The modules of ``deepbehavior`` that ``module`` imports anywhere in its source."""
    path, is_package = MODULES[module]
    here = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here[: len(here) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            # ``from pkg import name``: ``pkg.name`` when that is a module of ours, else ``pkg``.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                       for alias in node.names]
        else:
            continue
        found |= {known for target in targets if (known := _known(target)) is not None}
    found.discard(module)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def _component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_parser_sees_relative_absolute_and_lazy_imports():
    # Known edges of each kind, so an empty graph cannot pass the tests below.
    assert "deepbehavior.schema" in GRAPH["deepbehavior.store"]  # from .schema / from . import
    assert "deepbehavior.models.base" in GRAPH["deepbehavior.runtime.inference"]  # from ..models.base
    assert "deepbehavior.offline" in GRAPH["deepbehavior.models.yolo"]  # inside a function
    assert sum(len(targets) for targets in GRAPH.values()) > 100


def test_every_component_has_a_declared_layer():
    undeclared = sorted({_component(m) for m in MODULES} - set(LAYER_OF))
    assert not undeclared, (f"Expected every part of deepbehavior/ in LAYERS of {__file__}, but got "
                            f"{undeclared} undeclared: add each to the layer matching what it imports")


def test_no_upward_or_sideways_imports():
    wrong = []
    for module, targets in GRAPH.items():
        mine = _component(module)
        for target in sorted(targets):
            theirs = _component(target)
            if theirs != mine and LAYER_OF.get(theirs, -1) >= LAYER_OF.get(mine, -1):
                wrong.append(f"{module} (layer {LAYER_OF.get(mine)}) imports {target} "
                             f"(layer {LAYER_OF.get(theirs)})")
    assert not wrong, "Expected imports only of lower layers, but got:\n" + "\n".join(wrong)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_finds_a_known_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules():
    cycles = _cycles(GRAPH)
    assert not cycles, "Expected no import cycles, but got: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _component(m) != "cli"))
def test_only_the_cli_finds_the_jobs(module):
    source = MODULES[module][0].read_text()
    tree = ast.parse(source)
    names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    names += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [n for n in names if n.split(".")[0] in ("jobs", "deepbehavior_jobs")], (
        f"Expected {module} not to import the jobs (they sit above the library), but it does")


def _private_uses(module: str) -> list[str]:
    """``module.name`` for every private name (``_x``) or private module that ``module`` imports
    from another component."""
    path, is_package = MODULES[module]
    here = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*here[: len(here) - (node.level - 1)], *([node.module] if node.module else [])])
            names = [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "deepbehavior" and len(parts) > 1 and parts[1] != _component(module) \
                    and any(p.startswith("_") and not p.startswith("__") for p in parts[2:]):
                found.append(name)
    return found


def test_no_component_uses_another_ones_private_names():
    used = {m: u for m in MODULES if (u := _private_uses(m))}
    assert not used, f"Expected only public names across components, but got {used}"
