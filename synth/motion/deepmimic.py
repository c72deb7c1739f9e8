"""The embedded motion source: the 15 DeepMimic humanoid clips shipped in PyPI ``pybullet``.

They are mocap-derived reference motions (zlib licence) for a 13-joint humanoid. Each file
is JSON: ``{"Loop": ..., "Frames": [[44 numbers], ...]}``, a frame being

    duration, root position (3), root quaternion (w, x, y, z),
    chest (4), neck (4), right hip (4), right knee (1), right ankle (4),
    right shoulder (4), right elbow (1), left hip (4), left knee (1), left ankle (4),
    left shoulder (4), left elbow (1)

Quaternions are local (world-aligned, rest = arms hanging down); knees and elbows are one
angle about the local z axis. The humanoid is Y up and faces +X with its right side at +Z;
the loader converts to the suite frame (faces +Z, left = +X). Bone offsets are those of
pybullet's ``humanoid/humanoid.urdf`` at its 0.25 load scale, in metres.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import roma
import torch

from synth.errors import InputError
from synth.motion.clip import MotionClip

CLIPS = (
    "walk", "run", "jump", "kick", "punch", "spinkick", "spin", "cartwheel", "crawl", "roll",
    "dance_a", "dance_b", "getup_faceup", "getup_facedown", "backflip",
)  # fmt: skip

# name, parent, offset in DeepMimic axes (metres), frame layout: "q" quaternion, "a" angle.
_JOINTS = (
    ("root", -1, (0.0, 0.0, 0.0), "q"),
    ("chest", 0, (0.0, 0.236151, 0.0), "q"),
    ("neck", 1, (0.0, 0.223894, 0.0), "q"),
    ("right_hip", 0, (0.0, 0.0, 0.084887), "q"),
    ("right_knee", 3, (0.0, -0.421546, 0.0), "a"),
    ("right_ankle", 4, (0.0, -0.40987, 0.0), "q"),
    ("right_shoulder", 1, (-0.02405, 0.2435, 0.18311), "q"),
    ("right_elbow", 6, (0.0, -0.274788, 0.0), "a"),
    ("left_hip", 0, (0.0, 0.0, -0.084887), "q"),
    ("left_knee", 8, (0.0, -0.421546, 0.0), "a"),
    ("left_ankle", 9, (0.0, -0.40987, 0.0), "q"),
    ("left_shoulder", 1, (-0.02405, 0.2435, -0.18311), "q"),
    ("left_elbow", 11, (0.0, -0.274788, 0.0), "a"),
    # Fixed wrists carry no data; they give the forearm a direction for retargeting.
    ("right_wrist", 7, (0.0, -0.258947, 0.0), None),
    ("left_wrist", 12, (0.0, -0.258947, 0.0), None),
)
_FRAME_LEN = 44

CANONICAL = {
    "pelvis": "root", "chest": "chest", "neck": "neck",
    "r_hip": "right_hip", "r_knee": "right_knee", "r_ankle": "right_ankle",
    "r_shoulder": "right_shoulder", "r_elbow": "right_elbow", "r_wrist": "right_wrist",
    "l_hip": "left_hip", "l_knee": "left_knee", "l_ankle": "left_ankle",
    "l_shoulder": "left_shoulder", "l_elbow": "left_elbow", "l_wrist": "left_wrist",
}  # fmt: skip

#: x_suite = DEEPMIMIC_TO_SUITE @ x_deepmimic: forward +X -> +Z, right +Z -> -X.
DEEPMIMIC_TO_SUITE = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def motions_dir() -> Path:
    try:
        import pybullet_data
    except ImportError as e:  # pragma: no cover - pybullet is a core dependency
        raise InputError("the embedded DeepMimic clips need pybullet: pip install pybullet==3.2.7") from e
    return Path(pybullet_data.getDataPath()) / "data" / "motions"


def clip_path(name: str) -> Path:
    if name not in CLIPS:
        raise InputError(f"unknown DeepMimic clip {name!r}; known clips: {', '.join(CLIPS)}")
    return motions_dir() / f"humanoid3d_{name}.txt"


def load_deepmimic(name_or_path: str | Path) -> MotionClip:
    """Load a DeepMimic humanoid clip by name (``walk``) or path, in the suite frame."""
    p = Path(name_or_path)
    path = p if p.suffix == ".txt" or p.exists() else clip_path(str(name_or_path))
    frames = _read_frames(path)
    durations = frames[:, 0]
    positive = durations[durations > 0]
    if positive.size == 0:
        raise InputError(f"{path}: every frame has zero duration; cannot infer the frame rate")
    fps = float(1.0 / np.median(positive))

    t = frames.shape[0]
    rot = np.tile(np.eye(3), (t, len(_JOINTS), 1, 1))
    col = 4  # after duration and root position
    for j, (_, _, _, kind) in enumerate(_JOINTS):
        if kind == "q":
            wxyz = frames[:, col : col + 4]
            rot[:, j] = _quat_wxyz_to_rotmat(wxyz)
            col += 4
        elif kind == "a":
            axis_angle = np.zeros((t, 3))
            axis_angle[:, 2] = frames[:, col]
            rot[:, j] = roma.rotvec_to_rotmat(torch.as_tensor(axis_angle)).numpy()
            col += 1
    assert col == _FRAME_LEN, col

    names = tuple(j[0] for j in _JOINTS)
    clip = MotionClip(
        name=path.stem.removeprefix("humanoid3d_"),
        fps=fps,
        joint_names=names,
        parents=tuple(j[1] for j in _JOINTS),
        offsets=np.array([j[2] for j in _JOINTS], np.float32),
        rotations=rot.astype(np.float32),
        root_positions=frames[:, 1:4].astype(np.float32),
        canonical={c: names.index(n) for c, n in CANONICAL.items()},
        source=str(path),
    )
    return clip.change_basis(DEEPMIMIC_TO_SUITE)


def _read_frames(path: Path) -> np.ndarray:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"DeepMimic clip not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a DeepMimic motion file (bad JSON: {e})") from None
    frames = data.get("Frames") if isinstance(data, dict) else None
    if not frames:
        raise InputError(f"{path}: no 'Frames' list; not a DeepMimic motion file")
    try:
        arr = np.asarray(frames, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{path}: frames are not all lists of numbers") from None
    if arr.ndim != 2 or arr.shape[1] != _FRAME_LEN:
        raise InputError(
            f"{path}: expected {_FRAME_LEN} numbers per frame (humanoid3d layout), got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise InputError(f"{path}: frames contain NaN or infinite values")
    return arr


def _quat_wxyz_to_rotmat(wxyz: np.ndarray) -> np.ndarray:
    xyzw = torch.as_tensor(wxyz[:, [1, 2, 3, 0]])
    xyzw = xyzw / xyzw.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return roma.unitquat_to_rotmat(xyzw).numpy()
