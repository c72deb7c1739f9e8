"""Ground truth and backends measured against it."""

from __future__ import annotations

import numpy as np
import pytest

from flow import build_backend, endpoint_error, warp
from flow.groundtruth import stereo_motorcycle

from .test_contract import OPENCV_SPECS


def test_rendered_ground_truth_layout(body_gt):
    assert body_gt.pairs.shape == (8, 2, 224, 224, 3) and body_gt.pairs.dtype == np.uint8
    assert body_gt.flow.shape == (8, 224, 224, 2) and body_gt.flow.dtype == np.float32
    share = body_gt.valid.mean(axis=(1, 2))
    assert (share > 0.03).all() and (share < 0.5).all()  # a person, not the whole frame
    assert (body_gt.flow[~body_gt.valid] == 0).all()
    assert np.linalg.norm(body_gt.flow[body_gt.valid], axis=-1).mean() > 1.0  # it moves


def test_rendered_ground_truth_explains_the_images(body_gt):
    """Warping frame t+1 back with the true flow matches frame t on the person far better
    than not moving it (shading changes and occlusion borders keep it above 0)."""
    with_gt, without = [], []
    for pair, flow, valid in zip(body_gt.pairs, body_gt.flow, body_gt.valid):
        with_gt.append(np.abs(warp(pair[1], flow).astype(float) - pair[0])[valid].mean())
        without.append(np.abs(pair[1].astype(float) - pair[0])[valid].mean())
    assert np.mean(with_gt) < 0.4 * np.mean(without)


def test_motorcycle_disparity_is_leftward_flow():
    gt = stereo_motorcycle(0.5)
    assert gt.pairs.shape == (1, 2, 250, 370, 3)
    assert (gt.flow[..., 0][gt.valid] < 0).all() and (gt.flow[..., 1] == 0).all()
    left, right = gt.pairs[0]
    back = warp(right, gt.flow[0]).astype(float)
    assert np.abs(back - left)[gt.valid[0]].mean() < 0.4 * np.abs(right.astype(float) - left)[gt.valid[0]].mean()


@pytest.mark.parametrize("spec", OPENCV_SPECS)
def test_backend_beats_zero_flow_on_rendered_bodies_by_a_wide_margin(spec, body_gt):
    zero = endpoint_error(np.zeros_like(body_gt.flow), body_gt.flow, body_gt.valid)
    got = endpoint_error(build_backend(spec)(body_gt.pairs), body_gt.flow, body_gt.valid)
    assert got["epe"] < 0.65 * zero["epe"], (got, zero)
    assert got["bad3"] < 0.55 * zero["bad3"], (got, zero)


def test_endpoint_error_values():
    gt = np.zeros((1, 2, 2, 2))
    pred = gt.copy()
    pred[0, 0, 0] = [3.0, 4.0]  # error 5
    pred[0, 1, 1] = [1.0, 0.0]  # error 1
    valid = np.ones((1, 2, 2), bool)
    assert endpoint_error(pred, gt, valid) == {"epe": 1.5, "bad3": 0.25, "pixels": 4}
    valid[0, 0, 0] = False
    assert endpoint_error(pred, gt, valid) == {"epe": pytest.approx(1 / 3), "bad3": 0.0, "pixels": 3}
