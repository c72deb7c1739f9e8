"""The CUDA path (marker ``gpu``): bf16 training steps of every ``inputs``, channels_last,
an exact resume, the predictor and ptlflow on CUDA against the CPU. Without a CUDA device
these are skipped with that reason (the one allowed skip); ``bash jobs/gpu_check.sh`` runs
them on a GPU machine and reports them in its table.

DDP is checked on any machine: two gloo processes on the CPU (``test_ddp.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionhmr.inputs import parse_inputs

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device: run bash jobs/gpu_check.sh on a GPU machine"),
]

SPECS = ["rgb", "flow", "kp", "flow+kp", "rgb+kp", "rgb+flow+kp"]
SMALL = ["model.lstm_hidden=64", "model.head_hidden=64", "model.dann_hidden=16"]


def random_batch(b: int, t: int, spec, device, seed: int = 0) -> dict:
    """A compact training batch (:mod:`motionhmr.data`'s contract) with random content."""
    g = torch.Generator().manual_seed(seed)
    s = t - 1
    batch = {
        "kp_input_visible": torch.rand(b, t, 14, generator=g) > 0.2,
        "joints3d": torch.tensor([0.0, 0.0, 4.0]) + 0.4 * torch.randn(b, t, 14, 3, generator=g),
        "kp2d": 40 + 144 * torch.rand(b, t, 14, 2, generator=g),
        "kp_visible": torch.rand(b, t, 14, generator=g) > 0.2,
        "kp2d_future": 40 + 144 * torch.rand(b, s, 14, 2, generator=g),
        "kp_visible_future": torch.rand(b, s, 14, generator=g) > 0.2,
        "total_occlusion": torch.zeros(b, t, dtype=torch.bool),
    }
    batch["total_occlusion"][:, 2] = True
    if "rgb" in spec:
        batch["rgb"] = torch.randint(0, 256, (b, s, 224, 224, 3), generator=g, dtype=torch.uint8)
    if "flow" in spec:
        batch["flow"] = torch.randint(-200, 200, (b, s, 224, 224, 2), generator=g, dtype=torch.int16)
    return {k: v.to(device) for k, v in batch.items()}


def built(inputs: str, device, *extra: str):
    from motionhmr.config import load_train_config
    from motionhmr.train import build, make_optimizer

    cfg = load_train_config([f"inputs={inputs}", "data=unused", *SMALL, *extra])
    torch.manual_seed(0)
    model, loss_fn = build(cfg, torch.device(device))
    return cfg, model, loss_fn, *make_optimizer(cfg, model)


@pytest.mark.parametrize("inputs", SPECS)
def test_bf16_training_step_of_every_input_is_finite(inputs):
    from motionhmr.train import train_step

    cfg, model, loss_fn, opt, sched = built(inputs, "cuda")
    batch = random_batch(2, 8, parse_inputs(inputs), "cuda")
    for _ in range(2):
        out = train_step(model, loss_fn, batch, opt, sched, cfg, torch.bfloat16)
        assert np.isfinite(out["loss"]) and np.isfinite(float(out["grad_norm"]))
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_channels_last_equals_the_default_layout():
    cfg, model, _, _, _ = built("flow+kp", "cuda")
    model.eval()
    batch = random_batch(2, 6, parse_inputs("flow+kp"), "cuda")
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    with torch.no_grad():
        a = model(batch).current.rotmat
        model.to(memory_format=torch.contiguous_format)
        b = model(batch).current.rotmat
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    from synth.cli import main as synth_main

    out = tmp_path_factory.mktemp("shards")
    assert synth_main(["generate", "--n", "4", "--out", str(out), "--per-shard", "2", "frames=6"]) == 0
    return out


def test_two_steps_then_an_exact_resume_on_cuda(shards, tmp_path):
    from motionhmr.config import load_train_config
    from motionhmr.train import train

    base = ["inputs=flow+kp", f"data={shards}", "device=cuda", "data.batch_size=1", "data.val_every=0",
            "optim.warmup=0", "optim.schedule=constant", "val_every=0", "deterministic=true", "epoch_batches=4",
            "data.workers=0", "wandb.mode=disabled", "image_every=0", "model.encoder=resnet18",
            "model.input_size=64", *SMALL]  # fmt: skip
    straight = train(load_train_config([*base, "optim.steps=3", f"out={tmp_path / 'a'}"]))
    train(load_train_config([*base, "optim.steps=2", f"out={tmp_path / 'b'}"]))
    resumed = train(load_train_config([*base, "optim.steps=3", f"out={tmp_path / 'b'}"]))
    assert resumed["step"] == straight["step"] == 3
    assert resumed["loss"] == straight["loss"]


def test_the_predictor_on_cuda_equals_the_cpu():
    from motionhmr.inference import Predictor

    spec = parse_inputs("flow+kp")
    _, model, loss_fn, _, _ = built("flow+kp", "cpu", "model.encoder=resnet18", "model.input_size=64")
    track = {k: v[0] for k, v in random_batch(1, 12, spec, "cpu").items()}
    cpu = Predictor(model.eval(), loss_fn, spec, torch.device("cpu"), frames=8)(track).joints3d
    _, model_cuda, loss_cuda, _, _ = built("flow+kp", "cuda", "model.encoder=resnet18", "model.input_size=64")
    model_cuda.load_state_dict(model.state_dict())
    cuda = Predictor(model_cuda.eval(), loss_cuda, spec, torch.device("cuda"), frames=8)(track).joints3d
    np.testing.assert_allclose(cuda, cpu, atol=2e-3)  # metres; TF32 convolutions on the GPU


def test_ptlflow_on_cuda_equals_the_cpu(tmp_path):
    from flow import FlowConfig, build_backend
    from flow.ptlflow_backend import import_ptlflow

    torch.manual_seed(0)
    net = import_ptlflow().get_model("flownets")
    ckpt = tmp_path / "flownets.ckpt"
    torch.save({"state_dict": net.state_dict(), "hyper_parameters": {"train_size": None}}, ckpt)
    pairs = np.random.default_rng(0).integers(0, 256, (2, 2, 128, 160, 3), dtype=np.uint8)
    flows = [build_backend(FlowConfig("ptlflow", model="flownets", ckpt=str(ckpt), device=d))(pairs)
             for d in ("cpu", "cuda")]  # fmt: skip
    assert flows[1].shape == (2, 128, 160, 2) and np.isfinite(flows[1]).all()
    np.testing.assert_allclose(flows[1], flows[0], atol=0.05)  # px; TF32 convolutions on the GPU
