"""MkDocs hooks: the pages generated at build time (the benchmark figures, the worked examples)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from mkdocs.structure.files import File

DOCS = Path(__file__).resolve().parent
EXAMPLES = DOCS / "examples"


def _benchmarks_page() -> str:
    spec = importlib.util.spec_from_file_location("gen_benchmarks", DOCS / "gen_benchmarks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.page(module.load())


def _examples_page() -> str:
    out = ["# Worked examples", "",
           "Python scripts on the real recordings in `../shared/data` (see its README), in `docs/examples/`;",
           "`tests/integration/test_docs_examples.py` runs each of them. Run one with",
           "`python docs/examples/NAME.py [DATA_FOLDER]`.", ""]
    for script in sorted(EXAMPLES.glob("*.py")):
        text = script.read_text()
        summary = text.split('"""')[1].strip() if text.startswith('"""') else ""
        out += [f"## {script.stem}", "", summary, "", "```python", text.rstrip(), "```", ""]
    return "\n".join(out)


def _in_nav(nav) -> set[str]:
    found = set()
    for entry in nav or []:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        found |= _in_nav(value) if isinstance(value, list) else {value}
    return found


def on_config(config):
    """Pages in ``docs/`` that ``mkdocs.yml``'s nav does not list go under "More", so that a page
    added to the folder is never unreachable (nor an error of the strict build)."""
    listed = _in_nav(config["nav"]) | {"benchmarks.md", "examples.md"}
    extra = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")
                   if "examples" not in p.relative_to(DOCS).parts)
    missing = [page for page in extra if page not in listed]
    if missing:
        config["nav"].append({"More": missing})
    return config


def on_files(files, config):
    """Add the generated pages to the site."""
    for name, content in (("benchmarks.md", _benchmarks_page()), ("examples.md", _examples_page())):
        files.append(File.generated(config, name, content=content))
    return files
