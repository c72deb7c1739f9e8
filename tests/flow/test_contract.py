"""The flow contract: shapes, dtypes, pixel units, direction, and the model input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flow import FLOW_INPUT_SCALE, build_backend, to_model_input, warp
from flow.contract import check_pairs
from synth.errors import InputError

from .conftest import shifted_pair

OPENCV_SPECS = ["dis:ultrafast", "dis:fast", "dis:medium", "dis:fine", "farneback", "deepflow", "tvl1"]


@pytest.mark.parametrize("spec", OPENCV_SPECS)
def test_known_translation_shape_units_and_direction(spec, photo):
    """A photo moved 3 px right and 2 px up: flow is (+3, -2) px, frame t -> t+1."""
    pairs = np.stack([shifted_pair(photo, 3.0, -2.0), shifted_pair(photo, -1.5, 2.5)])
    flow = build_backend(spec)(pairs)
    assert flow.shape == (2, 256, 256, 2) and flow.dtype == np.float32
    inner = flow[:, 32:-32, 32:-32]
    med = np.median(inner.reshape(2, -1, 2), axis=1)
    np.testing.assert_allclose(med, [[3.0, -2.0], [-1.5, 2.5]], atol=0.25)


@pytest.mark.parametrize("spec", OPENCV_SPECS)
def test_result_does_not_depend_on_earlier_calls(spec, photo):
    """Backends are reused across clips and sizes; a pair's flow must not depend on them."""
    backend = build_backend(spec)
    pair = shifted_pair(photo, 6.0, 1.0)
    first = backend(pair)
    backend(shifted_pair(photo[:96, :128], -3.0, 2.0))  # another size and motion in between
    np.testing.assert_array_equal(backend(pair), first)


def test_single_pair_is_promoted_and_static_pair_gives_zero(photo):
    flow = build_backend("dis:medium")(np.stack([photo, photo]))
    assert flow.shape == (1, 256, 256, 2)
    assert np.abs(flow).max() < 0.05


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((2, 64, 64, 3), np.float32), "dtype float32"),
        (np.zeros((1, 3, 64, 64, 3), np.uint8), r"\[N, 2, H, W, 3\]"),
        (np.zeros((1, 2, 64, 64), np.uint8), r"shape \(1, 2, 64, 64\)"),
        (np.zeros((1, 2, 4, 64, 3), np.uint8), "too small"),
    ],
)
def test_bad_pairs_are_rejected_with_the_contract(bad, message):
    with pytest.raises(InputError, match=message):
        check_pairs(bad)


def test_model_input_scales_by_20_and_adds_magnitude():
    flow = np.array([[[[3.0, 4.0], [-20.0, 0.0]]]], np.float32)  # [1, 1, 2, 2]
    x = to_model_input(flow)
    assert x.shape == (1, 1, 2, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0, 0], [0.15, 0.2, 0.25], rtol=1e-6)
    np.testing.assert_allclose(x[0, 0, 1], [-1.0, 0.0, 1.0], rtol=1e-6)
    assert FLOW_INPUT_SCALE == 20.0


def test_model_input_is_the_same_for_torch_and_numpy(rng):
    flow = rng.normal(0, 8, (3, 5, 7, 2)).astype(np.float32)
    as_np = to_model_input(flow)
    as_torch = to_model_input(torch.from_numpy(flow))
    assert isinstance(as_torch, torch.Tensor) and as_torch.shape == (3, 5, 7, 3)
    np.testing.assert_allclose(as_torch.numpy(), as_np, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(as_np[..., 2], np.hypot(flow[..., 0], flow[..., 1]) / 20, rtol=1e-5)


def test_model_input_rejects_wrong_channel_count():
    with pytest.raises(InputError, match="2 channels"):
        to_model_input(np.zeros((4, 4, 3), np.float32))


def test_warp_with_true_flow_reconstructs_frame_t(photo):
    pair = shifted_pair(photo, 4.0, 1.0)
    flow = np.zeros((256, 256, 2), np.float32)
    flow[..., 0], flow[..., 1] = 4.0, 1.0
    back = warp(pair[1], flow).astype(float)
    err = np.abs(back - pair[0])[16:-16, 16:-16].mean()
    assert err < 1.0 < np.abs(pair[1].astype(float) - pair[0]).mean()
