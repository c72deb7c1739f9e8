"""Motion-HMR: ResNet-50 (or ``model.encoder``) per step -> temporal module -> current and
future HMR heads.

Doersch & Zisserman 2019, Sec. 3.2 / Appendix B. Built from the parts in this package, for
any ``inputs=`` spec (only the backbone's first layer depends on it).

Contract
    ``MotionHMR(spec, cfg, n_rotations, shape_dim, mean)(inputs) -> Prediction``
    ``inputs`` a batch's compact fields (:mod:`motionhmr.data`; the network input is built
           from them on their device) or the stacked input ``x`` itself:
    ``x``  float ``[B, S, C, H, W]``: S network steps of a clip (a 31-frame clip gives S = 30),
           C = ``spec.channels`` (indicator included), H = W = 224 in the suite (the backbone
           accepts other sizes, which the tests use). With ``cfg.input_size`` set, frames are
           resized to that size (bilinear, antialiased) before the backbone.
    ``Prediction.current`` / ``.future``: :class:`HeadOutput` for frame t and frame t+1 of each
    step t. Rotations, shape and camera as in :mod:`motionhmr.model.regressor`; ``features``
    are the per-step backbone features (the DANN classifier's input).
    ``Prediction.per_frame()``: one :class:`HeadOutput` over the T = S + 1 frames (all current
    predictions, then the last step's future prediction).

The backbone runs on all B*S frames at once, under whatever autocast the caller set; the
temporal module and heads run in float32 (they are cheap, and 6D rotations and IEF's
accumulated corrections want the precision).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from motionhmr.inputs import InputSpec, assemble, parse_inputs
from motionhmr.model.adversarial import DomainClassifier
from motionhmr.model.backbone import load_torchvision_weights
from motionhmr.model.config import ModelConfig
from motionhmr.model.encoders import HybridEncoder, KeypointEncoder, build_encoder
from motionhmr.model.regressor import Head, MeanParams
from motionhmr.model.temporal import build_temporal
from synth.errors import InputError


@dataclasses.dataclass
class HeadOutput:
    """One head's predictions over ``S`` steps (or ``T`` frames after ``per_frame``)."""

    rotmat: torch.Tensor  # [B, S, J, 3, 3]; 0 = global orientation (camera frame), 1.. = local pose
    shape: torch.Tensor  # [B, S, shape_dim]
    cam: torch.Tensor  # [B, S, 3] weak perspective (s, tx, ty), normalised crop coordinates
    features: torch.Tensor  # [B, S, D] encoder features (2048 for the ResNet-50)

    @property
    def steps(self) -> int:
        return int(self.rotmat.shape[1])

    def select(self, index: slice) -> HeadOutput:
        """The same fields restricted to steps ``index`` (a slice along dim 1)."""
        return HeadOutput(*(getattr(self, f.name)[:, index] for f in dataclasses.fields(self)))

    @staticmethod
    def cat(outputs: list[HeadOutput]) -> HeadOutput:
        """Concatenate along the step dimension."""
        fields = dataclasses.fields(HeadOutput)
        return HeadOutput(*(torch.cat([getattr(o, f.name) for o in outputs], 1) for f in fields))


@dataclasses.dataclass
class Prediction:
    """Both heads' outputs for every step: ``current`` (frame t) and ``future`` (frame t+1)."""

    current: HeadOutput
    future: HeadOutput

    def per_frame(self) -> HeadOutput:
        """T = S + 1 per-frame predictions: every current one, then the last future one."""
        return HeadOutput.cat([self.current, self.future.select(slice(-1, None))])


class MotionHMR(nn.Module):
    """The network (module doc). ``mean`` must match ``n_rotations`` and ``shape_dim``."""

    def __init__(self, spec: InputSpec | str, cfg: ModelConfig, n_rotations: int, shape_dim: int, mean: MeanParams):
        super().__init__()
        spec = parse_inputs(spec)
        if (mean.n_rotations, mean.shape_dim) != (n_rotations, shape_dim):
            raise InputError(
                f"mean parameters have {mean.n_rotations} rotations and shape_dim {mean.shape_dim}; "
                f"the model was asked for {n_rotations} and {shape_dim}"
            )
        self.spec, self.cfg = spec, cfg
        self.n_rotations, self.shape_dim = n_rotations, shape_dim
        self.backbone = build_encoder(cfg.encoder, spec, cfg.input_size, cfg.cnn_gate)
        if cfg.backbone_weights:
            load_torchvision_weights(getattr(self.backbone, "cnn", self.backbone), cfg.backbone_weights)
        feature_dim = self.backbone.out_dim
        self.temporal = build_temporal(cfg.temporal, feature_dim, cfg.lstm_hidden)
        head = dict(mean=mean, hidden=cfg.head_hidden, iterations=cfg.iterations, dropout=cfg.dropout)
        self.current_head = Head(self.temporal.out_dim, **head)
        self.future_head = Head(self.temporal.out_dim, **head)
        self.domain = DomainClassifier(feature_dim, cfg.dann_hidden)

    @classmethod
    def from_body(cls, spec: InputSpec | str, cfg: ModelConfig, body, pose: torch.Tensor | None = None) -> MotionHMR:
        """Sized for a :class:`synth.bodies.BodyModel`, starting from :meth:`MeanParams.for_body`
        (the rest pose, or ``pose``: the training data's mean). The start is a buffer of the
        heads, so a checkpoint restores it whatever ``pose`` the rebuilt model got."""
        return cls(spec, cfg, body.skeleton.num_joints, body.shape_dim, MeanParams.for_body(body, pose))

    @property
    def reads_keypoints(self) -> bool:
        """True when the encoder takes keypoint coordinates (the batch's fields), not the
        stacked channels."""
        return isinstance(self.backbone, (KeypointEncoder, HybridEncoder))

    def encode(self, inputs: dict | torch.Tensor) -> torch.Tensor:
        """Per-step features ``[B, S, D]`` (all B*S steps in one pass) of ``inputs``: a batch's
        compact fields (:mod:`motionhmr.data`'s contract; built into the network input here,
        on their device, by :func:`motionhmr.inputs.assemble`), or an already stacked ``x``
        ``[B, S, C, H, W]`` (CNN encoders only).

        On its own this is what the DANN branch needs for an unlabelled real batch."""
        if isinstance(inputs, dict):
            if self.reads_keypoints:
                return self.backbone(inputs)
            inputs = assemble(inputs, self.spec, self.cfg.input_size)
        elif self.reads_keypoints:
            raise InputError("model.encoder=keypoints reads the batch's keypoint fields, not a stacked x tensor")
        x = inputs
        if x.ndim != 5 or x.shape[2] != self.spec.channels:
            raise ValueError(
                f"MotionHMR({self.spec.name}) expects x [B, S, {self.spec.channels}, H, W], got {list(x.shape)}"
            )
        b, s = x.shape[:2]
        # flatten copies if x is not contiguous in those dims (no .view on strided input)
        frames = x.flatten(0, 1)
        size = self.cfg.input_size
        if size is not None and tuple(frames.shape[-2:]) != (size, size):
            frames = nn.functional.interpolate(frames, size=(size, size), mode="bilinear", antialias=True)
        return self.backbone(frames).reshape(b, s, -1)

    def forward(self, inputs: dict | torch.Tensor) -> Prediction:
        """``inputs`` as for :meth:`encode`."""
        features = self.encode(inputs)
        b, s = features.shape[:2]
        with torch.autocast(device_type=features.device.type, enabled=False):
            f32 = features.float()
            temporal = self.temporal(f32).flatten(0, 1)
            heads = []
            for head in (self.current_head, self.future_head):
                rotmat, shape, cam = head(temporal)
                heads.append(
                    HeadOutput(
                        rotmat=rotmat.reshape(b, s, self.n_rotations, 3, 3),
                        shape=shape.reshape(b, s, self.shape_dim),
                        cam=cam.reshape(b, s, 3),
                        features=features,
                    )
                )
        return Prediction(current=heads[0], future=heads[1])

    def domain_logits(self, features: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """DANN classifier logits ``[...]`` (positive = real) for features ``[..., 2048]``,
        behind a gradient reversal of strength ``scale``."""
        return self.domain(features, scale)
