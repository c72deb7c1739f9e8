"""Self-describing checkpoints that resume exactly.

Contract
    ``save(path, model, optimizer, scheduler, step, config, contract=None)`` writes,
    atomically (temporary file, then rename, so a killed run never leaves half a checkpoint):
    ``{"format", "step", "config" (resolved, plain dict), "inputs", "data_contract", "model",
    "optimizer", "scheduler", "rng"}`` where ``rng`` holds the CPU and CUDA torch generator
    states and Python's ``random`` state, and ``data_contract`` the training shards' settings
    that define the network input (a plain dict, :mod:`motionhmr.contract`; None when the
    caller gives none, as in checkpoints written before it existed, which have no such key). ``load(path)`` reads it back with ``torch.load(weights_only=True)``
    (only tensors and plain containers: a checkpoint cannot run code) and checks the format;
    ``load_head(path)`` the same memory-mapped, for its config, inputs and data contract
    without reading the weights.
    ``restore_rng(state)`` puts the generators back, so the next dropout mask, and hence the
    next loss in deterministic mode, is the one the uninterrupted run would have drawn.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import torch

from synth.errors import InputError

FORMAT = "motionhmr-checkpoint-1"


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": _py_state(random.getstate())}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _py_state(state):
    version, internal, gauss = state
    return [version, list(internal), gauss]  # lists: weights_only unpickles them


def save(path: str | Path, model, optimizer, scheduler, step: int, config: dict, contract: dict | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = model.module if hasattr(model, "module") else model  # DDP wrapper
    blob = {
        "format": FORMAT,
        "step": int(step),
        "config": config,
        "inputs": config.get("inputs"),
        "data_contract": contract,
        "model": module.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": rng_state(),
    }
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    torch.save(blob, tmp)
    os.replace(tmp, path)
    return path


def load(path: str | Path, map_location="cpu") -> dict:
    """A checkpoint written by :func:`save`; a one-line InputError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist")
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a bad file
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"checkpoint {path} is not readable ({first[:200]})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise InputError(f"{path} is not a motionhmr checkpoint (format {FORMAT})")
    return blob


def load_head(path: str | Path) -> dict:
    """:func:`load` memory-mapped: the config, inputs and data contract without reading the
    weights (they stay on disk until touched)."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - let load() word the error
        blob = None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        blob = load(path)  # raises the one-line InputError
    return blob
