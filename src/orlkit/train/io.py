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
    """The JSON objects of a ``.jsonl`` log, one per line (``[]`` when there is no file). A line that is not a JSON
    object (an edited or damaged log) raises one OrlkitError naming the file and the line."""
    from orlkit.errors import OrlkitError

    path = Path(path)
    if not path.exists():
        return []
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise OrlkitError(f"{path}, line {n}: not a JSON object ({e.msg}); the log is damaged. Delete that "
                                  "line (and any after it) to use the run") from None
            if not isinstance(row, dict):
                raise OrlkitError(f"{path}, line {n}: a log line must be a JSON object, got {type(row).__name__}")
            rows.append(row)
    return rows


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    """A run directory's ``config.json`` as a dict: one OrlkitError if it is missing, unreadable or not an object."""
    from orlkit.errors import OrlkitError

    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise OrlkitError(f"{run_dir}: not a run directory (no config.json)")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise OrlkitError(f"{path}: cannot read the run's config ({type(e).__name__}: {e})") from None
    if not isinstance(saved, dict):
        raise OrlkitError(f"{path}: a run's config is a JSON object, got {type(saved).__name__}")
    return saved


def check_output_path(path: str | Path, directory: bool = False) -> None:
    """Refuse, before any work, an output path that cannot be written: a file where a directory is wanted (or the
    other way round), or a parent that is a file or not writable. Creates nothing."""
    import os

    from orlkit.errors import OrlkitError

    p = Path(path)
    if p.exists() and p.is_dir() != directory:
        raise OrlkitError(f"{path}: exists and is {'not ' if directory else ''}a directory; choose another path")
    ancestor = p.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OrlkitError(f"{path}: cannot be written: {ancestor} is a file, not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OrlkitError(f"{path}: cannot be written: no permission to write in {ancestor}")
