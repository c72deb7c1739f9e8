"""Benchmark: one synthetic-person clip, stage by stage (a benchmark, not a test).

    LP_NUM_THREADS=1 taskset -c 0 .venv/bin/python bench/bench_person.py

Prints per-stage times for a 31-frame clip at 320x240 and their ratio to the targets:
render >= 60 fps (colour + depth + mask) and a whole clip <= 0.6 s, on one CPU core.
``LP_NUM_THREADS=1`` keeps Mesa's llvmpipe rasteriser on one thread too.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np  # noqa: E402
import torch  # noqa: E402

TARGET_RENDER_FPS = 60.0
TARGET_CLIP_S = 0.6


def timed(fn, repeat: int) -> tuple[float, object]:
    fn()  # warm-up (kernel compiles, GL buffers)
    t0 = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    return (time.perf_counter() - t0) / repeat, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--clip", default="walk", help="DeepMimic clip")
    args = ap.parse_args()
    torch.set_num_threads(1)

    from synth.appearance import body_parts, sample_appearance, sample_lighting
    from synth.bodies.anny_body import AnnyBody
    from synth.cameras import frame_person
    from synth.motion.deepmimic import load_deepmimic
    from synth.motion.retarget import retarget
    from synth.render import Renderer

    t0 = time.perf_counter()
    body = AnnyBody()
    build_s = time.perf_counter() - t0
    clip = load_deepmimic(args.clip)
    rng = np.random.default_rng(0)
    shape = body.sample_shape(rng)[0]
    parts = body_parts(body.skeleton, body.vertex_joint())
    renderer = Renderer(320, 240)
    faces = body.faces.numpy()

    def do_retarget():
        return retarget(clip, body, shape).resampled(30.0)

    retarget_s, motion = timed(do_retarget, args.repeat)
    window = motion.windows(31)[0] if motion.num_frames >= 31 else motion
    n = window.num_frames

    forward_s, posed = timed(lambda: window.posed(body), args.repeat)
    verts, joints = posed.vertices.numpy(), posed.eval_joints.numpy()
    rest = body.rest(shape[None]).vertices[0].numpy()
    appearance_s, colors = timed(lambda: sample_appearance(rng, rest, parts), args.repeat)
    # One camera per frame framing the person alone (~60% of the height), as a detector crop would.
    cam = frame_person(joints[:1], 320, 240, fill=0.75)
    lighting = sample_lighting(rng)
    render_s, out = timed(lambda: renderer.render(verts, faces, colors, joints, cam, lighting), args.repeat)
    field_s, _ = timed(lambda: renderer.render(verts, faces, colors, joints, cam, lighting, motion_field=True), 1)

    def whole_clip():
        m = retarget(clip, body, shape).resampled(30.0)
        w = m.windows(31)[0] if m.num_frames >= 31 else m
        p = w.posed(body)
        c = sample_appearance(rng, rest, parts)
        return renderer.render(p.vertices.numpy(), faces, c, p.eval_joints.numpy(), cam, lighting)

    clip_s, _ = timed(whole_clip, args.repeat)
    renderer.close()

    fps = n / render_s
    person_px = out.mask[0].any(axis=1).sum()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, "
          f"torch threads 1, LP_NUM_THREADS={os.environ.get('LP_NUM_THREADS', 'unset')}")
    print(f"body: anny cmu_mb rig, {body.model.template_vertices.shape[0]} vertices, "
          f"{faces.shape[0]} faces; build {build_s:.2f} s (cached rig)")
    print(f"clip: DeepMimic {args.clip}, {n} frames at 30 fps; person {person_px} px tall in 320x240")
    rows = [
        ("retarget whole clip", retarget_s * 1e3, f"{motion.num_frames / retarget_s:,.0f} frames/s"),
        ("body forward, 31 frames", forward_s * 1e3, f"{n / forward_s:,.0f} frames/s"),
        ("appearance sample", appearance_s * 1e3, ""),
        ("render colour+depth+mask", render_s * 1e3, f"{fps:.1f} fps  ({fps / TARGET_RENDER_FPS:.2f}x target 60)"),
        ("render + GT motion field", field_s * 1e3, f"{n / field_s:.1f} fps"),
        ("whole 31-frame clip", clip_s * 1e3, f"{TARGET_CLIP_S / clip_s:.2f}x target 0.6 s"),
    ]
    print(f"{'stage':<28}{'ms':>10}  throughput / ratio")
    for name, ms, note in rows:
        print(f"{name:<28}{ms:>10.1f}  {note}")


if __name__ == "__main__":
    main()
