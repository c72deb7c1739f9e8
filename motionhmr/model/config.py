"""Typed configuration of the Motion-HMR network (``model.*``) and its losses (``loss.*``).

Both are frozen and checked on construction; a bad value raises a one-line
:class:`synth.errors.InputError` naming the key and what is allowed.
"""

from __future__ import annotations

import dataclasses

from synth.errors import InputError

LOSS_2D = ("l1", "l2")
INIT_POSES = ("data", "rest")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Sizes follow the paper (Appendix B) and HMR; the defaults are the full model."""

    backbone_weights: str | None = None  # torchvision-format ImageNet ResNet state dict (.pth); None = random
    encoder: str = "resnet50"  # per-step encoder (motionhmr.model.encoders.ENCODERS): resnet50 | resnet34 | resnet18 | keypoints | keypoints+resnetN
    # keypoints+resnetN only: scale the CNN's features by a learned gate that starts at 0, so
    # the network starts as the keypoint model and opens the CNN branch as it learns (ReZero)
    cnn_gate: bool = False
    temporal: str = "lstm"  # a key of motionhmr.model.temporal.TEMPORAL: lstm | none
    lstm_hidden: int = 1024  # per direction
    head_hidden: int = 1024  # the head's FC and both IEF FC layers
    iterations: int = 3  # IEF iterations
    dropout: float = 0.5  # IEF dropout (HMR)
    dann_hidden: int = 1024  # domain classifier MLP width
    # The backbone sees frames resized to input_size x input_size px (null: as given, 224).
    # A CPU-scale knob: ResNet-50 costs ~(size/224)^2 as much, and the smooth inputs (sigma=10 px
    # heatmaps, flow) survive 64-112 px; the paper's model is null.
    input_size: int | None = None
    # Where IEF starts: "data" = the mean local pose of the training clips (HMR starts from
    # the data's mean parameters), "rest" = the body model's rest pose (Anny's A-pose:
    # 165 mm PA-MPJPE on held-out CMU clips, where the best constant pose scores 142).
    init_pose: str = "data"

    def __post_init__(self) -> None:
        from motionhmr.model.encoders import ENCODERS
        from motionhmr.model.temporal import TEMPORAL

        if self.init_pose not in INIT_POSES:
            raise InputError(f"model.init_pose={self.init_pose!r} is unknown; choose one of {', '.join(INIT_POSES)}")
        if self.encoder not in ENCODERS:
            raise InputError(f"model.encoder={self.encoder!r} is unknown; choose one of {', '.join(ENCODERS)}")
        if self.encoder == "keypoints" and self.backbone_weights:
            raise InputError("model.backbone_weights needs a resnet encoder; model.encoder=keypoints has no CNN")
        if self.cnn_gate and not self.encoder.startswith("keypoints+"):
            raise InputError(f"model.cnn_gate=true gates a hybrid encoder's CNN; model.encoder={self.encoder} has "
                             f"none (use keypoints+resnet18)")  # fmt: skip

        if self.temporal not in TEMPORAL:
            raise InputError(f"model.temporal={self.temporal!r} is unknown; choose one of {', '.join(TEMPORAL)}")
        for key in ("lstm_hidden", "head_hidden", "iterations", "dann_hidden"):
            _positive_int(f"model.{key}", getattr(self, key))
        if self.input_size is not None and (
            isinstance(self.input_size, bool) or not isinstance(self.input_size, int) or self.input_size < 32
        ):
            raise InputError(f"model.input_size={self.input_size!r} is not valid: null or an integer >= 32 (px)")
        if not (isinstance(self.dropout, (int, float)) and 0.0 <= self.dropout < 1.0):
            raise InputError(f"model.dropout={self.dropout!r} is not valid: a probability in [0, 1)")
        if self.backbone_weights is not None and not (isinstance(self.backbone_weights, str) and self.backbone_weights):
            raise InputError(
                f"model.backbone_weights={self.backbone_weights!r} is not valid: a path to a torchvision "
                "ResNet-50 state dict, or null for random weights"
            )


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """Weights of the supervised losses (both heads contribute equally to each term)."""

    w3d: float = 1.0  # Procrustes-aligned 3D joint error, metres
    w2d: float = 1.0  # 2D keypoint error, normalised crop coordinates ([-1, 1] across the crop)
    loss2d: str = "l1"  # l1: |du| + |dv| (HMR) | l2: Euclidean distance per keypoint

    def __post_init__(self) -> None:
        for key in ("w3d", "w2d"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise InputError(f"loss.{key}={value!r} is not valid: a weight >= 0")
        if self.loss2d not in LOSS_2D:
            raise InputError(f"loss.loss2d={self.loss2d!r} is unknown; choose one of {', '.join(LOSS_2D)}")


def _positive_int(key: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{key}={value!r} is not valid: a positive integer")
