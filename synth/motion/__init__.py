"""Motion sources (DeepMimic, CMU BVH, CMU ASF/AMC, AMASS), retargeting, timing and augmentation.

``load_motion(cfg)`` picks a source by ``cfg.source`` and a clip by ``cfg.clip``; every
source returns a :class:`synth.motion.clip.MotionClip` in the suite frame.
"""

from __future__ import annotations

from pathlib import Path

from synth.errors import InputError
from synth.motion.clip import MotionClip

SOURCES = ("deepmimic", "bvh", "asfamc", "amass")


def list_clips(cfg) -> dict[str, str]:
    """Clip name -> file for the configured source."""
    if cfg.source == "deepmimic":
        from synth.motion.deepmimic import CLIPS, clip_path

        return {c: str(clip_path(c)) for c in CLIPS}
    if cfg.source == "bvh":
        from synth.motion.bvh import list_bvh

        return _list_or_file(cfg.path, list_bvh, ".bvh")
    if cfg.source == "asfamc":
        return _list_or_file(cfg.path, _list_amc, ".amc")
    if cfg.source == "amass":
        return _list_or_file(cfg.path, _list_npz, ".npz")
    raise InputError(f"unknown motion source {cfg.source!r}; known: {', '.join(SOURCES)}")


def load_motion(cfg) -> MotionClip:
    """Load clip ``cfg.clip`` from ``cfg.source`` (see :class:`synth.config.MotionConfig`)."""
    if cfg.source == "deepmimic":
        from synth.motion.deepmimic import load_deepmimic

        return load_deepmimic(cfg.clip)
    path = _clip_file(cfg)
    if cfg.source == "bvh":
        from synth.motion.bvh import load_bvh

        return load_bvh(path)
    if cfg.source == "asfamc":
        from synth.motion.asfamc import load_asfamc

        return load_asfamc(path)  # the subject's .asf beside it; CMU's 120 fps
    if cfg.source == "amass":
        from synth.bodies.smpl_body import SMPLBody
        from synth.motion.amass import load_amass

        if not cfg.body_model_path:
            raise InputError("motion=amass needs motion.body_model_path=<folder with smplh/SMPLH_NEUTRAL.npz>")
        return load_amass(path, SMPLBody(cfg.body_model_path, model_type="smplh"))
    raise InputError(f"unknown motion source {cfg.source!r}; known: {', '.join(SOURCES)}")


def _clip_file(cfg) -> Path:
    path = Path(cfg.path)
    if path.is_file() and (not cfg.clip or cfg.clip == path.stem):
        return path
    clips = list_clips(cfg)
    if cfg.clip not in clips:
        shown = ", ".join(sorted(clips)[:12]) + (" ..." if len(clips) > 12 else "")
        raise InputError(f"unknown {cfg.source} clip {cfg.clip!r} under {cfg.path}; known: {shown or 'none'}")
    return Path(clips[cfg.clip])


def _list_or_file(path: str, lister, suffix: str) -> dict[str, str]:
    p = Path(path)
    if p.is_file() and p.suffix.lower() == suffix:
        return {p.stem: str(p)}
    if not p.exists():
        raise InputError(f"motion.path={path} does not exist")
    return {k: str(v) for k, v in lister(p).items()}


def _list_amc(root: Path) -> dict[str, Path]:
    from synth.motion.asfamc import list_asfamc

    return {name: amc for name, (amc, _asf) in list_asfamc(root).items()}


def _list_npz(root: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(root.rglob("*.npz"))}


__all__ = ["MotionClip", "SOURCES", "list_clips", "load_motion"]
