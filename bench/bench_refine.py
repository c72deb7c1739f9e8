"""Test-time 2D fitting (motionhmr.refine) on held-out synthetic clips: PA-MPJPE before and
after, per setting, beside the best constant pose, and the time it costs per frame.

The defaults of motionhmr.refine are chosen here, on synthetic clips, so that the real-footage
figures they are then reported on (eval data=multiview refine=true) did not pick them.

    .venv/bin/python bench/bench_refine.py --ckpt motionhmr/weights/kp.pt --data shards_cmu/ --clips 60 \
        --setting 100,0.01,1.0 --setting 100,0.001,1.0 --setting 200,0.01,1.0
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True, help="an inputs=kp checkpoint")
    ap.add_argument("--data", required=True, help="shard folder(s); its held-out clips are scored")
    ap.add_argument("--clips", type=int, default=60)
    ap.add_argument("--setting", action="append", default=[], help="iterations,w_prior,w_smooth (repeatable)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from motionhmr import refine
    from motionhmr.baselines import floor_predict, procrustes_mean, read_clips, score
    from motionhmr.inference import Predictor

    predictor = Predictor.from_checkpoint(args.ckpt, "cpu")
    clips = read_clips(args.data, "val", limit=args.clips)
    train = read_clips(args.data, "train", limit=500)
    settings = [tuple(float(x) for x in s.split(",")) for s in args.setting] or [
        (refine.ITERATIONS, refine.W_PRIOR, refine.W_SMOOTH)
    ]

    def inputs(clip):
        return {"kp2d": clip.kp2d, "kp_input_visible": clip.kp_input_visible, "total_occlusion": clip.total_occlusion}

    cache = {}

    def network(clip):
        if clip.key not in cache:
            cache[clip.key] = predictor(inputs(clip))
        return cache[clip.key]

    floor = score(floor_predict(procrustes_mean(np.concatenate([c.joints3d for c in train]))), clips).pa_mpjpe
    base = score(lambda c: network(c).joints3d, clips).pa_mpjpe
    print(f"{len(clips)} held-out clips of {args.data}; {args.ckpt}")
    print("| setting (iterations, w_prior, w_smooth) | PA-MPJPE mm | vs network | ms per frame |")
    print("|---|---:|---:|---:|")
    print(f"| best constant pose | {floor:.1f} | | |")
    print(f"| network alone | {base:.1f} | | |")
    for it, wp, ws in settings:
        t0, frames = time.perf_counter(), 0

        def fitted(clip, it=it, wp=wp, ws=ws):
            nonlocal frames
            frames += len(clip.kp2d)
            visible = clip.kp_input_visible & ~clip.total_occlusion[:, None]
            out, _ = refine.fit_to_keypoints(network(clip), clip.kp2d, visible, predictor.loss_fn,
                                             iterations=int(it), w_prior=wp, w_smooth=ws)  # fmt: skip
            return out.joints3d

        value = score(fitted, clips).pa_mpjpe
        ms = 1000 * (time.perf_counter() - t0) / max(frames, 1)
        print(f"| {int(it)}, {wp:g}, {ws:g} | {value:.1f} | {value - base:+.1f} | {ms:.1f} |", flush=True)


if __name__ == "__main__":
    main()
