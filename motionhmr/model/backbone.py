"""ResNet-50 (and -18/-34) in plain torch, named exactly like torchvision's, with a widened
first layer.

torchvision cannot be imported in this environment (its only wheel for the pinned torch is
linked against CUDA), so the network is written out here. Module and parameter names match
``torchvision.models.resnet50`` one for one (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer1.0.downsample.0``, ...), so an ImageNet state dict saved by torchvision
(``torch.save(resnet50(weights=...).state_dict(), path)``) loads with
:func:`load_torchvision_weights`.

Contract
    ``ResNet50(in_channels, rgb=None, flow=None)(x)``: ``x`` float ``[N, C, H, W]`` (any H, W
    >= 32; the suite feeds 224 x 224 crops) -> average-pooled features float ``[N, 2048]``
    (``ResNet(in_channels, rgb, depth=18 | 34, flow=...)``: ``[N, 512]``; ``.out_dim`` says
    which). The lighter depths are CPU-scale options (``model.encoder``); the paper's is 50.

Initialisation from ImageNet (:func:`load_torchvision_weights`)
    ``rgb`` and ``flow`` are the 3-channel slices of the input that carry ImageNet-normalised
    RGB and the flow image (dx, dy, |f|, :mod:`motionhmr.inputs`), or None. ``conv1``'s
    pretrained 3-channel filters initialise *each* of them: the paper renders flow as a
    3-channel image precisely so that it goes through the pretrained first layer. Only the
    keypoint heatmap and occlusion-indicator channels keep their random (Kaiming)
    initialisation (paper Appendix B: "the new weights are random").
"""

from __future__ import annotations

import os

import torch
from torch import nn

from synth.errors import InputError

FEATURE_DIM = 2048
#: torchvision's resnet50 block counts per stage.
LAYERS = (3, 4, 6, 3)
#: depth -> (block counts per stage, bottleneck blocks?), as torchvision's resnet18/34/50.
DEPTHS: dict[int, tuple[tuple[int, ...], bool]] = {18: ((2, 2, 2, 2), False), 34: ((3, 4, 6, 3), False),
                                                   50: (LAYERS, True)}  # fmt: skip


class BasicBlock(nn.Module):
    """torchvision's ``BasicBlock`` (two 3x3 convs; ResNet-18/34)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """torchvision's ``Bottleneck`` (stride on the 3x3 conv, "ResNet v1.5")."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        width = planes
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet-``depth`` trunk with ``in_channels`` inputs; returns pooled ``[N, out_dim]`` features.

    There is no ``fc`` layer: torchvision's ``fc.*`` (ImageNet classifier) is ignored on load.
    """

    def __init__(self, in_channels: int = 3, rgb: slice | None = None, depth: int = 50, flow: slice | None = None):
        super().__init__()
        if depth not in DEPTHS:
            raise InputError(f"ResNet depth {depth} is unknown; choose one of {', '.join(map(str, DEPTHS))}")
        layers, bottleneck = DEPTHS[depth]
        self.depth = depth
        self.block = Bottleneck if bottleneck else BasicBlock
        self.out_dim = 512 * self.block.expansion
        if in_channels < 1:
            raise InputError(f"backbone in_channels={in_channels} must be >= 1")
        for name, sl in (("rgb", rgb), ("flow", flow)):
            if sl is not None and (sl.stop - sl.start != 3 or sl.start < 0 or sl.stop > in_channels):
                raise InputError(f"backbone {name} slice {sl} must span 3 of the {in_channels} input channels")
        if rgb is not None and flow is not None and rgb.start < flow.stop and flow.start < rgb.stop:
            raise InputError(f"backbone rgb slice {rgb} and flow slice {flow} overlap")
        self.in_channels = in_channels
        self.rgb, self.flow = rgb, flow
        self.inplanes = 64
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self._init_weights()

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        block = self.block
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def _init_weights(self) -> None:
        # torchvision's initialisation, so a run without pretrained weights matches theirs.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def pretrained_channels(self) -> tuple[slice, ...]:
        """The input-channel slices that :func:`load_torchvision_weights` fills with ``conv1``'s
        ImageNet filters: rgb and flow, those present."""
        return tuple(sl for sl in (self.rgb, self.flow) if sl is not None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"backbone expects [N, {self.in_channels}, H, W], got {list(x.shape)}")
        if self.conv1.weight.is_contiguous(memory_format=torch.channels_last):
            # a channels_last model wants channels_last activations (cuDNN's fast NHWC kernels)
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


class ResNet50(ResNet):
    """The paper's backbone: :class:`ResNet` of depth 50, ``[N, 2048]`` features."""

    def __init__(self, in_channels: int = 3, rgb: slice | None = None, flow: slice | None = None):
        super().__init__(in_channels, rgb, depth=50, flow=flow)


def load_torchvision_weights(model: ResNet, path: str | os.PathLike) -> ResNet:
    """Load an ImageNet ResNet state dict in torchvision's format into ``model`` (in place):
    ``resnet50`` for the paper's backbone, ``resnet18``/``resnet34`` for the lighter ones.

    Every key except ``fc.*`` must be present with torchvision's shape (``conv1.weight``
    ``[64, 3, 7, 7]``); ``conv1``'s pretrained filters are copied to each 3-channel slice of
    ``model.pretrained_channels`` (the rgb channels and the 3 flow channels, dx, dy, |f|, those
    present) and the other input channels (keypoint heatmaps, the occlusion indicator) keep
    their random initialisation. A backbone with neither rgb nor flow (``inputs=kp``) keeps
    the whole of ``conv1`` random.
    Raises :class:`InputError` naming the file for a missing, unreadable or mismatched file.
    """
    path = os.fspath(path)
    state = _read_state_dict(path)
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    expected = model.state_dict()
    # torchvision's original ImageNet files predate BatchNorm's num_batches_tracked buffer
    missing = sorted(k for k in set(expected) - set(state) if not k.endswith("num_batches_tracked"))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise InputError(
            f"{path}: not a torchvision ResNet-{model.depth} state dict ({len(missing)} keys missing, e.g. "
            f"{missing[:3]}; {len(unexpected)} unexpected, e.g. {unexpected[:3]})"
        )
    conv1 = state.pop("conv1.weight")
    if tuple(conv1.shape) != (64, 3, 7, 7):
        raise InputError(f"{path}: conv1.weight has shape {list(conv1.shape)}, expected [64, 3, 7, 7] (RGB ImageNet)")
    bad = [f"{k} {list(v.shape)} != {list(expected[k].shape)}" for k, v in state.items()
           if v.shape != expected[k].shape]
    if bad:
        raise InputError(f"{path}: shape mismatch for {len(bad)} tensors, e.g. {bad[0]}")
    with torch.no_grad():
        model.load_state_dict(state, strict=False)  # everything but conv1.weight, checked above
        for channels in model.pretrained_channels:
            model.conv1.weight[:, channels] = conv1.to(model.conv1.weight)
    return model


def _read_state_dict(path: str) -> dict[str, torch.Tensor]:
    if not os.path.isfile(path):
        raise InputError(f"{path}: backbone weights file not found (a torchvision ResNet-50 state dict)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle / zip errors of every kind: all mean "not a state dict"
        raise InputError(f"{path}: cannot be read as a torch state dict ({type(exc).__name__})") from None
    if not isinstance(state, dict) or not state or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise InputError(f"{path}: not a state dict (expected a dict of name -> tensor, got {type(state).__name__})")
    return state
