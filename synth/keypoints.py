"""Keypoint visibility as a 2D detector would report it (paper, Appendix B).

True visibility ``[T, J]`` comes from the renderer (outside the frame, or >= 20 cm behind
the body surface), the occluder and the totally occluded frames. The *input* visibility,
which decides which heatmaps the network sees, then imitates real detectors' failures:
1. leg keypoints (ankles, knees, hips) that are hidden are shown anyway (paper, App. B: "we
   then unhide all leg keypoints with a 50% probability"), since detectors hallucinate legs
   they cannot see. The decision is **one draw per clip, for all leg keypoints together**
   (p = 0.5): a detector that hallucinates an occluded leg does so for the whole leg and
   keeps doing it while the leg stays hidden, so hidden legs do not flicker frame to frame.
   With per-keypoint, per-frame draws (the schema-1 generator) a hidden knee blinked on and
   off at random, which no real detector does, and half the hidden leg joints were shown
   without the rest of their leg;
2. every flag, visible or hidden, is then flipped with p = 0.05, per frame and keypoint:
   these are a detector's independent misses and false positives.
Totally occluded frames stay all hidden: their every input channel is zero by definition.
"""

from __future__ import annotations

import numpy as np

from synth.conventions import LEG_KEYPOINTS

P_UNHIDE_LEGS = 0.5
P_FLIP = 0.05


def true_visibility(
    rendered_visible: np.ndarray, kp2d: np.ndarray, occluder: np.ndarray | None, total: np.ndarray
) -> np.ndarray:
    """``rendered_visible`` bool ``[T, J]``; ``kp2d`` ``[T, J, 2]`` background px;
    ``occluder`` bool ``[T, H, W]`` or None; ``total`` ``[T]`` 1 = frame totally occluded."""
    vis = rendered_visible.copy()
    if occluder is not None:
        h, w = occluder.shape[1:]
        xy = np.rint(kp2d).astype(int)
        x, y = np.clip(xy[..., 0], 0, w - 1), np.clip(xy[..., 1], 0, h - 1)
        t_idx = np.arange(len(vis))[:, None]
        vis &= ~occluder[t_idx, y, x]
    vis[np.asarray(total, bool)] = False
    return vis


def detector_visibility(
    visible: np.ndarray,
    total: np.ndarray,
    rng: np.random.Generator,
    legs: tuple[int, ...] = tuple(LEG_KEYPOINTS),
    p_unhide_legs: float = P_UNHIDE_LEGS,
    p_flip: float = P_FLIP,
) -> np.ndarray:
    """True visibility ``[T, J]`` -> the randomised input visibility ``[T, J]`` (module
    docstring: one leg decision per clip, then independent flips)."""
    out = visible.copy()
    if rng.random() < p_unhide_legs:
        out[:, list(legs)] = True
    out ^= rng.random(visible.shape) < p_flip
    out[np.asarray(total, bool)] = False
    return out
