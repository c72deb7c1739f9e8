"""Shared ground truth for the flow tests (rendered once per session)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def body_gt(anny_body):
    """8 rendered 224x224 pairs of the synthetic person with exact motion fields."""
    from flow.groundtruth import rendered_body

    return rendered_body(8, size=224, seed=0, body=anny_body)


@pytest.fixture(scope="session")
def photo():
    """A real photo (scikit-image's astronaut), 256x256 RGB."""
    import cv2
    from skimage import data

    return cv2.resize(data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)


def shifted_pair(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``[2, H, W, 3]``: ``image`` and the same image moved by (dx, dy) pixels, so the
    true flow from the first to the second frame is (dx, dy) everywhere (away from the
    borders)."""
    import cv2

    h, w = image.shape[:2]
    moved = cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h), borderMode=cv2.BORDER_REFLECT)
    return np.stack([image, moved])
