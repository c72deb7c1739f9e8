"""Learned flow models from ptlflow (FlowNet2/C/S, RAFT, PWC-Net, FastFlowNet, ...).

Batched on CPU or GPU. Weights come only from a checkpoint file the user gives
(``flow.ckpt=/path/raft-things.ckpt``, as published by ptlflow or saved from its models);
``flow.ckpt=random`` builds untrained weights, for plumbing tests and speed benchmarks only.
The suite never downloads weights.

ptlflow models take ``{"images": [B, 2, 3, H, W]}`` BGR in [0, 1] and return
``{"flows": [B, 1, 2, H, W]}`` in pixels; padding to the model's stride happens inside
ptlflow. This module converts to and from the suite's contract (:mod:`flow.contract`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from flow.registry import FlowBackend
from synth.errors import InputError, MissingDependency


def import_ptlflow():
    """Import ptlflow, or fail with the install hint (never fall back to another backend)."""
    import logging
    import warnings

    # ptlflow's model zoo imports DINOv2 and timm, which warn about optional speed-ups
    # (xFormers) and deprecated paths on every import; none of it concerns flow here.
    logging.getLogger("dinov2").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _import_ptlflow()


def _import_ptlflow():
    try:
        import ptlflow  # noqa: F401
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] in ("ptlflow", "lightning", "timm", "torchvision", "einops", "loguru"):
            raise MissingDependency("ptlflow", "ptlflow", "flow.backend=ptlflow") from None
        raise
    except RuntimeError as e:
        if "torchvision::" not in str(e):
            raise
        _register_torchvision_op_schemas()
        import ptlflow  # noqa: F401
    return sys.modules["ptlflow"]


def _register_torchvision_op_schemas() -> None:
    """Let torchvision's Python side import when its C++ ops cannot load.

    Why: PyPI's only torchvision wheel for the pinned torch is linked against CUDA
    libraries, so with the CPU torch its ``_C`` extension fails to load. torchvision then
    still registers fake kernels for ``torchvision::nms``/``qnms`` unconditionally, which
    raises "operator torchvision::nms does not exist" and aborts ``import torchvision``
    (and so timm and ptlflow). Declaring those two schemas lets the import finish. No flow
    model calls NMS; if anything ever did, it would fail loudly with "no kernel".
    On CUDA machines the extension loads and this function is never reached.
    """
    import torch

    for mod in [m for m in sys.modules if m.split(".")[0] in ("torchvision", "timm", "ptlflow")]:
        del sys.modules[mod]  # drop the half-imported packages before retrying
    lib = torch.library.Library("torchvision", "FRAGMENT")
    for op in ("nms", "qnms"):
        try:
            lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        except RuntimeError:
            pass  # already declared (e.g. by an earlier call)
    _register_torchvision_op_schemas.lib = lib  # keep the Library alive: its defs die with it


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"flow.device={device} but torch sees no CUDA device; use flow.device=cpu")
    return device


class Ptlflow(FlowBackend):
    def __init__(self, model: str, ckpt: str, device: str = "auto", batch_size: int = 8):
        import torch

        ptlflow = import_ptlflow()
        names = ptlflow.get_model_names()
        if model not in names:
            raise InputError(f"flow.model={model!r} is not a ptlflow model; choose one of {', '.join(sorted(names))}")
        self.name = f"ptlflow:{model}"
        self.device = resolve_device(device)
        self.batch_size = batch_size
        net = ptlflow.get_model(model)  # architecture only: ckpt_path=None never downloads
        if ckpt != "random":
            _load_checkpoint(net, model, ckpt)
        self.net = net.eval().to(self.device)
        self._torch = torch

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.model, cfg.ckpt, cfg.device, cfg.batch_size)

    def _estimate(self, pairs: np.ndarray) -> np.ndarray:
        torch = self._torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(pairs), self.batch_size):
                chunk = torch.from_numpy(pairs[i : i + self.batch_size]).to(self.device)
                # [B, 2, H, W, 3] RGB uint8 -> [B, 2, 3, H, W] BGR float in [0, 1]
                images = chunk.flip(-1).permute(0, 1, 4, 2, 3).float().div_(255.0)
                flows = self.net({"images": images})["flows"][:, 0]  # [B, 2, H, W]
                out.append(flows.permute(0, 2, 3, 1).float().cpu().numpy())
        return np.concatenate(out)


def _load_checkpoint(net, model: str, ckpt: str) -> None:
    """Load a ptlflow checkpoint (a Lightning ``{"state_dict": ...}`` or a bare state dict)."""
    import torch

    path = Path(ckpt).expanduser()
    if not path.is_file():
        raise InputError(
            f"flow.ckpt={ckpt}: no such file; flow.backend=ptlflow needs the path of a {model} checkpoint "
            "(e.g. ptlflow's published raft-things.ckpt, downloaded by you)"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a bad file
        raise InputError(f"flow.ckpt={ckpt}: not a readable torch checkpoint ({type(e).__name__}: {e})") from None
    hp = state.get("hyper_parameters", {}) if isinstance(state, dict) else {}
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise InputError(f"flow.ckpt={ckpt}: expected a state dict, got {type(state).__name__}")
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise InputError(f"flow.ckpt={ckpt} does not fit ptlflow model {model!r}: {first}") from None
    if isinstance(hp, dict) and hp.get("train_size") is not None:
        net.train_size = hp["train_size"]
