"""Atomic writes: the file appears whole or not at all, with the user's umask."""

import os
import stat

import pytest

from deepbehavior.files import atomic_path, write_atomic


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_write_atomic_writes_the_text_with_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "a" / "b.json", "{}\n")
        atomic = tmp_path / "a" / "b.json"
        with atomic_path(tmp_path / "a" / "c.csv") as tmp:
            tmp.write_text("x\n")
    finally:
        os.umask(old)
    assert atomic.read_text() == "{}\n"
    assert stat.S_IMODE(atomic.stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "a" / "c.csv").stat().st_mode) == mode
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b.json", "c.csv"]  # no temporaries


def test_write_atomic_replaces_an_existing_file(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    write_atomic(target, "new")
    assert target.read_text() == "new"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "figure.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".png" and tmp.name.startswith(".")
            tmp.write_bytes(b"half")
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["figure.png"]


def test_write_atomic_of_a_non_string_fails_without_leaving_anything(tmp_path):
    with pytest.raises(TypeError):
        write_atomic(tmp_path / "x.txt", b"bytes")  # text only
    assert list(tmp_path.iterdir()) == []
