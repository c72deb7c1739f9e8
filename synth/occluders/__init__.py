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

Measurements (2-core x86 dev machine, skimage 0.26; scripts were run by hand, not shipped)
    Speed: ``video_superpixels`` on T=31, 240 x 320 (working size 60 x 80, 6 iterations)
    takes 0.05-0.06 s median (90th percentile under 0.07 s); ``choose_occluder`` ~0.01 s.
    Following the scene: on pans of 3 and 6 px/frame over six scikit-image photos, the
    mean IoU between a label's pixels in frame t shifted back by ``camera_xy[t]`` and the
    same label in the centre frame is 0.77 (0.68-0.83 per case); with ``camera_xy = 0``
    it is 0.61 (0.30-0.78), worst on photos with large smooth areas (sky, dark field),
    where colour alone cannot place boundaries. Superpixels last 31 of 31 frames (median)
    and a frame shows 13-25 of them.
    Acceptance (share of attempts kept): in ``ClipGenerator`` with configs/generate.yaml
    (person framed at fill 0.45-0.85, real backgrounds shipped in PyPI packages, tracked
    camera, occluders.max_num_iter=6), 306 of 960 attempts were kept (31.9 %; 61 % did
    not touch the person, 7 % left < 7 keypoints). ``OccluderConfig.probability = 0.95``
    (0.3 / 0.319) therefore gives ~30 % occluded clips; measured: probability 1.0 -> 34.0 %
    of 600 clips, 0.9 -> 25.5 % of 400 (other seeds). Acceptance grows with the person's size: with
    ``frame_person`` at a fixed fill of 0.75 / 1.2 / 2.0 (person 2 / 6 / 15 % of a
    320 x 240 frame) on 17 real backgrounds it was 39 / 67 / 87 %; recalibrate the
    probability as 0.3 / acceptance if the framing changes.
"""

from synth.occluders.occlude import (
    DOES_NOT_TOUCH,
    OccluderConfig,
    Occlusion,
    choose_occluder,
    random_occlusion,
    refine_mask,
)
from synth.occluders.slic import MAX_NUM_ITER, video_superpixels

__all__ = [
    "DOES_NOT_TOUCH",
    "MAX_NUM_ITER",
    "OccluderConfig",
    "Occlusion",
    "choose_occluder",
    "random_occlusion",
    "refine_mask",
    "video_superpixels",
]
