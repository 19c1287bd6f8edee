"""Checkpoints: tensors in safetensors, everything else in a JSON sidecar; both written atomically.

A checkpoint ``NAME`` is the pair ``NAME.safetensors`` + ``NAME.json``. The JSON is written
last, so a checkpoint whose JSON exists is complete. Loading never executes code from the file
(safetensors and JSON hold data only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load_file, save_file

from orlkit.errors import OrlkitError
from orlkit.train.io import atomic_write, write_json

if TYPE_CHECKING:
    from orlkit.algos.base import Algorithm

FORMAT_VERSION = 1


# ------------------------------------------------- flat state: one safetensors key per tensor
def module_tensors(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's state dict as ``prefix.key`` → CPU tensor."""
    return {f"{prefix}.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def optimizer_tensors(prefix: str, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """An optimizer's per-parameter state (Adam's moments and step) as ``prefix.idx.key`` → tensor."""
    out = {}
    for idx, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            out[f"{prefix}.{idx}.{key}"] = t.detach().cpu().contiguous()
    return out


def select(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors under ``prefix``, with the prefix removed."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def save_checkpoint(path: str | Path, algo: Algorithm, tensors: dict[str, torch.Tensor] | None = None,
                    meta: dict[str, Any] | None = None) -> Path:
    """Save ``algo``'s full state (plus extra ``tensors``/``meta``) as ``path``.safetensors/.json."""
    base = Path(path).with_suffix("")
    all_tensors = {**algo.state_tensors(), **{f"extra.{k}": v for k, v in (tensors or {}).items()}}
    atomic_write(base.with_suffix(".safetensors"),
                 lambda tmp: save_file({k: v.contiguous() for k, v in all_tensors.items()}, tmp))
    write_json(base.with_suffix(".json"), {
        "format_version": FORMAT_VERSION,
        "algorithm": algo.name,
        "spec": algo.spec.to_dict(),
        "state": algo.state_meta(),
        **(meta or {}),
    })
    return base


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and JSON metadata of checkpoint ``path`` (with or without an extension)."""
    base = Path(path).with_suffix("")
    json_path, st_path = base.with_suffix(".json"), base.with_suffix(".safetensors")
    if not json_path.exists() or not st_path.exists():
        raise OrlkitError(f"{base}: checkpoint not found (need {st_path.name} and {json_path.name})")
    try:
        meta = json.loads(json_path.read_text())
        tensors = load_file(str(st_path))
    except Exception as e:  # corrupt files: one clear message
        raise OrlkitError(f"{base}: cannot read checkpoint ({type(e).__name__}: {e})") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise OrlkitError(f"{json_path}: unsupported checkpoint format {meta.get('format_version')!r}")
    return tensors, meta


def load_checkpoint(path: str | Path, algo: Algorithm) -> dict[str, Any]:
    """Restore ``algo`` from checkpoint ``path``; returns the JSON metadata (extras under 'extra.')."""
    tensors, meta = read_checkpoint(path)
    if meta["algorithm"] != algo.name:
        raise OrlkitError(f"{path}: checkpoint is for '{meta['algorithm']}', not '{algo.name}'")
    if meta["spec"] != algo.spec.to_dict():
        raise OrlkitError(f"{path}: checkpoint was made for data {meta['spec']}, not {algo.spec.to_dict()}")
    algo.load_state({k: v for k, v in tensors.items() if not k.startswith("extra.")}, meta["state"])
    meta["extra_tensors"] = {k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}
    return meta


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The complete checkpoint with the highest step in ``directory``, or None."""
    directory = Path(directory)
    found = sorted(p.with_suffix("") for p in directory.glob("step_*.json")
                   if p.with_suffix(".safetensors").exists())
    return found[-1] if found else None
