"""Evaluation metrics on hand-made poses whose errors are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from motionhmr import metrics


def random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    return q * np.linalg.det(q)  # det +1


def poses(rng, n=8) -> np.ndarray:
    """``[n, 14, 3]`` random non-degenerate 3D 'skeletons' (metres)."""
    return 0.4 * rng.standard_normal((n, 14, 3)) + [0.0, 0.0, 4.0]


def pelvis_of(x):
    return 0.5 * (x[:, 2] + x[:, 3])  # r_hip, l_hip


def test_pa_mpjpe_is_zero_for_a_rotated_scaled_shifted_copy(rng):
    gt = poses(rng)
    pred = np.stack([1.7 * g @ random_rotation(rng).T + rng.standard_normal(3) for g in gt])
    np.testing.assert_allclose(metrics.pa_mpjpe(pred, gt), 0.0, atol=1e-9)
    assert (metrics.mpjpe(pred, gt) > 10).all()  # the copy itself is far off


def test_mpjpe_ignores_translation_and_scales_about_the_pelvis(rng):
    gt = poses(rng)
    shifted = gt + rng.standard_normal((len(gt), 1, 3))  # a different shift per frame
    np.testing.assert_allclose(metrics.mpjpe(shifted, gt), 0.0, atol=1e-9)
    p = pelvis_of(gt)[:, None]
    scaled = p + 1.1 * (gt - p)
    expected = 0.1 * 1000 * np.linalg.norm(gt - p, axis=-1).mean(axis=1)
    np.testing.assert_allclose(metrics.mpjpe(scaled, gt), expected, rtol=1e-12)
    np.testing.assert_allclose(metrics.pa_mpjpe(scaled, gt), 0.0, atol=1e-9)


def test_a_10mm_offset_on_the_head_gives_10_over_14_mm(rng):
    gt = poses(rng)
    pred = gt.copy()
    pred[:, 13] += [0.0, 0.010, 0.0]
    np.testing.assert_allclose(metrics.mpjpe(pred, gt), 10 / 14, rtol=1e-12)
    # Procrustes (least squares) leaves at most the squared residual of the best pure
    # translation, a^2 (J-1)/J, so the mean error is at most a sqrt(J-1)/J by Cauchy-Schwarz.
    aligned = metrics.procrustes_align(pred, gt)
    assert (((aligned - gt) ** 2).sum(axis=(1, 2)) <= 0.010**2 * 13 / 14 + 1e-15).all()
    pa = metrics.pa_mpjpe(pred, gt)
    assert (pa > 0.1).all() and (pa < 10 * np.sqrt(13) / 14).all()


def test_a_10mm_offset_on_a_hip_moves_the_pelvis_by_5mm(rng):
    gt = poses(rng)
    pred = gt.copy()
    pred[:, 2] += [0.010, 0.0, 0.0]  # r_hip: the pelvis (mid-hips) moves 5 mm
    # after root alignment every joint is 5 mm off (the hip itself +5, the rest -5)
    np.testing.assert_allclose(metrics.mpjpe(pred, gt), 5.0, rtol=1e-12)


def orthogonal_perturbation(gt_frame: np.ndarray, rng, size: float) -> np.ndarray:
    """``[14, 3]`` offsets with no translation, scale or rotation component about
    ``gt_frame``, so Procrustes keeps R = I and only shrinks the scale (closed form)."""
    c = gt_frame - gt_frame.mean(axis=0)
    basis = [np.tile(np.eye(3)[k], (14, 1)) for k in range(3)]  # translations
    basis.append(c)  # scale
    basis += [np.cross(np.eye(3)[k], c) for k in range(3)]  # infinitesimal rotations
    b = np.stack([v.reshape(-1) for v in basis], axis=1)  # [42, 7]
    e = rng.standard_normal(42)
    e -= b @ np.linalg.lstsq(b, e, rcond=None)[0]
    return size * e.reshape(14, 3) / np.linalg.norm(e)


def closed_form_pa(gt_frame: np.ndarray, e: np.ndarray) -> float:
    """PA-MPJPE (mm) of ``gt + e`` for an orthogonal ``e``: R = I, t matches centroids and
    s = |c|^2 / (|c|^2 + |e|^2), so joint j is off by |(s - 1) c_j + s e_j|."""
    c = gt_frame - gt_frame.mean(axis=0)
    s = (c**2).sum() / ((c**2).sum() + (e**2).sum())
    return 1000 * np.linalg.norm((s - 1) * c + s * e, axis=-1).mean()


def test_pa_mpjpe_matches_the_closed_form_for_an_orthogonal_perturbation(rng):
    gt = poses(rng, n=6)
    e = np.stack([orthogonal_perturbation(g, rng, size=0.05) for g in gt])
    expected = [closed_form_pa(g, ei) for g, ei in zip(gt, e, strict=True)]
    np.testing.assert_allclose(metrics.pa_mpjpe(gt + e, gt), expected, rtol=1e-9)
    # ... and PA-MPJPE does not care where the prediction sits, how big or how turned.
    moved = np.stack([0.6 * p @ random_rotation(rng).T + [1, 2, 3] for p in gt + e])
    np.testing.assert_allclose(metrics.pa_mpjpe(moved, gt), expected, rtol=1e-9)
    # root-aligned MPJPE of the same prediction, by hand: e_j minus the pelvis' offset.
    mp = 1000 * np.linalg.norm(e - pelvis_of(e)[:, None], axis=-1).mean(axis=1)
    np.testing.assert_allclose(metrics.mpjpe(gt + e, gt), mp, rtol=1e-12)


def test_pa_mpjpe_does_not_allow_a_reflection(rng):
    gt = poses(rng)
    mirrored = gt * [-1.0, 1.0, 1.0]  # a mirror image is not a similarity transform
    assert (metrics.pa_mpjpe(mirrored, gt) > 20).all()
    np.testing.assert_allclose(metrics.pa_mpjpe(gt, gt), 0.0, atol=1e-9)


def test_a_collapsed_prediction_maps_to_the_centroid(rng):
    gt = poses(rng, n=2)
    pred = np.zeros_like(gt)
    expected = 1000 * np.linalg.norm(gt - gt.mean(axis=1, keepdims=True), axis=-1).mean(axis=1)
    np.testing.assert_allclose(metrics.pa_mpjpe(pred, gt), expected, rtol=1e-12)


def quadratic_track(rng, n=20) -> np.ndarray:
    """``[n, 14, 3]``: every joint moves with its own constant acceleration."""
    t = np.arange(n, dtype=float)[:, None, None]
    x0, v, a = rng.standard_normal((3, 14, 3))
    return x0 + 0.01 * v * t + 0.5 * 0.001 * a * t**2


def test_accel_error_of_known_quadratic_trajectories(rng):
    gt = quadratic_track(rng)
    t = np.arange(len(gt), dtype=float)
    np.testing.assert_allclose(metrics.accel_error(gt, gt), 0.0, atol=1e-9)
    # the head drifts by c t^2 along x: its acceleration error is 2c, the mean over 14 joints 2c/14
    c = 0.0035
    pred = gt.copy()
    pred[:, 13, 0] += c * t**2
    err = metrics.accel_error(pred, gt)
    assert err.shape == (len(gt) - 2,)
    np.testing.assert_allclose(err, 1000 * 2 * c / 14, rtol=1e-9)
    # a uniform drift of every joint is a translation: gone after root alignment, 2c without it
    uniform = gt + (c * t**2)[:, None, None] * np.array([0.0, 0.6, 0.8])
    np.testing.assert_allclose(metrics.accel_error(uniform, gt), 0.0, atol=1e-9)
    np.testing.assert_allclose(metrics.accel_error(uniform, gt, root_align_joints=False), 2000 * c, rtol=1e-9)


def test_accel_error_drops_the_three_windows_an_invalid_frame_enters(rng):
    gt = quadratic_track(rng, n=10)
    pred = gt.copy()
    pred[6, 13] += [0.014, 0.0, 0.0]  # a 14 mm spike on the head in frame 6
    # second differences (1, -2, 1): windows starting at 4, 5, 6 see 1, 2, 1 mm
    expected = np.zeros(8)
    expected[4:7] = [1.0, 2.0, 1.0]
    np.testing.assert_allclose(metrics.accel_error(pred, gt), expected, atol=1e-9)
    valid = np.ones(10, bool)
    valid[6] = False
    kept = metrics.accel_error(pred, gt, valid=valid)
    assert kept.shape == (5,)
    np.testing.assert_allclose(kept, 0.0, atol=1e-9)
    assert metrics.accel_windows(valid).tolist() == [True] * 4 + [False] * 3 + [True]


def test_pve_aligns_each_mesh_by_its_own_pelvis(rng):
    joints = poses(rng, n=3)
    verts = rng.standard_normal((3, 5, 3))
    shift = rng.standard_normal((3, 1, 3))
    np.testing.assert_allclose(metrics.pve(verts + shift, verts, joints + shift, joints), 0.0, atol=1e-9)
    off = verts.copy()
    off[:, 2] += [0.0, 0.0, 0.010]  # one of 5 vertices 10 mm off
    np.testing.assert_allclose(metrics.pve(off, verts, joints, joints), 2.0, rtol=1e-12)


def test_empty_inputs_give_empty_outputs():
    empty = np.zeros((0, 14, 3))
    for fn in (metrics.mpjpe, metrics.pa_mpjpe, metrics.accel_error):
        assert fn(empty, empty).shape == (0,)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda a: metrics.pa_mpjpe(a, a[:, :13]), "differ in shape"),
        (lambda a: metrics.mpjpe(a[:, :13], a[:, :13]), "14 EVAL_JOINTS"),
        (lambda a: metrics.pa_mpjpe(a[0], a[0]), r"\[N, J, 3\]"),
        (lambda a: metrics.pa_mpjpe(a[..., :2], a[..., :2]), r"\[N, J, 3\]"),
        (lambda a: metrics.accel_error(a, a, valid=np.ones(3, bool)), "one flag per frame"),
        (lambda a: metrics.pve(a, a, a[:2], a[:2]), "frames"),
    ],
)
def test_shape_errors_name_the_problem(rng, call, message):
    with pytest.raises(ValueError, match=message):
        call(poses(rng, n=4))
