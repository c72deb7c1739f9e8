import dataclasses

import numpy as np
import pytest
import roma
import torch

from synth.motion.deepmimic import CLIPS, load_deepmimic
from synth.motion.plausibility import check_motion
from synth.motion.retarget import retarget, rotation_between


def _foot_contact_heights(body, motion):
    """Per foot: lowest foot-vertex height on frames where the foot is planted."""
    out = motion.posed(body)
    vj = body.vertex_joint()
    c = body.skeleton.canonical
    heights = []
    for side in "lr":
        foot = np.isin(vj, [c[f"{side}_ankle"], c[f"{side}_toe"]])
        h = out.vertices[:, foot, 1].min(dim=1).values.numpy()
        ankle = out.joints[:, c[f"{side}_ankle"]].numpy()
        speed = np.linalg.norm(np.diff(ankle[:, [0, 2]], axis=0), axis=1) * motion.fps
        planted = np.flatnonzero(speed < 0.3)  # horizontal foot speed below 0.3 m/s
        heights.append(h[planted])
    return heights, out


def _check_walk(body, motion):
    heights, out = _foot_contact_heights(body, motion)
    for h in heights:
        assert h.size >= 3, "expected planted frames for each foot"
        assert np.abs(h).max() < 0.05, h  # feet within 5 cm of the ground at contact
    # Travels forward: displacement along the direction the pelvis faces.
    facing = (motion.global_orient @ torch.tensor([0.0, 0.0, 1.0])).numpy()
    travel = (motion.transl[-1] - motion.transl[0]).numpy()
    facing_mean = facing.mean(0) * np.array([1, 0, 1])
    assert np.linalg.norm(travel[[0, 2]]) > 0.8
    assert travel @ facing_mean / np.linalg.norm(facing_mean) > 0.8 * np.linalg.norm(travel[[0, 2]])
    assert check_motion(motion, out).ok


def test_deepmimic_walk(anny_body, walk):
    _check_walk(anny_body, walk)


def test_cmu_bvh_walk(anny_body, cmu_bvh_dir):
    from synth.motion.bvh import load_bvh

    motion = retarget(load_bvh(cmu_bvh_dir / "02_01.bvh"), anny_body).resampled(30.0)
    _check_walk(anny_body, motion)


def test_retarget_keeps_source_limb_directions(anny_body):
    """The target's bones point where the source's do, frame by frame (DeepMimic run)."""
    clip = load_deepmimic("run")
    motion = retarget(clip, anny_body)
    tgt = motion.posed(anny_body).joints
    src = torch.as_tensor(clip.joint_positions(), dtype=torch.float32)
    ct, cs = anny_body.skeleton.canonical, clip.canonical
    for a, b in [("l_hip", "l_knee"), ("r_knee", "r_ankle"), ("l_shoulder", "l_elbow"), ("r_elbow", "r_wrist")]:
        dt = tgt[:, ct[b]] - tgt[:, ct[a]]
        ds = src[:, cs[b]] - src[:, cs[a]]
        cos = torch.nn.functional.cosine_similarity(dt, ds, dim=-1)
        assert cos.min() > 0.995, (a, b, cos.min())


@pytest.mark.parametrize("name", CLIPS)
def test_every_embedded_clip_is_plausible(anny_body, name):
    motion = retarget(load_deepmimic(name), anny_body).resampled(30.0)
    report = check_motion(motion, motion.posed(anny_body))
    assert report.ok, report.reasons


def test_plausibility_catches_flips_explosions_and_floating(anny_body, walk):
    out = walk.posed(anny_body)
    assert check_motion(walk, out).ok

    flipped = walk.pose.clone()
    k = anny_body.skeleton.canonical["l_knee"] - 1
    flipped[10, k] = roma.rotvec_to_rotmat(torch.tensor([-2.5, 0.0, 0.0]))
    bad = dataclasses.replace(walk, pose=flipped)
    assert any("limb flip" in r for r in check_motion(bad, bad.posed(anny_body)).reasons)

    exploded = out.joints.clone()
    exploded[5, 3] += 5.0
    bad_out = dataclasses.replace(out, joints=exploded)
    assert any("exploding" in r for r in check_motion(walk, bad_out).reasons)

    floating = dataclasses.replace(walk, transl=walk.transl + torch.tensor([0.0, 1.0, 0.0]))
    assert any("off the ground" in r for r in check_motion(floating, floating.posed(anny_body)).reasons)


def test_rotation_between():
    a, b = torch.tensor([0.0, -1.0, 0.2], dtype=torch.float64), torch.tensor([1.0, 0.3, 0.0], dtype=torch.float64)
    r = rotation_between(a, b)
    assert torch.allclose(r @ (a / a.norm()), b / b.norm(), atol=1e-9)
    assert torch.allclose(rotation_between(a, -a) @ a, -a, atol=1e-9)
