import numpy as np
import pytest
import torch

from synth.motion.timing import resample, window_starts


def test_resample_hits_source_frames_and_interpolates():
    rot = torch.stack([torch.eye(3)] * 3).numpy()[:, None]  # [3, 1, 3, 3]
    angles = np.array([0.0, 0.4, 0.8])
    rot[:, 0, 0, 0] = np.cos(angles)
    rot[:, 0, 0, 1] = -np.sin(angles)
    rot[:, 0, 1, 0] = np.sin(angles)
    rot[:, 0, 1, 1] = np.cos(angles)
    pos = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])
    r2, p2 = resample(rot, pos, 10.0, 20.0)  # double the rate
    assert r2.shape == (5, 1, 3, 3) and p2.shape == (5, 3)
    assert np.allclose(r2[::2], rot, atol=1e-6) and np.allclose(p2[::2], pos)
    mid = np.arctan2(r2[1, 0, 1, 0], r2[1, 0, 0, 0])
    assert mid == pytest.approx(0.2, abs=1e-6) and p2[1, 0] == pytest.approx(0.5)


def test_resample_duration():
    rot = np.tile(np.eye(3), (121, 1, 1, 1))
    r, p = resample(rot, np.zeros((121, 3)), 120.0, 30.0)
    assert len(r) == 31  # 1 s at 30 fps, both ends included


def test_window_starts():
    assert window_starts(40, 31, 5) == [0, 5]
    assert window_starts(30, 31, 1) == []


def test_body_motion_ops(walk, anny_body):
    perm = anny_body.skeleton.mirror_permutation()
    twice = walk.mirrored(perm).mirrored(perm)
    assert torch.allclose(twice.pose, walk.pose, atol=1e-6) and torch.allclose(twice.transl, walk.transl)
    mirrored = walk.mirrored(perm).posed(anny_body).joints
    original = walk.posed(anny_body).joints
    c = anny_body.skeleton.canonical
    # The mirror image's left ankle is the original right ankle reflected in x.
    refl = original[:, c["r_ankle"]] * torch.tensor([-1.0, 1.0, 1.0])
    assert torch.allclose(mirrored[:, c["l_ankle"]], refl, atol=0.02)

    yawed = walk.yawed(np.pi / 2)
    d0 = walk.transl[-1] - walk.transl[0]
    d1 = yawed.transl[-1] - yawed.transl[0]
    assert torch.allclose(d1, torch.stack([d0[2], d0[1], -d0[0]]), atol=1e-5)
    assert torch.allclose(yawed.transl[0], walk.transl[0], atol=1e-6)

    fast = walk.resampled(30.0, speed=2.0)
    assert abs(fast.num_frames - (walk.num_frames + 1) // 2) <= 1

    a = walk.augmented(np.random.default_rng(3), perm)
    b = walk.augmented(np.random.default_rng(3), perm)
    assert torch.equal(a.pose, b.pose) and torch.equal(a.transl, b.transl)
    assert all(w.num_frames == 31 for w in walk.windows(31, 2))
