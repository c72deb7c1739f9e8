"""Reference learners on the same shards: the floor every model must beat, and what the
data supports.

``constant floor``  the best single pose: the generalised-Procrustes mean of the training
                    targets (Gower 1975), predicted for every frame. PA-MPJPE removes
                    rotation, scale and translation, so no constant does better by more
                    than the alignment's own slack.
``lifter``          a small temporal-conv net (VideoPose3D-style, Pavllo et al. 2019) from
                    the stored 2D keypoints and their detector-style visibility
                    (``kp_input_visible``, what the network's heatmaps show) and the
                    total-occlusion indicator, straight to 14 root-relative 3D joints.

Both are scored by :func:`motionhmr.evaluate.evaluate_synthetic` (the PA-MPJPE code every
Motion-HMR figure uses) on the held-out clips of :func:`motionhmr.data.split_of`.

Contract
    :func:`read_clips` ``(path, split, val_every) -> list[Clip]``: only ``arrays.npz`` is
    decoded (a few ms a clip), so thousands of clips load in seconds.
    :func:`keypoint_features` ``(kp2d [..., T, 14, 2] crop px, visible [..., T, 14], occ
    [..., T]) -> [..., T, 43]``: per frame (u, v) in normalised crop coordinates (0 where
    hidden), the 14 visibility flags and the indicator; shared with Motion-HMR's keypoint
    encoder (:class:`motionhmr.model.encoders.KeypointEncoder`).
"""

from __future__ import annotations

import dataclasses
import io
import logging
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from motionhmr.losses import pa_mpjpe, px_to_normalised

log = logging.getLogger(__name__)

#: Per-frame keypoint feature width: 14 x (u, v) + 14 visibility flags + the indicator.
KEYPOINT_FEATURES = 14 * 3 + 1


@dataclasses.dataclass
class Clip:
    """The arrays of one stored clip the baselines need (shapes of the shard schema)."""

    key: str
    kp2d: np.ndarray  # float32 [T, 14, 2] crop px
    kp_input_visible: np.ndarray  # bool [T, 14] what the network's keypoint input shows
    kp_visible: np.ndarray  # bool [T, 14] true visibility (which frames are scored)
    joints3d: np.ndarray  # float32 [T, 14, 3] camera frame, metres
    total_occlusion: np.ndarray  # bool [T]


def read_clips(path: str | Path, split: str, val_every: int = 20, limit: int | None = None) -> list[Clip]:
    """The ``split`` clips (``train`` | ``val``, :func:`motionhmr.data.split_of`) of the
    shards in ``path``, decoding ``arrays.npz`` only."""
    from motionhmr.data import shard_list, split_of
    from synth.shards.reader import iter_records

    clips = []
    for shard in shard_list(path):
        for record in iter_records(Path(shard)):
            if split_of(record["__key__"], val_every) != split:
                continue
            a = np.load(io.BytesIO(record["arrays.npz"]))
            clips.append(Clip(record["__key__"], a["kp2d"].astype(np.float32), a["kp_input_visible"].astype(bool),
                              a["kp_visible"].astype(bool), a["joints3d"].astype(np.float32),
                              a["total_occlusion"].astype(bool)))  # fmt: skip
            if limit is not None and len(clips) >= limit:
                return clips
    return clips


def root_relative(joints: np.ndarray | torch.Tensor):
    """Joints ``[..., 14, 3]`` minus the mid-hip (EVAL_JOINTS 2 and 3), the root the lifter
    regresses to (PA-MPJPE does not depend on it)."""
    return joints - 0.5 * (joints[..., 2:3, :] + joints[..., 3:4, :])


# -- the constant floor --------------------------------------------------------------------
def procrustes_mean(joints: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Generalised-Procrustes mean ``[14, 3]`` of poses ``[N, 14, 3]``: align every pose to the
    current mean (rotation, scale, translation), average, repeat. Starts from the plain mean
    of root-relative poses; converges in a few iterations."""
    x = torch.as_tensor(root_relative(np.asarray(joints, np.float64)))
    mean = x.mean(0)
    for _ in range(iterations):
        aligned = _align_many(x, mean)
        new = aligned.mean(0)
        new = new - new.mean(0)
        # fix the scale (the mean of aligned poses shrinks otherwise) at the data's RMS size
        new = new * (x - x.mean(1, keepdim=True)).square().sum((1, 2)).sqrt().mean() / new.square().sum().sqrt()
        if torch.allclose(new, mean, atol=1e-7):
            break
        mean = new
    return mean.float().numpy()


def _align_many(x: torch.Tensor, target: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    from motionhmr.losses import procrustes_align

    return torch.cat([procrustes_align(c, target.expand_as(c)) for c in x.split(chunk)])


def floor_predict(mean_pose: np.ndarray):
    """``predict_fn`` for :func:`motionhmr.evaluate.evaluate_synthetic`: the constant pose."""
    return lambda clip: np.broadcast_to(mean_pose, clip.joints3d.shape).copy()


# -- the lifter ----------------------------------------------------------------------------
def keypoint_features(kp2d, visible, occ) -> torch.Tensor:
    """``[..., T, 43]`` per-frame keypoint features (module contract). Hidden keypoints (their
    positions may be NaN or stale) and totally occluded frames carry zeros."""
    kp2d = torch.as_tensor(kp2d, dtype=torch.float32)
    occ = torch.as_tensor(occ).bool()
    vis = torch.as_tensor(visible).bool() & ~occ[..., None]
    uv = torch.where(vis[..., None], px_to_normalised(torch.nan_to_num(kp2d)), 0.0)
    return torch.cat([uv.flatten(-2), vis.float(), occ[..., None].float()], -1)


class TemporalConvLifter(nn.Module):
    """``[B, T, 43]`` keypoint features -> ``[B, T, 14, 3]`` root-relative joints, metres.

    VideoPose3D's block (Conv1d, BatchNorm, ReLU, dropout, residual) with dilations 1, 3, 9:
    a 55-frame receptive field, so every frame of a 31-frame clip sees all of it. 'Same'
    padding keeps every frame (VideoPose3D trims the ends; a clip here is only 31 frames)."""

    def __init__(self, width: int = 256, dilations: tuple[int, ...] = (1, 3, 9), dropout: float = 0.1):
        super().__init__()
        self.inp = nn.Conv1d(KEYPOINT_FEATURES, width, 1)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(width, width, 3, padding=d, dilation=d, bias=False), nn.BatchNorm1d(width),
                          nn.ReLU(), nn.Dropout(dropout), nn.Conv1d(width, width, 1))  # fmt: skip
            for d in dilations
        )
        self.out = nn.Conv1d(width, 14 * 3, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.inp(features.transpose(1, 2)))
        for block in self.blocks:
            h = h + block(h)
        out = self.out(h).transpose(1, 2)
        return out.reshape(*out.shape[:2], 14, 3)


def _tensors(clips: list[Clip]) -> tuple[torch.Tensor, torch.Tensor]:
    feats = keypoint_features(np.stack([c.kp2d for c in clips]), np.stack([c.kp_input_visible for c in clips]),
                              np.stack([c.total_occlusion for c in clips]))  # fmt: skip
    target = torch.as_tensor(root_relative(np.stack([c.joints3d for c in clips])))
    return feats, target


def train_lifter(clips: list[Clip], steps: int = 2000, batch: int = 64, lr: float = 1e-3, loss: str = "l2",
                 seed: int = 0, log_every: int = 0) -> TemporalConvLifter:  # fmt: skip
    """Fit a :class:`TemporalConvLifter` with Adam (cosine decay) on ``clips``; ``loss`` is
    ``l2`` (mean joint distance, root-relative) or ``pa`` (PA-MPJPE)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    feats, target = _tensors(clips)
    net = TemporalConvLifter()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    net.train()
    t0 = time.perf_counter()
    for step in range(steps):
        idx = torch.randint(len(clips), (batch,), generator=gen)
        pred = net(feats[idx])
        if loss == "pa":
            err = pa_mpjpe(pred, target[idx]).mean()
        else:
            err = (pred - target[idx]).square().sum(-1).add(1e-12).sqrt().mean()
        opt.zero_grad(set_to_none=True)
        err.backward()
        opt.step()
        sched.step()
        if log_every and (step + 1) % log_every == 0:
            log.info("lifter step %d: %s %.1f mm (%.0f s)", step + 1, loss, 1000 * float(err), time.perf_counter() - t0)
    return net.eval()


def lifter_predict(net: TemporalConvLifter):
    """``predict_fn`` for :func:`motionhmr.evaluate.evaluate_synthetic`."""

    @torch.no_grad()
    def predict(clip: Clip) -> np.ndarray:
        feats = keypoint_features(clip.kp2d[None], clip.kp_input_visible[None], clip.total_occlusion[None])
        return net(feats)[0].numpy()

    return predict


def score(predict_fn, clips: list[Clip]):
    """:class:`motionhmr.evaluate.Results` of ``predict_fn`` on ``clips`` (frames with >= 7
    truly visible keypoints, averaged per clip; the synthetic protocol)."""
    from motionhmr.evaluate import evaluate_synthetic

    samples = [dataclasses.asdict(c) for c in clips]
    lookup = {c.key: c for c in clips}
    return evaluate_synthetic(lambda s: predict_fn(lookup[s["key"]]), samples)
