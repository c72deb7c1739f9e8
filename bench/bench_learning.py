"""Learning benchmark: what any model must beat, what the data supports, and what Motion-HMR
reaches, all scored by one PA-MPJPE code (motionhmr.evaluate.evaluate_synthetic) on the same
held-out clips (index % data.val_every == 0).

    .venv/bin/python bench/bench_learning.py --data shards/ [--lifter-steps 3000]
        [--run runs/kp --run runs/flow+kp] [--png docs/learning_curve.png] [--json out.json]

Rows:
  floor     the best constant pose: the generalised-Procrustes mean of the training targets
  start     Motion-HMR's untrained output (IEF's start: rest pose, or the data's mean pose)
  lifter    a temporal-conv lifter from the stored 2D keypoints + input visibility (L2 loss)
  <run>     each Motion-HMR checkpoint (RUN/last.pt), with its training minutes and steps

With --png, the learning curves of the runs (held-out PA-MPJPE against steps and minutes,
from RUN/curve.jsonl) are drawn next to the floor and the lifter.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from motionhmr import baselines as B  # noqa: E402


def score_run(run: Path, data: str, val_every: int, device: str = "cpu"):
    """Held-out results of ``run/last.pt`` (every val clip, whole, by the Predictor's windows)."""
    from motionhmr.data import image_fields, sample_to_steps, shard_list, split_of
    from motionhmr.evaluate import evaluate_synthetic
    from motionhmr.inference import Predictor
    from synth.shards.reader import iter_records
    from synth.shards.schema import decode

    predictor = Predictor.from_checkpoint(run / "last.pt", device)
    fields = image_fields(predictor.spec)

    def samples():
        for shard in shard_list(data):
            for record in iter_records(Path(shard)):
                if split_of(record["__key__"], val_every) == "val":
                    yield decode(record, fields)

    return predictor, evaluate_synthetic(lambda s: predictor(sample_to_steps(s, predictor.spec)).joints3d, samples())


def start_level(predictor, clips) -> float:
    """PA-MPJPE of the network's IEF start pose, as a constant (what an untrained net predicts)."""
    reg = predictor.model.current_head.regressor
    with torch.no_grad():
        rot, shape, _ = reg.split(reg.mean[None].to(reg.mean.device))
        joints = predictor.loss_fn.joints(rot, shape)[0].cpu().numpy()
    return B.score(B.floor_predict(joints), clips).pa_mpjpe


def curve(run: Path) -> list[dict]:
    path = run / "curve.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder of shard-*.tar (synth generate)")
    ap.add_argument("--val-every", type=int, default=20, help="held-out clips: index %% N == 0 (data.val_every)")
    ap.add_argument("--lifter-steps", type=int, default=3000)
    ap.add_argument("--lifter-batch", type=int, default=32, help="clips per lifter step")
    ap.add_argument("--baselines", type=Path, help="reuse the floor and lifter rows of an earlier --json of the same data")
    ap.add_argument("--run", action="append", default=[], type=Path, help="a Motion-HMR run folder (repeatable)")
    ap.add_argument("--png", type=Path, help="draw the learning curves here")
    ap.add_argument("--json", type=Path, help="write the table as JSON here")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    train = B.read_clips(args.data, "train", args.val_every)
    val = B.read_clips(args.data, "val", args.val_every)
    print(f"{len(train)} training clips, {len(val)} held-out clips ({time.perf_counter() - t0:.1f} s to read)")
    if args.baselines:
        old = json.loads(args.baselines.read_text())
        floor, lifter, rows = old["floor"], old["lifter"], old["rows"][:2]
    else:
        rows = []
        mean = B.procrustes_mean(np.concatenate([c.joints3d for c in train]))
        floor = B.score(B.floor_predict(mean), val).pa_mpjpe
        rows.append({"model": "best constant pose (floor)", "pa_mpjpe": floor})
        t = time.perf_counter()
        net = B.train_lifter(train, steps=args.lifter_steps, batch=args.lifter_batch)
        lifter = B.score(B.lifter_predict(net), val).pa_mpjpe
        rows.append({"model": f"temporal-conv lifter ({args.lifter_steps} steps)", "pa_mpjpe": lifter,
                     "minutes": (time.perf_counter() - t) / 60})  # fmt: skip
    for run in args.run:
        predictor, res = score_run(run, args.data, args.val_every)
        c = curve(run)
        rows.append({"model": f"start of {run.name} (untrained)", "pa_mpjpe": start_level(predictor, val)})
        rows.append({"model": f"Motion-HMR {run.name}", "pa_mpjpe": res.pa_mpjpe, "mpjpe": res.mpjpe,
                     "minutes": c[-1]["minutes"] if c else None, "steps": c[-1]["step"] if c else None})  # fmt: skip

    print(f"\n| model | held-out PA-MPJPE (mm) | vs floor | train minutes | steps |\n|---|---|---|---|---|")
    for r in rows:
        vs = f"{100 * (r['pa_mpjpe'] / floor - 1):+.0f} %"
        mins = f"{r['minutes']:.0f}" if r.get("minutes") is not None else ""
        print(f"| {r['model']} | {r['pa_mpjpe']:.1f} | {vs} | {mins} | {r.get('steps') or ''} |")
    if args.json:
        args.json.write_text(json.dumps({"floor": floor, "lifter": lifter, "rows": rows, "val_clips": len(val),
                                         "train_clips": len(train)}, indent=1))  # fmt: skip
    if args.png:
        draw(args.png, [(run.name, curve(run)) for run in args.run], floor, lifter)
        print(f"wrote {args.png}")
    return 0


def draw(path: Path, curves: list[tuple[str, list[dict]]], floor: float, lifter: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, x in zip(axes, ("step", "minutes")):
        for name, rows in curves:
            if rows:
                ax.plot([r[x] for r in rows], [r["val/pa_mpjpe_mm"] for r in rows], marker=".", label=name)
        ax.axhline(floor, color="k", ls="--", lw=1, label=f"best constant pose {floor:.0f} mm")
        ax.axhline(lifter, color="g", ls=":", lw=1, label=f"2D-keypoint lifter {lifter:.0f} mm")
        ax.set_xlabel("training steps" if x == "step" else "training minutes (2-core CPU)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("held-out PA-MPJPE (mm)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
