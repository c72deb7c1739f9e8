"""Frame-rate resampling and clip windows, shared by source clips and body motions.

Rotations are interpolated on SO(3) (geodesic slerp between neighbouring frames) and
positions linearly. Arrays keep their layout: ``rotations [T, ..., 3, 3]``,
``positions [T, ..., 3]``.
"""

from __future__ import annotations

import numpy as np
import roma
import torch


def resample_times(num_frames: int, src_fps: float, dst_fps: float) -> np.ndarray:
    """Fractional source-frame indices of the output frames (covering the same duration)."""
    if num_frames < 1:
        raise ValueError("cannot resample an empty clip")
    duration = (num_frames - 1) / src_fps
    n_out = int(np.floor(duration * dst_fps + 1e-6)) + 1
    return np.arange(n_out) * (src_fps / dst_fps)


def resample(
    rotations: np.ndarray, positions: np.ndarray, src_fps: float, dst_fps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Resample a sequence from ``src_fps`` to ``dst_fps`` (playback speed unchanged).

    For a playback-speed change by factor ``k``, call with ``src_fps * k``.
    """
    t = rotations.shape[0]
    idx = resample_times(t, src_fps, dst_fps)
    i0 = np.clip(np.floor(idx).astype(int), 0, t - 1)
    i1 = np.clip(i0 + 1, 0, t - 1)
    w = (idx - i0).astype(np.float64)

    r0 = torch.as_tensor(rotations[i0], dtype=torch.float64)
    r1 = torch.as_tensor(rotations[i1], dtype=torch.float64)
    # slerp(R0, R1, w) = R0 exp(w log(R0^T R1)), elementwise weights.
    rel = roma.rotmat_to_rotvec(r0.transpose(-1, -2) @ r1)
    wt = torch.as_tensor(w).reshape((-1,) + (1,) * (rel.dim() - 1))
    rot = r0 @ roma.rotvec_to_rotmat(rel * wt)

    wp = w.reshape((-1,) + (1,) * (positions.ndim - 1))
    pos = positions[i0] * (1 - wp) + positions[i1] * wp
    return rot.numpy().astype(rotations.dtype), pos.astype(positions.dtype)


def window_starts(num_frames: int, length: int, stride: int) -> list[int]:
    """Start indices of every ``length``-frame window taken every ``stride`` frames."""
    if length < 1 or stride < 1:
        raise ValueError("length and stride must be positive")
    return list(range(0, num_frames - length + 1, stride))
