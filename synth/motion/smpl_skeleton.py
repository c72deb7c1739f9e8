"""The SMPL body skeleton: the first 22 joints, shared by SMPL, SMPL-H and SMPL-X.

Contract
    ``NAMES``      the 22 body joint names, in SMPL order (the pelvis, the root, first).
    ``PARENTS``    parent index of each joint, -1 for the root; parents precede children.
    ``CANONICAL``  canonical joint name (:data:`synth.conventions.CANONICAL_JOINTS`) ->
                   SMPL joint index. SMPL's ``*_foot`` joints sit at the toe base, so they
                   are the canonical toes; ``spine2`` is the chest.
    ``NUM_JOINTS`` 22.

Hand joints (SMPL's two ``*_hand`` joints, SMPL-H / SMPL-X fingers) are not part of this
skeleton: motion loaders and body backends keep only the 22 body joints.
"""

from __future__ import annotations

#: SMPL body joint names, in model order.
NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee",
    "spine2", "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot",
    "neck", "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)  # fmt: skip

#: Parent of each SMPL body joint (-1 for the pelvis).
PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
)  # fmt: skip

#: Number of SMPL body joints, the root included.
NUM_JOINTS: int = len(NAMES)

#: Canonical joint name -> SMPL joint index.
CANONICAL: dict[str, int] = {
    "pelvis": 0,
    "l_hip": 1, "r_hip": 2, "spine": 3, "l_knee": 4, "r_knee": 5, "chest": 6,
    "l_ankle": 7, "r_ankle": 8, "l_toe": 10, "r_toe": 11, "neck": 12,
    "l_collar": 13, "r_collar": 14, "head": 15, "l_shoulder": 16, "r_shoulder": 17,
    "l_elbow": 18, "r_elbow": 19, "l_wrist": 20, "r_wrist": 21,
}  # fmt: skip
