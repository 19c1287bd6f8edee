"""Atomic writes: permissions like a plain file, nothing left behind on failure."""

import os
import stat

import pytest

from orlkit.train.io import atomic_write, save_figure, write_json, write_text


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


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    path = write_json(tmp_path / "a.json", {"x": 1})
    path.chmod(0o600)
    write_json(path, {"x": 2})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_optimizer_state_from_before_the_fused_kernel_keeps_fused_on():
    import torch

    from orlkit.nets.optim import adam, load_optimizer_state

    w = torch.nn.Parameter(torch.ones(3))
    opt = adam([w], lr=0.1)
    w.grad = torch.ones(3)
    opt.step()
    saved = opt.state_dict()
    old_groups = [{**g, "fused": None} for g in saved["param_groups"]]  # what an older checkpoint holds
    fresh = adam([torch.nn.Parameter(torch.ones(3))], lr=0.1)
    flat = {f"{idx}.{key}": value for idx, state in saved["state"].items() for key, value in state.items()}
    load_optimizer_state(fresh, flat, old_groups)
    assert fresh.param_groups[0]["fused"] is True and fresh.state_dict()["state"][0]["step"].item() == 1


def test_write_text_and_save_figure_leave_only_the_file(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    write_text(tmp_path / "t.md", "| a |\n")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    save_figure(fig, tmp_path / "f.png")
    save_figure(fig, tmp_path / "f.svg")
    plt.close(fig)
    assert (tmp_path / "t.md").read_text() == "| a |\n"
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the suffix picks the format, not .tmp
    assert (tmp_path / "f.svg").read_text().lstrip().startswith("<?xml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "f.svg", "t.md"]


def test_a_writer_that_replaces_the_temp_file_still_gets_plain_permissions(tmp_path):
    def recreate(tmp: str) -> None:  # as safetensors' save_file does: the file at tmp is a new one, mode 0600
        os.unlink(tmp)
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY, 0o600)
        os.write(fd, b"x")
        os.close(fd)

    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "w.bin", recreate)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 and path.read_bytes() == b"x"
