"""``motionhmr predict``: a trained checkpoint on a real video (or a keypoint file), offline.

Contract
    ``predict_video(ckpt, video, out)`` follows the checkpoint's data contract
    (:mod:`motionhmr.contract`; a checkpoint without one gets a warning and the generator's
    old defaults): it decodes ``video`` at the training frame height (240 px by default,
    :func:`motionhmr.realvideo.read_video`), keeps every k-th frame so that the frames come at
    the training rate (:func:`motionhmr.realvideo.fps_stride`: a 60 fps video gives every 2nd
    frame to a 30 fps model; every output below is per kept frame), finds one person's 2D keypoints with MediaPipe
    (:class:`motionhmr.detect.MediaPipePose`; a frame without a person becomes a total
    occlusion, never an error), builds the training inputs with the training flow backend and
    ``person_px`` (:func:`motionhmr.realvideo.steps`; another ``flow`` backend than the
    contract's is a one-line error, :func:`motionhmr.contract.choose_flow`), runs the network
    (:class:`motionhmr.inference.Predictor`) and writes into ``out/``:

    ``bodies.npz``   per frame (N frames):
        ``joints3d``     float32 ``[N, 14, 3]`` EVAL_JOINTS, metres, camera frame of the
                         frame's crop, root (pelvis) at the origin
        ``rotmat``       ``[N, J, 3, 3]`` (0 = global orientation in the camera frame,
                         1.. = local pose), ``shape`` ``[N, shape_dim]``
        ``cam``          ``[N, 3]`` weak perspective (s, tx, ty), normalised crop coordinates
        ``kp2d_crop``    ``[N, 14, 2]`` projected joints, crop px (0..224)
        ``kp2d_image``   ``[N, 14, 2]`` the same mapped to image px of the decoded frames
                         (``meta.image_size``) through each frame's crop -> image affine
        ``boxes`` ``[N, 3]`` (cx, cy, side) and ``to_image`` ``[N, 2, 3]``, image px
        ``occluded`` bool ``[N]``, ``visible`` bool ``[N, 14]`` (what the network saw)
        ``detector_kp2d`` ``[N, 14, 2]`` image px (NaN: none), ``detector_conf`` ``[N, 14]``,
        ``detector_found`` bool ``[N]``: MediaPipe's keypoints
        ``rendered`` bool ``[N]``: frames whose mesh is drawn in the overlay
    ``bodies.json``  the same arrays as lists (NaN -> null) plus ``meta`` (video, ckpt,
                     inputs, fps (of the kept frames), video_fps, stride, frames,
                     image_size, flow, data_contract, ...) and
                     ``agreement``.
    ``overlay.mp4``  H.264, left: the video with the predicted mesh over it; right: the mesh
                     turned 90 degrees about the camera's vertical axis (seen from the
                     camera's left, farther from the camera is further right), root at the
                     centre of a fixed camera. Occluded frames show the video only.

    ``predict_keypoints(ckpt, keypoints, out)``: the same for a keypoint file
    (:func:`motionhmr.keypoint_files.read_keypoints`) and an ``inputs=kp`` checkpoint: the
    network inputs are the heatmaps and the occlusion indicator, so no frames are needed.
    ``bodies.npz``/``.json`` hold the fields above that exist without a video (``detector_*``
    are the file's keypoints).

The overlay camera. The network's camera is weak perspective: crop px
``= 112 s (X + tx) + 111.5``. A perspective camera with a long focal length ``f`` (crop px)
and principal point at the crop centre renders the same picture when the root sits at
depth ``z = 2 f / (224 s)`` and the mesh is translated by ``(tx, ty, z)``; its intrinsics go
from crop px to image px through the crop -> image affine (a scale and a shift), and to the
display's px through the display's resize. Perspective is invariant to scaling the whole
scene, so the scene is scaled to put the root at ``RENDER_DEPTH`` metres, inside the
renderer's clipping range, whatever ``f``. A frame with ``s <= 0`` has no perspective
equivalent and is not drawn.

Agreement (:func:`agreement`): the median distance in image px (and as a share of the crop
box side) between the model's projected joints ``kp2d_image`` and the detector's keypoints,
over the joints the detector saw (``conf > threshold``) in frames that were not occluded.
Note that MediaPipe's ``neck`` and ``head`` (mid-shoulders, mid-ears) are not quite the
training skeleton's (:mod:`motionhmr.detect`); ``median_px_limbs`` leaves them out.

Memory: the whole video goes through at once (``x`` is ~3.3 MB per frame for ``flow+kp``);
``max_frames`` bounds it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from motionhmr.realvideo import CONF_THRESHOLD, MIN_VISIBLE
from synth.conventions import EVAL_JOINTS
from synth.crops import CROP
from synth.errors import InputError

log = logging.getLogger(__name__)

#: Focal length of the overlay's perspective camera, crop px (long: close to weak perspective).
FOCAL = 5000.0
#: Depth of the root after the scene is scaled (inside the renderer's 0.05..100 m clip range).
RENDER_DEPTH = 10.0
#: Side view: the root at this depth; a 2 m tall body fills SIDE_FILL of the panel height.
SIDE_DEPTH, SIDE_FILL = 5.0, 0.8
#: Height of the overlay's panels in px (the video is decoded again at this height for display).
OVERLAY_HEIGHT = 480
MESH_COLOR = (150, 185, 235)
MESH_OPACITY = 0.85
SIDE_BACKGROUND = (118, 122, 128)
#: Frames per render call (bounds the renderer's buffers on long videos).
RENDER_CHUNK = 32


@dataclasses.dataclass
class PredictResult:
    """What a predict run wrote and measured."""

    out: Path
    files: dict[str, Path]
    frames: int
    occluded: int
    agreement: dict

    def summary(self) -> str:
        a = self.agreement
        if a.get("median_px") is None:
            agree = f"agreement with {a.get('reference', 'the keypoints')}: no visible joints to compare"
        else:
            limbs = "none seen" if a["median_px_limbs"] is None else f"{a['median_px_limbs']:.1f} px"
            agree = (f"agreement with {a['reference']}: median {a['median_px']:.1f} px "
                     f"({a['median_box']:.3f} of the box side; limbs only {limbs}) "
                     f"over {a['joints']} visible joints in {a['frames']} frames; a constant pose in the "
                     f"same boxes: {a['constant_pose_median_px']:.1f} px")  # fmt: skip
        return (f"{self.frames} frames ({self.occluded} occluded) -> {self.out}: "
                f"{', '.join(p.name for p in self.files.values())}\n{agree}")  # fmt: skip


# -- entry points ----------------------------------------------------------------------------
def predict_video(
    ckpt,
    video: str | Path,
    out: str | Path,
    *,
    device: str = "auto",
    flow: str | None = None,
    max_frames: int | None = None,
    start: int = 0,
    overlay: bool = True,
    overlay_height: int | None = OVERLAY_HEIGHT,
    detector=None,
    refine: bool = False,
) -> PredictResult:
    """Predict bodies on ``video`` and write ``out/`` (module docstring).

    ``ckpt``: a checkpoint path or a :class:`motionhmr.inference.Predictor`. ``detector``:
    a callable ``frames -> (kp2d [N, 14, 2] px, conf [N, 14], found [N])``; default
    :class:`motionhmr.detect.MediaPipePose`. ``flow``: a backend spec (``dis:medium``,
    ``farneback``, ...); None: the checkpoint's. ``overlay_height``: the overlay's panel
    height (None: the decoded frames as they are). ``refine``: fit the bodies to the
    detections afterwards (:mod:`motionhmr.refine`; the agreement figure then measures the fit).
    """
    from flow.registry import build_backend
    from motionhmr.contract import choose_flow, of_checkpoint
    from motionhmr.realvideo import fps_stride, read_video, steps

    video = Path(video)
    if not video.is_file():
        raise InputError(f"video {video} does not exist")
    if max_frames is not None and max_frames < 2:
        raise InputError(f"max_frames={max_frames} must be >= 2 (one step needs two frames)")
    count = _frame_count(video, start, max_frames)
    spec, contract = of_checkpoint(ckpt)
    # Checked before the network is built: a wrong backend fails in a second, not a minute.
    flow_cfg = choose_flow(contract, flow, _ckpt_name(ckpt)) if "flow" in spec else None
    video_rate = video_fps(video)
    stride = fps_stride(video_rate, contract.fps)
    frames = read_video(video, contract.frame_height, start=start, count=count)[::stride]
    predictor = _predictor(ckpt, device, contract)
    if detector is None:
        from motionhmr.detect import MediaPipePose

        detector = MediaPipePose()
    kp2d, conf, found = detector(frames)
    backend = build_backend(flow_cfg) if flow_cfg is not None else None
    clip = steps(frames, kp2d, conf, predictor.spec, backend, person_px=contract.person_px)
    bodies = predictor(clip.inputs)
    fit = _refined(bodies, clip.kp2d, clip.visible, clip.occluded, predictor) if refine else None
    bodies = fit[0] if fit else bodies
    kp_image = image_keypoints(bodies.kp2d_crop, clip.to_image)
    agree = agreement(kp_image, kp2d, conf, clip.occluded, clip.boxes, CONF_THRESHOLD, "MediaPipe")
    rendered = ~clip.occluded & drawable(bodies.cam)
    arrays = {
        **_body_arrays(bodies), "kp2d_image": kp_image, "boxes": clip.boxes, "to_image": clip.to_image,
        "occluded": clip.occluded, "visible": clip.visible, "detector_kp2d": kp2d, "detector_conf": conf,
        "detector_found": np.asarray(found, bool), "rendered": rendered,
    }  # fmt: skip
    fps = video_rate / stride
    if stride > 1:
        log.info("%s runs at %.3g fps: every %d. frame is used, %.3g fps like the training clips", video, video_rate,
                 stride, fps)  # fmt: skip
    if contract.fps and abs(fps / contract.fps - 1) > 0.1:
        log.warning("%s runs at %.3g fps, %s was trained on %g fps clips: the motion between frames (and the flow) "
                    "is %.2gx the training one", video, fps, _ckpt_name(ckpt), contract.fps, contract.fps / fps)  # fmt: skip
    meta = {
        "video": str(video), "ckpt": _ckpt_name(ckpt), "inputs": predictor.spec.name, "fps": fps,
        "video_fps": video_rate, "stride": stride,
        "frames": len(frames), "start": start, "image_size": [int(frames.shape[2]), int(frames.shape[1])],
        "detector": getattr(detector, "__name__", type(detector).__name__),
        "flow": flow_cfg.label if flow_cfg is not None else None, "data_contract": contract.to_dict(),
        "conf_threshold": CONF_THRESHOLD, "min_visible": MIN_VISIBLE, "focal_crop_px": FOCAL,
        "units": "joints3d metres (camera frame, root-relative); kp2d_* px; image px of image_size",
        "refine": fit[1] if fit else None,
    }  # fmt: skip
    out = Path(out)
    files = write_bodies(out, arrays, meta, agree)
    if overlay:
        same = overlay_height in (None, frames.shape[1])
        display = frames if same else read_video(video, overlay_height, start, count)[::stride]
        files["overlay"] = write_overlay(out / "overlay.mp4", display, frames.shape[1:3], bodies, clip.to_image,
                                         rendered, predictor.body, fps)  # fmt: skip
    return PredictResult(out, files, len(frames), int(clip.occluded.sum()), agree)


def predict_keypoints(
    ckpt,
    keypoints: str | Path,
    out: str | Path,
    *,
    device: str = "auto",
    layout: str | None = None,
    max_frames: int | None = None,
    refine: bool = False,
) -> PredictResult:
    """Predict bodies from a keypoint file alone, for an ``inputs=kp`` checkpoint.

    Visibility uses :data:`motionhmr.keypoint_files.CONF_THRESHOLD` (OpenPose-style scores),
    boxes :func:`motionhmr.realvideo.detector_boxes` in the file's image size, and the
    network input :func:`motionhmr.realvideo.compact_inputs` (keypoints + indicator).
    """
    from motionhmr import keypoint_files
    from motionhmr.contract import of_checkpoint
    from motionhmr.realvideo import compact_inputs, detector_boxes, undo_swaps
    from synth.crops import to_crop

    spec, contract = of_checkpoint(ckpt)
    if spec.parts != ("kp",):
        raise InputError(
            f"--keypoints needs an inputs=kp checkpoint; {_ckpt_name(ckpt)} was trained on inputs={spec.name}, "
            f"which needs the video frames ({'+'.join(p for p in spec.parts if p != 'kp')}): give the video instead"
        )
    track = keypoint_files.read_keypoints(keypoints, layout)
    kp, conf = track.kp, track.conf
    if max_frames is not None:
        kp, conf = kp[:max_frames], conf[:max_frames]
    if len(kp) < 2:
        raise InputError(f"{keypoints} holds {len(kp)} frame(s); a track needs >= 2")
    kp, conf, _ = undo_swaps(kp, conf, keypoint_files.CONF_THRESHOLD)  # as steps() does for video
    visible = (conf > keypoint_files.CONF_THRESHOLD) & np.isfinite(kp).all(-1)
    occluded = visible.sum(1) < MIN_VISIBLE
    visible[occluded] = False
    width, height = track.image_size
    boxes = detector_boxes(kp, visible, occluded, (height, width), contract.person_px)
    kp_crop = to_crop(kp, boxes)
    inputs = compact_inputs(spec, occluded, kp2d=kp_crop, visible=visible)
    predictor = _predictor(ckpt, device, contract)
    bodies = predictor(inputs)
    fit = _refined(bodies, kp_crop, visible, occluded, predictor) if refine else None
    bodies = fit[0] if fit else bodies
    to_image = crop_to_image_affines(boxes)
    kp_image = image_keypoints(bodies.kp2d_crop, to_image)
    agree = agreement(kp_image, kp, conf, occluded, boxes, keypoint_files.CONF_THRESHOLD, "the keypoint file")
    arrays = {
        **_body_arrays(bodies), "kp2d_image": kp_image, "boxes": boxes, "to_image": to_image,
        "occluded": occluded, "visible": visible, "detector_kp2d": kp, "detector_conf": conf,
    }  # fmt: skip
    meta = {
        "keypoints": str(keypoints), "layout": track.layout, "ckpt": _ckpt_name(ckpt), "inputs": spec.name,
        "frames": len(kp), "image_size": [width, height], "conf_threshold": keypoint_files.CONF_THRESHOLD,
        "min_visible": MIN_VISIBLE, "data_contract": contract.to_dict(),
        "units": "joints3d metres (camera frame, root-relative); kp2d_* px; image px of image_size",
        "refine": fit[1] if fit else None,
    }  # fmt: skip
    files = write_bodies(Path(out), arrays, meta, agree)
    return PredictResult(Path(out), files, len(kp), int(occluded.sum()), agree)


# -- geometry --------------------------------------------------------------------------------
def image_keypoints(kp2d_crop: np.ndarray, to_image: np.ndarray) -> np.ndarray:
    """Crop px ``[N, K, 2]`` -> image px through per-frame affines ``[N, 2, 3]``."""
    kp2d_crop, to_image = np.asarray(kp2d_crop, np.float64), np.asarray(to_image, np.float64)
    if kp2d_crop.ndim != 3 or kp2d_crop.shape[-1] != 2 or to_image.shape != (len(kp2d_crop), 2, 3):
        raise InputError(f"need points [N, K, 2] and affines [N, 2, 3]; got {kp2d_crop.shape} and {to_image.shape}")
    return (np.einsum("nij,nkj->nki", to_image[:, :, :2], kp2d_crop) + to_image[:, None, :, 2]).astype(np.float32)


def crop_to_image_affines(boxes: np.ndarray) -> np.ndarray:
    """float32 ``[N, 2, 3]``: crop px -> image px of boxes ``[N, 3]``, the exact inverse of
    :func:`synth.crops.box_affine` (``x_img = x_crop * side / 224 + cx - 111.5 * side / 224``)."""
    boxes = np.asarray(boxes, np.float64)
    k = boxes[:, 2] / CROP
    out = np.zeros((len(boxes), 2, 3))
    out[:, 0, 0] = out[:, 1, 1] = k
    out[:, 0, 2] = boxes[:, 0] - (CROP - 1) / 2 * k
    out[:, 1, 2] = boxes[:, 1] - (CROP - 1) / 2 * k
    return out.astype(np.float32)


def drawable(cam: np.ndarray) -> np.ndarray:
    """bool ``[N]``: weak-perspective cameras with a perspective equivalent (finite, s > 0)."""
    cam = np.asarray(cam)
    return np.isfinite(cam).all(-1) & (cam[:, 0] > 1e-6)


def perspective_camera(
    cam: np.ndarray,
    to_image: np.ndarray,
    width: int,
    height: int,
    display: np.ndarray | None = None,
    focal: float = FOCAL,
    depth: float = RENDER_DEPTH,
):
    """The perspective equivalent of one weak-perspective camera (module docstring).

    ``cam`` ``[3]`` (s, tx, ty); ``to_image`` ``[2, 3]`` crop px -> image px; ``display``
    ``[2, 3]`` image px -> display px (None: identity); ``width`` x ``height`` the display.
    Returns ``(camera, scale)``: a :class:`synth.cameras.Camera` (R = I) whose ``t`` places a
    root-relative mesh scaled by ``scale`` (vertices ``* scale`` are its world points).
    """
    from synth.cameras import Camera

    s, tx, ty = (float(v) for v in cam)
    if not s > 0:
        raise InputError(f"weak-perspective scale s={s} has no perspective equivalent")
    z = 2.0 * focal / (CROP * s)
    centre = (CROP - 1) / 2  # normalised 0 is crop px 111.5 (motionhmr.losses.normalised_to_px)
    k_crop = np.array([[focal, 0.0, centre], [0.0, focal, centre], [0.0, 0.0, 1.0]])
    k = _homogeneous(to_image) @ k_crop
    if display is not None:
        k = _homogeneous(display) @ k
    scale = depth / z
    camera = Camera(k, np.eye(3), scale * np.array([tx, ty, z]), int(width), int(height))
    return camera, scale


def resize_affine(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> np.ndarray:
    """``[2, 3]`` px of a frame of ``src_hw`` -> px of the same frame resized to ``dst_hw``
    (pixel centres on integers, as cv2 and the decoders resize)."""
    ky, kx = dst_hw[0] / src_hw[0], dst_hw[1] / src_hw[1]
    return np.array([[kx, 0.0, (kx - 1) / 2], [0.0, ky, (ky - 1) / 2]])


def _homogeneous(affine: np.ndarray) -> np.ndarray:
    return np.vstack([np.asarray(affine, np.float64), [0.0, 0.0, 1.0]])


# -- agreement -------------------------------------------------------------------------------
def agreement(
    kp2d_image: np.ndarray,
    reference: np.ndarray,
    conf: np.ndarray,
    occluded: np.ndarray,
    boxes: np.ndarray,
    threshold: float = CONF_THRESHOLD,
    name: str = "MediaPipe",
) -> dict:
    """Median px distance between projected joints and a 2D detector's (module docstring).

    ``kp2d_image``, ``reference`` ``[N, 14, 2]`` image px; ``conf`` ``[N, 14]``; ``occluded``
    ``[N]``; ``boxes`` ``[N, 3]`` (their side normalises). Returns a JSON-ready dict:
    ``median_px``, ``median_box``, ``median_px_limbs`` (the 12 heatmap joints), ``mean_px``,
    ``p90_px``, ``per_joint_median_px``, ``joints``, ``frames``, and
    ``constant_pose_median_px``, the median of a pose-blind guess (the reference's mean pose
    in crop px placed in each box: what the box alone explains); medians None when no joint
    qualifies.
    """
    pred, ref = np.asarray(kp2d_image, np.float64), np.asarray(reference, np.float64)
    conf = np.nan_to_num(np.asarray(conf, np.float64), nan=0.0)
    use = (conf > threshold) & np.isfinite(ref).all(-1) & np.isfinite(pred).all(-1)
    use &= ~np.asarray(occluded, bool)[:, None]
    dist = np.linalg.norm(np.nan_to_num(pred - ref), axis=-1)
    rel = dist / np.asarray(boxes, np.float64)[:, 2:3]
    out = {"reference": name, "threshold": float(threshold), "joints": int(use.sum()), "frames": int(use.any(1).sum())}
    out.update(_stats(dist[use], rel[use], dist[:, :12][use[:, :12]]))
    out["constant_pose_median_px"] = _constant_pose(ref, use, boxes)
    out["per_joint_median_px"] = {
        j: (float(np.median(dist[use[:, i], i])) if use[:, i].any() else None) for i, j in enumerate(EVAL_JOINTS)
    }
    return out


def _constant_pose(ref: np.ndarray, use: np.ndarray, boxes: np.ndarray) -> float | None:
    """The median for a pose-blind guess: the reference's mean crop-px pose of each joint,
    put in every frame's box. The boxes come from the same keypoints, so this is what the
    box alone gives; a model that sees the pose should beat it."""
    from synth.crops import to_crop

    if not use.any():
        return None
    boxes = np.asarray(boxes, np.float32)
    crop = to_crop(np.nan_to_num(ref).astype(np.float32), boxes).astype(np.float64)
    counts = use.sum(0)
    mean = (crop * use[..., None]).sum(0) / np.maximum(counts, 1)[:, None]
    guess = image_keypoints(np.broadcast_to(mean, crop.shape), crop_to_image_affines(boxes))
    return float(np.median(np.linalg.norm(guess - ref, axis=-1)[use]))


def _stats(dist: np.ndarray, rel: np.ndarray, limbs: np.ndarray) -> dict:
    if dist.size == 0:
        return dict.fromkeys(("median_px", "median_box", "median_px_limbs", "mean_px", "p90_px"))
    return {
        "median_px": float(np.median(dist)), "median_box": float(np.median(rel)),
        "median_px_limbs": float(np.median(limbs)) if limbs.size else None,
        "mean_px": float(dist.mean()), "p90_px": float(np.percentile(dist, 90)),
    }  # fmt: skip


# -- outputs ---------------------------------------------------------------------------------
def write_bodies(out: Path, arrays: dict[str, np.ndarray], meta: dict, agree: dict) -> dict[str, Path]:
    """``out/bodies.npz`` (the arrays) and ``out/bodies.json`` (arrays as lists, NaN -> null,
    plus ``meta`` and ``agreement``)."""
    out.mkdir(parents=True, exist_ok=True)
    npz, js = out / "bodies.npz", out / "bodies.json"
    np.savez_compressed(npz, **arrays)
    doc = {"meta": meta, "agreement": agree, **{k: _listed(v) for k, v in arrays.items()}}
    js.write_text(json.dumps(doc, allow_nan=False))
    return {"npz": npz, "json": js}


def _listed(arr: np.ndarray):
    arr = np.asarray(arr)
    if arr.dtype.kind != "f":
        return arr.tolist()
    rounded = np.round(arr.astype(np.float64), 5)
    return _nan_to_none(rounded.tolist())


def _nan_to_none(x):
    if isinstance(x, list):
        return [_nan_to_none(v) for v in x]
    return None if x != x or x in (float("inf"), float("-inf")) else x


def write_overlay(
    path: Path,
    display: np.ndarray,
    image_hw: tuple[int, int],
    bodies,
    to_image: np.ndarray,
    rendered: np.ndarray,
    body,
    fps: float,
) -> Path:
    """The side-by-side overlay video (module docstring); returns ``path``.

    ``display`` uint8 ``[N, h, w, 3]``: the frames to draw on (any size; ``image_hw`` is
    the size the image px of ``to_image`` refer to). One :class:`synth.render.Renderer` at
    the (even-sized) panel size renders both views.
    """
    from synth.preview import write_video

    panels = overlay_frames(display, image_hw, bodies, to_image, rendered, body)
    return write_video(Path(path), panels, fps)


def overlay_frames(display, image_hw, bodies, to_image, rendered, body) -> np.ndarray:
    """uint8 ``[N, H, 2 W, 3]``: left the display frames with the mesh, right the side view
    (``H``, ``W`` the display size rounded up to even numbers, for H.264)."""
    import torch

    from synth.cameras import Camera
    from synth.render import Renderer

    n, h, w = display.shape[:3]
    hp, wp = h + h % 2, w + w % 2
    left = np.zeros((n, hp, wp, 3), np.uint8)
    left[:, :h, :w] = display
    right = np.empty_like(left)
    right[:] = SIDE_BACKGROUND
    todo = np.flatnonzero(rendered)
    if todo.size:
        faces = body.faces.cpu().numpy()
        to_display = resize_affine(tuple(image_hw), (h, w))
        side_f = SIDE_FILL * hp * SIDE_DEPTH / 2.0
        side_cam = Camera(np.array([[side_f, 0, (wp - 1) / 2], [0, side_f, (hp - 1) / 2], [0, 0, 1]]),
                          np.eye(3), np.zeros(3), wp, hp)  # fmt: skip
        turn = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # 90 deg about camera y
        renderer = Renderer(wp, hp)
        try:
            for a in range(0, todo.size, RENDER_CHUNK):
                idx = todo[a : a + RENDER_CHUNK]
                sub = type(bodies)(**{f.name: getattr(bodies, f.name)[idx] for f in dataclasses.fields(bodies)})
                with torch.no_grad():
                    verts = sub.vertices(body)
                colors = np.tile(np.asarray(MESH_COLOR, np.uint8), (verts.shape[1], 1))
                cams, scales = zip(*(perspective_camera(bodies.cam[i], to_image[i], wp, hp, to_display) for i in idx))
                front = renderer.render(verts * np.asarray(scales)[:, None, None], faces, colors,
                                        np.zeros((len(idx), 1, 3)), list(cams), _LIGHTING)  # fmt: skip
                left[idx] = _blend(left[idx], front.rgba)
                side = renderer.render(verts @ turn.T + [0.0, 0.0, SIDE_DEPTH], faces, colors,
                                       np.zeros((len(idx), 1, 3)), side_cam, _LIGHTING)  # fmt: skip
                right[idx] = _blend(right[idx], side.rgba, opacity=1.0)
        finally:
            renderer.close()
    _label(left, "video + mesh")
    _label(right, "side view")
    return np.concatenate([left, right], axis=2)


# Light mostly along the viewing direction (camera frame: y down, z forward), so the
# surfaces facing the camera are lit in both views.
_LIGHTING = SimpleNamespace(
    ambient=(0.4, 0.4, 0.4),
    lights=[SimpleNamespace(direction=(0.2, 0.5, 1.0), color=(1.0, 1.0, 1.0), intensity=3.0)],
)


def _blend(frames: np.ndarray, rgba: np.ndarray, opacity: float = MESH_OPACITY) -> np.ndarray:
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0 * opacity
    return (rgba[..., :3] * alpha + frames * (1 - alpha)).round().astype(np.uint8)


def _label(frames: np.ndarray, text: str) -> None:
    import cv2

    for f in frames:  # dark outline first: readable on bright sky and on grey
        cv2.putText(f, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(f, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)


# -- helpers ---------------------------------------------------------------------------------
def _refined(bodies, kp_crop, visible, occluded, predictor):  # also eval data=multiview refine=true
    """``(bodies fitted to the keypoints, a dict for meta)`` (:mod:`motionhmr.refine`)."""
    import dataclasses

    from motionhmr.refine import fit_to_keypoints

    use = np.asarray(visible, bool) & ~np.asarray(occluded, bool)[:, None]
    fitted, report = fit_to_keypoints(bodies, kp_crop, use, predictor.loss_fn)
    log.info("refine: the bodies' limb keypoints moved from %.1f to %.1f px (median, crop) of the detections",
             report.before_px, report.after_px)  # fmt: skip
    return fitted, dataclasses.asdict(report)


def _predictor(ckpt, device: str, contract=None):
    from motionhmr.inference import Predictor

    if isinstance(ckpt, (str, Path)):
        return Predictor.from_checkpoint(ckpt, device, contract=contract)
    return ckpt


def _ckpt_name(ckpt) -> str:
    return str(ckpt) if isinstance(ckpt, (str, Path)) else type(ckpt).__name__


def _body_arrays(bodies) -> dict[str, np.ndarray]:
    return {f.name: np.asarray(getattr(bodies, f.name), np.float32) for f in dataclasses.fields(bodies)}


def _frame_count(video: Path, start: int, max_frames: int | None) -> int:
    from synth.backgrounds import BadVideo, probe_video

    try:
        total = probe_video(video).num_frames
    except BadVideo as bad:
        raise InputError(f"cannot read video {video}: {bad}") from None
    if not 0 <= start < total - 1:
        raise InputError(f"video {video} has {total} frames; cannot start at frame {start} (need >= 2 frames)")
    left = total - start
    return left if max_frames is None else min(left, int(max_frames))


def video_fps(path: str | Path, default: float = 30.0) -> float:
    """The video's average frame rate (PyAV), or ``default`` when it states none."""
    import av

    try:
        with av.open(str(path)) as container:
            rate = container.streams.video[0].average_rate
        return float(rate) if rate else default
    except Exception:  # noqa: BLE001 - an unreadable rate is not worth failing a prediction
        return default
