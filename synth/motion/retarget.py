"""Retargeting: a source :class:`MotionClip` onto a body's own skeleton.

Method (copy world-frame rotation deltas, then fix the rest pose): with every skeleton
in world-aligned local-ref form, a source joint's world rotation ``G_S`` is the rotation
that takes its rest bone to the animated bone. The target joint of the same canonical
name gets ``G_T = G_S @ C``, where ``C`` is the smallest rotation taking the target's rest
bone direction onto the source's (arms-down vs T-pose vs A-pose, splayed legs, ...).
Target joints with no source twin keep identity local rotations, so they ride with their
parent. The root trajectory is scaled by the ratio of leg lengths and put on the ground.

No library does this for arbitrary skeleton pairs with differing rest poses (SMPL-only
retargeters assume SMPL on one side), so it is written here; it is ~60 lines of torch.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import roma
import torch

from synth.bodies.base import BodyModel
from synth.conventions import BONE_CHILD
from synth.motion.body_motion import BodyMotion
from synth.motion.clip import MotionClip

_FOOT_JOINTS = ("l_ankle", "r_ankle", "l_toe", "r_toe")


def retarget(
    clip: MotionClip,
    body: BodyModel,
    shape: torch.Tensor | None = None,
    ground_with_mesh: bool = True,
) -> BodyMotion:
    """Map ``clip`` onto ``body`` (shape ``[S]``, default shape if None).

    The result stands on the ground plane y = 0. First the foot joints at the clip's
    typical contact height are put at the target's rest height of those joints above its
    soles (cheap, from the skeletons alone); then, with ``ground_with_mesh``, the posed
    mesh refines the offset (see :func:`ground_on_mesh`).
    """
    shape = body.default_shape(1)[0] if shape is None else shape
    clip = level_floor(clip)
    rest = body.rest(shape[None])
    rest_joints = rest.joints[0].double()
    skel = body.skeleton

    src_rest = torch.as_tensor(clip.rest_positions())
    src_glob = torch.as_tensor(clip.global_rotations(), dtype=torch.float64)
    t = clip.num_frames
    eye = torch.eye(3, dtype=torch.float64)

    by_index = {i: c for c, i in skel.canonical.items()}
    glob = [None] * skel.num_joints
    for j, parent in enumerate(skel.parents):
        name = by_index.get(j)
        if name is not None and name in clip.canonical:
            corr = _rest_correction(name, rest_joints, skel.canonical, src_rest, clip.canonical)
            glob[j] = src_glob[:, clip.canonical[name]] @ corr
        elif parent < 0:
            glob[j] = eye.expand(t, 3, 3)
        else:
            glob[j] = glob[parent]
    glob_t = torch.stack(glob, dim=1)  # [T, J, 3, 3]
    parents = torch.tensor([max(p, 0) for p in skel.parents])
    local = glob_t[:, parents].transpose(-1, -2) @ glob_t
    local[:, 0] = glob_t[:, 0]

    transl = _root_trajectory(clip, body, rest, skel.canonical)
    motion = BodyMotion(
        name=clip.name,
        fps=clip.fps,
        pose=local[:, 1:].float(),
        global_orient=glob_t[:, 0].float(),
        transl=transl.float(),
        shape=shape.float(),
    )
    return ground_on_mesh(motion, body) if ground_with_mesh else motion


def level_floor(clip: MotionClip, max_tilt_deg: float = 8.0) -> MotionClip:
    """Rotate the clip so the floor its planted feet touch is horizontal.

    Mocap floors are often a degree or so off level (CMU 02_01 rises 4.5 cm over 2.6 m),
    which no single vertical offset can fix. Fits ``y = a x + b z + c`` to the positions of
    planted feet (slow and low) and rotates the root so that plane's normal is +Y. Clips
    that stay in place, or whose fit is implausibly steep, are returned unchanged.
    """
    feet = [n for n in ("l_toe", "r_toe") if n in clip.canonical] or [
        n for n in ("l_ankle", "r_ankle") if n in clip.canonical
    ]
    pos = clip.joint_positions()
    pts = []
    for name in feet:
        p = pos[:, clip.canonical[name]]
        speed = np.linalg.norm(np.diff(p[:, [0, 2]], axis=0), axis=1) * clip.fps
        low = p[1:, 1] < np.quantile(p[:, 1], 0.3)
        pts.append(p[1:][(speed < 0.3) & low])
    pts = np.concatenate(pts) if pts else np.zeros((0, 3))
    if len(pts) < 10 or np.ptp(pts[:, [0, 2]], axis=0).max() < 0.5:
        return clip
    design = np.stack([pts[:, 0], pts[:, 2], np.ones(len(pts))], 1)
    (a, b, _), *_ = np.linalg.lstsq(design, pts[:, 1], rcond=None)
    normal = torch.tensor([-a, 1.0, -b], dtype=torch.float64)
    tilt = rotation_between(normal, torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)).numpy()
    if np.degrees(np.arccos(np.clip((np.trace(tilt) - 1) / 2, -1, 1))) > max_tilt_deg:
        return clip
    rotations = clip.rotations.copy()
    root = clip.parents.index(-1)
    rotations[:, root] = tilt @ rotations[:, root]  # a rigid turn of the whole world
    return dataclasses.replace(
        clip, rotations=rotations.astype(np.float32), root_positions=(clip.root_positions @ tilt.T).astype(np.float32)
    )


def ground_on_mesh(motion: BodyMotion, body: BodyModel, quantile: float = 0.02) -> BodyMotion:
    """Shift the motion vertically so the body's lowest surface point touches y = 0.

    Uses a low quantile over frames of the per-frame lowest vertex, so rolls and crawls
    (where the back or hands are lowest) rest on the ground as well as walks, and a few
    bad frames cannot lift the whole clip.
    """
    lowest = motion.posed(body).vertices[..., 1].min(dim=1).values
    offset = torch.quantile(lowest.double(), quantile).float()
    transl = motion.transl.clone()
    transl[:, 1] -= offset
    return dataclasses.replace(motion, transl=transl)


def _rest_correction(name, tgt_rest, tgt_canon, src_rest, src_canon) -> torch.Tensor:
    """Smallest rotation taking the target rest bone ``name -> child`` onto the source's."""
    child = BONE_CHILD.get(name)
    if child is None or child not in tgt_canon or child not in src_canon:
        return torch.eye(3, dtype=torch.float64)
    d_t = tgt_rest[tgt_canon[child]] - tgt_rest[tgt_canon[name]]
    d_s = src_rest[src_canon[child]] - src_rest[src_canon[name]]
    return rotation_between(d_t, d_s)


def rotation_between(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The smallest rotation ``R`` with ``R @ a/|a| == b/|b|`` (float64 ``[3, 3]``)."""
    a = a / a.norm()
    b = b / b.norm()
    axis = torch.linalg.cross(a, b)
    s, c = axis.norm(), torch.dot(a, b)
    if s < 1e-9:
        if c > 0:
            return torch.eye(3, dtype=a.dtype)
        # Opposite vectors: turn half a revolution about any axis perpendicular to a.
        perp = torch.linalg.cross(a, torch.tensor([1.0, 0.0, 0.0], dtype=a.dtype))
        if perp.norm() < 1e-6:
            perp = torch.linalg.cross(a, torch.tensor([0.0, 1.0, 0.0], dtype=a.dtype))
        return roma.rotvec_to_rotmat(perp / perp.norm() * np.pi)
    return roma.rotvec_to_rotmat(axis / s * torch.atan2(s, c))


def leg_length(joints: torch.Tensor, canonical: dict[str, int]) -> float:
    """Mean hip-knee-ankle length over both legs, in the joints' units."""
    total = 0.0
    for side in "lr":
        h, k, a = (joints[canonical[f"{side}_{n}"]] for n in ("hip", "knee", "ankle"))
        total += float((k - h).norm() + (a - k).norm())
    return total / 2


def _root_trajectory(clip: MotionClip, body, rest, tgt_canon) -> torch.Tensor:
    src_pos = torch.as_tensor(clip.joint_positions())
    src_rest = torch.as_tensor(clip.rest_positions())
    scale = leg_length(rest.joints[0].double(), tgt_canon) / leg_length(src_rest, clip.canonical)

    feet = [n for n in _FOOT_JOINTS if n in clip.canonical and n in tgt_canon]
    src_feet_y = src_pos[:, [clip.canonical[n] for n in feet], 1].min(dim=1).values
    # The clip's contact height: a low percentile, robust to a few bad frames.
    src_floor = torch.quantile(src_feet_y, 0.05)
    tgt_joints_y = rest.joints[0, [tgt_canon[n] for n in feet], 1].double()
    tgt_above_sole = float(tgt_joints_y.min() - rest.vertices[0, :, 1].min())

    pelvis = src_pos[:, clip.canonical["pelvis"]]
    transl = pelvis * scale
    transl[:, 1] = (pelvis[:, 1] - src_floor) * scale + tgt_above_sole
    return transl
