"""Training-loader throughput: clips/s per worker count and bytes handed to the trainer per
clip, for each ``inputs`` spec, on real shards.

    .venv/bin/python bench/bench_loader.py --data shards/ [--inputs kp flow+kp] [--workers 0 1 2] [--clips 48]

The same script measures any version of ``motionhmr.data`` (it only calls ``make_loader``), so
before/after figures come from running it on both checkouts (PYTHONPATH=<checkout>).
Bytes per clip: the tensors of one batch (inputs and targets) divided by the batch size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def measure(data: str, inputs: str, workers: int, clips: int, batch: int = 4, **options) -> tuple[float, float]:
    from motionhmr.data import DataConfig, make_loader

    cfg = DataConfig(path=data, batch_size=batch, workers=workers, shuffle_buffer=8, **options)
    loader = make_loader(cfg, inputs, "train", batches=clips // batch + 1)
    it = iter(loader)
    first = next(it)  # worker start-up and the first decode are not steady state
    per_clip = sum(v.numel() * v.element_size() for v in first.values() if torch.is_tensor(v)) / batch
    t0 = time.perf_counter()
    n = 0
    for b in it:
        n += len(b["key"])
    return n / (time.perf_counter() - t0), per_clip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--inputs", nargs="+", default=["kp", "flow+kp", "rgb"])
    ap.add_argument("--workers", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--clips", type=int, default=48)
    ap.add_argument("--mirror", action="store_true", help="with data.mirror=true (a checkout that has it)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    import motionhmr.data

    print(f"motionhmr.data from {motionhmr.data.__file__}")
    print("| inputs | workers | clips/s | MB per clip |\n|---|---|---|---|")
    for inputs in args.inputs:
        for w in args.workers:
            rate, size = measure(args.data, inputs, w, args.clips, **({"mirror": True} if args.mirror else {}))
            print(f"| {inputs} | {w} | {rate:.2f} | {size / 1e6:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
