"""The model that ships with the suite, and ``motionhmr export``, which makes such a file.

Contract
    :func:`default_checkpoint` ``(kind="kp") -> Path``: the shipped checkpoint (``kp.pt``
    beside this file), trained by this project on open data only; its model card is
    ``MODEL_CARD.md`` beside it. ``motionhmr predict`` and ``eval`` use it when no ``--ckpt``
    / ``ckpt=`` is given.

    :func:`export` ``(src, dst, half=True) -> dict``: an inference-only copy of a training
    checkpoint (:mod:`motionhmr.checkpoint` format, so every loader reads it):

    - the weights, as float16 when ``half`` (the loader casts them back to the model's
      float32; measured with a kp model on Pose2Sim's demo: PA-MPJPE moved by <= 0.1 mm per view);
    - no optimizer, scheduler or generator state (it is not for resuming), and no weights
      of modules inference never runs (the DANN domain classifier, :data:`TRAINING_ONLY`);
    - the config, the inputs and the data contract, unchanged, plus ``"inference_only":
      True`` and the source checkpoint's step.

    A file written by :func:`export` cannot be resumed: ``train resume=`` refuses it in one
    line (:func:`motionhmr.train` checks ``inference_only``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from synth.errors import InputError

HERE = Path(__file__).resolve().parent
#: The shipped checkpoints by kind; ``kp``: ``inputs=kp``, keypoint encoder (MediaPipe 2D in).
SHIPPED = {"kp": HERE / "kp.pt"}
CARD = HERE / "MODEL_CARD.md"
#: State-dict prefixes of modules that only training runs (dropped by :func:`export`).
TRAINING_ONLY = ("domain.",)


def default_checkpoint(kind: str = "kp") -> Path:
    """The shipped checkpoint of ``kind``; a one-line error if the package lacks it."""
    path = SHIPPED.get(kind)
    if path is None:
        raise InputError(f"no shipped model of kind {kind!r}; shipped: {', '.join(SHIPPED)}")
    if not path.is_file():
        raise InputError(f"the shipped model {path} is missing from this install: reinstall the package, "
                         "or give --ckpt FILE (a checkpoint of motionhmr train)")  # fmt: skip
    return path


def export(src: str | Path, dst: str | Path, half: bool = True) -> dict:
    """Write the inference-only copy of ``src`` to ``dst`` (module contract); returns a
    summary: ``step``, ``params`` (kept), ``dropped`` (tensors left out), ``bytes``."""
    from motionhmr import checkpoint

    blob = checkpoint.load(src)
    state = {}
    dropped = 0
    for key, value in blob["model"].items():
        if key.startswith(TRAINING_ONLY):
            dropped += 1
            continue
        state[key] = value.half() if half and value.is_floating_point() else value
    out = {
        "format": checkpoint.FORMAT,
        "step": blob["step"],
        "config": blob["config"],
        "inputs": blob["inputs"],
        "data_contract": blob.get("data_contract"),
        "model": state,
        "optimizer": None,
        "scheduler": None,
        "rng": None,
        "inference_only": True,
    }
    dst = Path(dst)
    tmp = dst.with_name(f".tmp-{dst.name}-{os.getpid()}")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        torch.save(out, tmp)
        os.replace(tmp, dst)  # whole or not at all
    except OSError as e:
        if tmp.is_file():
            tmp.unlink()
        raise InputError(f"cannot write the export to {dst}: {e.strerror or e}; give a path in a writable folder") from None
    params = sum(v.numel() for v in state.values())
    return {"step": int(blob["step"]), "params": int(params), "dropped": dropped, "bytes": dst.stat().st_size}
