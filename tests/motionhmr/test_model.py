"""The Motion-HMR network: torchvision-compatible backbone, temporal modules, IEF heads, DANN."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch

from motionhmr.inputs import parse_inputs
from motionhmr.losses import project_weak
from motionhmr.model import (
    FACING_CAMERA,
    TEMPORAL,
    IEFRegressor,
    LossConfig,
    MeanParams,
    ModelConfig,
    MotionHMR,
    ResNet50,
    grad_reverse,
    load_torchvision_weights,
)
from synth.errors import InputError

TINY = ModelConfig(lstm_hidden=32, head_hidden=32, dann_hidden=32)
J, SHAPE_DIM = 31, 6
ALL_INPUTS = ["+".join(c) for n in (1, 2, 3) for c in itertools.combinations(("rgb", "flow", "kp"), n)]


def mean_params() -> MeanParams:
    return MeanParams.default(J, torch.full((SHAPE_DIM,), 0.5))


def build(spec="flow+kp", cfg=TINY, seed=0) -> MotionHMR:
    torch.manual_seed(seed)
    return MotionHMR(spec, cfg, J, SHAPE_DIM, mean_params())


def clip_input(spec, steps=3, size=32, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, steps, parse_inputs(spec).channels, size, size, generator=g)


@pytest.fixture(scope="module")
def tiny_nets() -> dict[str, MotionHMR]:
    """One tiny flow+kp network per temporal module, shared by tests that set their own mode."""
    return {name: build(cfg=dataclasses.replace(TINY, temporal=name)) for name in TEMPORAL}


# -- backbone: torchvision names and weights ------------------------------------------------


def torchvision_resnet50_keys() -> dict[str, tuple[int, ...]]:
    """The state-dict keys and shapes of torchvision.models.resnet50(), written out from its
    definition (Bottleneck v1.5, blocks 3/4/6/3, 1000-way fc)."""
    keys: dict[str, tuple[int, ...]] = {"conv1.weight": (64, 3, 7, 7)}

    def bn(prefix, c):
        for k in ("weight", "bias", "running_mean", "running_var"):
            keys[f"{prefix}.{k}"] = (c,)
        keys[f"{prefix}.num_batches_tracked"] = ()

    bn("bn1", 64)
    inplanes = 64
    for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3)), start=1):
        for j in range(blocks):
            p = f"layer{i}.{j}"
            keys[f"{p}.conv1.weight"] = (planes, inplanes, 1, 1)
            bn(f"{p}.bn1", planes)
            keys[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            bn(f"{p}.bn2", planes)
            keys[f"{p}.conv3.weight"] = (planes * 4, planes, 1, 1)
            bn(f"{p}.bn3", planes * 4)
            if j == 0:
                keys[f"{p}.downsample.0.weight"] = (planes * 4, inplanes, 1, 1)
                bn(f"{p}.downsample.1", planes * 4)
            inplanes = planes * 4
    keys["fc.weight"], keys["fc.bias"] = (1000, 2048), (1000,)
    return keys


@pytest.fixture(scope="module")
def torchvision_state() -> dict[str, torch.Tensor]:
    """A stand-in for torchvision's resnet50 ImageNet state dict: a fresh RGB trunk plus fc."""
    torch.manual_seed(1)
    state = dict(ResNet50(3).state_dict())
    state["fc.weight"], state["fc.bias"] = torch.randn(1000, 2048), torch.randn(1000)
    return state


def test_backbone_names_and_shapes_are_torchvisions(torchvision_state):
    expected = torchvision_resnet50_keys()
    assert len(expected) == 320  # torchvision resnet50().state_dict() has 320 entries
    assert {k: tuple(v.shape) for k, v in torchvision_state.items()} == expected
    assert "layer1.0.downsample.0.weight" in expected and "bn1.running_mean" in expected
    params = sum(v.numel() for k, v in torchvision_state.items() if "running" not in k and "num_batches" not in k)
    assert params == 25_557_032  # torchvision's resnet50 parameter count, fc included


def test_backbone_features_and_sizes():
    net = ResNet50(16).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 16, 224, 224)).shape == (1, 2048)
        assert net(torch.randn(2, 16, 64, 48)).shape == (2, 2048)
    with pytest.raises(ValueError, match=r"expects \[N, 16, H, W\]"):
        net(torch.randn(1, 3, 64, 64))


def with_weights(path) -> ModelConfig:
    return dataclasses.replace(TINY, backbone_weights=str(path))


@pytest.mark.parametrize("drop_batches_tracked", [False, True])
def test_torchvision_weights_load_into_rgb_and_flow_slices(tmp_path, torchvision_state, drop_batches_tracked):
    pretrained = torchvision_state
    if drop_batches_tracked:  # torchvision's original ImageNet files predate this buffer
        pretrained = {k: v for k, v in pretrained.items() if not k.endswith("num_batches_tracked")}
    torch.save(pretrained, tmp_path / "resnet50.pth")
    spec = parse_inputs("rgb+flow+kp")
    net = build(spec, with_weights(tmp_path / "resnet50.pth"))
    conv1 = net.backbone.conv1.weight.detach()
    sl = spec.slices()
    assert conv1.shape == (64, 19, 7, 7)
    torch.testing.assert_close(conv1[:, sl["rgb"]], pretrained["conv1.weight"], rtol=0, atol=0)
    torch.testing.assert_close(conv1[:, sl["flow"]], pretrained["conv1.weight"], rtol=0, atol=0)
    # the heatmap and indicator channels are random Kaiming (fan_out), not copies and not zeros
    rest = conv1[:, sl["kp"].start :]
    assert rest.shape[1] == 13
    assert 0.5 < rest.std().item() / (2 / (64 * 49)) ** 0.5 < 1.5
    assert not any(torch.equal(rest[:, i : i + 3], pretrained["conv1.weight"]) for i in range(rest.shape[1] - 2))
    state = net.backbone.state_dict()
    for key in ("layer1.0.downsample.0.weight", "layer4.2.conv3.weight", "bn1.running_mean", "layer3.5.bn2.bias"):
        torch.testing.assert_close(state[key], pretrained[key], rtol=0, atol=0)
    assert "fc.weight" not in state


@pytest.mark.parametrize("inputs", ALL_INPUTS)
def test_imagenet_conv1_initialises_rgb_and_flow_channels_only(tmp_path, torchvision_state, inputs):
    """Paper: flow is a 3-channel image (dx, dy, |f|) so that it goes through the pretrained
    conv1. Every rgb and flow block gets ImageNet's filters; heatmap and indicator channels
    keep exactly the random init the same seed gives without weights."""
    torch.save(torchvision_state, tmp_path / "resnet50.pth")
    spec = parse_inputs(inputs)
    loaded = build(inputs, with_weights(tmp_path / "resnet50.pth"), seed=3).backbone.conv1.weight.detach()
    fresh = build(inputs, seed=3).backbone.conv1.weight.detach()
    for part, sl in spec.slices().items():
        if part in ("rgb", "flow"):
            torch.testing.assert_close(loaded[:, sl], torchvision_state["conv1.weight"], rtol=0, atol=0)
        else:  # kp heatmaps, occ indicator: the random init, untouched
            torch.testing.assert_close(loaded[:, sl], fresh[:, sl], rtol=0, atol=0)
            assert not torch.equal(loaded[:, sl.start : sl.start + 1], torchvision_state["conv1.weight"][:, :1])


@pytest.mark.parametrize("inputs, pretrained", [("flow+kp", ["flow"]), ("rgb+flow+kp", ["rgb", "flow"]),
                                                ("rgb+kp", ["rgb"])])  # fmt: skip
def test_hybrid_encoders_cnn_takes_imagenet_conv1_on_flow_and_rgb(tmp_path, inputs, pretrained):
    """model.encoder=keypoints+resnet18: its CNN sees the inputs without kp (and the indicator)
    and follows the same rule as a plain backbone."""
    from motionhmr.model.backbone import ResNet

    torch.manual_seed(2)
    state = dict(ResNet(3, None, depth=18).state_dict())
    state["fc.weight"], state["fc.bias"] = torch.randn(1000, 512), torch.randn(1000)
    torch.save(state, tmp_path / "resnet18.pth")
    cfg = dataclasses.replace(TINY, encoder="keypoints+resnet18", backbone_weights=str(tmp_path / "resnet18.pth"))
    cnn = build(inputs, cfg, seed=4).backbone.cnn
    conv1 = cnn.conv1.weight.detach()
    assert conv1.shape[1] == 3 * len(pretrained) + 1
    for k in range(len(pretrained)):
        torch.testing.assert_close(conv1[:, 3 * k : 3 * k + 3], state["conv1.weight"], rtol=0, atol=0)
    fresh = build(inputs, dataclasses.replace(cfg, backbone_weights=None), seed=4).backbone.cnn.conv1.weight
    torch.testing.assert_close(conv1[:, -1], fresh[:, -1].detach(), rtol=0, atol=0)  # the indicator: random
    torch.testing.assert_close(cnn.layer2[1].conv2.weight, state["layer2.1.conv2.weight"])


def test_backbone_pretrained_slices_are_checked():
    assert ResNet50(7, rgb=slice(0, 3), flow=slice(3, 6)).pretrained_channels == (slice(0, 3), slice(3, 6))
    assert ResNet50(13).pretrained_channels == ()
    with pytest.raises(InputError, match=r"flow slice slice\(3, 5, None\) must span 3 of the 7"):
        ResNet50(7, flow=slice(3, 5))
    with pytest.raises(InputError, match="overlap"):
        ResNet50(7, rgb=slice(0, 3), flow=slice(2, 5))


def _edited(state: dict, drop: str | None = None, **replace: torch.Tensor) -> dict:
    """``state`` less ``drop``, with ``replace`` (``a__b`` spells the key ``a.b``)."""
    return {**{k: v for k, v in state.items() if k != drop}, **{k.replace("__", "."): v for k, v in replace.items()}}


BAD_FILES = {
    "absent": (None, "backbone weights file not found"),
    "junk": (b"neither zip nor pickle", "cannot be read as a torch state dict"),
    "list": (lambda s: [torch.zeros(1)], "not a state dict"),
    "nested": (lambda s: {"state_dict": s}, "not a state dict"),
    "missing": (lambda s: _edited(s, drop="layer1.0.downsample.0.weight"),
                r"not a torchvision ResNet-50 state dict \(1 keys missing, e.g. \['layer1.0.downsample.0.weight'\]"),
    "extra": (lambda s: _edited(s, head__weight=torch.zeros(1)), r"1 unexpected, e.g. \['head.weight'\]"),
    "conv1": (lambda s: _edited(s, conv1__weight=torch.zeros(64, 4, 7, 7)), r"conv1.weight has shape \[64, 4, 7, 7\]"),
    "shape": (lambda s: _edited(s, layer1__0__conv1__weight=torch.zeros(64, 64, 3, 3)),
              "shape mismatch for 1 tensors, e.g. layer1.0.conv1.weight"),
}  # fmt: skip


@pytest.fixture(scope="module")
def four_channel_backbone() -> ResNet50:
    return ResNet50(4, rgb=slice(0, 3))


@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_weight_files_are_one_line_input_errors(tmp_path, torchvision_state, four_channel_backbone, name):
    content, message = BAD_FILES[name]
    path = tmp_path / f"{name}.pth"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content(torchvision_state), path)
    before = {k: v.clone() for k, v in four_channel_backbone.state_dict().items()}
    with pytest.raises(InputError, match=message) as err:
        load_torchvision_weights(four_channel_backbone, path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    after = four_channel_backbone.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())  # nothing half-loaded


# -- the whole network -------------------------------------------------------------------------


def test_full_size_clip_gives_60_predictions_and_31_frames():
    """The full configuration (1024-unit LSTM and heads) on a 31-frame clip: 30 steps."""
    net = build("flow+kp", ModelConfig()).eval()
    with torch.no_grad():
        pred = net(clip_input("flow+kp", steps=30, size=64))
    for head in (pred.current, pred.future):
        assert head.rotmat.shape == (1, 30, J, 3, 3)
        assert head.shape.shape == (1, 30, SHAPE_DIM)
        assert head.cam.shape == (1, 30, 3)
        assert head.features.shape == (1, 30, 2048)
    frames = pred.per_frame()
    assert frames.rotmat.shape == (1, 31, J, 3, 3) and frames.cam.shape == (1, 31, 3)
    torch.testing.assert_close(frames.rotmat[:, :30], pred.current.rotmat)
    torch.testing.assert_close(frames.rotmat[:, 30], pred.future.rotmat[:, -1])
    torch.testing.assert_close(frames.shape[:, 30], pred.future.shape[:, -1])
    # an untrained head starts at the mean (HMR's small last layer)
    mean = mean_params()
    assert (pred.current.rotmat - mean.rotmat).abs().max() < 0.05
    assert (pred.future.cam - mean.cam).abs().max() < 0.05


@pytest.mark.parametrize("inputs", ALL_INPUTS)
def test_every_input_combination_builds_and_runs(inputs):
    parts = inputs.split("+")
    channels = 3 * ("rgb" in parts) + 3 * ("flow" in parts) + 12 * ("kp" in parts) + 1
    net = build(inputs)
    assert net.backbone.conv1.in_channels == channels
    pred = net(clip_input(inputs, steps=2))
    assert pred.current.rotmat.shape == (1, 2, J, 3, 3)
    assert torch.isfinite(pred.current.rotmat).all() and torch.isfinite(pred.future.cam).all()
    with pytest.raises(ValueError, match=rf"expects x \[B, S, {channels}, H, W\]"):
        net(torch.zeros(1, 2, channels + 1, 32, 32))


def test_predictions_are_rotations(tiny_nets):
    pred = tiny_nets["lstm"].train()(5.0 * clip_input("flow+kp"))
    r = pred.future.rotmat
    torch.testing.assert_close(r @ r.transpose(-1, -2), torch.eye(3).expand_as(r), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(r.shape[:-2]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("temporal", sorted(TEMPORAL))
@pytest.mark.parametrize("steps", [1, 5])
def test_any_clip_length(tiny_nets, temporal, steps):
    # 64 px: train-mode BatchNorm needs more than one value per channel after layer4
    pred = tiny_nets[temporal].train()(clip_input("flow+kp", steps=steps, size=64))
    assert pred.current.cam.shape == (1, steps, 3) and pred.per_frame().cam.shape == (1, steps + 1, 3)


@pytest.mark.parametrize("temporal, sees_future", [("lstm", True), ("none", False)])
def test_bidirectional_lstm_sees_the_whole_clip(tiny_nets, temporal, sees_future):
    """Step 0's prediction depends on the clip's last step through the backward LSTM only."""
    net = tiny_nets[temporal].eval()
    x = clip_input("flow+kp", steps=4)
    y = x.clone()
    y[:, -1] += 1.0
    with torch.no_grad():
        a, b = net(x).current, net(y).current
    assert torch.equal(a.features[:, 0], b.features[:, 0])  # eval mode: frames are independent
    assert (not torch.allclose(a.cam[:, 0], b.cam[:, 0], atol=1e-7, rtol=0)) == sees_future


def test_channels_last_and_strided_input_match():
    net = build().eval()
    x = clip_input("flow+kp", steps=2)
    with torch.no_grad():
        ref = net(x).current.cam
        strided = x.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)  # NHWC memory
        torch.testing.assert_close(net(strided).current.cam, ref, atol=1e-5, rtol=1e-4)
        net = net.to(memory_format=torch.channels_last)
        torch.testing.assert_close(net(x).current.cam, ref, atol=1e-5, rtol=1e-4)


def test_input_size_resizes_frames_before_the_backbone():
    """model.input_size=32: a 64-px clip gives what the same weights give on the clip resized
    by hand, and a 32-px clip passes through unchanged."""
    small = build(cfg=dataclasses.replace(TINY, input_size=32)).eval()
    plain = build().eval()  # same seed: same weights, no resizing
    x = clip_input("flow+kp", steps=2, size=64)
    by_hand = torch.nn.functional.interpolate(x.flatten(0, 1), size=(32, 32), mode="bilinear", antialias=True)
    with torch.no_grad():
        ref = plain(by_hand.unflatten(0, x.shape[:2])).current
        torch.testing.assert_close(small(x).current.cam, ref.cam)
        assert not torch.allclose(plain(x).current.features, ref.features)
        x32 = clip_input("flow+kp", steps=2, size=32)
        torch.testing.assert_close(small(x32).current.cam, plain(x32).current.cam)


def test_mean_params_layout_and_6d_roundtrip():
    mean = mean_params()
    assert mean.vector().shape == (J * 6 + SHAPE_DIM + 3,)
    torch.testing.assert_close(mean.rotmat[0], FACING_CAMERA)
    torch.testing.assert_close(mean.rotmat[1:], torch.eye(3).expand(J - 1, 3, 3))
    rotmat, shape, cam = IEFRegressor(8, mean, hidden=8).split(mean.vector()[None])
    torch.testing.assert_close(rotmat[0], mean.rotmat)
    torch.testing.assert_close(shape[0], mean.shape)
    torch.testing.assert_close(cam[0], torch.tensor([0.9, 0.0, 0.0]))


def test_facing_camera_is_upright_and_facing():
    world_up, world_facing = torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.0, 0.0, 1.0])
    assert torch.equal(FACING_CAMERA @ world_up, torch.tensor([0.0, -1.0, 0.0]))  # image up is -y
    assert torch.equal(FACING_CAMERA @ world_facing, torch.tensor([0.0, 0.0, -1.0]))  # towards the camera
    assert torch.linalg.det(FACING_CAMERA) == 1.0


def test_mean_for_body_frames_the_person_like_the_crops(anny_body):
    """The mean camera draws the rest body's 14 joints centred, 150 px (of 224) on the long side."""
    mean = MeanParams.for_body(anny_body)
    assert (mean.n_rotations, mean.shape_dim) == (anny_body.skeleton.num_joints, anny_body.shape_dim)
    torch.testing.assert_close(mean.shape, anny_body.default_shape(1)[0])
    posed = anny_body(mean.rotmat[None, 1:], mean.shape[None], mean.rotmat[None, 0], torch.zeros(1, 3))
    uv = project_weak(posed.eval_joints[0], mean.cam)
    lo, hi = uv.min(0).values, uv.max(0).values
    assert abs((hi - lo).max().item() * 112 - 150) < 0.5
    torch.testing.assert_close(0.5 * (lo + hi), torch.zeros(2), atol=1e-5, rtol=0)
    assert uv[13, 1] < uv[0, 1]  # head above the right ankle in the image
    assert uv[9, 0] > uv[8, 0]  # facing the camera: their left shoulder on the image's right
    net = MotionHMR.from_body("kp", TINY, anny_body)
    torch.testing.assert_close(net.future_head.regressor.mean, mean.vector())


def test_mean_params_are_checked():
    with pytest.raises(InputError, match="must hold rotation matrices"):
        MeanParams(torch.eye(3).repeat(2, 1, 1) * 2, torch.zeros(6), torch.tensor([0.9, 0, 0]))
    with pytest.raises(InputError, match=r"must be \(s > 0, tx, ty\)"):
        MeanParams(torch.eye(3)[None], torch.zeros(6), torch.tensor([0.0, 0, 0]))
    with pytest.raises(InputError, match="the model was asked for 24 and 6"):
        MotionHMR("kp", TINY, 24, 6, mean_params())


# -- adversarial branch ------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.0, 0.3, 1.0])
def test_gradient_reversal_flips_and_scales(scale):
    x = torch.randn(4, 5, requires_grad=True)
    w = torch.randn(4, 5)
    y = grad_reverse(x, scale)
    assert torch.equal(y, x)
    (y * w).sum().backward()
    torch.testing.assert_close(x.grad, -scale * w)


def test_domain_logits_reverse_the_gradient_into_the_features(tiny_nets):
    net = tiny_nets["lstm"]
    features = torch.randn(2, 3, 2048, requires_grad=True)
    logits = net.domain_logits(features, scale=0.5)
    assert logits.shape == (2, 3)
    (g_rev,) = torch.autograd.grad(logits.sum(), features)
    (g_plain,) = torch.autograd.grad(net.domain.mlp(features).sum(), features)
    torch.testing.assert_close(g_rev, -0.5 * g_plain)
    # the classifier's own weights get the ordinary (unreversed) gradient
    w = net.domain.mlp[0].weight
    (g_w_rev,) = torch.autograd.grad(net.domain_logits(features, scale=0.5).sum(), w)
    (g_w_plain,) = torch.autograd.grad(net.domain.mlp(features).sum(), w)
    torch.testing.assert_close(g_w_rev, g_w_plain)


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (ModelConfig, {"temporal": "gru"}, r"model.temporal='gru' is unknown; choose one of lstm, none"),
        (ModelConfig, {"lstm_hidden": 0}, r"model.lstm_hidden=0 is not valid: a positive integer"),
        (ModelConfig, {"head_hidden": 1.5}, r"model.head_hidden=1.5 is not valid: a positive integer"),
        (ModelConfig, {"iterations": True}, r"model.iterations=True is not valid"),
        (ModelConfig, {"dropout": 1.0}, r"model.dropout=1.0 is not valid: a probability in \[0, 1\)"),
        (ModelConfig, {"backbone_weights": ""}, r"model.backbone_weights='' is not valid"),
        (ModelConfig, {"input_size": 16}, r"model.input_size=16 is not valid: null or an integer >= 32"),
        (LossConfig, {"w3d": -1.0}, r"loss.w3d=-1.0 is not valid: a weight >= 0"),
        (LossConfig, {"w2d": "1"}, r"loss.w2d='1' is not valid"),
        (LossConfig, {"loss2d": "huber"}, r"loss.loss2d='huber' is unknown; choose one of l1, l2"),
    ],
)
def test_config_errors_are_one_line(cls, kwargs, message):
    with pytest.raises(InputError, match=message) as err:
        cls(**kwargs)
    assert "\n" not in str(err.value)


def test_configs_are_frozen_with_paper_defaults():
    cfg = ModelConfig()
    assert (cfg.temporal, cfg.lstm_hidden, cfg.head_hidden, cfg.iterations, cfg.dropout) == ("lstm", 1024, 1024, 3, 0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lstm_hidden = 3  # type: ignore[misc]
