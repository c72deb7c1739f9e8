"""Camera-motion tracking of a background clip (paper, Sec. 3.1 and Table 2).

The person must move with the camera as if they stood in the scene. The camera's motion
in the image is estimated as the per-frame **median** of the background's dense flow (the
median ignores independently moving things), integrated relative to the centre frame:
``camera_xy[t]`` is where a static point at pixel p of the centre frame appears in frame
t, minus p. The person is then rendered shifted by ``camera_xy[t]`` in frame t.

Modes (the paper's Table 2 ablation): ``tracked``; ``untracked`` (video background, no
shift); ``static`` (one background frame repeated, no shift).
"""

from __future__ import annotations

import cv2
import numpy as np

MODES = ("tracked", "untracked", "static")


def median_flow(frames: np.ndarray, backend, scale: float = 0.5) -> np.ndarray:
    """Per-pair median flow ``[T-1, 2]`` px of ``frames`` uint8 ``[T, H, W, 3]``.

    Flow is computed at ``scale`` of the frame size (the median of a global motion barely
    changes, and half size is ~4x cheaper) and scaled back to full-size pixels."""
    if scale != 1.0:
        h, w = frames.shape[1:3]
        size = (max(16, round(w * scale)), max(16, round(h * scale)))
        frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
        fx, fy = w / size[0], h / size[1]
    else:
        fx = fy = 1.0
    pairs = np.stack([frames[:-1], frames[1:]], axis=1)
    flow = backend(pairs)
    med = np.median(flow.reshape(len(flow), -1, 2), axis=1)
    return (med * np.array([fx, fy])).astype(np.float32)


def integrate(pair_motion: np.ndarray, center: int | None = None) -> np.ndarray:
    """Per-pair motion ``[T-1, 2]`` -> per-frame offsets ``[T, 2]``, zero at ``center``
    (default: the middle frame)."""
    cum = np.concatenate([np.zeros((1, 2), np.float32), np.cumsum(pair_motion, axis=0)])
    center = len(cum) // 2 if center is None else center
    return (cum - cum[center]).astype(np.float32)


def camera_offsets(frames: np.ndarray, mode: str, backend=None, scale: float = 0.5) -> np.ndarray:
    """``camera_xy`` ``[T, 2]`` for a background clip under ``mode``."""
    if mode not in MODES:
        raise ValueError(f"tracking mode {mode!r}; choose one of {MODES}")
    if mode != "tracked":
        return np.zeros((len(frames), 2), np.float32)
    return integrate(median_flow(frames, backend, scale))
