"""DDP gives the single-process gradient: two gloo processes on the CPU, each with half of a
fixed batch, get the loss and the all-reduced gradient one process gets from the whole batch
(every clip has all its keypoints visible, so the loss, a mean over clips, frames and joints,
splits into equal halves). The CUDA variant is the same code with ``device=cuda``. Without
DANN the domain classifier gets no gradient; plain DDP then never all-reduced (each rank kept
its own gradient, 30-80 % off), which this test caught; two steps, so a reduction left
unfinished would also fail the second.

Weights after an Adam step are not compared: Adam's first step is ~lr * sign(gradient), so a
1e-9 difference in a near-zero gradient flips a weight by 2 lr; gradients are the property.
"""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

OVERRIDES = ["inputs=kp", "data=unused", "model.encoder=keypoints", "model.lstm_hidden=16", "model.head_hidden=16",
             "model.dropout=0", "optim.warmup=0", "optim.schedule=constant", "optim.lr=1e-3"]  # fmt: skip


def batch(b: int = 2, t: int = 6) -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        "kp_input_visible": torch.rand(b, t, 14, generator=g) > 0.2,
        "joints3d": torch.tensor([0.0, 0.0, 4.0]) + 0.4 * torch.randn(b, t, 14, 3, generator=g),
        "kp2d": 40 + 144 * torch.rand(b, t, 14, 2, generator=g),
        "kp_visible": torch.ones(b, t, 14, dtype=torch.bool),
        "kp2d_future": 40 + 144 * torch.rand(b, t - 1, 14, 2, generator=g),
        "kp_visible_future": torch.ones(b, t - 1, 14, dtype=torch.bool),
        "total_occlusion": torch.zeros(b, t, dtype=torch.bool),
    }


def one_step(rank: int, world: int, rendezvous: str, out: str) -> None:
    from motionhmr.config import load_train_config
    from motionhmr.train import build, wrap_ddp

    torch.set_num_threads(1)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world)
    cfg = load_train_config(OVERRIDES)
    torch.manual_seed(0)
    model, loss_fn = build(cfg, torch.device("cpu"))
    net = wrap_ddp(model, torch.device("cpu")) if world > 1 else model  # as motionhmr train wraps it
    mine = {k: v[rank::world] for k, v in batch().items()}
    for _ in range(2):  # the same gradient twice: DDP's reducer must also be ready for a next step
        net.zero_grad(set_to_none=True)
        loss = loss_fn(net(mine), mine)["loss"]
        loss.backward()  # DDP all-reduces (averages) the gradients here
    if world > 1:
        dist.all_reduce(loss := loss.detach().clone())
        loss /= world
    if rank == 0:
        grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
        torch.save({"grads": grads, "loss": loss.detach()}, out)
    if world > 1:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_processes_give_the_single_process_loss_and_gradient(tmp_path):
    one_step(0, 1, "", str(tmp_path / "single.pt"))
    mp.spawn(one_step, args=(2, str(tmp_path / "rendezvous"), str(tmp_path / "ddp.pt")), nprocs=2, join=True)
    single, ddp = torch.load(tmp_path / "single.pt"), torch.load(tmp_path / "ddp.pt")
    torch.testing.assert_close(ddp["loss"], single["loss"], atol=1e-6, rtol=1e-5)
    assert set(ddp["grads"]) == set(single["grads"]) and len(single["grads"]) > 10
    for name, grad in single["grads"].items():
        assert grad.abs().max() > 0 or name.startswith("domain"), name
        torch.testing.assert_close(ddp["grads"][name], grad, atol=1e-6, rtol=1e-4, msg=name)
