"""``motionhmr``: the Motion-HMR command line.

Training, evaluation and prediction arrive with the model; today it reports the
environment a run would use (torch build, devices, body backends)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="motionhmr", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("env", help="print the torch build, devices and available optional backends")
    args = parser.parse_args(argv)
    if args.command == "env":
        return _env()
    return 2  # pragma: no cover - argparse rejects unknown commands


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
