"""``synth preview``: render a motion on a body to a video and a keypoint contact sheet.

It runs the foundation end to end (body -> motion -> retarget -> appearance -> camera ->
render) so a person can look at the result: the video shows the shaded body, the sheet
shows every ``n``-th frame with the 14 evaluation joints drawn (filled: visible; hollow:
hidden by the body itself or outside the image).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from synth.config import PreviewConfig
from synth.conventions import EVAL_BONES

log = logging.getLogger(__name__)

BACKGROUND = (118, 122, 128)


def run_preview(cfg: PreviewConfig) -> dict[str, Path]:
    import torch

    from synth.appearance import body_parts, sample_appearance, sample_lighting
    from synth.bodies import build_body
    from synth.cameras import frame_person
    from synth.motion import load_motion
    from synth.motion.plausibility import check_motion
    from synth.motion.retarget import retarget
    from synth.render import Renderer

    rng = np.random.default_rng(cfg.seed)
    body = build_body(cfg.body)
    clip = load_motion(cfg.motion)
    shape = body.sample_shape(rng)[0] if cfg.random_shape else body.default_shape(1)[0]
    motion = retarget(clip, body, shape).resampled(cfg.motion.fps, speed=cfg.motion.speed)
    if cfg.motion.mirror:
        motion = motion.mirrored(body.skeleton.mirror_permutation())
    if cfg.motion.yaw_deg:
        motion = motion.yawed(np.radians(cfg.motion.yaw_deg))
    if cfg.frames:
        motion = motion.slice(0, cfg.frames)
    posed = motion.posed(body)
    report = check_motion(motion, posed)
    for reason in report.reasons:
        log.warning("%s: %s", clip.name, reason)

    rest_vertices = body.rest(shape[None]).vertices[0].numpy()
    colors = sample_appearance(rng, rest_vertices, body_parts(body.skeleton, body.vertex_joint()))
    joints = posed.joints.numpy()
    eval_joints = posed.eval_joints.numpy()
    r = cfg.render
    camera = frame_person(
        joints, r.width, r.height, fov_y_deg=r.fov_deg, fill=r.fill,
        azimuth_deg=(r.azimuth_deg, r.azimuth_deg), elevation_deg=(r.elevation_deg, r.elevation_deg),
    )  # fmt: skip
    with Renderer(r.width, r.height) as renderer, torch.no_grad():
        out = renderer.render(
            posed.vertices.numpy(), body.faces.numpy(), colors, eval_joints, camera, sample_lighting(rng)
        )
    frames = composite(out.rgba, BACKGROUND)
    video = write_video(Path(cfg.out), frames, cfg.motion.fps)
    sheet = write_sheet(Path(cfg.sheet), frames, out.joints_2d, out.joints_visible, cfg.sheet_frames)
    log.info("%s on %s: %d frames -> %s, %s", clip.name, body.name, len(frames), video, sheet)
    return {"video": video, "sheet": sheet}


def composite(rgba: np.ndarray, background) -> np.ndarray:
    """``[T, H, W, 4]`` person layers over a flat background colour -> ``[T, H, W, 3]``."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    bg = np.asarray(background, np.float32)
    return (rgba[..., :3] * alpha + bg * (1 - alpha)).astype(np.uint8)


def write_video(path: Path, frames: np.ndarray, fps: float) -> Path:
    """MP4 (H.264 through PyAV) or GIF, chosen by the suffix."""
    import imageio.v3 as iio

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial" + path.suffix)
    if path.suffix.lower() == ".gif":
        iio.imwrite(tmp, frames, extension=".gif", duration=1000.0 / fps, loop=0)
    else:
        iio.imwrite(tmp, frames, plugin="pyav", codec="libx264", fps=round(fps))
    tmp.replace(path)  # never leave a half-written file under the final name
    return path


def draw_keypoints(image: np.ndarray, uv: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Draw the 14 evaluation joints on a copy of ``image``: bones, then joints (filled:
    visible, hollow: hidden). Right side red, left side blue, as in the usual plots."""
    import cv2

    img = np.ascontiguousarray(image.copy())
    pts = [tuple(int(round(c)) for c in p) for p in uv]
    for a, b in EVAL_BONES:
        cv2.line(img, pts[a], pts[b], (255, 255, 255), 1, cv2.LINE_AA)
    for i, (p, v) in enumerate(zip(pts, visible)):
        color = (230, 60, 60) if i in (0, 1, 2, 6, 7, 8) else (60, 120, 240) if i < 12 else (250, 210, 60)
        cv2.circle(img, p, 2, color, -1 if v else 1, cv2.LINE_AA)
    return img


def write_sheet(path: Path, frames, joints_2d, visible, n: int) -> Path:
    """A PNG grid of ``n`` evenly spaced frames: each rendered frame (numbered) above the
    same frame with its keypoints drawn."""
    import cv2
    import imageio.v3 as iio

    idx = np.linspace(0, len(frames) - 1, num=min(n, len(frames))).round().astype(int)
    cols = min(4, len(idx))
    rows = []
    for r in range(0, len(idx), cols):
        chunk = list(idx[r : r + cols]) + [None] * (cols - len(idx[r : r + cols]))
        plain, marked = [], []
        for i in chunk:
            if i is None:
                plain.append(np.zeros_like(frames[0]))
                marked.append(np.zeros_like(frames[0]))
                continue
            tile = frames[i].copy()
            cv2.putText(tile, f"t={i}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
            plain.append(tile)
            marked.append(draw_keypoints(frames[i], joints_2d[i], visible[i]))
        # Each frame twice: the render above, the same frame with its keypoints below.
        rows += [np.concatenate(plain, axis=1), np.concatenate(marked, axis=1)]
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, np.concatenate(rows, axis=0))
    return path
