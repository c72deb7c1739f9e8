"""AMASS motion files (.npz, SMPL-H body) -> :class:`~synth.motion.clip.MotionClip`.

Contract
    ``load_amass(path, body, *, name=None) -> MotionClip``
        ``path`` an AMASS ``.npz`` holding ``poses`` ``[T, 156]`` (SMPL-H axis-angle: root,
        21 body joints, 30 hand joints; any ``[T, 3K]`` with K >= 22 is accepted and only
        the first 22 joints are kept), ``trans`` ``[T, 3]`` metres, ``betas`` ``[S]`` and
        ``mocap_framerate`` (or ``mocap_frame_rate``); ``gender`` is not read: the caller
        chose ``body``.
        ``body`` anything with ``rest_joints(betas) -> [22, 3]``: the shaped body's rest
        joints in SMPL model coordinates, metres (SMPL's model frame is the suite frame).
        The clip is on the SMPL skeleton of :mod:`synth.motion.smpl_skeleton`, in the
        suite frame (Y up), ``fps`` the mocap frame rate.

What the clip holds
    AMASS's world is Z up. The SMPL model is placed in it as is (its model frame is
    Y up), and every frame's root orientation carries the turn that stands the body up.
    The loader instead builds the clip so that its rest pose is SMPL's own, standing,
    facing +Z in the suite frame:
    ``offsets`` are the rest-joint differences, ``rotations[:, 1:]`` are the file's body
    pose rotations unchanged (exactly SMPL ``body_pose``), ``rotations[:, 0]`` is the root
    orientation in suite axes (``AMASS_TO_SUITE @ R_root``, SMPL ``global_orient``), and
    ``root_positions`` are the pelvis, ``AMASS_TO_SUITE @ (trans + J_0(betas))``.
    Forward kinematics of the clip equal SMPL's joints for the file, in suite axes.

Errors
    A missing or unreadable file, a missing key, a wrong shape or a non-finite value raises
    :class:`~synth.errors.InputError` with one line naming the file and the problem.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Protocol

import numpy as np

from synth.errors import InputError
from synth.motion import smpl_skeleton
from synth.motion.clip import MotionClip

#: ``x_suite = AMASS_TO_SUITE @ x_amass``: AMASS (Z up) to the suite frame (Y up).
AMASS_TO_SUITE: np.ndarray = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])

_FRAME_RATE_KEYS = ("mocap_framerate", "mocap_frame_rate")


class RestJoints(Protocol):
    def rest_joints(self, betas: np.ndarray) -> np.ndarray: ...


def load_amass(path: str | Path, body: RestJoints, *, name: str | None = None) -> MotionClip:
    """Load an AMASS ``.npz`` as a MotionClip on the SMPL body skeleton (module docstring)."""
    path = Path(path)
    poses, trans, betas, fps = _read_amass(path)
    j = smpl_skeleton.NUM_JOINTS
    rest = np.asarray(body.rest_joints(betas), np.float64)
    if rest.shape != (j, 3):
        raise ValueError(f"body.rest_joints must return [{j}, 3], got {rest.shape}")

    local = _rotvec_to_rotmat(poses[:, : 3 * j].reshape(-1, j, 3))
    b = AMASS_TO_SUITE
    # Built in AMASS axes, then change_basis. The rest skeleton is stood up in AMASS axes
    # (SMPL's +Y turned to AMASS +Z, offsets B^T d) and the file's rotations are
    # re-expressed against that rest: the root as R_root @ B, the others as B^T R B. After
    # change_basis(B) the offsets are SMPL's own, the body rotations the file's, the root
    # B @ R_root: the same forward kinematics as SMPL in AMASS, with an upright rest pose.
    offsets = _offsets(rest, smpl_skeleton.PARENTS)
    rotations = b.T @ local @ b
    rotations[:, 0] = local[:, 0] @ b
    # SMPL turns the root about J_0 and then adds trans, so the pelvis is J_0 + trans. J_0
    # is in SMPL model coordinates, which AMASS uses unchanged as its world coordinates.
    root_positions = trans + rest[0]

    amass_axes = MotionClip(
        name=name if name is not None else path.stem,
        fps=fps,
        joint_names=smpl_skeleton.NAMES,
        parents=smpl_skeleton.PARENTS,
        offsets=(offsets @ b).astype(np.float32),  # rows: B^T d
        rotations=rotations.astype(np.float32),
        root_positions=root_positions.astype(np.float32),
        canonical=dict(smpl_skeleton.CANONICAL),
        source=str(path),
    )
    return amass_axes.change_basis(b)


def _read_amass(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``poses [T, 3K]``, ``trans [T, 3]``, ``betas [S]`` (float64) and the frame rate."""
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: no such AMASS file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: cannot read as an AMASS .npz ({_one_line(e)})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InputError(f"{path}: not an AMASS .npz archive (a single .npy array)")

    with archive:
        keys = set(archive.files)
        rate_key = next((k for k in _FRAME_RATE_KEYS if k in keys), None)
        missing = [k for k in ("poses", "trans", "betas") if k not in keys]
        if rate_key is None:
            missing.append(" or ".join(_FRAME_RATE_KEYS))
        if missing:
            raise InputError(
                f"{path}: not an AMASS motion file, missing {', '.join(missing)} "
                f"(has {', '.join(sorted(keys)) or 'no arrays'})"
            )
        poses, trans, betas, rate = (
            _array(path, archive, k) for k in ("poses", "trans", "betas", rate_key)
        )

    j = smpl_skeleton.NUM_JOINTS
    if poses.ndim != 2 or poses.shape[1] < 3 * j or poses.shape[1] % 3 or len(poses) == 0:
        raise InputError(
            f"{path}: poses must be [T, 3K] axis-angle with T >= 1 and K >= {j} "
            f"(AMASS SMPL-H is [T, 156]), got {list(poses.shape)}"
        )
    if trans.shape != (len(poses), 3):
        raise InputError(
            f"{path}: trans must be [{len(poses)}, 3] like poses, got {list(trans.shape)}"
        )
    if rate.size != 1 or not float(rate.reshape(-1)[0]) > 0:
        raise InputError(f"{path}: {rate_key} must be one positive number, got {rate.tolist()}")
    return poses, trans, betas.reshape(-1), float(rate.reshape(-1)[0])


def _array(path: Path, archive, key: str) -> np.ndarray:
    try:
        value = np.asarray(archive[key], dtype=np.float64)
    except (OSError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: cannot read '{key}' as numbers ({_one_line(e)})") from None
    if not np.isfinite(value).all():
        raise InputError(f"{path}: '{key}' holds NaN or infinite values")
    return value


def _offsets(rest: np.ndarray, parents: tuple[int, ...]) -> np.ndarray:
    """Per-joint offsets from the parent (the root's is its rest position)."""
    parent_pos = np.array([rest[p] if p >= 0 else np.zeros(3) for p in parents])
    return rest - parent_pos


def _rotvec_to_rotmat(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues' formula, ``[..., 3]`` axis-angle (radians) -> ``[..., 3, 3]``."""
    theta = np.linalg.norm(rotvec, axis=-1)[..., None, None]
    x, y, z = np.moveaxis(rotvec, -1, 0)
    zero = np.zeros_like(x)
    skew = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1)
    skew = skew.reshape(rotvec.shape[:-1] + (3, 3))
    # R = I + sin(t)/t K + (1 - cos t)/t^2 K^2 with K the unnormalised skew matrix; the
    # series keeps tiny angles (identity poses are common) free of 0/0.
    small = theta < 1e-6
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1.0 - theta**2 / 6.0, np.sin(safe) / safe)
    b = np.where(small, 0.5 - theta**2 / 24.0, (1.0 - np.cos(safe)) / safe**2)
    return np.eye(3) + a * skew + b * (skew @ skew)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
