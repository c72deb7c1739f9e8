"""The ``inputs=`` string: which motion cues (and/or RGB) the network sees.

Contract
    ``parse_inputs("flow+kp") -> InputSpec``. Parts are joined by ``+`` in any order and any
    case; the resulting channel layout is always the canonical order below, so ``kp+flow`` and
    ``flow+kp`` build the same network. Every spec ends with the one-channel total-occlusion
    indicator (paper Sec. 3.1: "an indicator channel").

Channels of one network step ``t`` (the pair of frames ``t, t+1``; crop box ``t``):

``rgb``   3   crop ``t``, ImageNet mean/std normalised (torchvision order R, G, B)
``flow``  3   flow ``t -> t+1`` on paired box ``t``: (dx/20, dy/20, |flow|/20), see
              :func:`flow.contract.to_model_input`
``kp``    12  Gaussian heatmaps (sigma 10 px) of the visible limb keypoints of frame ``t``,
              values in [0, 1] (:func:`synth.shards.schema.heatmaps`)
``occ``   1   1.0 where step ``t`` had data zeroed by a total occlusion, else 0.0
"""

from __future__ import annotations

import dataclasses

from synth.errors import InputError

#: Canonical order and channel count of each input.
CHANNELS: dict[str, int] = {"rgb": 3, "flow": 3, "kp": 12}
INDICATOR_CHANNELS = 1


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """A parsed ``inputs=`` value: the chosen parts, in canonical order."""

    parts: tuple[str, ...]

    def __post_init__(self) -> None:
        unknown = [p for p in self.parts if p not in CHANNELS]
        if unknown or not self.parts:
            raise InputError(_bad(self.parts))

    @property
    def name(self) -> str:
        """Canonical spelling, e.g. ``flow+kp``: used for W&B groups and run names."""
        return "+".join(self.parts)

    @property
    def channels(self) -> int:
        """Total input channels, indicator included."""
        return sum(CHANNELS[p] for p in self.parts) + INDICATOR_CHANNELS

    def slices(self) -> dict[str, slice]:
        """Channel range of each part (and ``occ``) in the stacked input."""
        out, start = {}, 0
        for p in self.parts:
            out[p] = slice(start, start + CHANNELS[p])
            start += CHANNELS[p]
        out["occ"] = slice(start, start + INDICATOR_CHANNELS)
        return out

    def __contains__(self, part: str) -> bool:
        return part in self.parts


def parse_inputs(text: str | InputSpec) -> InputSpec:
    """``"flow+kp"`` -> InputSpec(("flow", "kp")); a clear InputError for anything else."""
    if isinstance(text, InputSpec):
        return text
    raw = [p.strip().lower() for p in str(text).split("+")]
    if any(p not in CHANNELS for p in raw) or len(set(raw)) != len(raw):
        raise InputError(_bad(raw, text))
    return InputSpec(tuple(p for p in CHANNELS if p in raw))


def _bad(parts, text=None) -> str:
    shown = text if text is not None else "+".join(parts)
    return (f"inputs={shown!r} is not valid: join distinct parts from {', '.join(CHANNELS)} "
            f"with '+', e.g. inputs=flow+kp or inputs=rgb")
