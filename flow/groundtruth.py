"""Image pairs with known flow, for measuring backends (``flow bench``, the tests).

``GroundTruth``: ``pairs`` uint8 ``[N, 2, H, W, 3]`` RGB, ``flow`` float32 ``[N, H, W, 2]``
pixels (frame t -> t+1, :mod:`flow.contract`), ``valid`` bool ``[N, H, W]`` where the
ground truth is defined.

- :func:`rendered_body`: the synthetic person the generator makes, moving with real mocap
  over a still real photo; ground truth is the renderer's exact motion field, scored on the
  person's pixels, which is where the network looks.
- :func:`stereo_motorcycle`: a real photograph pair (Middlebury 2014, shipped in
  scikit-image) whose ground truth is the disparity: the right view is the left view
  shifted by ``-disparity`` along x.
"""

from __future__ import annotations

import dataclasses

import numpy as np

DEFAULT_CLIPS = ("walk", "run", "dance_a", "kick", "punch", "jump", "spinkick", "cartwheel")


@dataclasses.dataclass
class GroundTruth:
    name: str
    pairs: np.ndarray
    flow: np.ndarray
    valid: np.ndarray

    def __len__(self) -> int:
        return len(self.pairs)


def stereo_motorcycle(scale: float = 1.0) -> GroundTruth:
    """Middlebury "motorcycle" (741x500 in scikit-image; disparities 7-60 px), optionally
    resized by ``scale`` (disparities scale with it). Pixels without ground truth
    (``inf`` disparity, ~7 %) are not scored."""
    import cv2
    from skimage import data

    left, right, disp = data.stereo_motorcycle()
    valid = np.isfinite(disp)
    disp = np.where(valid, disp, 0).astype(np.float32)
    if scale != 1.0:
        size = (round(left.shape[1] * scale), round(left.shape[0] * scale))
        left, right = (cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in (left, right))
        disp = cv2.resize(disp, size, interpolation=cv2.INTER_NEAREST) * scale
        valid = cv2.resize(valid.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    flow = np.stack([-disp, np.zeros_like(disp)], axis=-1)
    return GroundTruth("motorcycle", np.stack([left, right])[None], flow[None], valid[None])


def rendered_body(
    n_pairs: int = 8,
    size: int = 224,
    seed: int = 0,
    body=None,
    clips: tuple[str, ...] = DEFAULT_CLIPS,
    fps: float = 30.0,
    fill: float = 0.8,
) -> GroundTruth:
    """``n_pairs`` consecutive-frame pairs of the default synthetic person at ``fps``.

    Pair i uses clip ``clips[i % len(clips)]`` at a random frame, a random body shape,
    clothing, lighting and camera azimuth (from ``seed``), framed so the two-frame motion
    fills ``fill`` of the image height (about 150-180 px at 224), composited over a crop of
    a real photo that stays still (so the background's true flow is zero; only the person
    is scored)."""
    import torch

    from synth.appearance import PHOTOS, body_parts, load_photo, sample_appearance, sample_lighting
    from synth.cameras import frame_person
    from synth.motion.deepmimic import load_deepmimic
    from synth.motion.retarget import retarget
    from synth.render import Renderer

    if body is None:
        from synth.bodies.anny_body import AnnyBody

        body = AnnyBody()
    rng = np.random.default_rng(seed)
    parts = body_parts(body.skeleton, body.vertex_joint())
    faces = body.faces.numpy()
    pairs = np.empty((n_pairs, 2, size, size, 3), np.uint8)
    flow = np.empty((n_pairs, size, size, 2), np.float32)
    valid = np.empty((n_pairs, size, size), bool)
    motions = {}
    with Renderer(size, size) as renderer, torch.no_grad():
        for i in range(n_pairs):
            clip = clips[i % len(clips)]
            if clip not in motions:
                motions[clip] = retarget(load_deepmimic(clip), body).resampled(fps)
            motion = motions[clip]
            start = int(rng.integers(0, len(motion.transl) - 1))
            shape = body.sample_shape(rng)[0]
            # Motions are retargeted once per clip for the default shape; posing another
            # shape on them only shifts the feet a little, which flow does not care about.
            posed = dataclasses.replace(motion.slice(start, 2), shape=shape).posed(body)
            rest = body.rest(shape[None]).vertices[0].numpy()
            colors = sample_appearance(rng, rest, parts)
            cam = frame_person(posed.joints.numpy(), size, size, rng, fill=fill, elevation_deg=(-5.0, 20.0))
            out = renderer.render(
                posed.vertices.numpy(), faces, colors, posed.eval_joints.numpy(), cam, sample_lighting(rng),
                motion_field=True,
            )  # fmt: skip
            background = _photo_crop(rng, load_photo(PHOTOS[int(rng.integers(len(PHOTOS)))]), size)
            alpha = out.rgba[..., 3:4].astype(np.float32) / 255.0
            pairs[i] = (out.rgba[..., :3] * alpha + background * (1 - alpha)).astype(np.uint8)
            flow[i] = out.motion_field[0]
            valid[i] = out.mask[0]
    return GroundTruth("rendered body", pairs, flow, valid)


def _photo_crop(rng: np.random.Generator, photo: np.ndarray, size: int) -> np.ndarray:
    import cv2

    h, w = photo.shape[:2]
    side = int(rng.integers(min(h, w) // 2, min(h, w) + 1))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    return cv2.resize(photo[y : y + side, x : x + side], (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
