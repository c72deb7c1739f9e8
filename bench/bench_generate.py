"""Generator throughput: per-stage seconds per clip and clips/s with 1 and 2 workers.

    LP_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python bench/bench_generate.py --clips 48

Stages as in :mod:`synth.generate`: decode, tracking flow, body+render, SLIC, compositing,
crops, flow on pairs, encode/write. The first clips of each motion pay for its one-off
retargeting and the first pays for the background cache, so both are done before the
per-stage table is timed (a render worker makes thousands of clips after them). Also
prints bytes per clip by field. Goals: <= 1 s per clip per core; <= 1.5 MB per clip.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=12, help="clips per measurement")
    ap.add_argument("--workers", default="1,2", help="worker counts to time (default 1,2)")
    ap.add_argument("overrides", nargs="*", help="generate config overrides")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from synth.config import GenerateConfig, compose, typed
    from synth.generate import STAGES, ClipGenerator
    from synth.shards.reader import verify
    from synth.shards.schema import encode

    cfg = typed(compose("generate", [f"n={args.clips}", *args.overrides]), GenerateConfig)
    gen = ClipGenerator(cfg)
    gen.load_motions()  # one-off per worker: retarget every clip (~0.15 s each)
    for i in range(2):  # warm-up: the background cache, first-call allocations
        gen.make(10_000 + i)
    gen.timings.clear()
    t0 = time.perf_counter()
    for i in range(args.clips):
        s = gen.make(i)
        t1 = time.perf_counter()
        encode(s)
        gen.timings["encode"] += time.perf_counter() - t1
    wall = time.perf_counter() - t0
    gen.close()
    print(f"one process, {args.clips} clips of {cfg.frames} frames, flow={cfg.flow.backend}:{cfg.flow.preset}")
    print("| stage | s per clip | share |\n|---|---:|---:|")
    total = sum(gen.timings.values())
    for st in STAGES:
        v = gen.timings.get(st, 0.0) / args.clips
        print(f"| {st} | {v:.3f} | {100 * v * args.clips / total:.0f} % |")
    print(f"| **whole clip** | **{wall / args.clips:.3f}** | {args.clips / wall:.2f} clips/s |")

    from synth.generate_cli import generate

    def run(n: int, w: int):
        with tempfile.TemporaryDirectory() as d:
            c = typed(compose("generate", [f"n={n}", f"out={d}", f"workers={w}",
                                           f"per_shard={max(1, n // (2 * w))}", *args.overrides]), GenerateConfig)  # fmt: skip
            res = generate(c)
            return res, verify(d)

    # Each worker pays a start-up (imports, Anny rig, retargeting, background cache) that a
    # fleet worker pays once per thousands of clips. A short run of 2 clips per worker
    # measures it, so the marginal (steady-state) rate is (n - n_short) / (t - t_short).
    rates = {}
    for w in [int(x) for x in args.workers.split(",")]:
        short, _ = run(2 * w, w)
        res, rep = run(args.clips, w)
        steady = (res["clips"] - short["clips"]) / max(res["seconds"] - short["seconds"], 1e-9)
        rates[w] = steady
        print(f"workers={w}: {res['clips']} clips in {res['seconds']:.1f} s = {res['clips'] / res['seconds']:.2f} clips/s "
              f"incl. start-up; start-up ~{short['seconds'] - 2 * w / steady:.1f} s; "
              f"steady state {steady:.2f} clips/s; {rep.bytes_total / rep.clips / 1e6:.2f} MB per clip")  # fmt: skip
        if w == 1:
            print(rep.summary())
    if 1 in rates:
        for w, r in rates.items():
            if w != 1:
                print(f"scaling 1 -> {w} workers: x{r / rates[1]:.2f} (steady state)")

if __name__ == "__main__":
    main()
