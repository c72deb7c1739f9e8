"""Save one frame of a video as PNG (the README's figures are frames of predict's overlay.mp4).

    .venv/bin/python bench/frame.py predict/demo/overlay.mp4 45 docs/predict_shipped_sports2d.png [--width 960]
"""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video")
    ap.add_argument("index", type=int, help="0-based frame index")
    ap.add_argument("out", help="the .png to write")
    ap.add_argument("--width", type=int, default=None, help="resize to this width (keeps the aspect)")
    args = ap.parse_args()
    import cv2

    from motionhmr.realvideo import read_video

    from synth.errors import InputError

    try:
        frames = read_video(args.video, height=None, start=args.index, count=1)
    except InputError as e:
        print(f"frame.py: {e}", file=sys.stderr)
        return 2
    image = frames[0]
    if args.width:
        h, w = image.shape[:2]
        image = cv2.resize(image, (args.width, round(h * args.width / w)), interpolation=cv2.INTER_AREA)
    cv2.imwrite(args.out, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out} ({image.shape[1]}x{image.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
