"""Detector-style crops and paired boxes (paper, Sec. 3.1 and Appendix B).

A box is ``(cx, cy, side)`` in background-frame pixels. HMR's procedure: centre the
person and scale so they are about ``person_px`` (150) tall in a ``CROP`` (224) square.

**One rule for training and test** (:func:`detector_boxes`): the box comes from the
keypoints *a detector reports*, i.e. the visible ones: at training time the randomised
input visibility (:func:`synth.keypoints.detector_visibility`), at test time the detector's
confident keypoints (:mod:`motionhmr.realvideo`). A frame with fewer than ``MIN_VISIBLE``
of them gets a box interpolated in time from its neighbours. Training adds jitter in centre
and scale on top, as a person detector's boxes wobble. (The schema-1 generator boxed all 14
ground-truth keypoints, hidden and off-frame ones included, so a person with a hidden leg
was framed differently in training than by the test-time detector.) Flow uses **paired
boxes**: box t crops both frame t and frame t+1, so the flow is measured in one fixed
window (a 31-frame clip gives 30 pairs).
"""

from __future__ import annotations

import cv2
import numpy as np

CROP = 224
PERSON_PX = 150.0
#: A frame with fewer reported keypoints than this (of 14) has no box of its own: it is
#: interpolated (and, on real video, fed as a total occlusion).
MIN_VISIBLE = 7


def detector_boxes(
    kp2d: np.ndarray,
    visible: np.ndarray,
    frame_hw: tuple[int, int],
    person_px: float = PERSON_PX,
    crop: int = CROP,
    min_visible: int = MIN_VISIBLE,
    rng: np.random.Generator | None = None,
    center_jitter: float = 0.0,
    scale_jitter: float = 0.0,
) -> np.ndarray:
    """float32 ``[T, 3]`` (cx, cy, side) px: the box a detector-driven crop would take.

    ``kp2d`` ``[T, J, 2]`` px (may hold NaN where ``visible`` is False); ``visible`` bool
    ``[T, J]``: the keypoints the detector reports. Frames with ``>= min_visible`` of them
    are boxed by :func:`person_boxes` on those keypoints alone; the others are interpolated
    linearly in time between the nearest boxed frames and held at the ends; with no boxed
    frame at all, every frame gets :func:`centre_box` of ``frame_hw``. Then, with ``rng``,
    per-frame jitter (:func:`jitter_boxes`)."""
    kp2d, visible = np.asarray(kp2d, np.float64), np.asarray(visible, bool)
    t = len(kp2d)
    good = np.flatnonzero(visible.sum(axis=1) >= min_visible)
    if good.size == 0:
        boxes = np.tile(centre_box(*frame_hw), (t, 1))
    else:
        measured = np.stack([person_boxes(kp2d[i][visible[i]][None], None, person_px, crop)[0] for i in good])
        frames = np.arange(t)
        boxes = np.stack([np.interp(frames, good, measured[:, k]) for k in range(3)], axis=1)
    if rng is not None:
        boxes = jitter_boxes(boxes, rng, center_jitter, scale_jitter)
    return boxes.astype(np.float32)


def centre_box(height: int, width: int) -> np.ndarray:
    """float32 ``[3]``: the frame's central square, side ``min(height, width)``.

    An approximation for when no keypoints are known: it puts a person who is about 2/3 of
    the frame tall (150 / 224) at the training scale, and centred people in the middle."""
    return np.array([(width - 1) / 2, (height - 1) / 2, min(height, width)], np.float32)


def jitter_boxes(
    boxes: np.ndarray, rng: np.random.Generator, center_jitter: float = 0.05, scale_jitter: float = 0.08
) -> np.ndarray:
    """Per-frame detector wobble: side times a factor in 1 +- ``scale_jitter``, then the
    centre moved by up to ``center_jitter`` x side in x and y."""
    boxes = np.array(boxes, np.float64)
    t = len(boxes)
    side = boxes[:, 2] * rng.uniform(1 - scale_jitter, 1 + scale_jitter, t)
    center = boxes[:, :2] + rng.uniform(-center_jitter, center_jitter, (t, 2)) * side[:, None]
    return np.concatenate([center, side[:, None]], axis=1).astype(np.float32)


def person_boxes(
    kp2d: np.ndarray,
    rng: np.random.Generator | None = None,
    person_px: float = PERSON_PX,
    crop: int = CROP,
    center_jitter: float = 0.05,
    scale_jitter: float = 0.08,
) -> np.ndarray:
    """Per-frame boxes ``[T, 3]`` (cx, cy, side) from keypoints ``[T, J, 2]`` (px), all of
    which are used: pass only the reported ones (:func:`detector_boxes` does).

    The person's height is the larger side of their keypoints' bounding box (HMR: the
    longer side of the box, so a crawling person is not zoomed in). Jitter: centre by
    ``center_jitter`` x side, scale by a factor in 1 +- ``scale_jitter``, drawn per frame.
    """
    lo, hi = kp2d.min(axis=1), kp2d.max(axis=1)
    center = 0.5 * (lo + hi)
    extent = np.maximum((hi - lo).max(axis=1), 1.0)
    boxes = np.concatenate([center, (extent * crop / person_px)[:, None]], axis=1)
    if rng is not None:
        boxes = jitter_boxes(boxes, rng, center_jitter, scale_jitter)
    return boxes.astype(np.float32)


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
