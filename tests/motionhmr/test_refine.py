"""Test-time 2D fitting (motionhmr.refine): it recovers a pose from its projection when started
off it, holds frames without keypoints, is deterministic, and predict writes what it did."""

from __future__ import annotations

import json

import numpy as np
import pytest
import roma
import torch

from motionhmr.inference import FrameBodies
from motionhmr.losses import MotionHMRLoss, normalised_to_px, project_weak
from motionhmr.refine import fit_to_keypoints

N = 6
CAM = np.array([[1.1, 0.0, 0.25]] * N, np.float32)


@pytest.fixture(scope="module")
def loss_fn(anny_body):
    return MotionHMRLoss(anny_body)


def _bodies(loss_fn, rotmat: torch.Tensor, shape: torch.Tensor, cam: np.ndarray) -> FrameBodies:
    with torch.no_grad():
        joints = loss_fn.joints(rotmat[None], shape[None])[0]
        uv = normalised_to_px(project_weak(joints, torch.as_tensor(cam)))
    return FrameBodies(joints3d=joints.numpy(), rotmat=rotmat.numpy(), shape=shape.numpy(), cam=cam, kp2d_crop=uv.numpy())


@pytest.fixture(scope="module")
def truth_and_start(loss_fn, anny_body):
    """A bent pose per frame (truth; not smooth in time, so the tests that fit it turn the smoothness
    term off) and the same poses with every bone turned ~0.15 rad (the "network")."""
    gen = torch.Generator().manual_seed(0)
    j = anny_body.skeleton.num_joints
    rot = roma.rotvec_to_rotmat(0.3 * torch.randn(N, j, 3, generator=gen))
    rot[:, 0] = torch.as_tensor(np.diag([1.0, -1.0, -1.0]), dtype=torch.float32)  # upright, facing the camera
    shape = torch.as_tensor(anny_body.default_shape(N), dtype=torch.float32)
    truth = _bodies(loss_fn, rot, shape, CAM)
    off = roma.rotvec_to_rotmat(0.15 * torch.randn(N, j, 3, generator=gen)) @ rot
    start = _bodies(loss_fn, off, shape, CAM * np.array([1.05, 1, 1], np.float32))
    return truth, start


def test_fitting_moves_the_bodies_onto_the_keypoints(loss_fn, truth_and_start):
    truth, start = truth_and_start
    visible = np.ones((N, 14), bool)
    fitted, report = fit_to_keypoints(start, truth.kp2d_crop, visible, loss_fn, iterations=150, w_prior=0.0, w_smooth=0.0)
    assert report.before_px > 5.0
    assert report.after_px < 0.25 * report.before_px
    assert fitted.joints3d.shape == (N, 14, 3) and fitted.rotmat.shape == start.rotmat.shape
    np.testing.assert_array_equal(fitted.shape, start.shape)  # the shape is the network's
    # limbs only: the 2D error of the 12 limb keypoints is what was fitted
    err = np.linalg.norm(fitted.kp2d_crop - truth.kp2d_crop, axis=-1)[:, :12]
    assert np.median(err) == pytest.approx(report.after_px, rel=1e-4)
    # the rotations stay rotations
    r = torch.as_tensor(fitted.rotmat)
    assert torch.allclose(r @ r.transpose(-1, -2), torch.eye(3).expand_as(r), atol=1e-4)


def test_the_prior_holds_the_network_pose(loss_fn, truth_and_start):
    truth, start = truth_and_start
    visible = np.ones((N, 14), bool)
    loose, _ = fit_to_keypoints(start, truth.kp2d_crop, visible, loss_fn, iterations=60, w_prior=0.0, w_smooth=0.0)
    held, _ = fit_to_keypoints(start, truth.kp2d_crop, visible, loss_fn, iterations=60, w_prior=100.0, w_smooth=0.0)
    moved = lambda b: np.abs(b.joints3d - start.joints3d).mean()  # noqa: E731
    assert moved(held) < 0.3 * moved(loose)


def test_no_visible_keypoint_leaves_the_bodies_as_they_are(loss_fn, truth_and_start):
    truth, start = truth_and_start
    fitted, report = fit_to_keypoints(start, truth.kp2d_crop, np.zeros((N, 14), bool), loss_fn)
    np.testing.assert_allclose(fitted.joints3d, start.joints3d, atol=1e-6)
    assert np.isnan(report.before_px) and np.isnan(report.after_px)


def test_fitting_is_deterministic_and_checks_shapes(loss_fn, truth_and_start):
    truth, start = truth_and_start
    visible = np.ones((N, 14), bool)
    visible[2] = False  # a totally occluded frame: held by smoothness and the prior
    a, _ = fit_to_keypoints(start, truth.kp2d_crop, visible, loss_fn, iterations=20)
    b, _ = fit_to_keypoints(start, truth.kp2d_crop, visible, loss_fn, iterations=20)
    np.testing.assert_array_equal(a.joints3d, b.joints3d)
    with pytest.raises(ValueError, match=r"kp2d \[N, 14, 2\] and visible \[N, 14\] for N=6"):
        fit_to_keypoints(start, truth.kp2d_crop[:3], visible, loss_fn)


def test_predict_keypoints_refine_writes_the_fit(tmp_path):
    from motionhmr.predict import predict_keypoints

    from .test_predict import _tiny_checkpoint

    rng = np.random.default_rng(0)
    base = np.array([[320 + 40 * np.sin(j), 100 + 25 * j] for j in range(17)], np.float32)
    kp = base + rng.normal(0, 2, (10, 17, 2)).astype(np.float32)
    keypoints = tmp_path / "track.npz"
    np.savez(keypoints, keypoints=kp, scores=np.ones((10, 17), np.float32), image_size=np.array([640, 480]))
    ckpt = _tiny_checkpoint(tmp_path / "kp.pt", "kp")
    plain = predict_keypoints(ckpt, keypoints, tmp_path / "plain", device="cpu")
    fitted = predict_keypoints(ckpt, keypoints, tmp_path / "fitted", device="cpu", refine=True)
    meta = json.loads((tmp_path / "fitted" / "bodies.json").read_text())["meta"]
    assert meta["refine"]["after_px"] < meta["refine"]["before_px"]
    assert json.loads((tmp_path / "plain" / "bodies.json").read_text())["meta"]["refine"] is None
    assert fitted.agreement["median_px"] < plain.agreement["median_px"]
