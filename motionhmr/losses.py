"""Motion-HMR losses and the geometry they share with evaluation.

Protocols and units
    **PA (Procrustes-aligned) error**: each predicted joint set is aligned to its target by the
    similarity transform (rotation, isotropic scale, translation) that minimises the summed
    squared joint distance (Umeyama / Kabsch with a reflection fix); the error is then the
    mean Euclidean distance per joint, in the input's units (metres here). This is the
    PA-MPJPE of HMR and 3DPW evaluation (VideoPose3D's ``p_mpjpe``), but batched and
    differentiable in torch.
    **Weak perspective**: normalised crop coordinates ``u = s * (X + tx)``, ``v = s * (Y + ty)``
    from camera-frame joints (OpenCV axes, root at the origin) and ``cam = (s, tx, ty)``;
    ``u, v`` in [-1, 1] span the 224-px crop edge to edge, ``px = 112 u + 111.5``: crop px
    count pixel centres on integers (as ``cv2.warpAffine`` and :func:`synth.crops.box_affine`
    do), so the detector box's centre, crop px 111.5, is ``u = 0``.

``MotionHMRLoss(body, cfg)(prediction, batch) -> {"loss", "loss3d", "loss2d", ...}`` consumes
the training batch of the shared contract (``motionhmr/data.py``):
``joints3d`` ``[B, T, 14, 3]``, ``kp2d`` ``[B, T, 14, 2]`` (crop px), ``kp_visible`` ``[B, T, 14]``,
``kp2d_future`` ``[B, S, 14, 2]``, ``kp_visible_future`` ``[B, S, 14]``, with T = S + 1.
"""

from __future__ import annotations

import roma
import torch
from torch import nn

from motionhmr.model.config import LossConfig
from motionhmr.model.motionhmr import Prediction

CROP = 224
#: crop px of the crop's centre (pixel centres on integers): where the box centre lands.
CROP_CENTRE = (CROP - 1) / 2


def procrustes_align(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``pred`` ``[..., N, 3]`` moved onto ``target`` ``[..., N, 3]`` by the best similarity transform.

    Finds ``s, R, t`` minimising ``sum_i |s R p_i + t - q_i|^2`` with ``R`` a proper rotation
    (det +1: a mirror image is not accepted, the reflection is folded into the smallest
    singular value) and returns ``s R p_i + t``, in ``pred``'s dtype (at least float32).
    Differentiable: the rotation comes from ``roma.special_procrustes`` (SVD via
    ``torch.linalg.svd``, with a damped derivative that stays finite when singular values
    tie, e.g. for a symmetric point set; plain SVD backward divides by their differences).
    Degenerate input (all predicted joints at one point: spread below ``eps``) gives scale 0,
    i.e. every joint at the target's centroid, with finite gradients.
    """
    if pred.shape != target.shape or pred.ndim < 2 or pred.shape[-1] != 3:
        raise ValueError(f"procrustes_align needs two [..., N, 3] arrays of one shape, got {list(pred.shape)} "
                         f"and {list(target.shape)}")
    dtype = torch.promote_types(pred.dtype, torch.float32)
    p, q = pred.to(dtype), target.to(dtype)
    mu_p, mu_q = p.mean(-2, keepdim=True), q.mean(-2, keepdim=True)
    x, y = p - mu_p, q - mu_q
    # R maximises trace(R^T M) for M = sum_i y_i x_i^T: the rotation nearest to M.
    m = y.transpose(-1, -2) @ x
    rot, signed_sv = roma.special_procrustes(m, return_singular_values=True, method="svd")
    # clamp, not add: eps must not bias the scale of ordinary input
    scale = signed_sv.sum(-1) / x.square().sum((-1, -2)).clamp_min(eps)
    return scale[..., None, None] * (x @ rot.transpose(-1, -2)) + mu_q


def pa_mpjpe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error after Procrustes alignment: ``[..., N, 3]`` x2 -> ``[...]``,
    same units as the input (see the module docstring for the protocol)."""
    aligned = procrustes_align(pred, target)
    return _distance(aligned - target.to(aligned.dtype)).mean(-1)


def project_weak(joints: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Weak perspective: joints ``[..., N, 3]`` (camera frame) and ``cam`` ``[..., 3]`` (s, tx, ty)
    -> normalised crop coordinates ``[..., N, 2]``: ``u = s * (X + tx)``, ``v = s * (Y + ty)``."""
    return cam[..., None, :1] * (joints[..., :2] + cam[..., None, 1:])


def px_to_normalised(px: torch.Tensor, crop: int = CROP) -> torch.Tensor:
    """Crop pixels (-0.5..crop-0.5, centres on integers) -> normalised coordinates (-1..1):
    ``u = (px - (crop - 1) / 2) / (crop / 2)``."""
    return (px - (crop - 1) / 2) / (crop / 2)


def normalised_to_px(uv: torch.Tensor, crop: int = CROP) -> torch.Tensor:
    """Normalised coordinates (-1..1) -> crop pixels: ``px = u * crop / 2 + (crop - 1) / 2``."""
    return uv * (crop / 2) + (crop - 1) / 2


def domain_loss(synthetic_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """DANN classifier loss: binary cross-entropy with synthetic = 0 and real = 1, the mean of
    the two domains' means (so unequal batch sizes weigh the domains equally)."""
    bce = nn.functional.binary_cross_entropy_with_logits
    return 0.5 * (
        bce(synthetic_logits, torch.zeros_like(synthetic_logits))
        + bce(real_logits, torch.ones_like(real_logits))
    )


class MotionHMRLoss(nn.Module):
    """Supervised loss of both heads on a synthetic batch.

    For each head the body model is posed with the predicted rotations and shape (global
    orientation = ``rotmat[..., 0]`` in the camera frame, ``transl`` = 0 so the root sits at
    the origin), and its 14 evaluation joints give

    * ``loss3d``: PA error (metres, mean per joint and step) against ``joints3d[:, :S]``
      (current head) and ``joints3d[:, 1:]`` (future head);
    * ``loss2d``: L1 (``|du| + |dv|``) or L2 (Euclidean) error in normalised crop coordinates of
      the root-relative joints projected with the head's ``cam``, averaged over the visible
      keypoints only: ``kp2d[:, :S]`` / ``kp_visible[:, :S]`` for the current head,
      ``kp2d_future`` / ``kp_visible_future`` for the future head. Steps (or whole batches)
      without a visible keypoint add nothing and produce no NaN.

    Each term is the mean of the two heads'; ``loss = w3d * loss3d + w2d * loss2d``. The
    per-head terms are returned too (``loss3d_current``, ``loss3d_future``, ``loss2d_current``,
    ``loss2d_future``) for logging. Computed in float32 whatever the caller's autocast.
    """

    def __init__(self, body, cfg: LossConfig | None = None):
        super().__init__()
        self.body = body
        self.cfg = cfg or LossConfig()

    def joints(self, rotmat: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        """Root-relative camera-frame evaluation joints ``[..., 14, 3]`` of predicted
        ``rotmat`` ``[..., J, 3, 3]`` and ``shape`` ``[..., shape_dim]`` (any leading dims)."""
        lead = rotmat.shape[:-3]
        rot = rotmat.reshape(-1, *rotmat.shape[-3:]).float()
        n = rot.shape[0]
        # the skeleton alone (no mesh): every loss and metric here is on joints
        joints = self.body.joints(rot[:, 1:], shape.reshape(n, -1).float(), rot[:, 0], rot.new_zeros(n, 3))
        eval_joints = joints[:, self.body.skeleton.eval_index]
        return (eval_joints - joints[:, :1]).reshape(*lead, -1, 3)

    def forward(self, pred: Prediction, batch: dict) -> dict[str, torch.Tensor]:
        cur, fut = pred.current, pred.future
        b, s = cur.rotmat.shape[:2]
        _check_batch(batch, b, s)
        with torch.autocast(device_type=cur.rotmat.device.type, enabled=False):
            # one body call for both heads: [2, B, S, 14, 3]
            joints = self.joints(torch.stack([cur.rotmat, fut.rotmat]), torch.stack([cur.shape, fut.shape]))
            target3d = torch.stack([batch["joints3d"][:, :s], batch["joints3d"][:, 1:]]).float()
            err3d = pa_mpjpe(joints, target3d).flatten(1).mean(1)  # [2]

            uv = project_weak(joints, torch.stack([cur.cam, fut.cam]).float())
            visible = torch.stack([batch["kp_visible"][:, :s], batch["kp_visible_future"]]).bool()
            target2d = torch.stack([batch["kp2d"][:, :s], batch["kp2d_future"]]).float()
            # an invisible keypoint may hold anything, NaN included: replace it before any
            # arithmetic (masking afterwards would still send NaN through the backward pass)
            target2d = px_to_normalised(torch.where(visible[..., None], target2d, CROP_CENTRE))
            diff = uv - target2d
            err2d = diff.abs().sum(-1) if self.cfg.loss2d == "l1" else _distance(diff)  # [2, B, S, 14]
            err2d = (err2d * visible).flatten(1).sum(1) / visible.flatten(1).sum(1).clamp_min(1)

        loss3d, loss2d = err3d.mean(), err2d.mean()
        return {
            "loss": self.cfg.w3d * loss3d + self.cfg.w2d * loss2d,
            "loss3d": loss3d,
            "loss2d": loss2d,
            "loss3d_current": err3d[0],
            "loss3d_future": err3d[1],
            "loss2d_current": err2d[0],
            "loss2d_future": err2d[1],
        }


def _distance(diff: torch.Tensor) -> torch.Tensor:
    """Euclidean norm over the last axis with a finite gradient at zero: a floor of the dtype's
    machine epsilon under the root (1e-7 in float32) instead of sqrt's infinite slope at 0."""
    return torch.sqrt(diff.square().sum(-1) + torch.finfo(diff.dtype).eps ** 2)


def _check_batch(batch: dict, b: int, s: int) -> None:
    t = s + 1
    expected = {
        "joints3d": (b, t, 14, 3),
        "kp2d": (b, t, 14, 2),
        "kp_visible": (b, t, 14),
        "kp2d_future": (b, s, 14, 2),
        "kp_visible_future": (b, s, 14),
    }
    for key, shape in expected.items():
        if key not in batch:
            raise KeyError(f"training batch lacks {key!r} (keys: {sorted(batch)})")
        if tuple(batch[key].shape) != shape:
            raise ValueError(f"batch[{key!r}] must have shape {list(shape)} for a {s}-step prediction, "
                             f"got {list(batch[key].shape)}")
