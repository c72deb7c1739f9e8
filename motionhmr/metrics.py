"""Evaluation metrics for 3D joints and meshes (numpy, float64).

These are the *reported* numbers; the differentiable training losses live in
:mod:`motionhmr.losses` and share nothing with this module on purpose, so a change to a
loss can never move an evaluation score.

Contract shared by every function
    Inputs are arrays (or CPU tensors) in **metres**, camera frame
    (:mod:`synth.conventions`); joints are ``[N, J, 3]`` (``N`` frames), for the
    root-aligned metrics ``J = 14`` in ``EVAL_JOINTS`` (LSP / 3DPW) order. Outputs are
    per-frame (or per-window) errors in **millimetres**, float64, one value per frame, so
    callers choose how to average (per person, then over people, for 3DPW).

Root alignment
    MPJPE, PVE and the acceleration error first subtract the **pelvis, the midpoint of the
    two hips** (``EVAL_JOINTS`` indices 2 and 3, ``r_hip`` and ``l_hip``) from each pose:
    LSP's 14 joints have no pelvis, and this is the convention of HMMR's and VIBE's 3DPW
    evaluation (``align_by_pelvis`` there). Each pose uses its own pelvis, so a model that
    cannot know absolute depth (weak perspective) is not charged for it.
"""

from __future__ import annotations

import numpy as np

from synth.conventions import EVAL_JOINTS

#: Metres -> millimetres: every metric reports mm.
MM = 1000.0
#: Pelvis = midpoint of these EVAL_JOINTS (r_hip, l_hip).
HIPS: tuple[int, int] = (EVAL_JOINTS.index("r_hip"), EVAL_JOINTS.index("l_hip"))


def pelvis(joints: np.ndarray) -> np.ndarray:
    """``[N, 3]`` midpoint of the two hips of ``[N, 14, 3]`` EVAL_JOINTS poses."""
    joints = _points("joints", joints, n_joints=len(EVAL_JOINTS))
    return 0.5 * (joints[:, HIPS[0]] + joints[:, HIPS[1]])


def root_align(joints: np.ndarray) -> np.ndarray:
    """``[N, 14, 3]`` poses with their own pelvis (mid-hips) moved to the origin."""
    joints = _points("joints", joints, n_joints=len(EVAL_JOINTS))
    return joints - pelvis(joints)[:, None]


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Mean per-joint position error (protocol #1 in VideoPose3D's terms), root-aligned.

    ``pred``, ``gt``: ``[N, 14, 3]`` metres, EVAL_JOINTS order. Both are moved so that
    their own pelvis (mid-hips) is at the origin, then the Euclidean joint errors are
    averaged over the 14 joints. Returns ``[N]`` millimetres.
    """
    pred, gt = _pair(pred, gt, n_joints=len(EVAL_JOINTS))
    return MM * np.linalg.norm(root_align(pred) - root_align(gt), axis=-1).mean(axis=-1)


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Procrustes-aligned MPJPE (protocol #2 in VideoPose3D's terms; "reconstruction
    error" in HMR).

    ``pred``, ``gt``: ``[N, J, 3]`` metres, any ``J >= 3``. Each frame's prediction is
    mapped by the similarity transform (uniform scale, rotation, translation; no
    reflection) that best fits it to the ground truth in least squares, then the
    Euclidean joint errors are averaged over the joints. Returns ``[N]`` millimetres.
    """
    pred, gt = _pair(pred, gt)
    return MM * np.linalg.norm(procrustes_align(pred, gt) - gt, axis=-1).mean(axis=-1)


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``[N, J, 3]``: ``s R pred + t`` per frame, the similarity transform (det R = +1)
    minimising ``sum_j |s R pred_j + t - gt_j|^2`` (Umeyama 1991). A frame whose
    prediction has collapsed to a point maps to the ground-truth centroid."""
    pred, gt = _pair(pred, gt)
    mu_p, mu_g = pred.mean(axis=1, keepdims=True), gt.mean(axis=1, keepdims=True)
    x, y = pred - mu_p, gt - mu_g
    cov = np.einsum("nji,njk->nik", x, y)  # [N, 3, 3] = sum_j x_j y_j^T
    u, sing, vt = np.linalg.svd(cov)
    # Flip the weakest axis where the best orthogonal map would be a reflection.
    d = np.sign(np.linalg.det(np.einsum("nij,njk->nik", u, vt)))
    d[d == 0] = 1.0
    flip = np.ones_like(sing)
    flip[:, -1] = d
    rot = np.einsum("nji,nj,nkj->nik", vt, flip, u)  # V diag(flip) U^T, maps x onto y
    var = (x**2).sum(axis=(1, 2))
    scale = np.divide((sing * flip).sum(axis=1), var, out=np.zeros_like(var), where=var > 0)
    return scale[:, None, None] * np.einsum("nik,njk->nji", rot, x) + mu_g


def pve(
    pred_vertices: np.ndarray,
    gt_vertices: np.ndarray,
    pred_joints: np.ndarray,
    gt_joints: np.ndarray,
) -> np.ndarray:
    """Per-vertex error: mean Euclidean vertex error after root alignment.

    ``pred_vertices``, ``gt_vertices``: ``[N, V, 3]`` metres, the same mesh topology
    (both SMPL); ``pred_joints``, ``gt_joints``: ``[N, 14, 3]`` EVAL_JOINTS whose pelvis
    (mid-hips) each mesh is translated by, exactly as :func:`mpjpe` aligns joints.
    Returns ``[N]`` millimetres.
    """
    pred_vertices, gt_vertices = _pair(pred_vertices, gt_vertices, what="vertices")
    pred_joints, gt_joints = _pair(pred_joints, gt_joints, n_joints=len(EVAL_JOINTS))
    if pred_joints.shape[0] != pred_vertices.shape[0]:
        raise ValueError(f"vertices cover {pred_vertices.shape[0]} frames but joints {pred_joints.shape[0]}")
    pred_aligned = pred_vertices - pelvis(pred_joints)[:, None]
    gt_aligned = gt_vertices - pelvis(gt_joints)[:, None]
    return MM * np.linalg.norm(pred_aligned - gt_aligned, axis=-1).mean(axis=-1)


def accel_windows(valid: np.ndarray) -> np.ndarray:
    """``[N-2]`` bool: window ``i`` (frames ``i, i+1, i+2``) counts only if all three
    frames are valid. This is VIBE's / HMMR's rule (``compute_error_accel``: an invalid
    frame removes the three accelerations it enters)."""
    valid = np.asarray(valid, dtype=bool)
    if valid.ndim != 1:
        raise ValueError(f"valid must be [N] booleans, got shape {list(valid.shape)}")
    if valid.size < 3:
        return np.zeros(0, dtype=bool)
    return valid[:-2] & valid[1:-1] & valid[2:]


def accel_error(
    pred: np.ndarray,
    gt: np.ndarray,
    valid: np.ndarray | None = None,
    root_align_joints: bool = True,
) -> np.ndarray:
    """Acceleration error (HMMR, Kanazawa et al. 2019; as computed by VIBE).

    ``pred``, ``gt``: ``[N, 14, 3]`` metres, consecutive frames. The acceleration at frame
    ``i+1`` is the second finite difference ``x_i - 2 x_{i+1} + x_{i+2}``; the error of a
    window is ``|a_pred - a_gt|`` averaged over the joints. ``valid`` ``[N]`` (optional)
    marks scored frames; windows touching an unscored frame are dropped
    (:func:`accel_windows`). With ``root_align_joints`` (the default, as VIBE does) both
    sequences are pelvis-aligned first, so global translation jitter is not counted.

    Returns ``[M]`` millimetres per frame^2 (not per s^2: multiply by fps^2 for that), one
    value per kept window, ``M <= N - 2``; empty if none is kept.
    """
    pred, gt = _pair(pred, gt, n_joints=len(EVAL_JOINTS) if root_align_joints else None)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != (pred.shape[0],):
            raise ValueError(
                f"valid must have shape [{pred.shape[0]}] (one flag per frame), " f"got {list(valid.shape)}"
            )
    if root_align_joints:
        pred, gt = root_align(pred), root_align(gt)
    if pred.shape[0] < 3:
        return np.zeros(0)
    accel_pred = pred[:-2] - 2 * pred[1:-1] + pred[2:]
    accel_gt = gt[:-2] - 2 * gt[1:-1] + gt[2:]
    per_window = MM * np.linalg.norm(accel_pred - accel_gt, axis=-1).mean(axis=-1)
    if valid is None:
        return per_window
    return per_window[accel_windows(valid)]


# -- shape checks ------------------------------------------------------------------------


def _points(name: str, x, n_joints: int | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(
            f"{name} must be [N, J, 3] (frames, points, xyz metres), got shape {list(x.shape)}; "
            f"use x[None] for a single frame"
        )
    if n_joints is not None and x.shape[1] != n_joints:
        raise ValueError(
            f"{name} must hold the {n_joints} EVAL_JOINTS (synth.conventions), "
            f"got {x.shape[1]} joints in shape {list(x.shape)}"
        )
    return x


def _pair(pred, gt, n_joints: int | None = None, what: str = "joints"):
    pred = _points(f"predicted {what}", pred, n_joints)
    gt = _points(f"ground-truth {what}", gt, n_joints)
    if pred.shape != gt.shape:
        raise ValueError(
            f"predicted {what} {list(pred.shape)} and ground truth {list(gt.shape)} differ in shape"
        )
    return pred, gt
