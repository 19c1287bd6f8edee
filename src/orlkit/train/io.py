"""Atomic file writes: a crash never leaves a half-written file behind."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it; read once, at import
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` for a temp file beside ``path``, then rename it onto ``path``.
    The file keeps the permissions of the file it replaces, or gets those a plainly created file would
    (mkstemp's are owner-only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_UMASK
        os.fchmod(fd, mode)
        os.close(fd)
        fd = -1
        write(tmp)
        os.chmod(tmp, mode)  # again: some writers (safetensors' save_file) replace the file instead of writing into it
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    def _write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=False)
            f.write("\n")

    return atomic_write(path, _write)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def figure_format(path: str | Path) -> str:
    """The image format a figure saved at ``path`` gets: its suffix (PNG when it has none). A suffix matplotlib
    cannot write is refused here, so that a command can check its output path before the work that draws it."""
    from matplotlib.backend_bases import FigureCanvasBase

    from orlkit.errors import OrlkitError

    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    formats = FigureCanvasBase.get_supported_filetypes()
    if fmt not in formats:
        raise OrlkitError(f"{path}: cannot save a figure as '.{fmt}'; use one of {', '.join(sorted(formats))}")
    return fmt


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """``fig.savefig`` atomically, in :func:`figure_format` of ``path``."""
    fmt = figure_format(path)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt))


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    def _write(tmp: str) -> None:
        with open(tmp, "w") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")

    return atomic_write(path, _write)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
