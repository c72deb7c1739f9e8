"""OpenCV flow backends: DIS (the default), Farneback, Dual TV-L1 and DeepFlow.

All run on the CPU, one pair at a time, on grayscale frames. ``flow bench`` prints each
one's speed and its error against ground truth; the README keeps the latest table.
"""

from __future__ import annotations

import cv2
import numpy as np

from flow.registry import FlowBackend


def _gray(pairs: np.ndarray) -> np.ndarray:
    n, _, h, w, _ = pairs.shape
    flat = pairs.reshape(n * 2, h, w, 3)
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in flat]).reshape(n, 2, h, w)


class _PerPair(FlowBackend):
    def _estimate(self, pairs: np.ndarray) -> np.ndarray:
        gray = _gray(pairs)
        return np.stack([self._pair(g[0], g[1]) for g in gray])

    def _pair(self, g0: np.ndarray, g1: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class DIS(_PerPair):
    """Dense Inverse Search (Kroeger et al. 2016), ``cv2.DISOpticalFlow``.

    Presets are OpenCV's, with the finest pyramid level lowered for the suite's small
    images (224-px crops, 320x240 backgrounds). OpenCV's ULTRAFAST and FAST stop at
    quarter resolution, a 56x56 field at 224 px, which loses forearms and shins: on
    rendered bodies their EPE drops from 2.0 to 1.6 px at half resolution. ``fine`` runs
    MEDIUM down to full resolution (EPE 1.45 -> 1.14 px, ~3x slower).
    """

    # preset -> (OpenCV preset, finest scale: 0 = full resolution, 1 = half, ...)
    PRESETS = {
        "ultrafast": (cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, 1),
        "fast": (cv2.DISOPTICAL_FLOW_PRESET_FAST, 1),
        "medium": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, 1),
        "fine": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, 0),
    }

    def __init__(self, preset: str = "medium"):
        self.name = f"dis:{preset}"
        cv_preset, finest = self.PRESETS[preset]
        self._dis = cv2.DISOpticalFlow_create(cv_preset)
        self._dis.setFinestScale(finest)

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.preset)

    def _pair(self, g0, g1):
        return self._dis.calc(g0, g1, None)


class Farneback(_PerPair):
    """Polynomial-expansion flow (Farneback 2003), ``cv2.calcOpticalFlowFarneback``."""

    name = "farneback"

    @classmethod
    def from_config(cls, cfg):
        return cls()

    def _pair(self, g0, g1):
        # Not OpenCV's sample settings (3 levels of 0.5, 15 px window): a 9 px window
        # suits limbs ~10 px wide in a 224-px crop (body EPE 1.86 -> 1.73 px), and 5 levels
        # of 0.6 reach 30 px motions (motorcycle EPE 12.0 -> 4.6 px).
        return cv2.calcOpticalFlowFarneback(g0, g1, None, 0.6, 5, 9, 3, 5, 1.2, 0)


class _Contrib(_PerPair):
    """Methods from ``cv2.optflow`` (opencv-contrib)."""

    def __init__(self):
        if not hasattr(cv2, "optflow"):
            from synth.errors import InputError

            # Happens when another package installs a plain OpenCV over the contrib build.
            raise InputError(
                f"flow.backend={self.name} needs cv2.optflow, which this cv2 lacks: reinstall the contrib build with "
                ".venv/bin/pip install --force-reinstall opencv-contrib-python-headless -c constraints.txt"
            )
        self._create()  # fail at build time, not on the first pair

    @classmethod
    def from_config(cls, cfg):
        return cls()

    def _pair(self, g0, g1):
        # A fresh solver per pair (creation costs microseconds): OpenCV's TV-L1 keeps
        # state across calls, and after a pair of another size it returns different,
        # worse flow (motorcycle EPE 1.8 -> 4.5 px), so results would depend on history.
        return self._create().calc(g0, g1, None)


class TVL1(_Contrib):
    """Dual TV-L1 (Zach et al. 2007), the classic variational method; slow."""

    name = "tvl1"

    def _create(self):
        algo = cv2.optflow.DualTVL1OpticalFlow_create()
        # Halve per pyramid level (default 0.8): with 5 levels the default reaches only
        # ~2.4x downsampling and misses motions over ~10 px (motorcycle EPE 11.1 -> 1.8 px),
        # and it runs ~8x faster.
        algo.setScaleStep(0.5)
        return algo


class DeepFlow(_Contrib):
    """DeepFlow (Weinzaepfel et al. 2013), ``cv2.optflow.createOptFlow_DeepFlow``."""

    name = "deepflow"

    def _create(self):
        return cv2.optflow.createOptFlow_DeepFlow()
