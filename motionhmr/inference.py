"""A trained Motion-HMR checkpoint as a function from network steps to per-frame bodies.

Contract
    ``Predictor.from_checkpoint(path, device="auto")`` rebuilds the network and body model
    from the checkpoint's stored config; ``predictor.contract`` is its data contract
    (:func:`motionhmr.contract.for_inference`: what real frames must be turned into, with a
    warning naming the assumed defaults for a checkpoint without one), which ``predict`` and
    ``eval`` follow. ``predictor(inputs)`` takes one track: its compact
    fields (a dict: :func:`motionhmr.data.sample_to_steps`, ``RealClip.inputs`` of
    :mod:`motionhmr.realvideo`) or its stacked steps float32 ``[N-1, C, 224, 224]`` in the
    training channel layout (:mod:`motionhmr.inputs`), cuts the
    ``N`` frames into ``frames``-frame windows (:func:`motionhmr.evaluate.clip_windows`: the
    tail window aligned to the end; ``frames``: the training window ``data.frames``, else the
    contract's clip length), runs them in batches, and returns :class:`FrameBodies`
    for all ``N`` frames: every window's *current* predictions plus its last *future* one
    (the paper's test-time rule), stitched so that each frame comes from exactly one window.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from motionhmr.evaluate import CLIP_FRAMES, clip_windows, stitch
from motionhmr.losses import normalised_to_px, project_weak
from synth.errors import InputError


@dataclasses.dataclass
class FrameBodies:
    """Per-frame outputs, camera frame of each frame's crop, metres."""

    joints3d: np.ndarray  # [N, 14, 3] EVAL_JOINTS, root (pelvis joint) at the origin
    rotmat: np.ndarray  # [N, J, 3, 3] 0 = global orientation (camera frame), 1.. = local pose
    shape: np.ndarray  # [N, shape_dim]
    cam: np.ndarray  # [N, 3] weak perspective (s, tx, ty), normalised crop coordinates
    kp2d_crop: np.ndarray  # [N, 14, 2] projected joints, crop pixels (0..224)

    def vertices(self, body, batch: int = 64) -> np.ndarray:
        """``[N, V, 3]`` root-relative meshes (for overlays and PVE)."""
        out = []
        with torch.no_grad():
            for i in range(0, len(self.rotmat), batch):
                rot = torch.as_tensor(self.rotmat[i : i + batch], dtype=torch.float32)
                posed = body(rot[:, 1:], torch.as_tensor(self.shape[i : i + batch], dtype=torch.float32),
                             rot[:, 0], rot.new_zeros(len(rot), 3))  # fmt: skip
                out.append((posed.vertices - posed.joints[:, :1]).numpy())
        return np.concatenate(out)


class Predictor:
    def __init__(self, model, loss_fn, spec, device: torch.device, frames: int = CLIP_FRAMES, batch: int = 4,
                 contract=None):  # fmt: skip
        from motionhmr.contract import ASSUMED

        self.model, self.loss_fn, self.spec, self.device = model.eval(), loss_fn, spec, device
        self.body = loss_fn.body
        self.frames, self.batch = frames, batch
        self.contract = ASSUMED if contract is None else contract

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", **kwargs) -> Predictor:
        """``kwargs``: ``frames``, ``batch``, and ``contract`` (an already resolved
        :class:`motionhmr.contract.DataContract`, so its warnings are not logged twice)."""
        from motionhmr import checkpoint
        from motionhmr.config import from_dict
        from motionhmr.contract import for_inference
        from motionhmr.inputs import parse_inputs
        from motionhmr.train import build, pick_device

        blob = checkpoint.load(path)
        contract = kwargs.get("contract") or for_inference(blob.get("data_contract"), str(path))
        cfg = from_dict(blob["config"])
        dev = pick_device(device)
        model, loss_fn = build(cfg, dev)
        load_weights(model, blob, str(path))
        frames = cfg.data.frames or contract.clip_frames or CLIP_FRAMES
        return cls(model, loss_fn, parse_inputs(cfg.inputs), dev, frames=kwargs.get("frames", frames),
                   batch=kwargs.get("batch", 4), contract=contract)  # fmt: skip

    @torch.no_grad()
    def __call__(self, inputs) -> FrameBodies:
        """``inputs``: one track's compact fields (a dict as :func:`motionhmr.data.sample_to_steps`
        or ``RealClip.inputs`` give, without a batch dim: ``total_occlusion`` ``[N]``, ``kp2d``
        ``[N, 14, 2]`` crop px and ``kp_input_visible`` ``[N, 14]``, ``rgb`` / ``flow``
        ``[N-1, ...]`` for the parts the model reads), or its stacked steps ``x``
        ``[N-1, C, 224, 224]`` (CNN encoders only)."""
        if isinstance(inputs, dict):
            get = _field_windows(inputs, self.spec)
            n = len(inputs["total_occlusion"])
        else:
            x = torch.as_tensor(inputs, dtype=torch.float32)
            if x.ndim != 4 or x.shape[1] != self.spec.channels:
                raise ValueError(f"expected steps [N-1, {self.spec.channels}, H, W] for inputs={self.spec.name}, got {list(x.shape)}")
            n = x.shape[0] + 1
            get = lambda group: torch.stack([x[w.start : w.stop - 1] for w in group])  # noqa: E731
        if n < 2:
            raise ValueError("a track needs at least 2 frames (one step)")
        windows = clip_windows(n, self.frames)
        outs = []
        # Windows of equal length share a batch (all but a short single-window track).
        for i in range(0, len(windows), self.batch):
            group = windows[i : i + self.batch]
            batch = get(group)
            batch = {k: v.to(self.device) for k, v in batch.items()} if isinstance(batch, dict) else batch.to(self.device)
            frames = self.model(batch).per_frame()
            joints = self.loss_fn.joints(frames.rotmat, frames.shape)
            uv = normalised_to_px(project_weak(joints, frames.cam.float()))
            for b in range(len(group)):
                outs.append({"joints3d": joints[b], "rotmat": frames.rotmat[b], "shape": frames.shape[b],
                             "cam": frames.cam[b], "kp2d_crop": uv[b]})  # fmt: skip
        fields = {k: stitch([o[k].float().cpu().numpy() for o in outs], windows, n) for k in outs[0]}
        return FrameBodies(**fields)


def load_weights(model, blob: dict, name: str) -> None:
    """``blob``'s weights into ``model`` (cast to its dtype: an export stores float16). An
    inference-only export (:func:`motionhmr.weights.export`) lacks the training-only modules;
    any other missing or unexpected key is an error."""
    from motionhmr.weights import TRAINING_ONLY

    if not blob.get("inference_only"):
        model.load_state_dict(blob["model"])
        return
    missing, unexpected = model.load_state_dict(blob["model"], strict=False)
    missing = [k for k in missing if not k.startswith(TRAINING_ONLY)]
    if missing or unexpected:
        raise InputError(f"{name} does not fit the network its config builds (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}): re-export it from its training checkpoint")  # fmt: skip


#: Compact input fields indexed by frame (T) and by step (S = T - 1).
FRAME_FIELDS = ("total_occlusion", "kp2d", "kp_input_visible")
STEP_FIELDS = ("rgb", "flow")


def _field_windows(inputs: dict, spec):
    """A function from a group of frame windows to the batch of their compact fields."""
    needed = [f for f in STEP_FIELDS if f in spec] + list(FRAME_FIELDS[:1])
    if "kp" in spec:
        needed += list(FRAME_FIELDS[1:])
    missing = [k for k in needed if k not in inputs]
    if missing:
        raise ValueError(f"inputs={spec.name} needs the fields {needed}; missing {missing}")
    arrays = {k: torch.as_tensor(np.asarray(inputs[k])) for k in needed}

    def get(group):
        return {k: torch.stack([v[w.start : (w.stop - 1 if k in STEP_FIELDS else w.stop)] for w in group])
                for k, v in arrays.items()}  # fmt: skip

    return get
