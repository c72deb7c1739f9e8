"""Do training crops frame people the way test-time crops do? (issue 13, item 1)

    .venv/bin/python bench/crop_stats.py --shards old=shards_v1/ --shards new=shards/ \
        [--videos embedded] [--max-clips 400] [--png docs/crop_stats.png] [--json out.json]

Per frame, two figures of the person in its 224 crop, from all 14 keypoints (hidden ones
included: they say where the body is, whatever the crop was boxed on):
  height   the longer side of the keypoints' bounding box, crop px (HMR's target: 150)
  offset   the bounding box's centre minus the crop's centre, x and y, crop px

Synthetic: the stored ``kp2d`` (ground truth in crop px) of every frame that is not totally
occluded. Real: MediaPipe on the embedded real videos (``synth.backgrounds.embedded_videos``,
decoded at the training height, 240 px), cropped exactly as ``motionhmr predict`` crops them
(:func:`motionhmr.realvideo.steps`' boxes), scored on frames with a detection that is not
treated as a total occlusion; MediaPipe reports all 33 landmarks, seen or not, so its 14
joints stand in for the true extent.

Prints per source: frames, median / 10th / 90th percentile of height, the share of frames
over 165 px (zoomed in by more than the training jitter's 8 %), mean |offset|; draws
overlaid histograms (density) in one PNG.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def person_in_crop(kp_crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[N, 14, 2]`` crop px -> height ``[N]`` and centre offset ``[N, 2]`` (crop px)."""
    lo, hi = np.nanmin(kp_crop, axis=1), np.nanmax(kp_crop, axis=1)
    centre = (224 - 1) / 2
    return (hi - lo).max(axis=1), 0.5 * (lo + hi) - centre


def synthetic(root: str, max_clips: int) -> dict[str, np.ndarray]:
    from synth.shards.reader import iter_records
    from synth.shards.schema import decode

    heights, offsets = [], []
    n = 0
    for shard in sorted(Path(root).glob("shard-*.tar")):
        for record in iter_records(shard):
            s = decode(record, images=())
            keep = s.arrays["total_occlusion"] == 0
            h, o = person_in_crop(s.arrays["kp2d"][keep])
            heights.append(h)
            offsets.append(o)
            n += 1
            if n >= max_clips:
                break
        if n >= max_clips:
            break
    if not heights:
        raise SystemExit(f"no clips in {root}")
    return {"height": np.concatenate(heights), "offset": np.concatenate(offsets), "clips": n}


def real(videos: list[Path]) -> dict[str, np.ndarray]:
    from motionhmr.detect import MediaPipePose
    from motionhmr.realvideo import CONF_THRESHOLD, MIN_VISIBLE, detector_boxes, read_video
    from synth.crops import to_crop

    heights, offsets, used = [], [], []
    for path in videos:
        frames = read_video(path)
        kp, conf, found = MediaPipePose()(frames)
        visible = (conf > CONF_THRESHOLD) & np.isfinite(kp).all(-1)
        occluded = visible.sum(1) < MIN_VISIBLE
        visible[occluded] = False
        boxes = detector_boxes(kp, visible, occluded, frames.shape[1:3])
        keep = found & ~occluded
        if not keep.any():
            continue
        h, o = person_in_crop(to_crop(kp[keep], boxes[keep]))
        heights.append(h)
        offsets.append(o)
        used.append(f"{path.name} ({int(keep.sum())} frames)")
    return {"height": np.concatenate(heights), "offset": np.concatenate(offsets), "videos": used}


def summary(d: dict) -> dict:
    h, o = d["height"], d["offset"]
    return {
        "frames": int(len(h)),
        "height_median": float(np.median(h)),
        "height_p10": float(np.percentile(h, 10)),
        "height_p90": float(np.percentile(h, 90)),
        "share_over_165": float((h > 165).mean()),  # zoomed in: hidden keypoints outside the box
        "offset_x_mean_abs": float(np.abs(o[:, 0]).mean()),
        "offset_y_mean_abs": float(np.abs(o[:, 1]).mean()),
        "offset_y_median": float(np.median(o[:, 1])),
    }


def draw(sources: dict[str, dict], png: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    panels = [("person height in the crop (px, longer side of the 14 joints)", lambda d: d["height"], (60, 300)),
              ("centre offset x (px)", lambda d: d["offset"][:, 0], (-80, 80)),
              ("centre offset y (px)", lambda d: d["offset"][:, 1], (-80, 80))]  # fmt: skip
    for ax, (title, get, rng) in zip(axes, panels):
        bins = np.linspace(*rng, 50)
        for name, d in sources.items():
            ax.hist(np.clip(get(d), *rng), bins=bins, density=True, histtype="step", lw=2, label=name)
        ax.set_title(title, fontsize=10)
    axes[0].axvline(150, color="k", ls=":", lw=1)
    axes[0].legend(fontsize=8, loc="upper right")
    fig.suptitle("How crops frame the person: synthetic training clips vs motionhmr predict on real video")
    fig.tight_layout()
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=90)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", action="append", default=[], metavar="NAME=DIR", help="synthetic shards to measure")
    ap.add_argument("--videos", nargs="*", default=["embedded"], help="real videos ('embedded': the packaged ones)")
    ap.add_argument("--max-clips", type=int, default=400)
    ap.add_argument("--png", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    sources: dict[str, dict] = {}
    for item in args.shards:
        name, _, root = item.partition("=")
        sources[f"synthetic: {name}"] = synthetic(root, args.max_clips)
    if args.videos:
        from synth.backgrounds import embedded_videos

        paths = embedded_videos() if args.videos == ["embedded"] else [Path(v) for v in args.videos]
        sources["real: motionhmr predict (MediaPipe)"] = real(paths)
    table = {name: summary(d) for name, d in sources.items()}
    print(f"{'source':50s} {'frames':>7s} {'height p10/med/p90 (px)':>24s} {'>165 px':>8s} {'|dx|':>6s} {'|dy|':>6s}")
    for name, s in table.items():
        hs = f"{s['height_p10']:.0f} / {s['height_median']:.0f} / {s['height_p90']:.0f}"
        print(f"{name:50s} {s['frames']:7d} {hs:>24s} {100 * s['share_over_165']:7.1f}% "
              f"{s['offset_x_mean_abs']:6.1f} {s['offset_y_mean_abs']:6.1f}")  # fmt: skip
    for name, d in sources.items():
        if "videos" in d:
            print(f"{name}: {', '.join(d['videos'])}")
    if args.png:
        draw(sources, args.png)
        print(f"wrote {args.png}")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
