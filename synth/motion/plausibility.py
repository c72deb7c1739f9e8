"""Plausibility checks on a retargeted motion, run on the posed body.

A clip fails when any check fails; the reasons are one-line strings for logs. The
thresholds are loose on purpose: they catch retargeting and data errors (floating or
sunken bodies, flipped joints, exploding skeletons), not unusual but real motion such as
jumps and cartwheels.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import roma
import torch

from synth.bodies.base import BodyOutput, Skeleton
from synth.motion.body_motion import BodyMotion

MAX_REACH_M = 1.3  # any joint this far from the pelvis means the skeleton came apart
MAX_JOINT_SPEED = 15.0  # m/s; sprinting hands and kicks stay below ~12 m/s
MAX_ROT_STEP = np.radians(100.0)  # per 1/30 s: larger local jumps are flips, not motion
MAX_KNEE_HYPEREXTENSION = np.radians(25.0)
NEAR_GROUND_M = 0.10
MIN_GROUNDED_FRACTION = 0.2  # even a backflip touches down for a fifth of the time
MAX_SINK_M = 0.15


@dataclasses.dataclass
class Plausibility:
    reasons: list[str]

    @property
    def ok(self) -> bool:
        return not self.reasons


def check_motion(motion: BodyMotion, posed: BodyOutput) -> Plausibility:
    skel = posed.skeleton
    joints = posed.joints.detach().double()
    reasons: list[str] = []
    if not (torch.isfinite(joints).all() and torch.isfinite(posed.vertices).all()):
        return Plausibility(["non-finite joint or vertex positions"])

    reach = (joints - joints[:, skel.canonical["pelvis"], None]).norm(dim=-1).max()
    if reach > MAX_REACH_M:
        reasons.append(f"exploding joints: a joint is {reach:.2f} m from the pelvis")
    if motion.num_frames > 1:
        speed = (joints[1:] - joints[:-1]).norm(dim=-1).max() * motion.fps
        if speed > MAX_JOINT_SPEED:
            reasons.append(f"exploding joints: a joint moves at {speed:.1f} m/s")
        step = _max_rotation_step(motion) * (motion.fps / 30.0)
        if step > MAX_ROT_STEP:
            reasons.append(f"limb flip: a joint turns {np.degrees(step):.0f} deg in one frame")

    hyper = _max_knee_hyperextension(joints, skel)
    if hyper > MAX_KNEE_HYPEREXTENSION:
        reasons.append(f"limb flip: a knee bends {np.degrees(hyper):.0f} deg backwards")

    lowest = posed.vertices[..., 1].min(dim=1).values.double()
    grounded = (lowest.abs() < NEAR_GROUND_M).double().mean()
    if grounded < MIN_GROUNDED_FRACTION:
        reasons.append(f"feet off the ground: near the ground in only {100 * grounded:.0f}% of frames")
    if lowest.min() < -MAX_SINK_M:
        reasons.append(f"body sinks {-lowest.min():.2f} m below the ground")
    return Plausibility(reasons)


def _max_rotation_step(motion: BodyMotion) -> float:
    full = torch.cat([motion.global_orient[:, None], motion.pose], dim=1).double()
    rel = full[:-1].transpose(-1, -2) @ full[1:]
    return float(roma.rotmat_to_rotvec(rel).norm(dim=-1).max())


def _max_knee_hyperextension(joints: torch.Tensor, skel: Skeleton) -> float:
    """Largest backwards bend of either knee, radians (0 when knees only flex).

    Flexion turns the shin about the body's left axis (hip to hip), so the signed angle
    from thigh to shin about that axis is negative exactly when the knee bends backwards.
    """
    c = skel.canonical
    left = joints[:, c["l_hip"]] - joints[:, c["r_hip"]]
    left = left / left.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    worst = 0.0
    for side in "lr":
        thigh = joints[:, c[f"{side}_knee"]] - joints[:, c[f"{side}_hip"]]
        shin = joints[:, c[f"{side}_ankle"]] - joints[:, c[f"{side}_knee"]]
        signed = torch.atan2((torch.linalg.cross(thigh, shin) * left).sum(-1), (thigh * shin).sum(-1))
        worst = max(worst, float((-signed).max()))
    return worst
