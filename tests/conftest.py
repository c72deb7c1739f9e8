"""Session fixtures shared by the whole suite."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def anny_body():
    """The default body (first build of its rig takes ~40 s, later ones < 1 s)."""
    from synth.bodies.anny_body import AnnyBody

    return AnnyBody()


@pytest.fixture(scope="session")
def walk(anny_body):
    """The embedded DeepMimic walk retargeted onto the default Anny body at 30 fps."""
    from synth.motion.deepmimic import load_deepmimic
    from synth.motion.retarget import retarget

    return retarget(load_deepmimic("walk"), anny_body).resampled(30.0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
