"""Flow backends by name. Values are ``module:Class`` strings, imported only when built, so
``import flow`` never pulls OpenCV's contrib modules or ptlflow."""

from __future__ import annotations

import importlib

import numpy as np

from flow.contract import check_flow, check_pairs

BACKENDS = {
    "dis": "flow.opencv:DIS",
    "farneback": "flow.opencv:Farneback",
    "tvl1": "flow.opencv:TVL1",
    "deepflow": "flow.opencv:DeepFlow",
    "ptlflow": "flow.ptlflow_backend:Ptlflow",
}


class FlowBackend:
    """Base class: validates the contract around :meth:`_estimate`.

    ``backend(pairs)``: uint8 ``[N, 2, H, W, 3]`` RGB -> float32 ``[N, H, W, 2]`` pixels,
    frame t -> t+1 (see :mod:`flow.contract`).
    """

    name = "base"

    def __call__(self, pairs: np.ndarray) -> np.ndarray:
        pairs = check_pairs(pairs)
        return check_flow(self._estimate(pairs), pairs, self.name)

    def _estimate(self, pairs: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def build_backend(cfg) -> FlowBackend:
    """A backend from a :class:`flow.config.FlowConfig` (or a spec string like ``dis:fast``)."""
    from flow.config import FlowConfig, parse_spec

    if isinstance(cfg, str):
        cfg = parse_spec(cfg)
    if not isinstance(cfg, FlowConfig):
        cfg = FlowConfig(**dict(cfg))
    module, _, cls = BACKENDS[cfg.backend].partition(":")
    return getattr(importlib.import_module(module), cls).from_config(cfg)
