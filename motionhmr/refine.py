"""Test-time fitting of a track's predicted bodies to the 2D keypoints they came from.

Arnab et al. (CVPR 2019, "Exploiting temporal context for 3D human pose estimation in the
wild") refine a per-frame regressor's bodies over a whole video by bundle adjustment: 2D
reprojection of the detector's keypoints, a prior that keeps each pose near the network's,
and temporal smoothness. This is that energy for a Motion-HMR track, with the network's
output as both the start and the prior (no SMPL pose prior is available for Anny):

    E = mean_visible |proj(J(R_t)) - k_t|²                     2D, normalised crop units
        + w_prior · mean |log(R_t R̂_tᵀ)|²                       radians², every bone, every frame
        + w_smooth · mean |J_{t+1} - 2 J_t + J_{t-1}|²           m², root-relative joints

over per-frame bone rotations ``R_t`` (a rotation vector applied on the left of the
network's ``R̂_t``) and the weak-perspective camera; the shape stays the network's. Only
the 12 limb keypoints enter the 2D term: a detector's ``neck`` and ``head`` are other points
than the body's (MediaPipe's are mid-shoulders and mid-ears, :mod:`motionhmr.detect`).

Why: on real footage a model trained on synthetic clips does not reproduce the 2D it was
given. Measured on Pose2Sim's demo with the session-8 kp model: its bodies project 8-16 px
(median, of a 224-px crop) from the input keypoints and up to 49 px at the wrists. Fitting
them back moves the limbs to where the detector saw them; depth stays the network's guess,
held by the prior.

Contract
    :func:`fit_to_keypoints` ``(bodies, kp2d, visible, loss_fn) -> FrameBodies``:
    ``bodies`` :class:`motionhmr.inference.FrameBodies` of one track (N frames),
    ``kp2d`` float ``[N, 14, 2]`` crop px (what the model was given), ``visible`` bool
    ``[N, 14]`` (False on totally occluded frames: they are held by smoothness and the
    prior alone). Returns new bodies: refined ``rotmat``, ``cam``, ``joints3d``,
    ``kp2d_crop``; the same ``shape``. Deterministic (full-batch Adam from the network's output).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from synth.conventions import LIMB_KEYPOINTS

#: Defaults, chosen on held-out *synthetic* clips (bench/bench_refine.py), not on the
#: footage they are reported on.
ITERATIONS = 100
LR = 0.02
W_PRIOR = 0.01
W_SMOOTH = 1.0


@dataclasses.dataclass(frozen=True)
class FitReport:
    """2D error of the track before and after (crop px, median over visible limb keypoints)."""

    before_px: float
    after_px: float


def fit_to_keypoints(bodies, kp2d: np.ndarray, visible: np.ndarray, loss_fn, *, iterations: int = ITERATIONS,
                     lr: float = LR, w_prior: float = W_PRIOR, w_smooth: float = W_SMOOTH):  # fmt: skip
    """The refined bodies (module contract) and a :class:`FitReport`."""
    import roma

    from motionhmr.inference import FrameBodies
    from motionhmr.losses import normalised_to_px, project_weak, px_to_normalised

    n = len(bodies.rotmat)
    kp2d = np.asarray(kp2d, np.float32)
    visible = np.asarray(visible, bool)
    if kp2d.shape != (n, 14, 2) or visible.shape != (n, 14):
        raise ValueError(f"kp2d [N, 14, 2] and visible [N, 14] for N={n}; got {kp2d.shape} and {visible.shape}")
    rot0 = torch.as_tensor(bodies.rotmat, dtype=torch.float32)
    shape = torch.as_tensor(bodies.shape, dtype=torch.float32)
    cam = torch.as_tensor(bodies.cam, dtype=torch.float32).clone().requires_grad_(True)
    delta = torch.zeros(rot0.shape[:-2] + (3,), requires_grad=True)
    target = px_to_normalised(torch.as_tensor(np.nan_to_num(kp2d)))
    weight = torch.zeros(n, 14)
    limbs = list(range(len(LIMB_KEYPOINTS)))
    weight[:, limbs] = torch.as_tensor(visible[:, limbs], dtype=torch.float32)
    seen = weight.sum().clamp(min=1.0)

    def joints_of(d):
        return loss_fn.joints((roma.rotvec_to_rotmat(d) @ rot0)[None], shape[None])[0]

    opt = torch.optim.Adam([delta, cam], lr=lr)
    for _ in range(iterations if weight.sum() > 0 else 0):
        joints = joints_of(delta)
        e2d = ((project_weak(joints, cam) - target).square().sum(-1) * weight).sum() / seen
        prior = delta.square().sum(-1).mean()
        accel = (joints[2:] - 2 * joints[1:-1] + joints[:-2]).square().sum(-1).mean() if n > 2 else joints.new_zeros(())
        loss = e2d + w_prior * prior + w_smooth * accel
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        rotmat = roma.rotvec_to_rotmat(delta) @ rot0
        joints = loss_fn.joints(rotmat[None], shape[None])[0]
        uv = normalised_to_px(project_weak(joints, cam))
    out = FrameBodies(joints3d=joints.numpy(), rotmat=rotmat.numpy(), shape=bodies.shape, cam=cam.detach().numpy(),
                      kp2d_crop=uv.numpy())  # fmt: skip
    return out, FitReport(_median_px(bodies.kp2d_crop, kp2d, weight), _median_px(out.kp2d_crop, kp2d, weight))


def _median_px(uv: np.ndarray, kp2d: np.ndarray, weight: torch.Tensor) -> float:
    use = weight.numpy() > 0
    if not use.any():
        return float("nan")
    return float(np.median(np.linalg.norm(np.asarray(uv) - kp2d, axis=-1)[use]))
