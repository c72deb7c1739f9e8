"""``motionhmr``: train, evaluate and run Motion-HMR (Doersch & Zisserman 2019).

Settings are Hydra-style ``key=value`` overrides of ``configs/train.yaml`` (shipped inside
the package); ``data=DIR`` is short for ``data.path=DIR`` and ``ckpt=FILE`` for ``resume=FILE``.
"""

from __future__ import annotations

import argparse
import logging
import sys

EXAMPLES = """examples:
  motionhmr train inputs=flow+kp data=shards/                       # CPU or one GPU; W&B offline
  motionhmr train inputs=rgb data=shards/ model.backbone_weights=resnet50-0676ba61.pth wandb.mode=online
  motionhmr train inputs=rgb dann.weight=0.1 dann.real=/data/kinetics/val data=shards/
  torchrun --nproc_per_node 8 -m motionhmr.cli train inputs=flow+kp data=/shared/synth data.batch_size=16
  motionhmr env
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="motionhmr", description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("env", help="print the torch build, devices and available optional backends")
    tr = sub.add_parser(
        "train", help="train on synthetic shards (key=value overrides of configs/train.yaml)",
        description="Train Motion-HMR. Every key of configs/train.yaml can be overridden as key=value; "
        "a rerun with the same out= resumes from out/last.pt.", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    tr.add_argument("overrides", nargs="*", help="e.g. inputs=flow+kp data=shards/ optim.steps=20000")
    tr.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from synth.errors import InputError, MissingDependency

    try:
        if args.command == "env":
            return _env()
        if args.command == "train":
            return _train(args)
    except (InputError, MissingDependency, FileNotFoundError) as e:
        print(f"motionhmr {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 2  # pragma: no cover - argparse rejects unknown commands


def _train(args) -> int:
    from omegaconf import OmegaConf

    from motionhmr.config import load_train_config, to_dict

    cfg = load_train_config(args.overrides)
    if args.print_config:
        print(OmegaConf.to_yaml(to_dict(cfg)))
        return 0
    from motionhmr.train import train

    result = train(cfg)
    print(f"trained {result['step']} steps; checkpoint {result['out']}/last.pt")
    return 0


def _env() -> int:
    import importlib.util

    import torch

    print(f"torch {torch.__version__} (cuda build: {torch.version.cuda or 'no'})")
    print(f"cuda available: {torch.cuda.is_available()}"
          + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else ""))
    for pkg, what in (("anny", "body=anny"), ("smplx", "body=smpl"), ("pyrender", "renderer"),
                      ("ptlflow", "learned flow"), ("mediapipe", "2D detector"), ("wandb", "W&B logging")):
        print(f"{what:>14}: {'installed' if importlib.util.find_spec(pkg) else 'missing'} ({pkg})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
