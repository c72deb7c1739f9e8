"""Flow accuracy against ground truth: end-point error and the share of bad pixels."""

from __future__ import annotations

import numpy as np

BAD_PX = 3.0  # KITTI-style outlier threshold, pixels


def endpoint_error(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> dict[str, float]:
    """EPE statistics over the valid pixels.

    ``pred``, ``gt`` ``[..., H, W, 2]`` pixels; ``valid`` bool ``[..., H, W]`` (all when None).
    Returns ``epe`` (mean end-point error, px), ``bad3`` (share of pixels with EPE > 3 px)
    and ``pixels`` (how many were scored).
    """
    if pred.shape != gt.shape or pred.shape[-1] != 2:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must both be [..., H, W, 2]")
    err = np.linalg.norm(pred.astype(np.float64) - gt, axis=-1)
    if valid is not None:
        if valid.shape != err.shape:
            raise ValueError(f"valid {valid.shape} must be {err.shape}")
        err = err[valid]
    if err.size == 0:
        return {"epe": float("nan"), "bad3": float("nan"), "pixels": 0}
    return {"epe": float(err.mean()), "bad3": float((err > BAD_PX).mean()), "pixels": int(err.size)}
