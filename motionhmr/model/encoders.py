"""Per-step encoders: what turns one network step's input into a feature vector.

``model.encoder`` picks one:

``resnet50``   the paper's (Appendix B): a ResNet-50 on the stacked input channels, 2048-d.
``resnet34``   lighter ResNets with torchvision names (ImageNet ``.pth`` files load the same
``resnet18``   way), 512-d; CPU-scale runs, with ``model.input_size`` (e.g. 64).
``keypoints``  ``inputs=kp`` only: an MLP on the keypoint *coordinates* and visibility (the
               same features as :mod:`motionhmr.baselines`' lifter) instead of a CNN on
               their heatmaps, VideoPose3D-style (Pavllo et al. 2019). The heatmaps hold
               nothing else (12 Gaussians of a known sigma), so this sees the same
               information at ~1/1000 of a ResNet's cost; the temporal model and heads are
               unchanged.
``keypoints+resnet18``  (also ``+resnet34``, ``+resnet50``) for inputs with keypoints *and*
               another cue (``flow+kp``, ``rgb+kp``): the keypoint MLP above on the
               coordinates, and the ResNet on the other channels (flow and/or rgb, with the
               indicator); their features are concatenated. The CPU-scale way to train a
               motion model: a CNN on 12 heatmaps would spend most of its compute
               rediscovering 24 numbers.

Contract
    ``encoder.out_dim`` features per step. CNN encoders take the stacked input ``x``
    ``[N, C, H, W]`` (:func:`motionhmr.inputs.assemble`); :class:`KeypointEncoder` takes the
    batch's compact fields (``kp2d`` ``[B, >=S, 14, 2]`` crop px, ``kp_input_visible``
    ``[B, >=S, 14]``, ``total_occlusion`` ``[B, S + 1]``) and returns ``[B, S, out_dim]``; so does
    :class:`HybridEncoder`, which also reads the fields its CNN needs (e.g. ``flow``).

ImageNet initialisation (``model.backbone_weights``), one rule for every ResNet here, the
hybrid's included: ``conv1``'s pretrained filters initialise the rgb channels and the 3 flow
channels (those present); keypoint heatmap and indicator channels start random
(:func:`motionhmr.model.backbone.load_torchvision_weights`).
"""

from __future__ import annotations

import torch
from torch import nn

from motionhmr.inputs import InputSpec
from motionhmr.model.backbone import ResNet
from synth.errors import InputError

ENCODERS = ("resnet50", "resnet34", "resnet18", "keypoints",
            "keypoints+resnet18", "keypoints+resnet34", "keypoints+resnet50")  # fmt: skip


class KeypointEncoder(nn.Module):
    """Per-step MLP: 43 keypoint features (:func:`motionhmr.baselines.keypoint_features`) ->
    ``width`` -> two residual FC blocks (LayerNorm, so small batches are fine) -> ``out_dim``."""

    def __init__(self, out_dim: int = 1024, width: int = 512):
        super().__init__()
        from motionhmr.baselines import KEYPOINT_FEATURES

        self.out_dim = out_dim
        self.inp = nn.Linear(KEYPOINT_FEATURES, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
            for _ in range(2)
        )
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, out_dim), nn.ReLU())

    def forward(self, batch: dict) -> torch.Tensor:
        from motionhmr.baselines import keypoint_features

        total = batch["total_occlusion"].bool()
        s = total.shape[1] - 1
        feats = keypoint_features(batch["kp2d"][:, :s], batch["kp_input_visible"][:, :s], total[:, :s])
        h = self.inp(feats.to(self.inp.weight.device))
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


class HybridEncoder(nn.Module):
    """``keypoints+resnetN``: :class:`KeypointEncoder` on the coordinates, concatenated with a
    ResNet on the stacked channels of ``cnn_spec`` (the inputs without ``kp``: flow and/or rgb
    and the indicator, :func:`motionhmr.inputs.assemble`), whose rgb and flow channels take
    ImageNet's ``conv1`` like any backbone's. Takes the batch's compact fields and ``size``
    (``model.input_size``) for the CNN; returns ``[B, S, 1024 + 512|2048]``."""

    def __init__(self, cnn_spec: InputSpec, depth: int, size: int | None, gate: bool = False):
        super().__init__()
        self.cnn_spec, self.size = cnn_spec, size
        self.keypoints = KeypointEncoder()
        self.cnn = resnet(cnn_spec, depth)
        self.out_dim = self.keypoints.out_dim + self.cnn.out_dim
        # model.cnn_gate: a scalar that starts at 0 (the net starts as the keypoint model)
        self.gate = nn.Parameter(torch.zeros(())) if gate else None

    def forward(self, batch: dict) -> torch.Tensor:
        from motionhmr.inputs import assemble

        kp = self.keypoints(batch)
        x = assemble(batch, self.cnn_spec, self.size)
        b, s = x.shape[:2]
        cnn = self.cnn(x.flatten(0, 1)).reshape(b, s, -1).to(kp.dtype)
        if self.gate is not None:
            cnn = self.gate * cnn
        return torch.cat([kp, cnn], -1)


def resnet(spec: InputSpec, depth: int) -> ResNet:
    """A ResNet-``depth`` on the stacked channels of ``spec``, told where its rgb and flow
    channels are (the ones ImageNet's ``conv1`` initialises)."""
    slices = spec.slices()
    return ResNet(spec.channels, slices.get("rgb"), depth=depth, flow=slices.get("flow"))


def build_encoder(name: str, spec: InputSpec, size: int | None = None, gate: bool = False) -> nn.Module:
    """The encoder ``name`` (:data:`ENCODERS`) for inputs ``spec`` (``size``: the CNN input
    size of a hybrid encoder, ``model.input_size``; ``gate``: ``model.cnn_gate``)."""
    if name == "keypoints":
        if spec.parts != ("kp",):
            raise InputError(f"model.encoder=keypoints reads keypoint coordinates: it needs inputs=kp, not "
                             f"inputs={spec.name} (use keypoints+resnet18 or a resnet encoder)")  # fmt: skip
        return KeypointEncoder()
    if name.startswith("keypoints+") and name in ENCODERS:
        rest = tuple(p for p in spec.parts if p != "kp")
        if "kp" not in spec or not rest:
            raise InputError(f"model.encoder={name} needs keypoints and another cue (e.g. inputs=flow+kp), "
                             f"not inputs={spec.name} (use model.encoder=keypoints for inputs=kp)")  # fmt: skip
        return HybridEncoder(InputSpec(rest), int(name.split("resnet")[1]), size, gate)
    if name.startswith("resnet") and name[6:].isdigit() and name in ENCODERS:
        return resnet(spec, int(name[6:]))
    raise InputError(f"model.encoder={name!r} is unknown; choose one of {', '.join(ENCODERS)}")
