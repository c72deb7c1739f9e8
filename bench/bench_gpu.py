"""The GPU path, checked and measured in one command that fits a short GPU window.

    bash jobs/gpu_check.sh                       # on a fresh GPU machine: set-up, then this
    .venv/bin/python bench/bench_gpu.py [--out gpu_check.json] [--data shards/] [--train-seconds 120]
    .venv/bin/python bench/bench_gpu.py --dry-run    # every step at toy sizes on the CPU (the test suite runs it)

Steps, each guarded (a missing package, a CUDA error or an out-of-memory is one line in the
table, never a crash that loses the other figures), each written to ``--out`` (JSON) as soon
as it ends, so a run cut short keeps what it measured:

``env``         torch, CUDA, the device and its memory, CPU cores.
``data``        ``synth generate`` on all CPU cores into a temporary folder (unless ``--data``),
                started first and run in the background while the GPU steps below run.
``cuda_tests``  ``pytest -m gpu tests/gpu``: bf16 steps of every ``inputs``, channels_last,
                an exact resume, the predictor and ptlflow on CUDA vs the CPU.
``throughput``  the full model (flow+kp, ResNet-50, 31 frames x 224², LSTM 1024, bf16,
                channels_last, the network input assembled on the GPU from the compact batch)
                for batch 1, 2, 4, ... until out of memory, beside a bare ResNet-50 forward +
                backward over the same B x 30 frames. Goal: >= 60 % of the bare ResNet-50's
                clips/s at batch >= 16 on an 80 GB GPU.
``loader``      the training loader's clips/s with N workers on the generated shards, against
                what the model consumes at the largest batch that fit (goal: loader >= model).
``train``       a real training run (``motionhmr.train``'s step and loader) for
                ``--train-seconds``: loss per step and the GPU's busy share sampled from
                ``nvidia-smi`` every 0.5 s (goal: >= 90 % busy, i.e. not starved by the loader).

Expected wall time on one H100/H200 with 16 cores: set-up ~3 min (fresh machine), then ~5 min
here (generation overlaps the CUDA tests and the throughput sweep).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
ROOT = Path(__file__).resolve().parents[1]
GOAL_RATIO, GOAL_BATCH, GOAL_BUSY = 0.60, 16, 0.90


@dataclasses.dataclass(frozen=True)
class Sizes:
    """What each step runs: the real check, or ``--dry-run``'s toy sizes on the CPU."""

    device: str
    clips: int
    frames: int
    input_size: int | None
    encoder: str
    lstm_hidden: int
    head_hidden: int
    max_batch: int
    repeat: int
    workers: tuple[int, ...]
    train_batch: int


FULL = Sizes("cuda", clips=192, frames=31, input_size=None, encoder="resnet50", lstm_hidden=1024, head_hidden=1024,
             max_batch=64, repeat=3, workers=(4, 8, 14), train_batch=16)  # fmt: skip
DRY = Sizes("cpu", clips=4, frames=6, input_size=32, encoder="resnet18", lstm_hidden=16, head_hidden=16, max_batch=2,
            repeat=1, workers=(0,), train_batch=2)  # fmt: skip


class Report:
    """Results by step, rewritten to ``path`` after every step."""

    def __init__(self, path: Path):
        self.path, self.steps = path, {}

    def run(self, name: str, fn, *args):
        t0 = time.perf_counter()
        try:
            figures = fn(*args)
            self.steps[name] = {"ok": True, "seconds": round(time.perf_counter() - t0, 1), **figures}
        except BaseException as e:  # noqa: BLE001 - one line in the table, and the other steps go on
            if isinstance(e, KeyboardInterrupt):
                raise
            line = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            self.steps[name] = {"ok": False, "seconds": round(time.perf_counter() - t0, 1), "error": line[:300],
                                "trace": traceback.format_exc(limit=3)[-1500:]}  # fmt: skip
        self.path.write_text(json.dumps(self.steps, indent=1, default=float))
        return self.steps[name]

    def table(self) -> str:
        lines = ["| step | figure | goal | verdict |", "|---|---|---|---|"]
        for name, r in self.steps.items():
            if not r["ok"]:
                lines.append(f"| {name} | failed: {r['error']} | | ✗ |")
                continue
            for figure, goal, verdict in r.get("rows", [(r.get("summary", "done"), "", "")]):
                lines.append(f"| {name} | {figure} | {goal} | {verdict} |")
        return "\n".join(lines)


# -- steps ---------------------------------------------------------------------------------
def env_step(sizes: Sizes) -> dict:
    import torch

    info = {"torch": torch.__version__, "cuda": torch.version.cuda, "cpus": os.cpu_count()}
    if sizes.device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("torch sees no CUDA device (CPU wheel, or no driver): run bash jobs/setup.sh on the GPU machine")
        p = torch.cuda.get_device_properties(0)
        info.update(device=p.name, memory_gib=round(p.total_memory / 2**30, 1), devices=torch.cuda.device_count())
    else:
        info.update(device="cpu (dry run)")
    info["summary"] = f"{info['device']}, torch {info['torch']} (CUDA {info['cuda']}), {info['cpus']} CPU cores"
    return info


def start_data(sizes: Sizes, out: Path) -> subprocess.Popen:
    """``synth generate`` on all cores, in the background (the GPU steps run meanwhile)."""
    workers = max(1, min(os.cpu_count() or 1, sizes.clips))
    per_shard = max(1, sizes.clips // (2 * max(sizes.workers + (1,))))
    cmd = [sys.executable, "-m", "synth.cli", "generate", "--n", str(sizes.clips), "--out", str(out),
           "--workers", str(workers), "--per-shard", str(per_shard), f"frames={sizes.frames}"]  # fmt: skip
    log = open(out.parent / "generate.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def data_step(proc: subprocess.Popen | None, out: Path, t0: float) -> dict:
    if proc is not None:
        if proc.wait() != 0:
            tail = (out.parent / "generate.log").read_text().strip().splitlines()[-1:] or ["(no output)"]
            raise RuntimeError(f"synth generate failed ({proc.returncode}): {tail[0]}")
    from synth.shards.reader import iter_records, shard_files

    clips = sum(1 for s in shard_files(out) for _ in iter_records(s))
    took = time.perf_counter() - t0
    figure = f"{clips} clips in {took:.0f} s ({clips / took:.1f} clips/s, all cores)" if proc else f"{clips} clips given"
    return {"clips": clips, "seconds_generating": took, "rows": [(figure, "", "")]}


def cuda_tests_step(sizes: Sizes) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "tests/gpu"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=420)
    lines = [ln for ln in done.stdout.strip().splitlines() if ln.strip()]
    summary = lines[-1].strip("= ") if lines else "no output"
    failed = [ln for ln in lines if ln.startswith("FAILED")]
    ok = done.returncode in (0, 5) and not failed  # 5: nothing collected
    verdict = "✓" if ok and "passed" in summary else ("skipped: no CUDA" if ok else "✗")
    return {"summary": summary, "failed": failed, "returncode": done.returncode,
            "rows": [(f"pytest -m gpu: {summary}", "all pass", verdict)] + [(f, "", "✗") for f in failed]}  # fmt: skip


def throughput_step(sizes: Sizes) -> dict:
    import torch

    from motionhmr.config import load_train_config
    from motionhmr.model.backbone import ResNet
    from motionhmr.train import autocast_dtype, build, make_optimizer, train_step

    device = torch.device(sizes.device)
    cfg = load_train_config(_model_overrides(sizes, "unused"))
    model, loss_fn = build(cfg, device)
    opt, sched = make_optimizer(cfg, model)
    dtype = autocast_dtype("bf16", device) if device.type == "cuda" else None
    from motionhmr.inputs import parse_inputs

    spec = parse_inputs("flow+kp")
    bare = ResNet(spec.channels, None, depth=int(sizes.encoder[6:])).to(device).train()
    if device.type == "cuda":
        bare = bare.to(memory_format=torch.channels_last)
    rows, results, b = [], [], 1
    while b <= sizes.max_batch:
        try:
            batch = _random_batch(b, sizes.frames, spec, device)
            _reset_peak(device)
            sec = _timed(lambda: train_step(model, loss_fn, batch, opt, sched, cfg, dtype), device, sizes.repeat)
            peak = _peak_gib(device)
            from motionhmr.inputs import assemble

            x = assemble(batch, spec, sizes.input_size).flatten(0, 1)
            if device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            _reset_peak(device)
            bare_sec = _timed(lambda: _bare_step(bare, x, device), device, sizes.repeat)
            bare_peak = _peak_gib(device)
            del batch, x
        except torch.cuda.OutOfMemoryError:
            rows.append((f"batch {b}: out of memory", "", ""))
            break
        r = {"batch": b, "clips_s": b / sec, "peak_gib": peak, "bare_clips_s": b / bare_sec, "bare_peak_gib": bare_peak}
        r["ratio"] = r["clips_s"] / r["bare_clips_s"]
        results.append(r)
        rows.append((f"batch {b}: {r['clips_s']:.1f} clips/s, {peak:.1f} GiB; bare ResNet: {r['bare_clips_s']:.1f} "
                     f"clips/s, {bare_peak:.1f} GiB; ratio {r['ratio']:.0%}", "", ""))  # fmt: skip
        b *= 2
    if device.type == "cuda":
        torch.cuda.empty_cache()
    best = results[-1] if results else None
    if best:
        ok = best["ratio"] >= GOAL_RATIO and best["batch"] >= GOAL_BATCH
        rows.append((f"largest batch {best['batch']}: {best['ratio']:.0%} of bare ResNet-50",
                     f">= {GOAL_RATIO:.0%}, batch >= {GOAL_BATCH} (80 GB)", "✓" if ok else "✗"))  # fmt: skip
    return {"sweep": results, "rows": rows}


def loader_step(sizes: Sizes, data: Path, consumption: float | None) -> dict:
    from bench.bench_loader import measure

    rows, rates = [], {}
    for w in sizes.workers:
        rate, per_clip = measure(str(data), "flow+kp", w, clips=max(8, 4 * max(w, 1)), batch=sizes.train_batch)
        rates[w] = rate
        goal = f">= model's {consumption:.1f} clips/s" if consumption else ""
        verdict = ("✓" if rate >= consumption else "✗") if consumption else ""
        rows.append((f"{w} workers: {rate:.1f} clips/s, {per_clip / 1e6:.1f} MB a clip", goal, verdict))
    return {"clips_s": rates, "model_clips_s": consumption, "rows": rows}


def train_step_check(sizes: Sizes, data: Path, seconds: float) -> dict:
    import torch

    from motionhmr.config import load_train_config
    from motionhmr.data import make_loader
    from motionhmr.train import autocast_dtype, build, make_optimizer, to_device, train_step

    device = torch.device(sizes.device)
    workers = max(sizes.workers)
    cfg = load_train_config(_model_overrides(sizes, str(data), f"data.batch_size={sizes.train_batch}",
                                             f"data.workers={workers}", "data.val_every=0"))  # fmt: skip
    model, loss_fn = build(cfg, device)
    opt, sched = make_optimizer(cfg, model)
    dtype = autocast_dtype("bf16", device) if device.type == "cuda" else None
    sampler = BusySampler() if device.type == "cuda" else None
    losses, t0, steps = [], time.perf_counter(), 0
    max_steps = 3 if device.type == "cpu" else 10**9
    loader = make_loader(cfg.data, cfg.inputs, "train", batches=10**6)
    if sampler:
        sampler.start()
    for batch in loader:
        out = train_step(model, loss_fn, to_device(batch, device), opt, sched, cfg, dtype)
        losses.append(round(out["loss"], 4))
        steps += 1
        if time.perf_counter() - t0 > seconds or steps >= max_steps:
            break
    took = time.perf_counter() - t0
    busy = sampler.stop() if sampler else None
    rows = [(f"{steps} steps of batch {sizes.train_batch} in {took:.0f} s ({steps * sizes.train_batch / took:.1f} clips/s); "
             f"loss {losses[0]:.3f} -> {np.mean(losses[-5:]):.3f}", "", "")]  # fmt: skip
    if busy is not None:
        rows.append((f"GPU busy {busy:.0%} of the run", f">= {GOAL_BUSY:.0%}", "✓" if busy >= GOAL_BUSY else "✗"))
    else:
        rows.append(("GPU busy share: n/a (no GPU)", "", ""))
    return {"losses": losses, "steps": steps, "seconds_training": took, "busy": busy, "rows": rows}


# -- helpers -------------------------------------------------------------------------------
def _model_overrides(sizes: Sizes, data: str, *extra: str) -> list[str]:
    out = ["inputs=flow+kp", f"data={data}", f"model.encoder={sizes.encoder}", f"model.lstm_hidden={sizes.lstm_hidden}",
           f"model.head_hidden={sizes.head_hidden}", f"device={sizes.device}", "wandb.mode=disabled", "image_every=0",
           "val_every=0", "optim.warmup=0", *extra]  # fmt: skip
    if sizes.input_size:
        out.append(f"model.input_size={sizes.input_size}")
    return out


def _random_batch(b: int, t: int, spec, device) -> dict:
    import torch

    g = torch.Generator().manual_seed(b)
    s = t - 1
    batch = {
        "flow": torch.randint(-200, 200, (b, s, 224, 224, 2), generator=g, dtype=torch.int16),
        "kp_input_visible": torch.rand(b, t, 14, generator=g) > 0.2,
        "joints3d": torch.tensor([0.0, 0.0, 4.0]) + 0.4 * torch.randn(b, t, 14, 3, generator=g),
        "kp2d": 40 + 144 * torch.rand(b, t, 14, 2, generator=g),
        "kp_visible": torch.rand(b, t, 14, generator=g) > 0.2,
        "kp2d_future": 40 + 144 * torch.rand(b, s, 14, 2, generator=g),
        "kp_visible_future": torch.rand(b, s, 14, generator=g) > 0.2,
        "total_occlusion": torch.zeros(b, t, dtype=torch.bool),
    }
    return {k: v.to(device) for k, v in batch.items()}


def _bare_step(net, x, device) -> None:
    import torch

    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        feats = net(x)
    net.zero_grad(set_to_none=True)
    feats.float().square().mean().backward()


def _timed(fn, device, repeat: int) -> float:
    fn()  # warm-up (cuDNN autotuning, allocator)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    _sync(device)
    return (time.perf_counter() - t0) / repeat


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gib(device) -> float:
    import resource

    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # the process's peak RSS


class BusySampler:
    """The GPU's utilisation (``nvidia-smi``, % of time a kernel ran) every 0.5 s, averaged."""

    def __init__(self):
        if shutil.which("nvidia-smi") is None:
            raise RuntimeError("nvidia-smi is not on PATH: the busy share cannot be sampled")
        self.values, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", "0"],
                                 capture_output=True, text=True)  # fmt: skip
            if out.returncode == 0 and out.stdout.strip().isdigit():
                self.values.append(int(out.stdout.strip()) / 100)

    def stop(self) -> float | None:
        self._stop.set()
        self._thread.join()
        return float(np.mean(self.values)) if self.values else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="every step at toy sizes on the CPU (no GPU needed)")
    ap.add_argument("--out", default="gpu_check.json", help="results, rewritten after every step")
    ap.add_argument("--data", help="use these shards instead of generating")
    ap.add_argument("--train-seconds", type=float, default=120.0, help="length of the training run (default 120)")
    ap.add_argument("--skip", action="append", default=[], help="skip a step (env, data, cuda_tests, throughput, loader, train)")
    args = ap.parse_args(argv)
    sizes = DRY if args.dry_run else FULL
    report = Report(Path(args.out))
    work = Path(tempfile.mkdtemp(prefix="gpu_check_"))
    data = Path(args.data) if args.data else work / "shards"
    t0 = time.perf_counter()
    proc = start_data(sizes, data) if not args.data and "data" not in args.skip else None
    try:
        steps = [("env", env_step, sizes), ("cuda_tests", cuda_tests_step, sizes), ("throughput", throughput_step, sizes),
                 ("data", data_step, proc, data, t0)]  # fmt: skip
        for name, fn, *a in steps:
            if name not in args.skip:
                report.run(name, fn, *a)
                print(f"[{time.perf_counter() - t0:5.0f} s] {name}: {'ok' if report.steps[name]['ok'] else report.steps[name]['error']}", flush=True)
        sweep = report.steps.get("throughput", {}).get("sweep") or []
        consumption = sweep[-1]["clips_s"] if sweep else None
        for name, fn, *a in [("loader", loader_step, sizes, data, consumption),
                             ("train", train_step_check, sizes, data, args.train_seconds)]:  # fmt: skip
            if name not in args.skip:
                report.run(name, fn, *a)
                print(f"[{time.perf_counter() - t0:5.0f} s] {name}: {'ok' if report.steps[name]['ok'] else report.steps[name]['error']}", flush=True)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ngpu check ({'dry run, CPU' if args.dry_run else 'GPU'}), {time.perf_counter() - t0:.0f} s; results in {args.out}\n")
    print(report.table())
    return 0 if all(r["ok"] for r in report.steps.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
