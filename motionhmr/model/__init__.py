"""The Motion-HMR network, composed from its parts:

``backbone`` (ResNet-50, torchvision names) -> ``temporal`` (bi-LSTM or none) -> two heads
(``regressor``: FC + HMR's iterative error feedback) for the current and the next frame, and
``adversarial`` (gradient reversal + domain classifier) on the backbone features.
"""

from motionhmr.model.adversarial import DomainClassifier, grad_reverse
from motionhmr.model.backbone import FEATURE_DIM, ResNet50, load_torchvision_weights
from motionhmr.model.config import LossConfig, ModelConfig
from motionhmr.model.motionhmr import HeadOutput, MotionHMR, Prediction
from motionhmr.model.regressor import FACING_CAMERA, Head, IEFRegressor, MeanParams
from motionhmr.model.temporal import TEMPORAL, build_temporal

__all__ = [
    "FACING_CAMERA", "FEATURE_DIM", "TEMPORAL", "DomainClassifier", "Head", "HeadOutput", "IEFRegressor",
    "LossConfig", "MeanParams", "ModelConfig", "MotionHMR", "Prediction", "ResNet50", "build_temporal",
    "grad_reverse", "load_torchvision_weights",
]  # fmt: skip
