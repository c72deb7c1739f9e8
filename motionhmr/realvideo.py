"""Real footage -> exactly the network inputs the model was trained on.

Contract
    ``steps(frames, kp2d, conf, spec, flow_backend="dis:medium")`` -> :class:`RealClip`:

    ``frames``  uint8 ``[N, H, W, 3]`` RGB, consecutive frames of one video (N >= 2)
    ``kp2d``    float ``[N, 14, 2]`` image px (x right, y down, pixel centres on integers),
                ``EVAL_JOINTS`` order, from a 2D detector (:mod:`motionhmr.detect`); may be
                NaN where the detector found nothing
    ``conf``    float ``[N, 14]`` in [0, 1]; a frame without a detection has conf 0

    ``RealClip.x`` is float32 ``[S, C, 224, 224]`` for the whole video (S = N - 1 steps), in
    the layout of :mod:`motionhmr.inputs`, assembled by :func:`network_input` exactly as
    :func:`motionhmr.data.sample_to_steps` assembles training clips.

The procedure, step by step, and why each matches training
0. Left/right swaps: the detector's whole-body label swaps are undone by temporal
   consistency (:func:`undo_swaps`); training keypoints never swap, so a swapped frame is
   a person facing the other way to the model.
1. Visibility: keypoint j of frame t is visible when ``conf > conf_threshold`` (default
   0.5) and its position is finite. 0.5 because the heatmaps of training show a keypoint
   when it is *truly visible* (plus detector-style noise), and MediaPipe's ``visibility`` is
   its estimate of exactly that probability, so 0.5 is its own decision boundary. Measured
   on sports2d's demo at 240 px (two people, 218 of 230 frames with a detection): hips,
   shoulders, neck and head are >= 0.98 in 95 % of frames, while the left elbow and wrist
   (the far arm while the two turn or walk in profile) are < 0.5 in ~30 % of frames and
   < 0.3 in ~20 %: 0.5 hides the limb the body hides, as the training heatmaps do (they
   add their own detector noise: hidden legs shown with p 0.5, 5 % flips).
2. Total occlusion: a frame with no detection or fewer than ``min_visible`` (7 of 14)
   visible keypoints is treated as totally occluded: its RGB and heatmaps are zero, flow
   pairs touching it are zero and the indicator is 1, as for the generator's totally
   occluded span. Never an error.
   Both numbers depend on the detector's confidence: 0.5 is for MediaPipe's visibility;
   OpenPose scores (3DPW's ``poses2d``) use HMMR's 0.1,
   :data:`motionhmr.keypoint_files.CONF_THRESHOLD`, as :mod:`motionhmr.evaluate` does.
3. Boxes: :func:`synth.crops.detector_boxes`, the generator's own rule (a square around
   the keypoints whose larger extent becomes ``person_px`` = 150 of the 224 crop, HMR's
   procedure) on each frame's *visible* keypoints, without jitter (jitter is a training
   augmentation); the generator applies it to its randomised input visibility. Occluded frames get boxes linearly interpolated from the nearest
   unoccluded frames (held constant before the first / after the last), so the paired
   boxes of flow still follow the person; a video with no usable frame at all gets
   :func:`centre_box`.
4. Crops (:func:`synth.crops.crop_image`), flow on paired boxes
   (:func:`synth.crops.paired_crops` + the flow backend, default ``dis:medium`` like the
   generator), heatmaps of the visible keypoints in crop px
   (:func:`synth.shards.schema.heatmaps`), then :func:`network_input`.

Resolution: the generator composites at 320x240 (``synth.config.BackgroundConfig``), so the
training crops are upsampled from a 240-px-tall frame. :func:`read_video` decodes at
``TRAIN_HEIGHT`` = 240 by default so real crops have the same sharpness.

Long videos: ``x`` holds ~3.8 MB per frame for ``rgb+flow+kp`` (19 channels): call
:func:`steps` per chunk of frames for very long videos.

Windows: the model was trained on 31-frame clips (30 steps); :func:`windows` cuts a video
into 31-frame windows and :func:`merge_windows` puts the per-frame predictions back together
(see their docstrings for which window a frame comes from).

``RealClipDataset``: random unlabelled real clips, DANN's target domain.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.utils.data

from motionhmr.data import from_crop
from motionhmr.inputs import InputSpec, assemble, parse_inputs
from synth.conventions import EVAL_JOINTS
from synth.crops import CROP, PERSON_PX, box_affine, centre_box, crop_image, paired_crops, to_crop
from synth.crops import detector_boxes as _detector_boxes
from synth.errors import InputError, MissingDependency

log = logging.getLogger(__name__)

#: MediaPipe visibility above which a keypoint is visible (module docstring, step 1).
CONF_THRESHOLD = 0.5
#: A frame's labels are exchanged back when that brings them this much closer to the last
#: frame's (:func:`undo_swaps`).
SWAP_RATIO = 0.5
#: Fewer visible keypoints than this (of 14) and the frame counts as totally occluded.
MIN_VISIBLE = 7
#: Frame height the generator composites at: decode real video at this height.
TRAIN_HEIGHT = 240
DEFAULT_FLOW = "dis:medium"
#: Flow pairs per backend call: bounds the memory of the pair stack on long videos.
FLOW_CHUNK = 64


# -- one video -----------------------------------------------------------------------------
@dataclasses.dataclass
class RealClip:
    """Network inputs of one video and the geometry to map predictions back onto it.

    ``x``          float32 ``[S, C, 224, 224]``, S = N - 1 (step t: frame t, flow t -> t+1)
    ``boxes``      float32 ``[N, 3]`` (cx, cy, side), image px
    ``to_image``   float32 ``[N, 2, 3]`` crop px -> image px, per frame (inverse of
                   :func:`synth.crops.box_affine`)
    ``occluded``   bool ``[N]`` treated as totally occluded
    ``visible``    bool ``[N, 14]`` visible keypoints (the first 12 are the heatmaps; all False
                   when occluded)
    ``kp2d``       float32 ``[N, 14, 2]`` the detector's keypoints in crop px of the frame's
                   own box (NaN where it gave none)
    ``indicator``  bool ``[S]`` the occlusion channel of each step
    ``inputs``     the compact fields ``x`` was assembled from
                   (:func:`compact_inputs`; what ``Predictor`` takes for any encoder)
    """

    x: np.ndarray
    inputs: dict
    boxes: np.ndarray
    to_image: np.ndarray
    occluded: np.ndarray
    visible: np.ndarray
    kp2d: np.ndarray
    indicator: np.ndarray
    spec: InputSpec

    @property
    def frames(self) -> int:
        return int(self.boxes.shape[0])

    def window(self, frames: slice) -> np.ndarray:
        """The steps of a frame window (from :func:`windows`): ``x[start : stop - 1]``, the
        ``stop - start - 1`` steps a clip of those frames would have had in training."""
        start, stop, _ = frames.indices(self.frames)
        return self.x[start : stop - 1]


def steps(
    frames: np.ndarray,
    kp2d: np.ndarray,
    conf: np.ndarray,
    spec: InputSpec | str,
    flow_backend=DEFAULT_FLOW,
    *,
    conf_threshold: float = CONF_THRESHOLD,
    min_visible: int = MIN_VISIBLE,
    person_px: float = PERSON_PX,
    fix_swaps: bool = True,
) -> RealClip:
    """Frames and detections -> :class:`RealClip` (module docstring: contract and steps).
    ``fix_swaps``: undo the detector's whole-body left/right swaps first (:func:`undo_swaps`).

    ``flow_backend``: a backend (``flow.registry.FlowBackend``) or a spec string for
    :func:`flow.registry.build_backend`; unused unless ``flow`` is in ``spec``.
    """
    frames = _check_frames(frames)
    n = len(frames)
    kp2d = np.asarray(kp2d, np.float32)
    conf = np.asarray(conf, np.float32)
    if kp2d.shape != (n, len(EVAL_JOINTS), 2) or conf.shape != (n, len(EVAL_JOINTS)):
        raise InputError(
            f"keypoints must be kp2d [N, 14, 2] and conf [N, 14] for N={n} frames; "
            f"got {kp2d.shape} and {conf.shape}"
        )
    if not 0.0 <= conf_threshold < 1.0:
        raise InputError(f"conf_threshold={conf_threshold} must be in [0, 1)")
    if not 1 <= min_visible <= len(EVAL_JOINTS):
        raise InputError(f"min_visible={min_visible} must be in 1..{len(EVAL_JOINTS)}")
    if fix_swaps:
        kp2d, conf, _ = undo_swaps(kp2d, conf, conf_threshold)
    visible = (np.nan_to_num(conf, nan=0.0) > conf_threshold) & np.isfinite(kp2d).all(-1)
    occluded = visible.sum(1) < min_visible
    visible[occluded] = False
    boxes = detector_boxes(kp2d, visible, occluded, frames.shape[1:3], person_px)
    return steps_in_boxes(frames, boxes, spec, flow_backend, kp2d=kp2d, visible=visible, occluded=occluded)


def undo_swaps(kp2d: np.ndarray, conf: np.ndarray, conf_threshold: float = CONF_THRESHOLD,
               ratio: float = SWAP_RATIO) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Undo a detector's whole-body left/right swaps by temporal consistency: ``(kp2d, conf,
    swapped [N] bool)`` with the labels of swapped frames exchanged back.

    Single-person detectors label left and right from the body's appearance, and seen from
    behind or in profile they swap the whole body for many frames at a time. Measured on
    Pose2Sim's demo: MediaPipe swapped cam02's person for 33 of 100 frames (41-74), every
    limb keypoint ~300 px from the other views' triangulation, at confidence 0.99-1.0; a
    model fed that sees a person facing the other way.

    Frame ``t`` is compared with the last earlier frame that had >= 4 visible limb keypoints
    (after its own fix): if its labels exchanged (``EVAL_FLIP``) are closer to that frame's,
    by mean distance over the limb keypoints visible in both, than ``ratio`` times its labels
    as they are, it is swapped back. That chain is relative to the first frame, so if it would
    swap most frames, the other labelling is kept instead: the detector is taken to be right
    more often than not. A true left/right ambiguity (profile views, where the two sides
    nearly coincide) stays as detected, since both distances are then alike. Frames with
    fewer than 4 visible limb keypoints are left as they are."""
    from synth.conventions import EVAL_FLIP

    kp2d = np.array(kp2d, np.float32)
    conf = np.array(conf, np.float32)
    flip = list(EVAL_FLIP)
    limbs = np.arange(len(EVAL_JOINTS)) < 12
    swapped = np.zeros(len(kp2d), bool)
    seen = (np.nan_to_num(conf, nan=0.0) > conf_threshold) & np.isfinite(kp2d).all(-1) & limbs
    last = None
    for t in range(len(kp2d)):
        if seen[t].sum() < 4:
            continue
        if last is not None:
            same = _mean_distance(kp2d[t], seen[t], kp2d[last], seen[last])
            exchanged = _mean_distance(kp2d[t, flip], seen[t, flip], kp2d[last], seen[last])
            if same is not None and exchanged is not None and exchanged < ratio * same:
                kp2d[t], conf[t], seen[t] = kp2d[t, flip], conf[t, flip], seen[t, flip]
                swapped[t] = True
        last = t
    counted = seen.sum(1) >= 4
    if swapped[counted].sum() > 0.5 * counted.sum():
        # the chain is relative to the first frame; the detector is right more often than not,
        # so the labelling most frames had as detected is taken as the true one
        flip_all = counted.copy()
        kp2d[flip_all], conf[flip_all] = kp2d[flip_all][:, flip], conf[flip_all][:, flip]
        swapped[flip_all] = ~swapped[flip_all]
    if swapped.any():
        log.info("undid the detector's left/right swap on %d of %d frames", swapped.sum(), len(kp2d))
    return kp2d, conf, swapped


def _mean_distance(a: np.ndarray, a_seen: np.ndarray, b: np.ndarray, b_seen: np.ndarray) -> float | None:
    both = a_seen & b_seen
    return float(np.linalg.norm(a[both] - b[both], axis=-1).mean()) if both.sum() >= 4 else None


def steps_in_boxes(
    frames: np.ndarray,
    boxes: np.ndarray,
    spec: InputSpec | str,
    flow_backend=DEFAULT_FLOW,
    *,
    kp2d: np.ndarray | None = None,
    visible: np.ndarray | None = None,
    occluded: np.ndarray | None = None,
) -> RealClip:
    """The crops, flow and heatmaps of given boxes ``[N, 3]`` (image px): :func:`steps`
    after its boxes are chosen, and the no-detector path of :class:`RealClipDataset`
    (``kp2d`` None: no keypoints, so ``kp`` cannot be in ``spec``; nothing occluded)."""
    spec = parse_inputs(spec)
    frames = _check_frames(frames)
    n = len(frames)
    boxes = np.asarray(boxes, np.float32)
    if boxes.shape != (n, 3) or not np.isfinite(boxes).all() or (boxes[:, 2] <= 0).any():
        raise InputError(f"boxes must be finite float [N, 3] (cx, cy, side > 0) for N={n}; got {boxes.shape}")
    if kp2d is None:
        if "kp" in spec:
            raise InputError(f"inputs={spec.name} need keypoints: pass kp2d/visible (a detector's)")
        kp2d = np.full((n, len(EVAL_JOINTS), 2), np.nan, np.float32)
        visible = np.zeros((n, len(EVAL_JOINTS)), bool)
    occluded = np.zeros(n, bool) if occluded is None else np.asarray(occluded, bool)
    kp_crop = to_crop(np.asarray(kp2d, np.float32), boxes)
    s = n - 1
    rgb = flow = None
    if "rgb" in spec:
        rgb = np.stack([crop_image(frames[t], boxes[t]) for t in range(s)])
    if "flow" in spec:
        flow = _flow(frames, boxes, flow_backend)
    inputs = compact_inputs(spec, occluded, rgb=rgb, flow=flow, kp2d=kp_crop, visible=visible)
    x = assemble({k: torch.as_tensor(v)[None] for k, v in inputs.items()}, spec)[0].numpy()
    return RealClip(
        x=x,
        inputs=inputs,
        boxes=boxes,
        to_image=np.stack([_invert(box_affine(b)) for b in boxes]),
        occluded=occluded,
        visible=np.asarray(visible, bool),
        kp2d=kp_crop,
        indicator=x[:, spec.slices()["occ"]][:, 0, 0, 0] > 0,
        spec=spec,
    )


def network_input(spec: InputSpec | str, total: np.ndarray, **parts: np.ndarray | None) -> np.ndarray:
    """The stacked network input float32 ``[S, C, 224, 224]`` of a clip of ``T = S + 1`` frames.

    ``total`` bool ``[T]`` totally occluded frames; ``parts`` as for :func:`compact_inputs`:
    ``rgb`` uint8 ``[>=S, 224, 224, 3]`` crops;
    ``flow`` float ``[S, 224, 224, 2]`` px on paired boxes; ``kp2d`` ``[>=S, >=12, 2]`` crop
    px and ``visible`` ``[>=S, >=12]`` (the heatmaps' visibility). Only the parts in ``spec``
    are needed. :func:`compact_inputs`, then :func:`motionhmr.inputs.assemble` on the CPU: the
    code that builds training inputs, so the two cannot drift apart.
    """
    spec = parse_inputs(spec)
    inputs = compact_inputs(spec, total, **parts)
    batch = {k: torch.as_tensor(np.asarray(v))[None] for k, v in inputs.items()}
    return assemble(batch, spec)[0].numpy()


def compact_inputs(
    spec: InputSpec | str,
    total: np.ndarray,
    rgb: np.ndarray | None = None,
    flow: np.ndarray | None = None,
    kp2d: np.ndarray | None = None,
    visible: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The compact fields of one track (``motionhmr.inference.Predictor``'s dict input), for
    the parts in ``spec``: ``total_occlusion`` ``[T]``, ``rgb`` uint8 / ``flow`` float px
    ``[S, 224, 224, ...]``, ``kp2d`` ``[T, 14, 2]`` crop px and ``kp_input_visible`` ``[T, 14]``
    (hidden where ``visible`` is false or the frame is totally occluded)."""
    spec = parse_inputs(spec)
    total = np.asarray(total, bool)
    t = len(total)
    s = t - 1
    if s < 1:
        raise InputError(f"a clip needs >= 2 frames for one step; got {t}")
    out: dict[str, np.ndarray] = {"total_occlusion": total}
    if "rgb" in spec:
        out["rgb"] = np.ascontiguousarray(_need("rgb", rgb, (s, CROP, CROP, 3))[:s])
    if "flow" in spec:
        out["flow"] = np.asarray(_need("flow", flow, (s, CROP, CROP, 2))[:s], np.float32)
    if "kp" in spec:
        kp2d = np.asarray(_need("kp2d", kp2d, (s, None, 2)), np.float32)
        vis = np.asarray(_need("visible", visible, (s, None)), bool)
        kp = np.zeros((t, len(EVAL_JOINTS), 2), np.float32)
        shown = np.zeros((t, len(EVAL_JOINTS)), bool)
        n, j = min(len(kp2d), t), min(kp2d.shape[1], len(EVAL_JOINTS))
        kp[:n, :j] = kp2d[:n, :j]
        shown[: min(len(vis), t), : vis.shape[1]] = vis[:t, : len(EVAL_JOINTS)]
        shown &= ~total[:, None]
        # Unknown positions (NaN) of hidden keypoints would poison 0 * NaN in the heatmaps.
        out["kp2d"] = np.where(shown[..., None], np.nan_to_num(kp, nan=0.0), 0.0).astype(np.float32)
        out["kp_input_visible"] = shown
    return out


def detector_boxes(
    kp2d: np.ndarray,
    visible: np.ndarray,
    occluded: np.ndarray,
    frame_hw: tuple[int, int],
    person_px: float = PERSON_PX,
) -> np.ndarray:
    """float32 ``[N, 3]`` (cx, cy, side) image px: the generator's box rule,
    :func:`synth.crops.detector_boxes` (no jitter), on each unoccluded frame's visible
    keypoints; occluded frames interpolated linearly in time between the nearest unoccluded
    ones, held at the ends; :func:`centre_box` everywhere when no frame is usable."""
    shown = np.asarray(visible, bool) & ~np.asarray(occluded, bool)[:, None]
    # min_visible=1: the caller's own rule (min_visible of steps) already emptied the
    # occluded frames, so every frame with a keypoint left is one the caller boxes.
    return _detector_boxes(kp2d, shown, frame_hw, person_px, min_visible=1)


def crop_to_image(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Crop px -> image px. ``box`` ``[3]`` with ``points`` ``[..., 2]``, or per-frame
    ``boxes`` ``[N, 3]`` with ``points`` ``[N, ..., 2]`` (e.g. ``[N, J, 2]``)."""
    return _per_box(from_crop, points, box)


def image_to_crop(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Image px -> crop px: the inverse of :func:`crop_to_image`, same shapes."""
    return _per_box(to_crop, points, box)


def _per_box(fn, points, box) -> np.ndarray:
    points, box = np.asarray(points, np.float32), np.asarray(box, np.float32)
    if box.shape == (3,):
        return fn(points.reshape(1, -1, 2), box[None])[0].reshape(points.shape)
    if box.ndim != 2 or box.shape[1] != 3 or points.shape[0] != box.shape[0] or points.shape[-1] != 2:
        raise InputError(f"points [N, ..., 2] need boxes [N, 3]; got {points.shape} and {box.shape}")
    return fn(points.reshape(len(box), -1, 2), box).reshape(points.shape)


def _invert(affine: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.invertAffineTransform(affine).astype(np.float32)


def _flow(frames: np.ndarray, boxes: np.ndarray, backend) -> np.ndarray:
    """Flow ``[N-1, 224, 224, 2]`` px on paired boxes, ``FLOW_CHUNK`` pairs per backend call."""
    if backend is None or isinstance(backend, str):
        from flow.registry import build_backend

        backend = build_backend(backend or DEFAULT_FLOW)
    out = []
    for a in range(0, len(frames) - 1, FLOW_CHUNK):
        b = min(a + FLOW_CHUNK, len(frames) - 1)
        out.append(backend(paired_crops(frames[a : b + 1], boxes[a : b + 1])))
    return np.concatenate(out)


def _need(name: str, arr, shape: tuple) -> np.ndarray:
    if arr is None:
        raise InputError(f"network_input: these inputs need {name}")
    arr = np.asarray(arr)
    ok = arr.ndim == len(shape) and arr.shape[0] >= shape[0]
    ok = ok and all(want is None or got == want for got, want in zip(arr.shape[1:], shape[1:]))
    if name in ("kp2d", "visible"):
        ok = ok and arr.shape[1] >= 12
    if not ok:
        raise InputError(f"network_input: {name} has shape {arr.shape}, expected {shape} (first dim at least)")
    return arr


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputError(f"frames must be uint8 [N, H, W, 3] RGB; got {frames.dtype} {frames.shape}")
    if len(frames) < 2:
        raise InputError(f"a video needs >= 2 frames (one step sees a pair); got {len(frames)}")
    return frames


# -- windows -------------------------------------------------------------------------------
def fps_stride(video_fps: float | None, model_fps: float | None) -> int:
    """Keep every k-th frame of a video so its rate is the model's training rate:
    ``k = round(video_fps / model_fps)``, at least 1 (60 fps -> every 2nd frame for a 30 fps
    model; 25 or 30 fps -> every frame). A temporal model fed 60 fps sees its motion at
    half speed and flow at half length."""
    if not video_fps or not model_fps:
        return 1
    return max(1, round(video_fps / model_fps))


def windows(n_frames: int, length: int = 31) -> list[slice]:
    """Frame windows of ``length`` frames that cover ``0 .. n_frames - 1``: the cut of the
    3DPW protocol (:func:`motionhmr.evaluate.clip_windows`), as slices.

    Consecutive non-overlapping windows from frame 0; the last one is aligned to the end
    (starts at ``n_frames - length``), so it overlaps its predecessor unless ``length``
    divides ``n_frames``. A video shorter than ``length`` is one window of all its frames
    (the temporal model takes any length). Each window is a training-sized clip: its steps
    are ``RealClip.window(w)``, its per-frame predictions ``Prediction.per_frame()``.
    """
    from motionhmr.evaluate import clip_windows

    if length < 2:
        raise InputError(f"window length {length} must be >= 2 (one step needs two frames)")
    if n_frames < 2:
        raise InputError(f"a video needs >= 2 frames; got {n_frames}")
    return [slice(w.start, w.stop) for w in clip_windows(n_frames, length)]


def frame_sources(n_frames: int, wins: Sequence[slice]) -> np.ndarray:
    """int ``[n_frames]``: the window each frame's prediction is taken from: the first window
    that holds it, as :func:`motionhmr.evaluate.stitch` does for 3DPW, so a real video and
    the benchmark are assembled alike. (In the tail overlap the frames come from the earlier
    window; each window's last frame is its future head's prediction.)"""
    starts = np.array([w.start for w in wins])
    stops = np.array([w.stop for w in wins])
    f = np.arange(n_frames)[:, None]
    inside = (f >= starts) & (f < stops)
    if not inside.any(1).all():
        raise InputError(f"windows {wins} do not cover frames {np.flatnonzero(~inside.any(1)).tolist()}")
    return inside.argmax(1)  # the first True


def merge_windows(preds: Sequence, wins: Sequence[slice], n_frames: int | None = None):
    """Per-window per-frame predictions -> one per video frame.

    ``preds[k]``: an array or tensor ``[len(wins[k]), ...]`` (window k's per-frame output),
    or a mapping of them (e.g. ``{"rotmat": ..., "cam": ...}``). Returns the same type with
    first dim ``n_frames`` (default: the end of the last window); each frame comes from
    exactly one window, chosen by :func:`frame_sources`."""
    if len(preds) != len(wins):
        raise InputError(f"{len(preds)} predictions for {len(wins)} windows")
    if isinstance(preds[0], Mapping):
        return {k: merge_windows([p[k] for p in preds], wins, n_frames) for k in preds[0]}
    n_frames = max(w.stop for w in wins) if n_frames is None else n_frames
    for p, w in zip(preds, wins):
        if len(p) != w.stop - w.start:
            raise InputError(f"window {w.start}:{w.stop} has {w.stop - w.start} frames but {len(p)} predictions")
    source = frame_sources(n_frames, wins)
    pieces = []
    change = np.flatnonzero(np.diff(source)) + 1
    for a, b in zip(np.r_[0, change], np.r_[change, n_frames]):
        k = source[a]
        pieces.append(preds[k][a - wins[k].start : b - wins[k].start])
    return torch.cat(pieces) if isinstance(pieces[0], torch.Tensor) else np.concatenate(pieces)


# -- reading video -------------------------------------------------------------------------
def read_video(path: str | Path, height: int = TRAIN_HEIGHT, start: int = 0, count: int | None = None) -> np.ndarray:
    """uint8 ``[count, height, W, 3]`` RGB, W keeping the aspect ratio: frames
    ``start .. start + count - 1`` (default: to the end), decoded and resized by
    :mod:`synth.backgrounds`' decoders (decord, else PyAV). ``height=None``: native size."""
    from synth.backgrounds import BadVideo, _read_frames, probe_video

    try:
        info = probe_video(path)
    except BadVideo as bad:
        raise InputError(f"cannot read video {path}: {bad}") from None
    count = info.num_frames - start if count is None else count
    if start < 0 or count < 1 or start + count > info.num_frames:
        raise InputError(f"video {path} has {info.num_frames} frames; asked for {count} from frame {start}")
    try:
        return _read_frames(str(path), info, range(start, start + count), _decode_size(info, height))
    except BadVideo as bad:
        raise InputError(f"cannot decode video {path}: {bad}") from None


def _decode_size(info, height: int | None) -> tuple[int, int]:
    if height is None:
        return info.height, info.width
    return int(height), max(1, round(info.width * height / info.height))


# -- unlabelled real clips (DANN) ------------------------------------------------------------
class RealClipDataset(torch.utils.data.IterableDataset):
    """Endless random real clips for DANN's target domain: yields ``{"x": float32 tensor
    [frames - 1, C, 224, 224]}`` (the real batch of the shared contract, before batching).

    ``videos``: a folder (every video under it, :func:`synth.backgrounds.list_videos`), one
    file, or a list of files. A clip: a file drawn uniformly, a uniform start, ``frames``
    consecutive frames decoded at ``height`` (default the generator's 240, see
    :func:`read_video`), keypoints from ``detector``, then :func:`steps`.

    ``detector``: ``"auto"`` uses :class:`motionhmr.detect.MediaPipePose` when mediapipe is
    installed. Without it, inputs without ``kp`` fall back (with a warning) to
    :func:`centre_box` on every frame, an approximation that only suits videos with a
    roughly centred person filling ~2/3 of the height; inputs with ``kp`` raise
    MissingDependency. ``None`` forces the centred box; a callable ``frames -> (kp2d, conf,
    found)`` is used as the detector.

    With a detector, a clip where fewer than ``min_person`` of the frames have a person
    (not occluded by the rules of :func:`steps`) is redrawn, up to ``max_tries`` times.
    Bad files are skipped with a warning. Randomness: clip ``i`` of the stream of DataLoader
    worker ``w`` depends only on ``(rng's seed draw, w, i)``; :meth:`clip` takes any rng.

    DataLoader workers: MediaPipe is not fork-safe once it has run in a process, so with the
    MediaPipe detector either let only the workers run it (do not call :meth:`clip` in the
    main process first) or use ``multiprocessing_context="spawn"``; otherwise the workers
    stop with a RuntimeError saying so.
    """

    def __init__(
        self,
        videos: str | Path | Sequence[str | Path],
        spec: InputSpec | str,
        frames: int = 31,
        rng: np.random.Generator | int | None = None,
        *,
        detector="auto",
        flow: str = DEFAULT_FLOW,
        height: int = TRAIN_HEIGHT,
        conf_threshold: float = CONF_THRESHOLD,
        min_visible: int = MIN_VISIBLE,
        min_person: float = 0.5,
        max_tries: int = 20,
    ):
        super().__init__()
        self.spec = parse_inputs(spec)
        if frames < 2:
            raise InputError(f"RealClipDataset frames={frames} must be >= 2")
        if not 0.0 <= min_person <= 1.0 or max_tries < 1:
            raise InputError(f"min_person={min_person} must be in [0, 1] and max_tries={max_tries} >= 1")
        self.paths = _video_paths(videos)
        self.frames, self.height = int(frames), int(height)
        self.conf_threshold, self.min_visible = conf_threshold, min_visible
        self.min_person, self.max_tries = min_person, max_tries
        self.detector = _detector(detector, self.spec)
        self.flow_spec = flow
        self._flow = None
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.seed = int(rng.integers(2**63))
        self.skipped: dict[str, str] = {}
        self._info: dict = {}

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, 0 if info is None else info.id])
        while True:
            yield {"x": torch.from_numpy(self.clip(rng).x)}

    def clip(self, rng: np.random.Generator) -> RealClip:
        """One random clip (class docstring)."""
        for _ in range(self.max_tries):
            frames = self._draw(rng)
            if self.detector is None:
                boxes = np.tile(centre_box(*frames.shape[1:3]), (len(frames), 1))
                return steps_in_boxes(frames, boxes, self.spec, self._flow_backend())
            kp2d, conf, _found = self.detector(frames)
            clip = steps(frames, kp2d, conf, self.spec, self._flow_backend(),
                         conf_threshold=self.conf_threshold, min_visible=self.min_visible)  # fmt: skip
            if (~clip.occluded).mean() >= self.min_person:
                return clip
        raise InputError(
            f"no person in >= {self.min_person:.0%} of the frames of {self.max_tries} random "
            f"{self.frames}-frame clips from {len(self.paths)} video(s): are these videos of people?"
        )

    def __getstate__(self) -> dict:
        # DataLoader workers (spawn) get a copy; OpenCV's flow objects do not pickle.
        return {**self.__dict__, "_flow": None}

    def _flow_backend(self):
        if self._flow is None and "flow" in self.spec:
            from flow.registry import build_backend

            self._flow = build_backend(self.flow_spec)
        return self._flow

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        """``frames`` consecutive frames of a random usable file; two draws per attempt,
        whatever is known about the file, so a clip does not depend on earlier bad files."""
        from synth.backgrounds import BadVideo, _read_frames, probe_video

        for _ in range(100 * len(self.paths)):
            path = self.paths[int(rng.integers(len(self.paths)))]
            u = rng.random()
            if path in self.skipped:
                continue
            try:
                info = self._info.get(path) or self._info.setdefault(path, probe_video(path))
                if info.num_frames < self.frames:
                    raise BadVideo("too short", f"{info.num_frames} frames < {self.frames}")
                start = int(u * (info.num_frames - self.frames + 1))
                return _read_frames(path, info, range(start, start + self.frames), _decode_size(info, self.height))
            except BadVideo as bad:
                self.skipped[path] = str(bad)
                log.warning("skipping real video %s: %s", path, bad)
                if len(self.skipped) == len(self.paths):
                    break
        raise InputError(f"none of the {len(self.paths)} real videos is usable: {self.skipped}")


def _video_paths(videos) -> list[str]:
    from synth.backgrounds import list_videos

    if isinstance(videos, (str, Path)):
        path = Path(videos)
        if path.is_dir():
            return [str(p) for p in list_videos(path)]
        if not path.is_file():
            raise InputError(f"real video {path} does not exist")
        return [str(path)]
    paths = [str(p) for p in videos]
    if not paths:
        raise InputError("RealClipDataset needs at least one video")
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise InputError(f"real videos not found: {missing}")
    return paths


def _detector(detector, spec: InputSpec):
    if detector == "auto":
        from motionhmr.detect import MediaPipePose

        try:
            return MediaPipePose()
        except MissingDependency:
            if "kp" in spec:
                raise
            log.warning(
                "mediapipe is not installed: real clips use a centred box on every frame (an "
                "approximation; install the [detect] extra for person boxes)"
            )
            return None
    if detector is None and "kp" in spec:
        raise InputError(f"inputs={spec.name} need keypoint heatmaps: give RealClipDataset a detector")
    return detector
