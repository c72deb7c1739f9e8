"""``synth``: the synthetic-data command line.

    synth generate --n N --out DIR [--workers W] [--shard-index i --num-shards k] [key=value ...]
    synth verify DIR                 check every shard against the schema; print statistics
    synth show DIR [--n 4]           draw samples to PNG (composite, crop, flow, heatmaps, occluder)
    synth preview [key=value ...]    render a motion on a body (video + keypoint sheet)
    synth motions [key=value ...]    list the clips of the configured motion source

Overrides use Hydra syntax against ``configs/<command>.yaml``, e.g.
``synth generate --n 1000 background.path=/data/kinetics flow.preset=fine``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from synth.errors import InputError, MissingDependency

COMMANDS = {
    "generate": "write WebDataset shards of synthetic training clips (configs/generate.yaml)",
    "verify": "check every shard in DIR against the schema and print statistics",
    "show": "draw samples of DIR to PNG files",
    "preview": "render a motion on a body to out= (mp4/gif) and a keypoint contact sheet",
    "motions": "list the clips of the configured motion source (motion=deepmimic|cmu_bvh|cmu_asfamc|amass)",
}

EPILOG = """examples:
  synth generate --n 1000 --out shards/ --workers 8      # embedded defaults: Anny, DeepMimic, PyPI videos
  synth generate --n 100000 --out /shared/synth background.path=/data/kinetics/train \\
      motion=cmu_bvh motion.path=/data/cmu_bvh --shard-index 3 --num-shards 64
  synth generate --n 2000 --out ablation/static background.mode=static occluders.enabled=false
  synth verify shards/
  synth show shards/ --n 4 --out shards/show
  synth preview motion.clip=cartwheel out=preview/cartwheel.gif
  synth generate --cfg                                     # print the composed config and exit
"""

_FLAGS = ("n", "out", "workers", "shard_index", "num_shards", "seed", "per_shard")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="synth",
        description="Synthetic people for motion-cue 3D pose training (Doersch & Zisserman 2019).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        if name in ("verify", "show"):
            p.add_argument("dir", help="folder of shard-*.tar files")
        if name == "show":
            p.add_argument("--n", type=int, default=4, help="samples to draw (default 4)")
            p.add_argument("--out", help="folder for the PNGs (default DIR/show)")
        else:
            p.add_argument("overrides", nargs="*", help="Hydra overrides, key=value")
            p.add_argument("--cfg", action="store_true", help="print the composed config and exit")
        if name == "generate":
            p.add_argument("--n", type=int, help="clips in the whole dataset")
            p.add_argument("--out", help="output folder for shard-%%06d.tar")
            p.add_argument("--workers", type=int, help="local worker processes (default 1)")
            p.add_argument("--shard-index", type=int, help="this node's index (default: Slurm/K8s env, else 0)")
            p.add_argument("--num-shards", type=int, help="number of nodes splitting the shards")
            p.add_argument("--seed", type=int, help="dataset seed (clip i uses rng([seed, i]))")
            p.add_argument("--per-shard", type=int, help="clips per shard (default 50)")
        p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    try:
        return _run(args)
    except (InputError, MissingDependency) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _run(args) -> int:
    if args.command == "verify":
        return _verify(args)
    if args.command == "show":
        from synth.show import show

        for path in show(args.dir, args.out or f"{args.dir}/show", args.n):
            print(path)
        return 0

    from omegaconf import OmegaConf

    from synth.config import GenerateConfig, PreviewConfig, compose, typed

    overrides = list(args.overrides)
    if args.command == "generate":
        overrides += [f"{k}={getattr(args, k)}" for k in _FLAGS if getattr(args, k) is not None]
    raw = compose("generate" if args.command == "generate" else "preview", overrides)
    if args.cfg:
        print(OmegaConf.to_yaml(raw), end="")
        return 0
    if args.command == "generate":
        from synth.generate_cli import generate

        generate(typed(raw, GenerateConfig), raw)
        return 0
    cfg = typed(raw, PreviewConfig)
    if args.command == "motions":
        from synth.motion import list_clips

        for name, path in list_clips(cfg.motion).items():
            print(f"{name}\t{path}")
        return 0
    from synth.preview import run_preview

    paths = run_preview(cfg)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def _verify(args) -> int:
    from tqdm import tqdm

    from synth.shards.reader import verify

    with tqdm(desc="verify", unit="clip") as bar:
        report = verify(args.dir, progress=bar.update)
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
