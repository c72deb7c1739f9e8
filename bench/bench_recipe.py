"""Seconds per training step and peak memory of CPU training recipes, on real shards.

    .venv/bin/python bench/bench_recipe.py --data shards/ [--steps 5]

Each recipe runs in its own process (so peak resident memory is its own): build the model as
``motionhmr train`` does, take real batches from the loader, time ``--steps`` optimizer steps
after one warm-up step. Recipes (train overrides):

  old kp      the README's recipe before issue 12: ResNet-50 on 64-px heatmaps, LSTM 128,
              heads 256, batch 4 x 16 frames
  new kp      model.encoder=keypoints, LSTM 256, heads 512, batch 8 x 31 frames
  flow+kp r18 ResNet-18 on 64-px flow + heatmaps, LSTM 256, heads 512, batch 4 x 16 frames
  flow+kp hybrid  model.encoder=keypoints+resnet18: keypoint coordinates through the MLP,
              flow (+ indicator) through a ResNet-18 at 32 px, LSTM 256, heads 512,
              batch 8 x 31 frames
  (--only NAME, repeatable, runs only those; --set KEY=VALUE adds train overrides to all)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RECIPES = {
    "old kp": ["inputs=kp", "model.input_size=64", "model.lstm_hidden=128", "model.head_hidden=256",
               "model.dann_hidden=64", "data.batch_size=4", "data.frames=16", "model.init_pose=rest"],
    "new kp": ["inputs=kp", "model.encoder=keypoints", "model.lstm_hidden=256", "model.head_hidden=512",
               "data.batch_size=8"],
    "flow+kp r18": ["inputs=flow+kp", "model.encoder=resnet18", "model.input_size=64", "model.lstm_hidden=256",
                    "model.head_hidden=512", "data.batch_size=4", "data.frames=16"],
    "flow+kp hybrid": ["inputs=flow+kp", "model.encoder=keypoints+resnet18", "model.input_size=32",
                       "model.lstm_hidden=256", "model.head_hidden=512", "data.batch_size=8"],
}  # fmt: skip


def one(data: str, overrides: list[str], steps: int) -> dict:
    import torch

    from motionhmr.config import load_train_config
    from motionhmr.data import make_loader
    from motionhmr.train import build, make_optimizer, train_step

    cfg = load_train_config([f"data={data}", "data.workers=0", "data.shuffle_buffer=4", "wandb.mode=disabled",
                             *overrides])  # fmt: skip
    model, loss_fn = build(cfg, torch.device("cpu"))
    opt, sched = make_optimizer(cfg, model)
    batches = list(make_loader(cfg.data, cfg.inputs, "train", batches=steps + 1))
    train_step(model, loss_fn, batches[0], opt, sched, cfg, None)
    t0 = time.perf_counter()
    for b in batches[1:]:
        train_step(model, loss_fn, b, opt, sched, cfg, None)
    dt = (time.perf_counter() - t0) / steps
    return {"s_per_step": dt, "clips_per_s": cfg.data.batch_size / dt,
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--only", action="append", choices=sorted(RECIPES), help="run only this recipe (repeatable)")
    ap.add_argument("--set", action="append", default=[], help="extra train override for every recipe")
    ap.add_argument("--recipe", help=argparse.SUPPRESS)  # internal: run one recipe in this process
    args = ap.parse_args(argv)
    if args.recipe:
        print(json.dumps(one(args.data, RECIPES[args.recipe] + args.set, args.steps)))
        return 0
    print("| recipe | s per step | clips/s | peak RSS (GiB) |\n|---|---|---|---|")
    for name in args.only or RECIPES:
        extra = [f"--set={o}" for o in args.set]
        out = subprocess.run([sys.executable, __file__, "--data", args.data, "--steps", str(args.steps),
                              "--recipe", name, *extra], capture_output=True, text=True, check=True)  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {name} | {r['s_per_step']:.2f} | {r['clips_per_s']:.1f} | {r['peak_rss_gib']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
