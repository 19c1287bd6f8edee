"""Atomic writes: permissions like a plain file, nothing left behind on failure."""

import os
import stat

import pytest

from orlkit.train.io import atomic_write, write_json


def test_atomic_write_gives_the_umask_permissions_of_a_plain_file(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_json(tmp_path / "a.json", {"x": 1})
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o644


def test_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = write_json(tmp_path / "a.json", {"x": 1})

    def fail(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, fail)
    assert path.read_text().strip().startswith("{") and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
