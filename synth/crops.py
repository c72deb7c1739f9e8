"""Detector-style crops and paired boxes (paper, Sec. 3.1 and Appendix B).

A box is ``(cx, cy, side)`` in background-frame pixels. HMR's procedure: centre the
person and scale so they are about ``person_px`` (150) tall in a ``CROP`` (224) square,
with jitter in centre and scale, as a person detector's boxes wobble. Flow uses **paired
boxes**: box t crops both frame t and frame t+1, so the flow is measured in one fixed
window (a 31-frame clip gives 30 pairs).
"""

from __future__ import annotations

import cv2
import numpy as np

CROP = 224
PERSON_PX = 150.0


def person_boxes(
    kp2d: np.ndarray,
    rng: np.random.Generator | None = None,
    person_px: float = PERSON_PX,
    crop: int = CROP,
    center_jitter: float = 0.05,
    scale_jitter: float = 0.08,
) -> np.ndarray:
    """Per-frame boxes ``[T, 3]`` (cx, cy, side) from keypoints ``[T, J, 2]`` (px).

    The person's height is the larger side of their keypoints' bounding box (HMR: the
    longer side of the box, so a crawling person is not zoomed in). Jitter: centre by
    ``center_jitter`` x side, scale by a factor in 1 +- ``scale_jitter``, drawn per frame.
    """
    lo, hi = kp2d.min(axis=1), kp2d.max(axis=1)
    center = 0.5 * (lo + hi)
    extent = np.maximum((hi - lo).max(axis=1), 1.0)
    side = extent * crop / person_px
    if rng is not None:
        t = len(kp2d)
        side = side * rng.uniform(1 - scale_jitter, 1 + scale_jitter, t)
        center = center + rng.uniform(-center_jitter, center_jitter, (t, 2)) * side[:, None]
    return np.concatenate([center, side[:, None]], axis=1).astype(np.float32)


def box_affine(box: np.ndarray, crop: int = CROP) -> np.ndarray:
    """The ``2x3`` map from background pixels to crop pixels for one box."""
    cx, cy, side = (float(v) for v in box)
    s = crop / side
    # pixel centres: background (cx, cy) lands on the crop's centre ((crop - 1) / 2)
    return np.array([[s, 0, (crop - 1) / 2 - s * cx], [0, s, (crop - 1) / 2 - s * cy]], np.float32)


def crop_image(image: np.ndarray, box: np.ndarray, crop: int = CROP, nearest: bool = False) -> np.ndarray:
    """Crop ``image`` ``[H, W, ...]`` to ``[crop, crop, ...]``; outside the frame is 0
    (what a detector-based pipeline pads with)."""
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA if box[2] > crop else cv2.INTER_LINEAR
    return cv2.warpAffine(image, box_affine(box, crop), (crop, crop), flags=interp, borderMode=cv2.BORDER_CONSTANT)


def to_crop(points: np.ndarray, boxes: np.ndarray, crop: int = CROP) -> np.ndarray:
    """Background pixels ``[T, J, 2]`` -> crop pixels with each frame's box."""
    a = np.stack([box_affine(b, crop) for b in boxes])  # [T, 2, 3]
    return (np.einsum("tij,tkj->tki", a[:, :, :2], points) + a[:, None, :, 2]).astype(np.float32)


def paired_crops(frames: np.ndarray, boxes: np.ndarray, crop: int = CROP) -> np.ndarray:
    """``frames`` uint8 ``[T, H, W, 3]`` -> flow input pairs ``[T-1, 2, crop, crop, 3]``:
    pair t is frames t and t+1, both cropped with box t."""
    return np.stack([
        np.stack([crop_image(frames[t], boxes[t], crop), crop_image(frames[t + 1], boxes[t], crop)])
        for t in range(len(frames) - 1)
    ])  # fmt: skip
