"""The 16-bit PNG flow codec: round trip within the stated error, range, bad blobs."""

from __future__ import annotations

import numpy as np
import pytest

from flow import decode_flow, encode_flow
from synth.errors import InputError


def test_round_trip_error_is_bounded_and_below_target(rng, body_gt):
    flow = np.concatenate([body_gt.flow, rng.normal(0, 15, (3, 224, 224, 2)).astype(np.float32)])
    back = decode_flow(encode_flow(flow))
    assert back.shape == flow.shape and back.dtype == np.float32
    assert np.abs(back - flow).max() <= 0.5 / 64 + 1e-6  # half a 1/64-px step per component
    assert np.linalg.norm(back - flow, axis=-1).mean() <= 0.05  # the target
    dense = np.linalg.norm(back[8:] - flow[8:], axis=-1).mean()  # the random part: no exact zeros
    assert dense == pytest.approx(0.383 / 64, rel=0.05)  # mean distance to a grid cell's centre


def test_coarser_scale_trades_error_for_size(rng):
    smooth = np.cumsum(rng.normal(0, 0.05, (2, 64, 64, 2)), axis=2).astype(np.float32)
    fine, coarse = encode_flow(smooth), encode_flow(smooth, scale=16)
    assert len(coarse) < len(fine)
    assert np.abs(decode_flow(coarse) - smooth).max() <= 0.5 / 16 + 1e-6


def test_single_frame_and_exact_values():
    flow = np.zeros((5, 6, 2), np.float32)
    flow[1, 2] = [1.25, -0.5]
    back = decode_flow(encode_flow(flow))
    assert back.shape == (1, 5, 6, 2)
    np.testing.assert_array_equal(back[0], flow)  # multiples of 1/64 are exact


def test_out_of_range_is_clipped_not_wrapped():
    flow = np.full((1, 2, 2, 2), 1e4, np.float32)
    flow[..., 1] = -1e4
    back = decode_flow(encode_flow(flow))
    assert (back[..., 0] > 500).all() and (back[..., 1] < -500).all()


def test_compresses_real_flow(body_gt):
    blob = encode_flow(body_gt.flow)
    assert len(blob) < body_gt.flow.nbytes / 10


def test_bad_inputs():
    with pytest.raises(InputError, match=r"\[N, H, W, 2\]"):
        encode_flow(np.zeros((4, 4, 3)))
    with pytest.raises(InputError, match="not a flow PNG"):
        decode_flow(b"not a png")
    from PIL import Image
    import io

    buf = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(buf, format="PNG")
    with pytest.raises(InputError, match="not a flow PNG"):
        decode_flow(buf.getvalue())
