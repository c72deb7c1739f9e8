"""The flow contract shared by every backend, the generator, the trainer and the predictor.

``pairs``  uint8 ``[N, 2, H, W, 3]``: N image pairs, RGB, frame t then frame t+1.
``flow``   float32 ``[N, H, W, 2]``: per pixel of frame t, the displacement (dx, dy) in
           pixels to where that point is in frame t+1, so ``I1(x + dx, y + dy) ~ I0(x, y)``;
           x to the right, y down (image axes).

:func:`to_model_input` is the one place flow becomes a network input (paper, Appendix B):
``[..., H, W, 2]`` pixels -> ``[..., H, W, 3]`` = (dx / 20, dy / 20, |flow| / 20).
"""

from __future__ import annotations

import numpy as np

from synth.errors import InputError

# Paper, Appendix B: flow is divided by 20 so typical magnitudes land near unit range.
FLOW_INPUT_SCALE = 20.0


def check_pairs(pairs: np.ndarray) -> np.ndarray:
    """Validate a batch of image pairs; a single pair ``[2, H, W, 3]`` is promoted to N=1."""
    pairs = np.asarray(pairs)
    if pairs.ndim == 4 and pairs.shape[0] == 2 and pairs.shape[-1] == 3:
        pairs = pairs[None]
    if pairs.ndim != 5 or pairs.shape[1] != 2 or pairs.shape[-1] != 3:
        raise InputError(f"flow input must be uint8 [N, 2, H, W, 3] RGB pairs; got shape {pairs.shape}")
    if pairs.dtype != np.uint8:
        raise InputError(f"flow input must be uint8 [N, 2, H, W, 3]; got dtype {pairs.dtype}")
    if min(pairs.shape[2:4]) < 8:
        raise InputError(f"flow input frames of {pairs.shape[2]}x{pairs.shape[3]} px are too small (min 8x8)")
    return pairs


def check_flow(flow: np.ndarray, pairs: np.ndarray, name: str = "flow backend") -> np.ndarray:
    """A backend's output must be finite float32 ``[N, H, W, 2]`` matching ``pairs``.

    Non-finite flow is an error, not something to zero out: it means broken weights (an
    untrained or mismatched checkpoint) and would silently poison a dataset."""
    n, _, h, w, _ = pairs.shape
    if flow.shape != (n, h, w, 2):
        raise RuntimeError(f"{name} returned {flow.shape}, expected {(n, h, w, 2)}")
    flow = flow.astype(np.float32, copy=False)
    bad = ~np.isfinite(flow)
    if bad.any():
        raise RuntimeError(f"{name} returned non-finite flow at {int(bad.any(-1).sum())} pixels; check its weights")
    return flow


def to_model_input(flow):
    """Flow in pixels ``[..., H, W, 2]`` -> network input ``[..., H, W, 3]``.

    Channels: dx / 20, dy / 20 and the magnitude of that scaled flow. Works on numpy
    arrays and torch tensors alike (the trainer calls it on tensors, the loader on arrays).
    """
    if flow.shape[-1] != 2:
        raise InputError(f"flow must end in 2 channels (dx, dy); got shape {tuple(flow.shape)}")
    scaled = flow / FLOW_INPUT_SCALE
    if isinstance(flow, np.ndarray):
        scaled = scaled.astype(np.float32, copy=False)
        return np.concatenate([scaled, np.linalg.norm(scaled, axis=-1, keepdims=True)], axis=-1)
    import torch

    # hypot, not linalg.vector_norm: a norm over a last axis of 2 on a strided batch slice
    # took 1.5 s for 8 x 30 crops of 224^2 on 2 CPU cores (hypot: ~0.03 s), same values
    return torch.cat([scaled, torch.hypot(scaled[..., :1], scaled[..., 1:])], dim=-1)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward-warp frame t+1 into frame t with ``flow`` (frame t -> t+1):
    ``out(x) = image(x + flow(x))``, bilinear, border replicated. ``image`` ``[H, W, C]``."""
    import cv2

    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
