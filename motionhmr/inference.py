"""A trained Motion-HMR checkpoint as a function from network steps to per-frame bodies.

Contract
    ``Predictor.from_checkpoint(path, device="auto")`` rebuilds the network and body model
    from the checkpoint's stored config. ``predictor(x)`` takes the steps of one track,
    float32 ``[N-1, C, 224, 224]`` in the training channel layout (:mod:`motionhmr.inputs`;
    built by :func:`motionhmr.data.sample_to_steps` or :mod:`motionhmr.realvideo`), cuts the
    ``N`` frames into ``frames``-frame windows (:func:`motionhmr.evaluate.clip_windows`: the
    tail window aligned to the end), runs them in batches, and returns :class:`FrameBodies`
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
    def __init__(self, model, loss_fn, spec, device: torch.device, frames: int = CLIP_FRAMES, batch: int = 4):
        self.model, self.loss_fn, self.spec, self.device = model.eval(), loss_fn, spec, device
        self.body = loss_fn.body
        self.frames, self.batch = frames, batch

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", **kwargs) -> Predictor:
        from motionhmr import checkpoint
        from motionhmr.config import from_dict
        from motionhmr.inputs import parse_inputs
        from motionhmr.train import build, pick_device

        blob = checkpoint.load(path)
        cfg = from_dict(blob["config"])
        dev = pick_device(device)
        model, loss_fn = build(cfg, dev)
        model.load_state_dict(blob["model"])
        frames = cfg.data.frames or CLIP_FRAMES
        return cls(model, loss_fn, parse_inputs(cfg.inputs), dev, frames=kwargs.get("frames", frames),
                   batch=kwargs.get("batch", 4))  # fmt: skip

    @torch.no_grad()
    def __call__(self, x) -> FrameBodies:
        x = torch.as_tensor(x, dtype=torch.float32)
        if x.ndim != 4 or x.shape[1] != self.spec.channels:
            raise ValueError(f"expected steps [N-1, {self.spec.channels}, H, W] for inputs={self.spec.name}, got {list(x.shape)}")
        n = x.shape[0] + 1
        if n < 2:
            raise ValueError("a track needs at least 2 frames (one step)")
        windows = clip_windows(n, self.frames)
        outs = []
        # Windows of equal length share a batch (all but a short single-window track).
        for i in range(0, len(windows), self.batch):
            group = windows[i : i + self.batch]
            steps = torch.stack([x[w.start : w.stop - 1] for w in group]).to(self.device)
            frames = self.model(steps).per_frame()
            joints = self.loss_fn.joints(frames.rotmat, frames.shape)
            uv = normalised_to_px(project_weak(joints, frames.cam.float()))
            for b in range(len(group)):
                outs.append({"joints3d": joints[b], "rotmat": frames.rotmat[b], "shape": frames.shape[b],
                             "cam": frames.cam[b], "kp2d_crop": uv[b]})  # fmt: skip
        fields = {k: stitch([o[k].float().cpu().numpy() for o in outs], windows, n) for k in outs[0]}
        return FrameBodies(**fields)
