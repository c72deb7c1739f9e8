"""SMPL's body skeleton: the first 22 joints shared by SMPL, SMPL-H and SMPL-X.

Joint order and parents are SMPL's (its kintree_table); SMPL's two hand joints (22, 23)
and the SMPL-H / SMPL-X finger and face joints are left out because the suite poses
bodies only. ``CANONICAL`` maps :data:`synth.conventions.CANONICAL_JOINTS` names to
indices here; SMPL's "foot" joint sits at the ball of the foot, so it is the toe.
"""

from __future__ import annotations

NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)  # fmt: skip

PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
)  # fmt: skip

CANONICAL: dict[str, int] = {
    "pelvis": 0, "l_hip": 1, "r_hip": 2, "spine": 3, "l_knee": 4, "r_knee": 5,
    "chest": 6, "l_ankle": 7, "r_ankle": 8, "l_toe": 10, "r_toe": 11, "neck": 12,
    "l_collar": 13, "r_collar": 14, "head": 15, "l_shoulder": 16, "r_shoulder": 17,
    "l_elbow": 18, "r_elbow": 19, "l_wrist": 20, "r_wrist": 21,
}  # fmt: skip
