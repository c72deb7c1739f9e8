"""Benchmark: Motion-HMR training steps (a benchmark, not a test).

    .venv/bin/python bench/bench_model.py --device cpu --threads 1     # CPU, batch 1
    .venv/bin/python bench/bench_model.py --device cuda                # GPU sweep

One training step = forward of the full network (ResNet-50 on every step, bi-LSTM, both
IEF heads), the loss (the body model posed for both heads' 2 x B x 30 predictions, PA
alignment, projection), backward and an Adam step, on a 31-frame clip at 224 x 224.

CPU: seconds per step at batch 1. CUDA: for batch 1, 2, 4, ... until out of memory (or
``--max-batch``), clips/s and peak memory under bf16 autocast with channels_last, beside a
bare ResNet-50 forward + backward over the same B x 30 frames; the ratio is the share of the
backbone's throughput the whole step keeps (goal >= 60 %, batch >= 16 on an 80 GB GPU).
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import time

import torch

GOAL_RATIO = 0.60


def make_batch(b: int, s: int, channels: int, device: torch.device, seed: int = 0) -> dict:
    """A training batch of the shared contract with random content (speed does not depend on it)."""
    g = torch.Generator().manual_seed(seed)
    t = s + 1
    batch = {
        "x": torch.randn(b, s, channels, 224, 224, generator=g),
        "joints3d": 0.4 * torch.randn(b, t, 14, 3, generator=g),
        "kp2d": 224 * torch.rand(b, t, 14, 2, generator=g),
        "kp_visible": torch.rand(b, t, 14, generator=g) > 0.2,
        "kp2d_future": 224 * torch.rand(b, s, 14, 2, generator=g),
        "kp_visible_future": torch.rand(b, s, 14, generator=g) > 0.2,
        "total_occlusion": torch.zeros(b, t, dtype=torch.bool),
    }
    return {k: v.to(device) for k, v in batch.items()}


def autocast(device: torch.device, bf16: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step, device: torch.device, repeat: int, warmup: int = 1) -> float:
    """Mean seconds of ``step()`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(repeat):
        step()
    sync(device)
    return (time.perf_counter() - t0) / repeat


def motionhmr_step(net, loss_fn, opt, batch, device, bf16):
    def step():
        with autocast(device, bf16):
            out = loss_fn(net(batch["x"]), batch)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()

    return step


def bare_resnet_step(backbone, x, device, bf16):
    def step():
        with autocast(device, bf16):
            feats = backbone(x)
        backbone.zero_grad(set_to_none=True)
        feats.float().square().mean().backward()

    return step


def build(args, device: torch.device):
    from motionhmr.inputs import parse_inputs
    from motionhmr.losses import MotionHMRLoss
    from motionhmr.model import ModelConfig, MotionHMR
    from synth.bodies.anny_body import AnnyBody

    spec = parse_inputs(args.inputs)
    body = AnnyBody().to(device)
    net = MotionHMR.from_body(spec, ModelConfig(lstm_hidden=args.lstm_hidden), body).to(device).train()
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    loss_fn = MotionHMRLoss(body).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    return spec, net, loss_fn, opt


def bench_cpu(args) -> None:
    device = torch.device("cpu")
    spec, net, loss_fn, opt = build(args, device)
    s = args.frames - 1
    batch = make_batch(1, s, spec.channels, device)
    sec = time_steps(motionhmr_step(net, loss_fn, opt, batch, device, bf16=False), device, args.repeat)
    print(f"cpu: {platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}")
    print(f"inputs={spec.name} ({spec.channels} ch), {args.frames} frames x 224^2, lstm {args.lstm_hidden}, "
          "batch 1, fp32")
    print(f"training step (fwd + loss with the body + bwd + Adam): {sec:.2f} s  ({args.repeat} timed, 1 warm-up)")
    import resource  # ru_maxrss is KiB on Linux: the process's peak resident memory so far

    print(f"peak resident memory of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB")


def bench_cuda(args) -> None:
    from motionhmr.model import ResNet50

    device = torch.device("cuda")
    spec, net, loss_fn, opt = build(args, device)
    bare = ResNet50(spec.channels).to(device).to(memory_format=torch.channels_last).train()
    s = args.frames - 1
    print(f"gpu: {torch.cuda.get_device_name(device)}, bf16 autocast, channels_last; inputs={spec.name}, "
          f"{args.frames} frames x 224^2, lstm {args.lstm_hidden}")
    header = ("batch", 5), ("frames", 6), ("clips/s", 8), ("peak GiB", 8), ("bare clips/s", 12), ("bare GiB", 8)
    print(" ".join(f"{h:>{w}}" for h, w in header), f"{'ratio':>6}")
    b = 1
    while b <= args.max_batch:
        try:
            batch = make_batch(b, s, spec.channels, device)
            torch.cuda.reset_peak_memory_stats(device)
            sec = time_steps(motionhmr_step(net, loss_fn, opt, batch, device, bf16=True), device, args.repeat)
            peak = torch.cuda.max_memory_allocated(device) / 2**30
            x = batch["x"].flatten(0, 1)
            torch.cuda.reset_peak_memory_stats(device)
            bare_sec = time_steps(bare_resnet_step(bare, x, device, bf16=True), device, args.repeat)
            bare_peak = torch.cuda.max_memory_allocated(device) / 2**30
        except torch.cuda.OutOfMemoryError:
            print(f"{b:>5} out of memory")
            break
        finally:
            opt.zero_grad(set_to_none=True)
            bare.zero_grad(set_to_none=True)
            batch = x = None
            torch.cuda.empty_cache()
        ratio = bare_sec / sec
        print(f"{b:>5} {b * s:>6} {b / sec:>8.2f} {peak:>8.1f} {b / bare_sec:>12.2f} {bare_peak:>8.1f} {ratio:>6.0%}"
              + ("" if ratio >= GOAL_RATIO else "  (below the 60 % goal)"))
        b *= 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 on a shared machine)")
    ap.add_argument("--inputs", default="flow+kp")
    ap.add_argument("--frames", type=int, default=31)
    ap.add_argument("--lstm-hidden", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=None, help="timed steps (default: 2 on CPU, 10 on CUDA)")
    ap.add_argument("--max-batch", type=int, default=256, help="CUDA sweep: largest batch tried")
    args = ap.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = "cpu" if device == "auto" else device
    if device == "cuda":
        args.repeat = args.repeat or 10
        torch.backends.cudnn.benchmark = True
        bench_cuda(args)
    else:
        args.repeat = args.repeat or 2
        bench_cpu(args)


if __name__ == "__main__":
    main()
