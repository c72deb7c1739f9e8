"""``synth show DIR``: draw generated samples to PNG for a person to look at.

Per sample, for a few frames: the full composite with the crop box (and, when the run's
``generate.yaml`` is in DIR, the occluder outlined: the clip is regenerated from its index
and seed, which also checks that generation is deterministic), the 224 crop with keypoints
(filled: visible to the network; hollow: hidden), the colour-coded flow on the paired box,
the 12 heatmaps summed over the crop, and the occluder mask in the crop.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)


def flow_to_color(flow: np.ndarray, max_mag: float | None = None) -> np.ndarray:
    """Flow ``[H, W, 2]`` -> uint8 RGB: hue = direction, saturation = magnitude (the usual
    Middlebury-style coding; white = still)."""
    mag, ang = cv2.cartToPolar(flow[..., 0].astype(np.float32), flow[..., 1].astype(np.float32))
    max_mag = max_mag or max(float(np.percentile(mag, 99)), 1e-3)
    hsv = np.zeros(flow.shape[:2] + (3,), np.uint8)
    hsv[..., 0] = (ang * 90 / np.pi).astype(np.uint8)
    hsv[..., 1] = np.clip(mag / max_mag * 255, 0, 255).astype(np.uint8)
    hsv[..., 2] = 255
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def draw_sample(sample, debug=None, frames=(0, 10, 20, 29)) -> np.ndarray:
    from synth.preview import draw_keypoints
    from synth.shards.schema import heatmaps

    a = sample.arrays
    rows = []
    for t in frames:
        t = min(t, sample.frames - 2)
        crop = draw_keypoints(sample.rgb[t], a["kp2d"][t], a["kp_input_visible"][t])
        heat = heatmaps(a["kp2d"][t : t + 1], a["kp_input_visible"][t : t + 1])[0].max(0)
        heat_img = (0.5 * sample.rgb[t] + 0.5 * np.stack([heat * 255] * 3, -1)).astype(np.uint8)
        occ = np.where(sample.occluder[t][..., None], np.array([255, 0, 255], np.uint8), sample.rgb[t] // 2)
        tiles = [crop, flow_to_color(sample.flow[t]), heat_img, occ]
        if debug is not None:
            tiles.insert(0, _composite_tile(debug, t, sample.rgb.shape[1]))
        row = np.concatenate(tiles, axis=1)
        cv2.putText(row, f"t={t}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1, cv2.LINE_AA)
        if a["total_occlusion"][t]:
            cv2.putText(row, "TOTALLY OCCLUDED", (4, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 80, 80), 1)
        rows.append(row)
    return np.concatenate(rows, axis=0)


def _composite_tile(debug, t: int, size: int) -> np.ndarray:
    img = debug.composite[t].copy()
    cnts, _ = cv2.findContours(debug.occluder[t].astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(img, cnts, -1, (255, 0, 255), 1)
    cx, cy, side = debug.boxes[t]
    p0, p1 = (int(cx - side / 2), int(cy - side / 2)), (int(cx + side / 2), int(cy + side / 2))
    cv2.rectangle(img, p0, p1, (255, 255, 0), 1)
    h, w = img.shape[:2]
    scale = size / h
    return cv2.resize(img, (round(w * scale), size), interpolation=cv2.INTER_AREA)


def show(root: str | Path, out: str | Path, n: int = 4) -> list[Path]:
    """Draw the first ``n`` samples of ``root`` to ``out/<key>.png``."""
    import imageio.v3 as iio

    from synth.shards.reader import iter_records, shard_files
    from synth.shards.schema import decode, encode

    root, out = Path(root), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    generator = _regenerator(root)
    written = []
    for path in shard_files(root):
        for record in iter_records(path):
            sample = decode(record)
            debug = None
            if generator is not None:
                again, debug = generator.make(sample.meta["index"], debug=True)
                same = all(encode(again)[k] == record[k] for k in record if not k.startswith("__"))
                log.info("%s: regenerated %s", sample.key, "identically" if same else "DIFFERENTLY (not deterministic?)")
            target = out / f"{sample.key}.png"
            iio.imwrite(target, draw_sample(sample, debug))
            written.append(target)
            if len(written) >= n:
                return written
    return written


def _regenerator(root: Path):
    cfg_file = root / "generate.yaml"
    if not cfg_file.exists():
        log.info("no generate.yaml in %s: drawing stored fields only", root)
        return None
    from omegaconf import OmegaConf

    from synth.config import GenerateConfig, typed
    from synth.generate import ClipGenerator

    return ClipGenerator(typed(OmegaConf.load(cfg_file), GenerateConfig))
