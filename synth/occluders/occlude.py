"""Pick a background superpixel as an occluder in front of the person (paper Sec. 3.1, App. A).

Contract
--------
``choose_occluder(labels, person_masks, keypoints_2d, keypoints_visible, rng,
min_visible=7.0, label=None) -> Occlusion``

inputs
    ``labels`` int ``[T, H, W]`` superpixels of the background clip (e.g. from
    :func:`synth.occluders.slic.video_superpixels`); ``person_masks`` bool ``[T, H, W]``
    the rendered person's pixels; ``keypoints_2d`` float ``[T, J, 2]`` pixels (x right,
    y down, pixel centres at integers, :mod:`synth.conventions`); ``keypoints_visible``
    bool ``[T, J]`` before occlusion (J = 14 evaluation joints). ``label`` forces the
    superpixel (tests, debugging); otherwise one is drawn uniformly from the labels present.
rules
    A keypoint becomes hidden in frame t if its rounded pixel, clipped into the image,
    lies inside the occluder's mask of frame t. The occluder is discarded if it overlaps
    the person in no frame ("does not touch the person"), or if the mean over frames of
    the visible-keypoint count falls below ``min_visible`` ("leaves 5.2 < 7 keypoints
    visible").
output (:class:`Occlusion`)
    ``mask`` bool ``[T, H, W]`` (the chosen label's pixels when kept, all False when not
    kept, so applying any Occlusion is safe), ``label`` (-1 when none was drawn),
    ``kept``, ``reason`` ("" when kept), ``visible_after`` bool ``[T, J]`` (equal to the
    input visibility when not kept).

``random_occlusion(frames, camera_xy, person_masks, keypoints_2d, keypoints_visible, rng,
cfg=OccluderConfig()) -> Occlusion``
    With probability ``cfg.probability`` computes the clip's superpixels and chooses an
    occluder as above; ``cfg.enabled=False`` (the "no occluders" ablation) or a miss of the
    draw returns a non-kept Occlusion with an all-False mask. Give it a generator of its
    own (derived from the seed and clip index), so that switching occluders off does not
    shift the random draws of the other stages.

Compositing: the occluder is the background's own pixels pasted back over the rendered
person, ``Occlusion.apply(composite, background)``; ``Occlusion.cut(person_masks)`` is the
person's mask after the cut.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from synth.errors import InputError
from synth.occluders.slic import MAX_NUM_ITER, video_superpixels

DOES_NOT_TOUCH = "does not touch the person"


@dataclasses.dataclass
class Occlusion:
    mask: np.ndarray  # bool [T, H, W]: the occluder's pixels (True = occluder in front of the person)
    label: int  # the chosen superpixel (-1: none drawn)
    kept: bool  # False if discarded or not drawn
    reason: str  # "" when kept; else why not
    visible_after: np.ndarray  # bool [T, J]: keypoint visibility after the cut

    @staticmethod
    def none(shape: tuple[int, int, int], keypoints_visible: np.ndarray, reason: str, label: int = -1) -> "Occlusion":
        """A non-kept occlusion: all-False mask, visibility unchanged."""
        return Occlusion(np.zeros(shape, bool), label, False, reason, np.array(keypoints_visible, bool))

    def apply(self, composite: np.ndarray, background: np.ndarray) -> np.ndarray:
        """``[T, H, W, C]`` person-over-background frames -> the background pasted back on the mask."""
        return np.where(self.mask[..., None], background, composite)

    def cut(self, person_masks: np.ndarray) -> np.ndarray:
        """bool ``[T, H, W]`` person masks -> the person's pixels still visible after the cut."""
        return person_masks & ~self.mask


def choose_occluder(
    labels: np.ndarray,
    person_masks: np.ndarray,
    keypoints_2d: np.ndarray,
    keypoints_visible: np.ndarray,
    rng: np.random.Generator,
    min_visible: float = 7.0,
    label: int | None = None,
    guide: np.ndarray | None = None,
    refine_radius: int = 0,
) -> Occlusion:
    """One random superpixel of ``labels`` as an occluder, or why it was discarded.

    Shapes, units and rules are in the module docstring. With ``guide`` (uint8
    ``[T, H, W, 3]``, the frames the labels came from) and ``refine_radius > 0`` the chosen
    superpixel's mask is snapped to the frames' edges (:func:`refine_mask`) before the rules
    are applied.
    """
    labels = np.asarray(labels)
    if labels.ndim != 3 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be int [T, H, W], got {labels.dtype} {labels.shape}")
    T, H, W = labels.shape
    person_masks = np.asarray(person_masks)
    if person_masks.shape != labels.shape or person_masks.dtype != bool:
        raise ValueError(f"person_masks must be bool {labels.shape}, got {person_masks.dtype} {person_masks.shape}")
    keypoints_2d = np.asarray(keypoints_2d, dtype=np.float64)
    keypoints_visible = np.asarray(keypoints_visible)
    if keypoints_2d.ndim != 3 or keypoints_2d.shape[0] != T or keypoints_2d.shape[2] != 2:
        raise ValueError(f"keypoints_2d must be [T={T}, J, 2], got {keypoints_2d.shape}")
    if keypoints_visible.shape != keypoints_2d.shape[:2] or keypoints_visible.dtype != bool:
        raise ValueError(f"keypoints_visible must be bool {keypoints_2d.shape[:2]}, got {keypoints_visible.shape}")
    if labels.min() < 0:
        raise ValueError("labels must be >= 0")

    present = np.flatnonzero(np.bincount(labels.ravel()))
    if label is None:
        label = int(present[rng.integers(len(present))])
    elif label not in present:
        raise ValueError(f"label {label} does not occur in labels")
    mask = labels == label
    if guide is not None and refine_radius > 0:
        mask = refine_mask(mask, guide, refine_radius)

    if not (mask & person_masks).any():
        return Occlusion.none(labels.shape, keypoints_visible, DOES_NOT_TOUCH, label)

    # Non-finite keypoints (off-screen joints some backends emit as NaN) get pixel (0, 0);
    # their visibility is False already, so the lookup cannot hide anything that counts.
    uv = np.rint(np.nan_to_num(keypoints_2d, nan=0.0, posinf=0.0, neginf=0.0)).astype(np.intp)
    x = np.clip(uv[..., 0], 0, W - 1)
    y = np.clip(uv[..., 1], 0, H - 1)
    hidden = mask[np.arange(T)[:, None], y, x]
    visible_after = keypoints_visible & ~hidden
    mean_visible = float(visible_after.sum(axis=1).mean())
    if mean_visible < min_visible:
        reason = f"leaves {mean_visible:.3g} < {min_visible:g} keypoints visible"
        return Occlusion.none(labels.shape, keypoints_visible, reason, label)
    return Occlusion(mask, label, True, "", visible_after)


def refine_mask(mask: np.ndarray, frames: np.ndarray, radius: int, eps: float = 0.02) -> np.ndarray:
    """bool ``[T, H, W]`` -> the same mask with its outline snapped to the edges of ``frames``.

    Why: SLIC runs at ~1/4 size (``work_size``) and its labels are upsampled nearest-
    neighbour, so a cut-out's outline is a staircase of 4 px steps that follows no image
    edge, a give-away the network could learn. An edge-preserving guided filter (He et al.
    2010; OpenCV contrib's ``ximgproc.guidedFilter``) of the mask, guided by the frame,
    thresholded at 0.5, moves the outline onto the nearby colour edge. With ``radius`` twice
    the upsampling factor (8 px for 4x), on a real photo with an edge, an outline 1-2 px off
    ends 0.1-0.6 px off on average and one 3 px off ~1 px (radius 4: 0.1-1.2 and 2.6 px).
    ``eps`` is relative to the 0..255 range. ~3 ms per 240x320 frame, and it runs on one candidate per clip.
    """
    import cv2

    out = np.empty_like(mask)
    for t, (m, frame) in enumerate(zip(mask, frames)):
        if not m.any() or m.all():
            out[t] = m
            continue
        q = cv2.ximgproc.guidedFilter(np.ascontiguousarray(frame), m.astype(np.float32), int(radius), (eps * 255) ** 2)
        out[t] = q > 0.5
    return out


@dataclasses.dataclass
class OccluderConfig:
    """Superpixel occluders (paper App. A); defaults are the paper's settings.

    ``probability``: chance that a clip gets an occluder attempt. In the generator's
    framing ~32 % of attempts are kept (see the package docstring), so 0.95 gives the
    paper's ~30 % occluded clips; use 0.3 / acceptance for other framings.
    ``work_size``: longer side in pixels of the volume SLIC runs on (None: full size).
    ``refine``: snap the chosen superpixel's upsampled outline to the frame's edges
    (:func:`refine_mask`).
    """

    enabled: bool = True
    probability: float = 0.95
    compactness: float = 0.01
    coord_scale: tuple[float, float] = (4e-4, 6e-4)
    segments_per_frame: tuple[int, int] = (10, 30)
    min_visible: float = 7.0
    work_size: int | None = 80
    max_num_iter: int = MAX_NUM_ITER
    refine: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise InputError(f"occluders.probability={self.probability} must be in [0, 1]")
        if self.compactness <= 0:
            raise InputError(f"occluders.compactness={self.compactness} must be positive")
        lo, hi = self.coord_scale
        if not 0 < lo <= hi:
            raise InputError(f"occluders.coord_scale={self.coord_scale} must be 0 < lo <= hi")
        lo, hi = self.segments_per_frame
        if not 1 <= lo <= hi:
            raise InputError(f"occluders.segments_per_frame={self.segments_per_frame} must be 1 <= lo <= hi")
        if self.min_visible < 0:
            raise InputError(f"occluders.min_visible={self.min_visible} must be >= 0")
        if self.work_size is not None and self.work_size < 8:
            raise InputError(f"occluders.work_size={self.work_size} must be >= 8 pixels or None")
        if self.max_num_iter < 1:
            raise InputError(f"occluders.max_num_iter={self.max_num_iter} must be >= 1")


def random_occlusion(
    frames: np.ndarray,
    camera_xy: np.ndarray,
    person_masks: np.ndarray,
    keypoints_2d: np.ndarray,
    keypoints_visible: np.ndarray,
    rng: np.random.Generator,
    cfg: OccluderConfig | None = None,
) -> Occlusion:
    """Maybe occlude a clip: superpixels of the background ``frames`` + :func:`choose_occluder`.

    ``frames`` uint8 ``[T, H, W, 3]`` is the background clip (without the person) and
    ``camera_xy`` ``[T, 2]`` its camera translation, as in :func:`video_superpixels`; the
    other arguments are as in :func:`choose_occluder`.
    """
    cfg = OccluderConfig() if cfg is None else cfg
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {frames.shape}")
    shape = frames.shape[:3]
    if not cfg.enabled:
        return Occlusion.none(shape, keypoints_visible, "occluders disabled")
    if rng.random() >= cfg.probability:
        return Occlusion.none(shape, keypoints_visible, f"not drawn (probability {cfg.probability:g})")
    labels = video_superpixels(
        frames,
        camera_xy,
        rng,
        n_segments_per_frame=cfg.segments_per_frame,
        coord_scale=cfg.coord_scale,
        compactness=cfg.compactness,
        work_size=cfg.work_size,
        max_num_iter=cfg.max_num_iter,
    )
    H, W = shape[1:]
    # Twice the label map's upsampling factor: see refine_mask.
    radius = 2 * int(np.ceil(max(H, W) / cfg.work_size)) if cfg.refine and cfg.work_size and cfg.work_size < max(H, W) else 0
    return choose_occluder(labels, person_masks, keypoints_2d, keypoints_visible, rng, min_visible=cfg.min_visible,
                           guide=frames, refine_radius=radius)  # fmt: skip
