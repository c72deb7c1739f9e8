"""Body models behind one interface (:mod:`synth.bodies.base`).

Backends are imported lazily, so choosing ``anny`` never imports smplx and vice versa.
"""

from __future__ import annotations

import importlib

from synth.bodies.base import BodyModel, BodyOutput, Skeleton

BACKENDS = {
    "anny": "synth.bodies.anny_body:AnnyBody",
    "smpl": "synth.bodies.smpl_body:SMPLBody",
}


def build_body(cfg) -> BodyModel:
    """Build the body backend named by ``cfg.name`` (a :class:`synth.config.BodyConfig`)."""
    if cfg.name not in BACKENDS:
        from synth.errors import InputError

        raise InputError(f"unknown body backend {cfg.name!r}; known: {', '.join(BACKENDS)}")
    module, cls = BACKENDS[cfg.name].split(":")
    backend = getattr(importlib.import_module(module), cls)
    if cfg.name == "anny":
        return backend(topology=cfg.topology, cache_dir=cfg.cache_dir)
    return backend(cfg.model_path, model_type=cfg.model_type, gender=cfg.gender, num_betas=cfg.num_betas)


__all__ = ["BACKENDS", "BodyModel", "BodyOutput", "Skeleton", "build_body"]
