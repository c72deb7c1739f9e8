"""``synth``: the synthetic-data command line.

    synth preview [key=value ...]    render a motion on a body (video + keypoint sheet)
    synth motions [key=value ...]    list the clips of the configured motion source

Overrides use Hydra syntax against ``configs/<command>.yaml``, e.g.
``synth preview motion.clip=cartwheel body=smpl body.model_path=~/smpl``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from synth.errors import InputError, MissingDependency

COMMANDS = {
    "preview": "render a motion on a body to out= (mp4/gif) and a keypoint contact sheet",
    "motions": "list the clips of the configured motion source (motion=deepmimic|cmu_bvh|amass)",
}

EPILOG = """examples:
  synth preview                                  # DeepMimic walk on the Anny body
  synth preview motion.clip=cartwheel out=preview/cartwheel.gif
  synth preview motion=cmu_bvh motion.path=../shared/data/cmu_bvh motion.clip=02_01
  synth preview body=smpl body.model_path=/data/smpl random_shape=true
  synth preview --cfg                            # print the composed config and exit
  synth motions motion=cmu_bvh motion.path=/data/cmu
"""


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
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("overrides", nargs="*", help="Hydra overrides, key=value")
        p.add_argument("--cfg", action="store_true", help="print the composed config and exit")
        p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return _run(args)
    except (InputError, MissingDependency) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _run(args) -> int:
    from omegaconf import OmegaConf

    from synth.config import PreviewConfig, compose, typed

    raw = compose("preview", args.overrides)
    if args.cfg:
        print(OmegaConf.to_yaml(raw), end="")
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


if __name__ == "__main__":
    sys.exit(main())
