"""``flow``: measure the optical-flow backends.

    flow bench                               OpenCV backends: speed + EPE table
    flow bench --ptlflow raft=/ckpt/raft-things.ckpt --device cuda
    flow bench --ptlflow-untrained raft_small,flownets   (speed only: EPE is meaningless)
    flow backends                            list the backends and ptlflow's models
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from synth.errors import InputError, MissingDependency

EPILOG = __doc__.split("\n", 2)[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="flow", description="Optical-flow backends of the suite: speed and accuracy.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    b = sub.add_parser("bench", help="pairs/s and EPE against ground truth per backend",
                       description=__import__("flow.bench").bench.__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    b.add_argument("--backends", default=",".join(_default_specs()),
                   help="comma-separated specs: dis:<preset>, farneback, tvl1, deepflow (default: all OpenCV)")
    b.add_argument("--ptlflow", action="append", default=[], metavar="MODEL=CKPT",
                   help="add a ptlflow model with its checkpoint file (repeatable)")
    b.add_argument("--ptlflow-untrained", default="", metavar="M1,M2",
                   help="add ptlflow models with random weights: their speed is real, their EPE is not")
    b.add_argument("--device", default="auto", help="ptlflow device: auto | cpu | cuda (default auto)")
    b.add_argument("--batch-size", type=int, default=8, help="ptlflow pairs per forward pass")
    b.add_argument("--pairs", type=int, default=16, help="rendered ground-truth pairs (default 16)")
    b.add_argument("--size", type=int, default=224, help="pair size in pixels (default 224, the crop)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--json", help="also write the figures to this JSON file")
    sub.add_parser("backends", help="list flow backends and ptlflow's model names")
    for p in (b, sub.choices["backends"]):
        p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    try:
        return _bench(args) if args.command == "bench" else _backends()
    except (InputError, MissingDependency) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _default_specs():
    from flow.bench import DEFAULT_SPECS

    return DEFAULT_SPECS


def _configs(args):
    from flow.config import FlowConfig, parse_spec

    cfgs = [parse_spec(s.strip()) for s in args.backends.split(",") if s.strip()]
    for item in args.ptlflow:
        model, sep, ckpt = item.partition("=")
        if not sep or not ckpt:
            raise InputError(f"--ptlflow {item!r}: expected MODEL=CHECKPOINT_FILE, e.g. raft=/ckpt/raft-things.ckpt")
        cfgs.append(FlowConfig("ptlflow", model=model, ckpt=ckpt, device=args.device, batch_size=args.batch_size))
    for model in filter(None, (m.strip() for m in args.ptlflow_untrained.split(","))):
        cfgs.append(FlowConfig("ptlflow", model=model, ckpt="random", device=args.device, batch_size=args.batch_size))
    return cfgs


def _bench(args) -> int:
    from flow.bench import format_table, run_bench

    cfgs = _configs(args)
    rows, codec = run_bench(cfgs, n_pairs=args.pairs, size=args.size, seed=args.seed)
    print(format_table(rows, codec, args.size))
    if args.json:
        import dataclasses

        with open(args.json, "w") as f:
            json.dump({"rows": [dataclasses.asdict(r) for r in rows], "codec": codec}, f, indent=2)
    return 0


def _backends() -> int:
    from flow.registry import BACKENDS

    for name, target in BACKENDS.items():
        print(f"{name}\t{target}")
    try:
        from flow.ptlflow_backend import import_ptlflow

        print("ptlflow models:", ", ".join(sorted(import_ptlflow().get_model_names())))
    except MissingDependency as e:
        print(f"ptlflow models: unavailable ({e})")
    return 0
