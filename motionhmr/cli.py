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
  motionhmr predict video.mp4 --ckpt runs/flow+kp/last.pt                # bodies.npz/.json + overlay.mp4
  motionhmr predict --keypoints track.json --ckpt runs/kp/last.pt         # inputs=kp checkpoints only
  motionhmr predict video.mp4                                             # the shipped kp model
  motionhmr export runs/kp/last.pt kp.pt                                  # small inference-only copy
  motionhmr eval ckpt=runs/flow+kp/last.pt data=3dpw data.path=/data/3DPW
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
    ev = sub.add_parser(
        "eval", help="score a checkpoint on 3DPW (the paper's protocol), a calibrated multi-camera recording, or held-out synthetic shards",
        description="key=value settings: ckpt=FILE data=3dpw|synthetic|multiview data.path=DIR [data.split=test] "
        "[data.view=CAMERA (multiview; data.path=embedded is Pose2Sim's 4-camera demo)] "
        "[data.max_clips=N] [smpl_path=DIR (PVE)] [flow=dis:medium] [device=auto] [out=results.json] "
        "[wandb=offline|online|disabled]. Prints a per-person table and the means.",
    )  # fmt: skip
    ev.add_argument("overrides", nargs="*", help="e.g. ckpt=runs/flow+kp/last.pt data=3dpw data.path=/data/3DPW")
    pr = sub.add_parser(
        "predict", help="predict 3D bodies on a real video (MediaPipe 2D) or a keypoint file, offline",
        description="Run a checkpoint on a video: writes OUT/bodies.npz, OUT/bodies.json and OUT/overlay.mp4 "
        "(the mesh over the video beside a side view) and prints how well the projected joints agree with "
        "MediaPipe's. With --keypoints, an inputs=kp checkpoint runs on the keypoint file alone.",
    )  # fmt: skip
    pr.add_argument("video", nargs="?", help="the video (optional with --keypoints)")
    pr.add_argument("--ckpt", help="a motionhmr checkpoint (e.g. runs/flow+kp/last.pt); default: the model that "
                    "ships with the suite (motionhmr/weights/kp.pt, MediaPipe 2D in; see its MODEL_CARD.md)")
    pr.add_argument("--keypoints", metavar="FILE", help="a .npz/.json keypoint file (inputs=kp checkpoints)")
    pr.add_argument("--out", metavar="DIR", help="output folder (default: predict/<video or keypoints stem>)")
    pr.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    pr.add_argument("--flow", default=None, help="flow backend for inputs with flow (default: the checkpoint's, from its data contract; dis:medium for old checkpoints)")
    pr.add_argument("--max-frames", type=int, metavar="N", help="only the first N frames")
    pr.add_argument("--no-video", action="store_true", help="skip overlay.mp4")
    pr.add_argument("--refine", action=argparse.BooleanOptionalAction, default=True,
                    help="fit the predicted bodies to the 2D keypoints afterwards (default on; test-time 2D fitting with "
                    "a prior on the network's poses and temporal smoothness, motionhmr/refine.py: -19 mm PA-MPJPE on "
                    "held-out synthetic clips, -31 mm on Pose2Sim's demo); --no-refine: the network alone")
    ex = sub.add_parser(
        "export", help="write a small inference-only copy of a checkpoint (float16, no optimizer state)",
        description="Copy CKPT to OUT without what only training needs (optimizer, scheduler, generator state, "
        "the DANN domain classifier), with float16 weights: a kp model shrinks from 83 MB to ~12 MB. predict and "
        "eval read OUT like any checkpoint; train cannot resume from it. This is how motionhmr/weights/kp.pt is made.",
    )  # fmt: skip
    ex.add_argument("ckpt", help="a checkpoint written by motionhmr train (e.g. runs/kp/last.pt)")
    ex.add_argument("out", help="the file to write (e.g. motionhmr/weights/kp.pt)")
    ex.add_argument("--float32", action="store_true", help="keep float32 weights (twice the size)")
    ca = sub.add_parser(
        "cache", help="shrink a shard folder's flow/rgb to model.input_size once, for fast CPU training",
        description="Write a cache of SHARDS in OUT: each clip's flow (and/or rgb) network channels computed "
        "and resized to --size px once, so a CPU run with model.input_size=SIZE reads ~0.2 MB a clip instead "
        "of decoding 30 full-size flow PNGs every epoch. Train on it with data=OUT model.input_size=SIZE. "
        "A rerun finishes an interrupted cache.",
        epilog="example:\n  motionhmr cache shards_cmu/ cache_cmu32/ --size 32\n"
        "  motionhmr train inputs=flow+kp data=cache_cmu32/ model.input_size=32 model.encoder=keypoints+resnet18",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ca.add_argument("shards", help="a folder of shard-*.tar files written by synth generate")
    ca.add_argument("out", help="the cache folder to write (or finish)")
    ca.add_argument("--size", type=int, required=True, help="px: the model.input_size the cache is for (>= 32)")
    ca.add_argument("--parts", default="flow", help="what to cache: flow, rgb or rgb+flow (default flow)")
    ca.add_argument("--workers", type=int, default=2, help="processes, one shard each (default 2)")
    cp = sub.add_parser(
        "compare", help="the paper's Tables 1-3 as sweeps: generate, train, score; table + chart",
        description="Run (or print, or collect) the inputs / data / frames sweeps and write ROOT/compare/TABLE/ "
        "results.md, results.json, chart.png and chart.html. key=value overrides of configs/compare.yaml "
        "(scale=small|paper picks the sizes); gen.K=V, test.K=V and train.K=V pass K=V to every synth "
        "generate, to the test sets' generate, and to every motionhmr train.",
        epilog="examples:\n  motionhmr compare table=inputs root=/tmp/cmp\n"
        "  motionhmr compare table=all scale=paper root=/shared/cmp gen.background.path=/data/kinetics/train --print\n"
        "  motionhmr compare table=all scale=paper root=/shared/cmp threedpw=/data/3DPW --collect-only",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    cp.add_argument("overrides", nargs="*", help="e.g. table=data scale=small runs=[flow,kp] threedpw=/data/3DPW")
    mode = cp.add_mutually_exclusive_group()
    mode.add_argument("--print", action="store_true", help="print the generate/train/collect commands; run nothing")
    mode.add_argument("--collect-only", action="store_true", help="score finished runs and write the outputs; train nothing")
    cp.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    args = parser.parse_args(argv)
    if args.command == "predict" and not (args.video or args.keypoints):
        pr.error("give a video, or --keypoints FILE")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from synth.errors import InputError, MissingDependency

    try:
        if args.command == "env":
            return _env()
        if args.command == "train":
            return _train(args)
        if args.command == "eval":
            return _eval(args)
        if args.command == "cache":
            return _cache(args)
        if args.command == "export":
            return _export(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "predict":
            return _predict(args)
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


def _export(args) -> int:
    from motionhmr.weights import export

    info = export(args.ckpt, args.out, half=not args.float32)
    print(f"wrote {args.out}: step {info['step']}, {info['params'] / 1e6:.2f} M values, "
          f"{info['bytes'] / 1e6:.1f} MB ({info['dropped']} training-only tensors left out)")
    return 0


def _cache(args) -> int:
    from motionhmr.cache import build_cache
    from synth.errors import InputError

    parts = tuple(p.strip().lower() for p in args.parts.split("+"))
    unknown = [p for p in parts if p not in ("rgb", "flow")]
    if unknown:
        raise InputError(f"--parts {args.parts!r}: cache rgb and/or flow (joined with '+'), not {', '.join(unknown)}")
    info = build_cache(args.shards, args.out, args.size, parts, workers=args.workers)
    print(f"cached {info.clips} clips ({'+'.join(info.parts)} at {info.size} px) in {args.out}; train with "
          f"data={args.out} model.input_size={info.size}")
    return 0


def _eval(args) -> int:
    from motionhmr.run_eval import evaluate_checkpoint, parse_eval_args

    results = evaluate_checkpoint(parse_eval_args(args.overrides))
    print(results.table())
    return 0


def _predict(args) -> int:
    from pathlib import Path

    from motionhmr.predict import predict_keypoints, predict_video

    out = Path(args.out) if args.out else Path("predict") / Path(args.keypoints or args.video).stem
    if args.ckpt is None:
        from motionhmr.weights import default_checkpoint

        args.ckpt = str(default_checkpoint("kp"))
        print(f"motionhmr predict: no --ckpt: the shipped model {args.ckpt} (MODEL_CARD.md beside it)", file=sys.stderr)
    if args.keypoints:
        if args.video:
            print(f"motionhmr predict: --keypoints given: {args.video} is not read", file=sys.stderr)
        result = predict_keypoints(args.ckpt, args.keypoints, out, device=args.device, max_frames=args.max_frames,
                                   refine=args.refine)  # fmt: skip
    else:
        result = predict_video(args.ckpt, args.video, out, device=args.device, flow=args.flow,
                               max_frames=args.max_frames, overlay=not args.no_video, refine=args.refine)  # fmt: skip
    print(result.summary())
    return 0


def _compare(args) -> int:
    from omegaconf import OmegaConf

    from motionhmr.compare import load_compare_config, output_dir, run_compare, to_dict

    overrides = list(args.overrides)
    launch = "print" if args.print else "collect" if args.collect_only else None
    cfg = load_compare_config(overrides + ([f"launch={launch}"] if launch else []))
    if args.print_config:
        print(OmegaConf.to_yaml(to_dict(cfg)))
        return 0
    results = run_compare(cfg, overrides)
    failed = [f"{r.table}/{r.name}" for r in results if r.status == "failed"]
    if results:
        print(f"results: {output_dir(cfg)}/results.md (chart.png, chart.html, results.json)")
    if failed:
        print(f"motionhmr compare: {len(failed)} run(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


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
