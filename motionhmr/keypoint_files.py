"""2D keypoint layouts and the keypoint files ``motionhmr predict --keypoints FILE`` reads.

Layouts (one person per frame, pixel coordinates, confidence 0 = not detected)
    ``coco17``      COCO-17 order ``[N, 17, 3]`` (x, y, conf), from any COCO detector:
                    0 nose, 1 l_eye, 2 r_eye, 3 l_ear, 4 r_ear, 5 l_shoulder,
                    6 r_shoulder, 7 l_elbow, 8 r_elbow, 9 l_wrist, 10 r_wrist, 11 l_hip,
                    12 r_hip, 13 l_knee, 14 r_knee, 15 l_ankle, 16 r_ankle.
    ``openpose18``  OpenPose COCO-18 order ``[N, 18, 3]``: 0 nose, 1 neck, 2 r_shoulder,
                    3 r_elbow, 4 r_wrist, 5 l_shoulder, 6 l_elbow, 7 l_wrist, 8 r_hip,
                    9 r_knee, 10 r_ankle, 11 l_hip, 12 l_knee, 13 l_ankle, 14 r_eye,
                    15 l_eye, 16 r_ear, 17 l_ear.
    ``3dpw``        OpenPose COCO-18 stored as in 3DPW's ``poses2d``: ``[N, 3, 18]``, one
                    row each for x, y and conf.

Mapping to the 14 ``EVAL_JOINTS`` (:func:`to_eval_joints`)
    Limbs map one to one. ``neck`` is OpenPose's own neck; COCO-17 has none, so it is the
    midpoint of the shoulders. ``head`` (SMPL's head joint sits inside the skull, between
    the ears) is the midpoint of the ears when both are detected (confidence above
    :data:`CONF_THRESHOLD`); else the one detected ear (in profile the hidden ear is
    missing, and the seen one is offset from the head centre mostly in depth); else the
    nose (about 10 cm in front of it). A midpoint's confidence is the smaller of its two
    sources'. ``neck`` and ``head`` only count towards visibility and crop boxes: the
    network's heatmaps use the 12 limb keypoints.

Files (:func:`read_keypoints`)
    ``.npz``  ``keypoints`` ``[N, 17, 3]`` or ``[N, 17, 2]`` plus ``scores`` ``[N, 17]``
              (the shape of the layout's points), ``image_size`` ``(W, H)`` pixels,
              optional ``layout`` (a string; default ``coco17``). A frame with no person
              has all confidences 0.
    ``.json`` ``{"image_size": [W, H], "layout": "coco17", "frames": [{"keypoints":
              [[x, y, c], ... 17]}, ...]}``; a ``null`` frame, ``{}`` or ``"keypoints":
              null`` means no person in that frame.
    Coordinates are pixels of the original video frame (x right, y down).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from synth.conventions import EVAL_JOINTS
from synth.errors import InputError

#: A keypoint counts as detected when its confidence exceeds this: HMMR's ``VIS_THRESH``
#: (akanazawa/human_dynamics, src/datasets/3dpw_to_tfrecords_video.py and
#: make_test_tfrecords.py: ``vis = gt2d[:, 2] > vis_thresh``, 0.1 for 3DPW).
CONF_THRESHOLD = 0.1

COCO17: tuple[str, ...] = (
    "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow",
    "r_elbow", "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
)  # fmt: skip
OPENPOSE18: tuple[str, ...] = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)  # fmt: skip

#: layout -> (joint names, True if stored points-last as [N, C, K] like 3DPW's poses2d).
LAYOUTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "coco17": (COCO17, False),
    "openpose18": (OPENPOSE18, False),
    "3dpw": (OPENPOSE18, True),
}
DEFAULT_LAYOUT = "coco17"


@dataclasses.dataclass(frozen=True, eq=False)
class KeypointTrack:
    """One person's 2D keypoints over a video, in EVAL_JOINTS order.

    ``kp`` float32 ``[N, 14, 2]`` pixels of the original frame; ``conf`` float32
    ``[N, 14]`` (0 = not detected); ``image_size`` ``(W, H)`` pixels; ``layout`` the
    source layout."""

    kp: np.ndarray
    conf: np.ndarray
    image_size: tuple[int, int]
    layout: str

    def __len__(self) -> int:
        return int(self.kp.shape[0])

    def visible(self, threshold: float = CONF_THRESHOLD) -> np.ndarray:
        """``[N, 14]`` bool: confidence above ``threshold``."""
        return self.conf > threshold


def check_layout(layout: str) -> str:
    """``layout`` lower-cased, or an InputError naming the known layouts."""
    name = str(layout).lower()
    if name not in LAYOUTS:
        raise InputError(f"keypoint layout {layout!r} is unknown: use one of {', '.join(LAYOUTS)}")
    return name


def to_eval_joints(points: np.ndarray, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """Map ``[N, K, 3]`` (x, y, conf) points of ``layout`` (``[N, 3, K]`` for ``3dpw``) to
    ``(kp [N, 14, 2], conf [N, 14])`` float32 in EVAL_JOINTS order (rules in the module
    docstring)."""
    layout = check_layout(layout)
    names, points_last = LAYOUTS[layout]
    pts = np.asarray(points, dtype=np.float64)
    if points_last and pts.ndim == 3:
        pts = pts.transpose(0, 2, 1)
    if pts.ndim != 3 or pts.shape[1:] != (len(names), 3):
        want = f"[N, 3, {len(names)}]" if points_last else f"[N, {len(names)}, 3]"
        raise ValueError(f"layout {layout} expects points {want}, got shape {list(pts.shape)}")
    return map_to_eval_joints(pts[..., :2], pts[..., 2], names)


def map_to_eval_joints(coords: np.ndarray, conf: np.ndarray, names) -> tuple[np.ndarray, np.ndarray]:
    """The rules of the module docstring on coordinates of any dimension: ``coords``
    ``[N, K, D]`` (D = 2 for image points, 3 for a detector's 3D points) and ``conf`` ``[N, K]``
    of the keypoints ``names`` -> ``([N, 14, D], [N, 14])`` float32 in EVAL_JOINTS order."""
    coords, conf = np.asarray(coords, np.float64), np.asarray(conf, np.float64)
    idx = {n: i for i, n in enumerate(names)}
    out = np.zeros((coords.shape[0], len(EVAL_JOINTS), coords.shape[2]))
    out_conf = np.zeros((coords.shape[0], len(EVAL_JOINTS)))
    for j, name in enumerate(EVAL_JOINTS):
        if name == "head":
            out[:, j], out_conf[:, j] = _head(coords, conf, idx)
        elif name == "neck" and "neck" not in idx:
            out[:, j], out_conf[:, j] = _midpoint(coords, conf, idx["l_shoulder"], idx["r_shoulder"])
        else:
            out[:, j], out_conf[:, j] = coords[:, idx[name]], conf[:, idx[name]]
    return out.astype(np.float32), out_conf.astype(np.float32)


def _midpoint(xy, conf, a: int, b: int):
    return 0.5 * (xy[:, a] + xy[:, b]), np.minimum(conf[:, a], conf[:, b])


def _head(xy, conf, idx):
    """Mid-ears if both ears are detected, else the detected ear, else the nose."""
    left, right, nose = idx["l_ear"], idx["r_ear"], idx["nose"]
    seen_l, seen_r = conf[:, left] > CONF_THRESHOLD, conf[:, right] > CONF_THRESHOLD
    mid_xy, mid_conf = _midpoint(xy, conf, left, right)
    choices = [seen_l & seen_r, seen_l, seen_r]
    head_xy = np.select([c[:, None] for c in choices], [mid_xy, xy[:, left], xy[:, right]], xy[:, nose])
    head_conf = np.select(choices, [mid_conf, conf[:, left], conf[:, right]], conf[:, nose])
    return head_xy, head_conf


# -- files -------------------------------------------------------------------------------


def read_keypoints(path: str | Path, layout: str | None = None) -> KeypointTrack:
    """Read a ``.npz`` or ``.json`` keypoint file (formats in the module docstring).

    ``layout`` overrides the default ``coco17`` when the file names none; a file that
    names a different one is an error. Raises :class:`InputError` with a one-line message
    for every malformed case.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"keypoint file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        raw = _read_npz(path)
    elif suffix == ".json":
        raw = _read_json(path)
    else:
        raise InputError(f"{path}: expected a .npz or .json keypoint file, got {suffix or 'no suffix'}")
    chosen = _resolve_layout(path, raw.get("layout"), layout)
    points = _points(path, raw, chosen)
    if points.shape[0] == 0:
        raise InputError(f"{path} holds no frames")
    kp, conf = to_eval_joints(points, chosen)
    return KeypointTrack(kp=kp, conf=conf, image_size=_image_size(path, raw), layout=chosen)


def _read_npz(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as npz:
            raw = {k: npz[k] for k in npz.files}
    except Exception as e:  # a user's file that numpy cannot read is an input problem
        raise InputError(f"{path} could not be read as .npz ({_one_line(e)})") from None
    if "layout" in raw:
        raw["layout"] = str(raw["layout"].item()) if raw["layout"].size == 1 else raw["layout"]
    return raw


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path} is not valid JSON ({_one_line(e)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise InputError(f'{path} must hold an object with a "frames" list')
    return data


def _resolve_layout(path: Path, in_file, asked: str | None) -> str:
    if in_file is not None and not isinstance(in_file, str):
        raise InputError(f"{path}: layout must be a string, got {in_file!r}")
    if in_file is not None and asked is not None and check_layout(in_file) != check_layout(asked):
        raise InputError(f"{path} says layout {in_file!r} but layout {asked!r} was asked for")
    return check_layout(in_file or asked or DEFAULT_LAYOUT)


def _points(path: Path, raw: dict, layout: str) -> np.ndarray:
    """``[N, K, 3]`` (or ``[N, 3, K]`` for points-last layouts) float64, checked."""
    names, points_last = LAYOUTS[layout]
    k = len(names)
    if "frames" in raw:
        pts = _json_points(path, raw["frames"], k, points_last)
    else:
        pts = _npz_points(path, raw, k, points_last)
    if not np.isfinite(pts).all():
        bad = int(np.nonzero(~np.isfinite(pts).reshape(len(pts), -1).all(axis=1))[0][0])
        raise InputError(
            f"{path}: keypoints hold non-finite values (frame {bad}); "
            f"mark an undetected joint or frame with confidence 0, not NaN"
        )
    return pts


def _expected(k: int, points_last: bool, channels: int = 3) -> tuple[int, int]:
    return (channels, k) if points_last else (k, channels)


def _npz_points(path: Path, raw: dict, k: int, points_last: bool) -> np.ndarray:
    if "keypoints" not in raw:
        raise InputError(f"{path} lacks 'keypoints' (an [N, {k}, 3] array)")
    kp = np.asarray(raw["keypoints"])
    if kp.dtype.kind not in "fiu":
        raise InputError(f"{path}: keypoints must be numbers, got dtype {kp.dtype}")
    kp = kp.astype(np.float64)
    full, xy_only = _expected(k, points_last), _expected(k, points_last, channels=2)
    shape_hint = f"expected [N, {full[0]}, {full[1]}] (or [N, {xy_only[0]}, {xy_only[1]}] with scores)"
    if kp.ndim == 3 and kp.shape[1:] == full:
        if "scores" in raw:
            raise InputError(f"{path} has both confidences in keypoints and a 'scores' array")
        return kp
    if kp.ndim == 3 and kp.shape[1:] == xy_only:
        if "scores" not in raw:
            raise InputError(
                f"{path}: keypoints are [N, {xy_only[0]}, {xy_only[1]}] so 'scores' [N, {k}] is needed"
            )
        scores = np.asarray(raw["scores"])
        if scores.dtype.kind not in "fiu" or scores.shape != (kp.shape[0], k):
            raise InputError(f"{path}: scores has shape {list(scores.shape)}, expected [{kp.shape[0]}, {k}]")
        axis = 1 if points_last else 2
        return np.concatenate([kp, np.expand_dims(scores.astype(np.float64), axis)], axis=axis)
    raise InputError(f"{path}: keypoints has shape {list(kp.shape)}, {shape_hint}")


def _json_points(path: Path, frames: list, k: int, points_last: bool) -> np.ndarray:
    shape = _expected(k, points_last)
    out = np.zeros((len(frames), *shape))
    for i, frame in enumerate(frames):
        if frame is None:
            continue
        if not isinstance(frame, dict):
            raise InputError(f'{path}: frame {i} must be an object with "keypoints" or null')
        kp = frame.get("keypoints")
        if kp is None:
            continue
        try:
            arr = np.asarray(kp, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(
                f"{path}: frame {i} keypoints are not a {shape[0]}x{shape[1]} list of numbers"
            ) from None
        if arr.shape != shape:
            raise InputError(
                f"{path}: frame {i} keypoints have shape {list(arr.shape)}, expected {list(shape)}"
            )
        out[i] = arr
    return out


def _image_size(path: Path, raw: dict) -> tuple[int, int]:
    if "image_size" not in raw or raw["image_size"] is None:
        raise InputError(f"{path} lacks image_size: give [width, height] of the video frames in pixels")
    try:
        size = np.asarray(raw["image_size"], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        size = np.zeros(0)
    if size.shape != (2,) or not np.isfinite(size).all() or (size <= 0).any() or (size % 1).any():
        raise InputError(
            f"{path}: image_size must be two positive integers [width, height], got {raw['image_size']!r}"
        )
    return int(size[0]), int(size[1])


def _one_line(e: object) -> str:
    return " ".join(str(e).split())
