"""Units, coordinate frames and joint conventions shared by every stage of the suite.

This is the one place where they are written down; every other module refers here.

Units
    Lengths are metres, angles radians, times seconds, image coordinates pixels.

World frame (bodies, motion, 3D ground truth)
    Right-handed, **+Y up**, the person at rest faces **+Z**, so their left side is +X
    (the SMPL convention). The ground is the plane y = 0 once a motion is grounded.
    Backends whose native frame differs (Anny: Z up, -Y forward; AMASS: Z up; DeepMimic:
    Y up, +X forward) convert at their boundary, so nothing downstream sees native axes.

Rotations
    Rotation matrices ``[..., 3, 3]`` acting on column vectors. Pose parameters are
    *local* rotations in world-aligned axes ("local-ref", as in SMPL): the global rotation
    of joint j is ``G_j = G_parent(j) @ R_j`` and the rest pose is ``R_j = I`` for all j.
    A body's ``global_orient`` is ``G_root`` and its ``transl`` is the world position of
    the root joint (the pelvis).

Camera frame (rendering, projection, 2D ground truth)
    OpenCV: +X right, +Y down, +Z forward (optical axis). ``x_cam = R @ x_world + t``;
    pixel ``u = fx * x / z + cx``, ``v = fy * y / z + cy``; pixel centres at integer
    coordinates, ``(0, 0)`` the centre of the top-left pixel. Depth maps hold camera z in
    metres, 0 where there is no surface.

Joint sets
    Every body backend maps its skeleton onto the ``CANONICAL_JOINTS`` names below. From
    them come the **14 evaluation joints** (LSP/3DPW order, common to SMPL and COCO) and
    the **12 limb keypoints** used for heatmaps (the 14 less neck and head).
"""

from __future__ import annotations

#: Names every skeleton (source motion or target body) may map onto. Retargeting copies
#: rotations between joints that share a canonical name.
CANONICAL_JOINTS: tuple[str, ...] = (
    "pelvis",
    "l_hip", "l_knee", "l_ankle", "l_toe",
    "r_hip", "r_knee", "r_ankle", "r_toe",
    "spine", "chest", "neck", "head",
    "l_collar", "l_shoulder", "l_elbow", "l_wrist",
    "r_collar", "r_shoulder", "r_elbow", "r_wrist",
)  # fmt: skip

#: The 14 evaluation joints in LSP / 3DPW (HMR) order.
EVAL_JOINTS: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle",
    "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
    "neck", "head",
)  # fmt: skip

#: The 12 limb keypoints rendered as heatmaps (paper Appendix B): EVAL_JOINTS[:12].
LIMB_KEYPOINTS: tuple[str, ...] = EVAL_JOINTS[:12]

#: Indices of the leg keypoints within LIMB_KEYPOINTS / EVAL_JOINTS (ankles, knees, hips).
LEG_KEYPOINTS: tuple[int, ...] = (0, 1, 2, 3, 4, 5)


def mirror_name(name: str) -> str:
    """The left/right twin of a canonical joint name (``l_knee`` <-> ``r_knee``)."""
    if name.startswith("l_"):
        return "r_" + name[2:]
    if name.startswith("r_"):
        return "l_" + name[2:]
    return name


#: For each EVAL_JOINTS index, the index of its mirror twin (for flip augmentation).
EVAL_FLIP: tuple[int, ...] = tuple(EVAL_JOINTS.index(mirror_name(n)) for n in EVAL_JOINTS)

#: A joint whose camera depth is this far or more behind the rendered surface at its pixel
#: counts as hidden by the body itself (issue spec; the paper's self-occlusion rule).
SELF_OCCLUSION_DEPTH_M: float = 0.20

#: Bone chains used to measure rest bone directions during retargeting: joint -> child.
BONE_CHILD: dict[str, str] = {
    "l_hip": "l_knee", "l_knee": "l_ankle", "l_ankle": "l_toe",
    "r_hip": "r_knee", "r_knee": "r_ankle", "r_ankle": "r_toe",
    "spine": "chest", "chest": "neck", "neck": "head",
    "l_collar": "l_shoulder", "l_shoulder": "l_elbow", "l_elbow": "l_wrist",
    "r_collar": "r_shoulder", "r_shoulder": "r_elbow", "r_elbow": "r_wrist",
}  # fmt: skip

#: Bones between EVAL_JOINTS indices, for drawing skeletons.
EVAL_BONES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (3, 4), (4, 5), (2, 3),          # legs and pelvis
    (6, 7), (7, 8), (9, 10), (10, 11), (8, 9),       # arms and shoulders
    (8, 12), (9, 12), (12, 13),                      # neck and head
)  # fmt: skip
