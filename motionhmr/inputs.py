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


# -- the network input, built on the training device -----------------------------------------
#: Flow arrives as the stored integers: 1/FLOW_STEPS px (synth.shards.schema.FLOW_SCALE).
FLOW_STEPS = 16.0
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def assemble(batch: dict, spec: InputSpec | str, size: int | None = None, crop: int = 224):
    """The stacked network input float32 ``[B, S, C, size, size]`` from a batch's compact
    fields, on whatever device they are (the loader hands over bytes, the GPU does the rest):

    ``total_occlusion`` bool ``[B, T]`` (always), and for the parts in ``spec``:
    ``rgb`` uint8 ``[B, S, crop, crop, 3]``; ``flow`` int16 ``[B, S, crop, crop, 2]`` in
    1/16 px (or float px); ``kp2d`` float ``[B, >=S, 14, 2]`` crop px with
    ``kp_input_visible`` bool ``[B, >=S, 14]``.

    Channels as in the module doc. Frame t totally occluded zeroes its rgb and heatmaps, t or
    t+1 zeroes flow t; zero is the *network input* (a hidden RGB frame is the ImageNet mean).
    A cache's batch (:mod:`motionhmr.cache`) brings ``rgb_input`` / ``flow_input`` float16
    ``[B, S, 3, n, n]`` instead: :func:`rgb_channels` / :func:`flow_channels` of the stored
    data, already resized to ``n`` (the cache's size) and not yet zeroed; they are zeroed here
    like the rest (a whole frame, so zeroing and resizing commute) and resized again only
    if ``n != size``.

    ``size`` (``model.input_size``): rgb and flow are resized with antialiased bilinear
    filtering; heatmaps are rendered at ``size`` directly, sigma and positions scaled by
    ``size / crop``, which is cheaper than rendering 224 px maps and shrinking them and
    agrees with doing so to within 0.03 (tests: the shrunk peaks lose ~2 % to the filter).
    """
    import torch

    spec = parse_inputs(spec)
    total = batch["total_occlusion"].bool()
    b, t = total.shape
    s = t - 1
    out_size = size or crop
    hidden = total[:, :s]
    pair = hidden | total[:, 1:]
    parts = []
    for part, zeroed, channels in (("rgb", hidden, rgb_channels), ("flow", pair, flow_channels)):
        if part not in spec:
            continue
        cached = batch.get(f"{part}_input")
        x = cached[:, :s].float() if cached is not None else channels(batch[part][:, :s])
        parts.append(_resized(torch.where(zeroed[..., None, None, None], 0.0, x), out_size))
    if "kp" in spec:
        vis = batch["kp_input_visible"][:, :s, : CHANNELS["kp"]].bool() & ~hidden[..., None]
        kp = batch["kp2d"][:, :s, : CHANNELS["kp"]].float()
        parts.append(render_heatmaps(kp, vis, out_size, crop))
    indicator = pair if "flow" in spec else hidden
    parts.append(indicator.float()[..., None, None, None].expand(b, s, 1, out_size, out_size))
    return torch.cat(parts, 2)


def rgb_channels(rgb):
    """uint8 crops ``[..., H, W, 3]`` (torch) -> ImageNet-normalised float32 ``[..., 3, H, W]``."""
    import torch

    mean = torch.tensor(IMAGENET_MEAN, device=rgb.device)
    std = torch.tensor(IMAGENET_STD, device=rgb.device)
    return ((rgb.float() / 255.0 - mean) / std).movedim(-1, -3)


def flow_channels(flow):
    """Stored flow ``[..., H, W, 2]`` (int16 1/16 px, or float px; torch) -> the network's
    float32 ``[..., 3, H, W]`` (:func:`flow.contract.to_model_input`)."""
    from flow.contract import to_model_input

    flow = flow.float() / FLOW_STEPS if not flow.is_floating_point() else flow.float()
    return to_model_input(flow).movedim(-1, -3)


def render_heatmaps(kp2d, visible, size: int = 224, crop: int = 224, sigma: float = 10.0):
    """Gaussian heatmaps float32 ``[..., K, size, size]`` (peak 1) of keypoints ``[..., K, 2]``
    in ``crop`` px; hidden ones (``visible`` false, or NaN positions) are all zero. At
    ``size != crop`` the maps are those of the crop drawn at ``size`` px: pixel centres map
    as ``(p + 0.5) * size / crop - 0.5`` and sigma scales by ``size / crop``. Separable, as
    :func:`synth.shards.schema.heatmaps` (which this equals at ``size == crop``)."""
    import torch

    r = size / crop
    kp = (torch.nan_to_num(kp2d.float()) + 0.5) * r - 0.5
    sig = sigma * r
    grid = torch.arange(size, dtype=torch.float32, device=kp.device)
    gx = torch.exp(-((grid - kp[..., 0:1]) ** 2) / (2 * sig**2))  # [..., K, W]
    gy = torch.exp(-((grid - kp[..., 1:2]) ** 2) / (2 * sig**2))  # [..., K, H]
    return gy[..., :, None] * gx[..., None, :] * visible[..., None, None].float()


def _resized(frames, size: int):
    """``[B, S, C, H, W]`` -> ``[B, S, C, size, size]`` (antialiased bilinear; as is if equal)."""
    from torch import nn

    if tuple(frames.shape[-2:]) == (size, size):
        return frames
    b, s = frames.shape[:2]
    out = nn.functional.interpolate(frames.flatten(0, 1), size=(size, size), mode="bilinear", antialias=True)
    return out.reshape(b, s, *out.shape[1:])
