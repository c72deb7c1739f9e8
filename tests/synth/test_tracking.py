"""Camera tracking: median flow, integration from the centre frame, ablation modes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from flow import build_backend
from synth.tracking import camera_offsets, integrate, median_flow


def _pan(t=9, step=(2.0, -1.0)):
    img = cv2.resize(data.astronaut(), (400, 300))
    frames = []
    for i in range(t):
        m = np.float32([[1, 0, -60 + step[0] * i], [0, 1, -30 + step[1] * i]])
        frames.append(cv2.warpAffine(img, m, (320, 240), borderMode=cv2.BORDER_REFLECT))
    return np.stack(frames)


def test_integrate_is_zero_at_the_centre():
    motion = np.tile(np.array([[2.0, -1.0]], np.float32), (8, 1))
    xy = integrate(motion)
    assert xy.shape == (9, 2)
    np.testing.assert_allclose(xy[4], 0)
    np.testing.assert_allclose(xy[8], [8.0, -4.0])
    np.testing.assert_allclose(xy[0], [-8.0, 4.0])


def test_tracked_pan_recovers_the_camera_motion():
    frames = _pan()
    med = median_flow(frames, build_backend("dis:medium"), scale=0.5)
    np.testing.assert_allclose(med, np.tile([2.0, -1.0], (8, 1)), atol=0.2)
    xy = camera_offsets(frames, "tracked", build_backend("dis:medium"))
    np.testing.assert_allclose(xy[-1], [8.0, -4.0], atol=0.8)


@pytest.mark.parametrize("mode", ["untracked", "static"])
def test_ablation_modes_do_not_shift(mode):
    assert not camera_offsets(_pan(), mode).any()


def test_unknown_mode():
    with pytest.raises(ValueError, match="tracking mode 'wobbly'"):
        camera_offsets(_pan(3), "wobbly")
