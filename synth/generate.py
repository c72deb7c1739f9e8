"""The generator: one synthetic training clip per global index (paper, Sec. 3.1, App. A-B).

``ClipGenerator(cfg).make(index)`` -> :class:`synth.shards.schema.Sample`. Every random
choice draws from a stream ``np.random.default_rng([cfg.seed, index, STREAMS[name]])``, so a
clip is a pure function of (config, seed, index): any worker can make any clip, and a rerun
makes the same bytes.

**One independent stream per kind of choice** (:data:`STREAMS`), so that two datasets made
with one seed differ only in what they ablate: with ``occluders.enabled=false`` the occluder
draws nothing, and every other choice (background window, motion, body, clothing, view,
total-occlusion span, detector noise, crop jitter) is the full dataset's. (Schema 1 drew all
of them from one stream in order, so the no-occluder ablation also got other total
occlusions, keypoint noise and crop jitter.)

Stages, in order (``timings`` accumulates seconds per stage):

1. ``decode``       a 31-frame background clip, resized/cropped to 240x320
2. ``tracking``     its camera motion: median flow, integrated from the centre frame
3. ``body_render``  mocap on a random body, clothing, light and view, shifted by the
                    camera motion, rendered with masks and keypoint visibility
4. ``slic``         a 4-D superpixel occluder from the same video (kept if it touches the
                    person and leaves >= 7 of 14 keypoints visible on average)
5. ``composite``    person over background, cut by the occluder; a total-occlusion span;
                    keypoint visibility, then detector-style randomisation
6. ``crops``        224x224 boxes around the keypoints the detector reports (the input
                    visibility), 150 px tall, jittered (:func:`synth.crops.detector_boxes`,
                    the rule test-time video uses); paired boxes for flow
7. ``flow``         flow on the paired boxes (``flow.backend``)
8. ``encode``       (in the writer) JPEG / 16-bit PNG / npz
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import defaultdict
from contextlib import contextmanager

import numpy as np

from synth.shards.schema import SCHEMA_VERSION, Sample, key_of

log = logging.getLogger(__name__)

STAGES = ("decode", "tracking", "body_render", "slic", "composite", "crops", "flow", "encode")
#: The independent random streams of one clip (module docstring). Never renumber: the
#: numbers are part of what makes (seed, index) give the same clip.
STREAMS = {
    "background": 0, "motion": 1, "appearance": 2, "camera": 3, "occluder": 4,
    "total_occlusion": 5, "keypoints": 6, "crops": 7,
}  # fmt: skip


def stream(seed: int, index: int, name: str) -> np.random.Generator:
    """The random stream ``name`` of clip ``index`` (:data:`STREAMS`)."""
    return np.random.default_rng([seed, index, STREAMS[name]])


@dataclasses.dataclass
class Debug:
    """Full-frame intermediates of one clip, for ``synth show``."""

    composite: np.ndarray  # uint8 [T, H, W, 3]
    background: np.ndarray  # uint8 [T, H, W, 3]
    occluder: np.ndarray  # bool [T, H, W]
    person: np.ndarray  # bool [T, H, W]
    kp2d: np.ndarray  # [T, 14, 2] background px
    boxes: np.ndarray  # [T, 3]


class ClipGenerator:
    """Holds what is expensive to build once per process: body, motions, renderer,
    background index and flow backends."""

    def __init__(self, cfg):
        from flow import build_backend
        from synth.appearance import body_parts
        from synth.backgrounds import background_source
        from synth.bodies import build_body
        from synth.motion import list_clips
        from synth.render import Renderer

        self.cfg = cfg
        self.body = build_body(cfg.body)
        self.parts = body_parts(self.body.skeleton, self.body.vertex_joint())
        self.faces = self.body.faces.numpy()
        clips = list_clips(cfg.motion)
        self.clip_names = sorted(clips) if cfg.motion.clip == "all" else [cfg.motion.clip]
        self._motions: dict = {}
        bg = cfg.background
        self.backgrounds = background_source(bg.path, size=(bg.height, bg.width), cache_mb=bg.cache_mb)
        self.renderer = Renderer(bg.width, bg.height)
        self.flow = build_backend(cfg.flow)
        self.tracker = build_backend(cfg.background.tracking_flow) if bg.mode == "tracked" else None
        self.timings: dict[str, float] = defaultdict(float)

    def close(self) -> None:
        self.renderer.close()

    def load_motions(self) -> None:
        """Retarget every motion clip now rather than on its first draw (~0.15 s each):
        benchmarks call this so that steady-state figures exclude one-off work."""
        for name in self.clip_names:
            self._retargeted(name)

    @contextmanager
    def _stage(self, name: str):
        t0 = time.perf_counter()
        yield
        self.timings[name] += time.perf_counter() - t0

    # -- one clip -------------------------------------------------------------------------
    def make(self, index: int, debug: bool = False) -> Sample | tuple[Sample, Debug]:
        import torch

        from synth.appearance import sample_appearance, sample_lighting
        from synth.crops import crop_image, detector_boxes, paired_crops, to_crop
        from synth.keypoints import detector_visibility, true_visibility
        from synth.occluders import random_occlusion
        from synth.tracking import camera_offsets

        cfg, t_len = self.cfg, self.cfg.frames
        rng = {name: stream(cfg.seed, index, name) for name in STREAMS}
        with self._stage("decode"):
            bg = self.backgrounds.sample(rng["background"], t_len, static=cfg.background.mode == "static")
        with self._stage("tracking"):
            camera_xy = camera_offsets(bg.frames, cfg.background.mode, self.tracker, cfg.background.tracking_scale)
        with self._stage("body_render"), torch.no_grad():
            clip_name, motion = self._motion(rng["motion"])
            posed = motion.posed(self.body)
            rest = self.body.rest(motion.shape[None]).vertices[0].numpy()
            colors = sample_appearance(rng["appearance"], rest, self.parts)
            cams = self._cameras(rng["camera"], posed.joints.numpy(), camera_xy)
            light = sample_lighting(rng["appearance"])
            out = self.renderer.render(posed.vertices.numpy(), self.faces, colors, posed.eval_joints.numpy(), cams, light)
        with self._stage("slic"):
            occ = random_occlusion(
                bg.frames, camera_xy, out.mask, out.joints_2d, out.joints_visible, rng["occluder"], cfg.occluders
            )
            occ_mask = occ.mask if occ.kept else np.zeros_like(out.mask)
        with self._stage("composite"):
            person = out.mask & ~occ_mask
            comp = np.where(person[..., None], out.rgba[..., :3], bg.frames)
            total = self._total_occlusion(rng["total_occlusion"], t_len)
            visible = true_visibility(out.joints_visible, out.joints_2d, occ_mask, total)
            kp = cfg.keypoints
            input_visible = detector_visibility(
                visible, total, rng["keypoints"], p_unhide_legs=kp.p_unhide_legs, p_flip=kp.p_flip
            )
        with self._stage("crops"):
            c = cfg.crop
            # the keypoints a detector would report: the randomised input visibility
            boxes = detector_boxes(
                out.joints_2d, input_visible, comp.shape[1:3], c.person_px, c.size,
                rng=rng["crops"], center_jitter=c.center_jitter, scale_jitter=c.scale_jitter,
            )  # fmt: skip
            rgb = np.stack([crop_image(f, b, c.size) for f, b in zip(comp, boxes)])
            occ_crop = np.stack([crop_image(m.astype(np.uint8), b, c.size, nearest=True) for m, b in zip(occ_mask, boxes)])
            pairs = paired_crops(comp, boxes, c.size)
        with self._stage("flow"):
            flow = self.flow(pairs)
        hidden = total.astype(bool)
        rgb[hidden] = 0
        flow[hidden[:-1] | hidden[1:]] = 0  # pair t spans frames t and t+1
        R, t = out.R[0].astype(np.float64), out.t[0].astype(np.float64)  # the camera does not move in 3D
        arrays = {
            "kp2d": to_crop(out.joints_2d, boxes, c.size),
            "kp_visible": visible,
            "kp_input_visible": input_visible,
            "joints3d": (posed.eval_joints.numpy() @ R.T + t).astype(np.float32),
            "skeleton3d": (posed.joints.numpy() @ R.T + t).astype(np.float32),
            "boxes": boxes,
            "total_occlusion": total,
            "pose": motion.pose.numpy().astype(np.float32),
            "global_orient": motion.global_orient.numpy().astype(np.float32),
            "transl": motion.transl.numpy().astype(np.float32),
            "shape": motion.shape.numpy().astype(np.float32),
            "K": np.stack([cam.K for cam in cams]).astype(np.float32),
            "R": out.R,
            "t": out.t,
            "camera_xy": camera_xy,
        }
        span = np.flatnonzero(total)
        meta = {
            "schema": SCHEMA_VERSION, "index": int(index), "seed": int(cfg.seed), "frames": t_len,
            "background": bg.source, "motion": clip_name, "body": self.body.name, "mode": cfg.background.mode,
            "flow": self.flow.name, "occluded": bool(occ.kept), "occlusion_reason": occ.reason,
            "total_occlusion_span": [int(span[0]), int(span[-1]) + 1] if span.size else None,
        }  # fmt: skip
        sample = Sample(key_of(index), rgb, flow, occ_crop.astype(bool), arrays, meta)
        if debug:
            return sample, Debug(comp, bg.frames, occ_mask, out.mask, out.joints_2d, boxes)
        return sample

    def _motion(self, rng: np.random.Generator):
        """A random clip, speed (0.8-1.25x, slowed if needed to fill the window), mirror,
        window and body shape."""
        cfg, t_len = self.cfg, self.cfg.frames
        name = self.clip_names[int(rng.integers(len(self.clip_names)))]
        base = self._retargeted(name)
        duration = (len(base.transl) - 1) / base.fps
        speed = min(rng.uniform(0.8, 1.25), duration * cfg.fps / (t_len - 1))
        motion = base.resampled(cfg.fps, speed=speed)
        if rng.random() < 0.5:
            motion = motion.mirrored(self.body.skeleton.mirror_permutation())
        start = int(rng.integers(0, max(1, len(motion.transl) - t_len + 1)))
        motion = motion.slice(start, t_len)
        if len(motion.transl) < t_len:  # too short even when slowed: hold the last pose
            motion = _pad_motion(motion, t_len)
        shape = self.body.sample_shape(rng)[0]
        return name, dataclasses.replace(motion, shape=shape.to(motion.shape.dtype))

    def _retargeted(self, name: str):
        from synth.motion import load_motion
        from synth.motion.retarget import retarget

        if name not in self._motions:
            clip = load_motion(dataclasses.replace(self.cfg.motion, clip=name))
            self._motions[name] = retarget(clip, self.body, self.body.default_shape(1)[0])
        return self._motions[name]

    def _cameras(self, rng: np.random.Generator, joints: np.ndarray, camera_xy: np.ndarray):
        """A static 3D camera framing the whole motion at a random size and place in the
        image; per frame, the principal point moves by ``camera_xy[t]`` so the person
        follows the background's camera motion."""
        from synth.cameras import frame_person

        bg = self.cfg.background
        cam = frame_person(joints, bg.width, bg.height, rng, fill=rng.uniform(0.45, 0.85), elevation_deg=(-5.0, 25.0))
        offset = rng.uniform(-1, 1, 2) * np.array([0.2 * bg.width, 0.1 * bg.height])
        cams = []
        for xy in camera_xy:
            K = cam.K.copy()
            K[:2, 2] += offset + xy
            cams.append(dataclasses.replace(cam, K=K))
        return cams

    def _total_occlusion(self, rng: np.random.Generator, t_len: int) -> np.ndarray:
        """``[T]`` uint8: 1 on a contiguous span of 1..max_frames frames, with probability p."""
        cfg = self.cfg.total_occlusion
        total = np.zeros(t_len, np.uint8)
        if cfg.max_frames > 0 and rng.random() < cfg.probability:
            n = int(rng.integers(1, min(cfg.max_frames, t_len) + 1))
            start = int(rng.integers(0, t_len - n + 1))
            total[start : start + n] = 1
        return total


def _pad_motion(motion, t_len: int):
    import torch

    n = len(motion.transl)
    idx = torch.arange(t_len).clamp(max=n - 1)
    return dataclasses.replace(
        motion, pose=motion.pose[idx], global_orient=motion.global_orient[idx], transl=motion.transl[idx]
    )
