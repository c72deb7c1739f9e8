"""Superpixel occluders cut from the background video (paper Sec. 3.1, Appendix A).

The occluder of a clip is one spatio-temporal SLIC superpixel of its own background
video, computed on the 4-D tensor (x, y, t, colour) with x, y compensated for camera
motion, so it moves with the scene; where it overlaps the rendered person, the person is
cut. It is discarded when it does not touch the person or leaves fewer than 7 of the 14
keypoints visible on average over the clip.

- :func:`video_superpixels` (:mod:`.slic`): uint8 ``[T, H, W, 3]`` clip + ``[T, 2]``
  camera translation in pixels -> int32 ``[T, H, W]`` labels, consistent over time.
- :func:`choose_occluder` (:mod:`.occlude`): labels + person masks + keypoints ->
  :class:`Occlusion` (mask ``[T, H, W]``, label, kept, reason, visibility ``[T, J]``).
- :func:`random_occlusion` + :class:`OccluderConfig`: both, applied with a probability;
  ``enabled=False`` is the "no occluders" ablation.
"""

from synth.occluders.occlude import (
    DOES_NOT_TOUCH,
    OccluderConfig,
    Occlusion,
    choose_occluder,
    random_occlusion,
)
from synth.occluders.slic import MAX_NUM_ITER, video_superpixels

__all__ = [
    "DOES_NOT_TOUCH",
    "MAX_NUM_ITER",
    "OccluderConfig",
    "Occlusion",
    "choose_occluder",
    "random_occlusion",
    "video_superpixels",
]
