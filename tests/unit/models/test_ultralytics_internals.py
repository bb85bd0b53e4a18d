"""ultralytics' undocumented parts that we rely on are all in one module, and all still there."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from deepbehavior.models import ultralytics_internals as internals
from deepbehavior.offline import offline_ultralytics

PACKAGE = Path(internals.__file__).resolve().parents[1]
PRIVATE = {a for attributes in internals.REQUIRED.values() for a in attributes if a.startswith("_")}


@pytest.fixture(scope="module")
def ultralytics_imported():
    offline_ultralytics()
    pytest.importorskip("ultralytics")


def test_every_internal_we_rely_on_exists(ultralytics_imported):
    missing = internals.check()
    assert not missing, (f"Expected ultralytics {internals.version()} to have every internal listed in "
                         f"deepbehavior/models/ultralytics_internals.py, but these are gone: {missing}")


def test_the_installed_version_was_checked(ultralytics_imported):
    assert internals.version() in internals.CHECKED_VERSIONS, (
        f"Expected an ultralytics version checked against ultralytics_internals.py "
        f"({', '.join(internals.CHECKED_VERSIONS)}), but got {internals.version()}: read its changes for "
        f"the names in REQUIRED, then add it to CHECKED_VERSIONS")


def test_check_names_what_is_missing(ultralytics_imported, monkeypatch):
    monkeypatch.setattr(internals, "REQUIRED", {
        "ultralytics.utils.torch_utils:": ("ModelEMA", "_no_such_helper"),
        "ultralytics.no_such_module:": ("x",),
        "ultralytics.models.yolo.detect:NoSuchTrainer": ("setup_model",),
    })
    missing = internals.check()
    assert "ultralytics.utils.torch_utils:._no_such_helper" in missing
    assert any(m.startswith("ultralytics.no_such_module: (ModuleNotFoundError") for m in missing)
    assert any(m.startswith("ultralytics.models.yolo.detect:NoSuchTrainer (AttributeError") for m in missing)
    assert not any("ModelEMA" in m for m in missing)


def test_the_validator_subclass_extends_the_private_batch_hook(ultralytics_imported):
    from ultralytics.models.yolo.pose import PoseValidator

    cls = internals.keypoint_pixel_validator_class()
    assert issubclass(cls, PoseValidator)
    assert cls._process_batch is not PoseValidator._process_batch  # ours wraps it


def _private_ultralytics_uses(path: Path) -> list[str]:
    """``name`` of every private attribute of ours' REQUIRED used in ``path``, and every import of
    an ultralytics module that REQUIRED lists as internal."""
    internal_modules = {t.partition(":")[0] for t in internals.REQUIRED} - {"ultralytics.nn.tasks"}
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE:
            found.append(f"{path.name}:{node.lineno} .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "") in internal_modules:
            found.append(f"{path.name}:{node.lineno} from {node.module}")
        elif isinstance(node, ast.Import):
            found += [f"{path.name}:{node.lineno} import {a.name}" for a in node.names if a.name in internal_modules]
    return found


def test_no_other_module_reaches_into_ultralytics():
    here = Path(internals.__file__).resolve()
    found = [use for path in sorted(PACKAGE.rglob("*.py")) if path.resolve() != here
             for use in _private_ultralytics_uses(path)]
    assert not found, f"Expected ultralytics internals only in {here.name}, but got: {found}"


def test_the_scan_sees_a_private_call(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f(tool):\n    from ultralytics.utils.ops import scale_boxes\n"
                      "    tool._setup_scheduler()\n")
    assert _private_ultralytics_uses(sample) == ["sample.py:2 from ultralytics.utils.ops",
                                                 "sample.py:3 ._setup_scheduler"]
