"""Procrustes alignment, weak perspective and the Motion-HMR training loss."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import roma
import torch

from motionhmr.losses import (
    MotionHMRLoss,
    domain_loss,
    normalised_to_px,
    pa_mpjpe,
    procrustes_align,
    project_weak,
    px_to_normalised,
)
from motionhmr.model import FACING_CAMERA, HeadOutput, LossConfig, ModelConfig, MotionHMR, Prediction


def random_joints(*batch, n=14, dtype=torch.float64, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*batch, n, 3, generator=g, dtype=dtype)


def similar_copy(x: torch.Tensor, seed=1) -> torch.Tensor:
    """``x`` rotated, scaled by 0.5..2 and shifted, independently per batch element."""
    g = torch.Generator().manual_seed(seed)
    batch = x.shape[:-2]
    rot = roma.random_rotmat(batch, generator=g, dtype=x.dtype)
    scale = 0.5 + 1.5 * torch.rand(*batch, 1, 1, generator=g, dtype=x.dtype)
    shift = torch.randn(*batch, 1, 3, generator=g, dtype=x.dtype)
    return scale * x @ rot.transpose(-1, -2) + shift


def reference_pa_mpjpe(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """VideoPose3D's p_mpjpe (numpy, [B, N, 3]), written independently as the reference."""
    mu_x, mu_y = target.mean(1, keepdims=True), pred.mean(1, keepdims=True)
    x0, y0 = target - mu_x, pred - mu_y
    nx, ny = np.linalg.norm(x0, axis=(1, 2), keepdims=True), np.linalg.norm(y0, axis=(1, 2), keepdims=True)
    x0, y0 = x0 / nx, y0 / ny
    u, s, vt = np.linalg.svd(np.matmul(x0.transpose(0, 2, 1), y0))
    v = vt.transpose(0, 2, 1)
    r = np.matmul(v, u.transpose(0, 2, 1))
    sign = np.sign(np.expand_dims(np.linalg.det(r), axis=1))
    v[:, :, -1] *= sign
    s[:, -1] *= sign.flatten()
    r = np.matmul(v, u.transpose(0, 2, 1))
    a = np.expand_dims(np.sum(s, axis=1, keepdims=True), axis=2) * nx / ny
    t = mu_x - a * np.matmul(mu_y, r)
    aligned = a * np.matmul(pred, r) + t
    return np.linalg.norm(aligned - target, axis=-1).mean(-1)


# -- Procrustes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
def test_similar_copy_has_zero_error(dtype, tol):
    target = random_joints(2, 3, dtype=dtype)
    pred = similar_copy(target)
    assert pa_mpjpe(pred, target).shape == (2, 3)
    assert pa_mpjpe(pred, target).max() < tol
    aligned = procrustes_align(pred, target)
    assert aligned.shape == pred.shape and aligned.dtype == dtype
    torch.testing.assert_close(aligned, target, atol=10 * tol, rtol=0)
    assert pa_mpjpe(target, target).max() < tol


def test_matches_the_reference_protocol():
    pred, target = random_joints(8, seed=2), random_joints(8, seed=3)
    pred[:4] = similar_copy(target[:4]) + 0.1 * pred[:4]  # some nearly aligned, some not at all
    ours = pa_mpjpe(pred, target).numpy()
    np.testing.assert_allclose(ours, reference_pa_mpjpe(pred.numpy(), target.numpy()), rtol=1e-6, atol=1e-9)
    assert (ours > 1e-3).all()


def test_a_mirror_image_is_not_a_rotation():
    """A reflected skeleton cannot be aligned: the fit is a proper rotation (det +1)."""
    target = random_joints(seed=4)
    mirrored = target * torch.tensor([-1.0, 1.0, 1.0], dtype=target.dtype)
    assert pa_mpjpe(similar_copy(mirrored), target) > 0.1
    aligned = procrustes_align(mirrored, target)
    # recover the linear map mirrored -> aligned: it must have a positive determinant
    x = mirrored - mirrored.mean(0)
    y = aligned - aligned.mean(0)
    assert torch.linalg.det(torch.linalg.lstsq(x, y).solution) > 0


def test_gradients_are_exact_and_flow():
    """Analytic gradients match finite differences (float64), and reach float32 input."""
    pred = random_joints(2, n=6, seed=5).requires_grad_()
    target = random_joints(2, n=6, seed=7)
    assert torch.autograd.gradcheck(lambda p: procrustes_align(p, target), (pred,))
    p32 = random_joints(3, dtype=torch.float32, seed=8).requires_grad_()
    pa_mpjpe(p32, random_joints(3, dtype=torch.float32, seed=9)).sum().backward()
    assert torch.isfinite(p32.grad).all() and p32.grad.abs().sum() > 0


SIX_AXES = torch.cat([torch.eye(3), -torch.eye(3)]).double()
DEGENERATE = {  # name -> (pred, target)
    "one point": (torch.full((6, 3), 0.3, dtype=torch.float64), random_joints(n=6)),
    "collinear": (torch.linspace(0, 1, 6, dtype=torch.float64)[:, None].expand(6, 3), random_joints(n=6)),
    # M = 2 X^T X = 4 I: three tied singular values, where plain SVD backward gives NaN
    "tied": (SIX_AXES, 2 * SIX_AXES + 1),
}


@pytest.mark.parametrize("name", DEGENERATE)
def test_degenerate_input_stays_finite(name):
    pred, target = DEGENERATE[name]
    pred = pred.clone().requires_grad_()
    aligned = procrustes_align(pred, target)
    assert torch.isfinite(aligned).all()
    pa_mpjpe(pred, target).backward()
    assert torch.isfinite(pred.grad).all()
    if name == "one point":  # scale 0: everything at the target's centroid
        torch.testing.assert_close(aligned, target.mean(0).expand_as(target))
    if name == "tied":
        torch.testing.assert_close(aligned, target)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"two \[..., N, 3\] arrays of one shape"):
        pa_mpjpe(torch.zeros(14, 3), torch.zeros(12, 3))


# -- projection ----------------------------------------------------------------------------------


def test_weak_perspective_and_pixels():
    joints = torch.tensor([[[0.0, 0.0, 5.0], [0.5, -1.0, 2.0]]])
    cam = torch.tensor([[0.8, 0.1, -0.2]])
    uv = project_weak(joints, cam)
    torch.testing.assert_close(uv, torch.tensor([[[0.08, -0.16], [0.48, -0.96]]]))
    torch.testing.assert_close(normalised_to_px(torch.tensor([-1.0, 0.0, 1.0])), torch.tensor([-0.5, 111.5, 223.5]))
    px = torch.rand(5, 2) * 224
    torch.testing.assert_close(normalised_to_px(px_to_normalised(px)), px)
    # batched over [B, S]
    assert project_weak(torch.zeros(2, 3, 14, 3), torch.ones(2, 3, 3)).shape == (2, 3, 14, 2)


def test_domain_loss():
    big = torch.full((4,), 20.0)
    assert domain_loss(-big, big) < 1e-6  # confident and right
    torch.testing.assert_close(domain_loss(torch.zeros(3), torch.zeros(5)), torch.tensor(np.log(2.0)).float())
    assert domain_loss(big, -big) > 10  # confident and wrong


# -- the training loss on the real body ----------------------------------------------------------


@dataclasses.dataclass
class Truth:
    """Ground truth of one synthetic clip (B=1, T frames) and the batch it makes."""

    rotmat: torch.Tensor  # [1, T, J, 3, 3] camera-frame global orientation + local pose
    shape: torch.Tensor  # [1, T, shape_dim]
    cam: torch.Tensor  # [1, T, 3]
    cam_future: torch.Tensor  # [1, S, 3]: frame t+1 seen through crop t
    batch: dict


def make_truth(body, frames=4, seed=0) -> Truth:
    rng = np.random.default_rng(seed)
    g = torch.Generator().manual_seed(seed)
    j = body.skeleton.num_joints
    local = roma.rotvec_to_rotmat(0.3 * torch.randn(frames, j - 1, 3, generator=g))
    tilt = roma.rotvec_to_rotmat(0.4 * torch.randn(frames, 3, generator=g))
    global_orient = FACING_CAMERA @ tilt
    shape = body.sample_shape(rng).expand(frames, -1)
    transl = torch.tensor([0.1, -0.2, 6.0]) + 0.05 * torch.randn(frames, 3, generator=g)
    posed = body(local, shape, global_orient, transl)
    joints3d = posed.eval_joints  # camera frame: the orientation is already the camera's
    root_rel = joints3d - posed.joints[:, :1]
    cam = torch.tensor([0.9, 0.0, 0.1]) + 0.05 * torch.randn(frames, 3, generator=g)
    cam_future = cam[:-1] + 0.02
    kp2d = normalised_to_px(project_weak(root_rel, cam))
    kp2d_future = normalised_to_px(project_weak(root_rel[1:], cam_future))
    visible = torch.as_tensor(rng.random((frames, 14)) > 0.3)
    batch = {
        "x": torch.zeros(1, frames - 1, 16, 224, 224),
        "joints3d": joints3d[None],
        "kp2d": kp2d[None],
        "kp_visible": visible[None],
        "kp2d_future": kp2d_future[None],
        "kp_visible_future": visible[None, 1:],
        "total_occlusion": torch.zeros(1, frames, dtype=torch.bool),
        "key": ["000000000"],
    }
    rotmat = torch.cat([global_orient[:, None], local], 1)
    return Truth(rotmat[None], shape[None], cam[None], cam_future[None], batch)


def prediction_of(truth: Truth, noise: float = 0.0) -> Prediction:
    s = truth.cam_future.shape[1]
    rot = truth.rotmat
    if noise:
        g = torch.Generator().manual_seed(5)
        rot = rot @ roma.rotvec_to_rotmat(noise * torch.randn(rot.shape[:-1], generator=g))
    features = torch.zeros(1, s, 2048)
    current = HeadOutput(rot[:, :s], truth.shape[:, :s], truth.cam[:, :s], features)
    future = HeadOutput(rot[:, 1:], truth.shape[:, 1:], truth.cam_future, features)
    return Prediction(current, future)


@pytest.mark.parametrize("loss2d", ["l1", "l2"])
def test_ground_truth_parameters_give_zero_loss(anny_body, loss2d):
    truth = make_truth(anny_body)
    loss = MotionHMRLoss(anny_body, LossConfig(loss2d=loss2d))
    out = loss(prediction_of(truth), truth.batch)
    assert out["loss3d"] < 1e-5 and out["loss2d"] < 1e-5, out
    for key in ("loss3d_current", "loss3d_future", "loss2d_current", "loss2d_future"):
        assert out[key] < 1e-5
    wrong = loss(prediction_of(truth, noise=0.3), truth.batch)
    assert wrong["loss3d"] > 0.01 and wrong["loss2d"] > 0.01
    torch.testing.assert_close(wrong["loss"], wrong["loss3d"] + wrong["loss2d"])


def test_each_head_is_scored_against_its_own_frames(anny_body):
    """Swapping the heads (current <-> future) must cost: the future head is frame t+1."""
    truth = make_truth(anny_body)
    pred = prediction_of(truth)
    swapped = Prediction(current=pred.future, future=pred.current)
    out = MotionHMRLoss(anny_body)(swapped, truth.batch)
    assert out["loss3d_current"] > 0.01 and out["loss3d_future"] > 0.01 and out["loss2d_future"] > 0.01


@pytest.mark.parametrize("loss2d", ["l1", "l2"])
def test_invisible_keypoints_are_ignored_and_never_nan(anny_body, loss2d):
    truth = make_truth(anny_body)
    batch = dict(truth.batch)
    hidden = ~batch["kp_visible"]
    batch["kp2d"] = torch.where(hidden[..., None], torch.nan, batch["kp2d"])  # garbage where hidden
    batch["kp_visible_future"] = torch.zeros_like(batch["kp_visible_future"])  # an empty mask
    batch["kp2d_future"] = torch.full_like(batch["kp2d_future"], torch.nan)
    pred = prediction_of(truth, noise=0.1)
    pred.current.cam.requires_grad_()
    out = MotionHMRLoss(anny_body, LossConfig(loss2d=loss2d))(pred, batch)
    assert torch.isfinite(out["loss"]) and out["loss2d_current"] > 0
    torch.testing.assert_close(out["loss2d_current"], MotionHMRLoss(anny_body, LossConfig(loss2d=loss2d))(
        pred, {**truth.batch, "kp_visible_future": batch["kp_visible_future"]})["loss2d_current"])
    assert out["loss2d_future"] == 0
    out["loss"].backward()
    assert torch.isfinite(pred.current.cam.grad).all() and pred.current.cam.grad.abs().sum() > 0


def test_batch_shapes_are_checked(anny_body):
    truth = make_truth(anny_body)
    batch = {**truth.batch, "kp2d_future": truth.batch["kp2d_future"][:, :-1]}
    with pytest.raises(ValueError, match=r"batch\['kp2d_future'\] must have shape \[1, 3, 14, 2\]"):
        MotionHMRLoss(anny_body)(prediction_of(truth), batch)
    with pytest.raises(KeyError, match="lacks 'joints3d'"):
        MotionHMRLoss(anny_body)(prediction_of(truth), {k: v for k, v in batch.items() if k != "joints3d"})


def test_loss_stays_float32_under_bf16_autocast(anny_body):
    truth = make_truth(anny_body)
    pred = prediction_of(truth)
    pred = Prediction(*(HeadOutput(h.rotmat.bfloat16(), h.shape.bfloat16(), h.cam.bfloat16(), h.features)
                        for h in (pred.current, pred.future)))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = MotionHMRLoss(anny_body)(pred, truth.batch)
    assert out["loss"].dtype == torch.float32 and torch.isfinite(out["loss"])
    assert out["loss3d"] < 0.02  # bf16 rotations are coarse, but the loss is computed in float32


def test_training_the_heads_reduces_the_loss(anny_body):
    """A few Adam steps of the regressors on a fixed batch bring the loss down, and the
    gradient reaches the backbone's first layer."""
    torch.manual_seed(0)
    cfg = ModelConfig(lstm_hidden=32, head_hidden=64, dann_hidden=8, dropout=0.0)
    net = MotionHMR.from_body("flow+kp", cfg, anny_body).eval()  # eval: fixed BatchNorm statistics
    truth = make_truth(anny_body)
    x = torch.randn(1, 3, 16, 32, 32, generator=torch.Generator().manual_seed(1))
    loss_fn = MotionHMRLoss(anny_body)
    heads = [*net.current_head.parameters(), *net.future_head.parameters()]
    opt = torch.optim.Adam(heads, lr=1e-3)
    losses, losses3d = [], []
    for step in range(12):
        out = loss_fn(net(x), truth.batch)
        opt.zero_grad()
        out["loss"].backward()
        if step == 0:
            grad = net.backbone.conv1.weight.grad
            assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
        opt.step()
        losses.append(out["loss"].item())
        losses3d.append(out["loss3d"].item())
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.8 * losses[0], losses
    assert losses3d[-1] < 0.95 * losses3d[0], losses3d
