"""``flow bench``: speed and accuracy of each backend, and the storage codec's error.

For every backend: pairs per second at the crop size (224x224 by default) on this
machine, and EPE / share of pixels over 3 px against two ground truths
(:mod:`flow.groundtruth`): the rendered synthetic person and the real Middlebury
motorcycle pair. The zero-flow row is the baseline every backend must beat. The codec row
reports the EPE that 16-bit storage adds and the bytes per 224x224 pair.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time

import numpy as np

from flow.config import FlowConfig
from flow.metrics import endpoint_error

log = logging.getLogger(__name__)

DEFAULT_SPECS = ("dis:ultrafast", "dis:fast", "dis:medium", "dis:fine", "farneback", "deepflow", "tvl1")


@dataclasses.dataclass
class Row:
    backend: str
    pairs_per_s: float
    body: dict
    motorcycle: dict
    device: str = "cpu"


def run_bench(
    configs: list[FlowConfig],
    n_pairs: int = 16,
    size: int = 224,
    seed: int = 0,
    motorcycle_scale: float = 0.5,
) -> tuple[list[Row], dict]:
    """Measure each backend; returns the rows and the codec's figures."""
    from tqdm import tqdm

    from flow.codec import decode_flow, encode_flow
    from flow.groundtruth import rendered_body, stereo_motorcycle
    from flow.registry import build_backend

    log.info("rendering %d ground-truth pairs at %dx%d", n_pairs, size, size)
    body = rendered_body(n_pairs, size=size, seed=seed)
    moto = stereo_motorcycle(motorcycle_scale)
    rows = [Row("zero flow (baseline)", float("nan"), _score(np.zeros_like(body.flow), body),
                _score(np.zeros_like(moto.flow), moto), "-")]  # fmt: skip
    for cfg in tqdm(configs, desc="flow backends", unit="backend"):
        backend = build_backend(cfg)
        untrained = cfg.ckpt == "random"
        # Untrained weights may give NaN flow, which the contract rejects; time them raw.
        run = backend._estimate if untrained else backend
        run(body.pairs[:1])  # warm-up: lazy allocations, kernel compilation
        t0 = time.perf_counter()
        pred = run(body.pairs)
        rate = len(body) / (time.perf_counter() - t0)
        if untrained:
            rows.append(Row(cfg.label, rate, _NO_SCORE, _NO_SCORE, getattr(backend, "device", "cpu")))
            continue
        rows.append(Row(cfg.label, rate, _score(pred, body), _score(backend(moto.pairs), moto),
                        getattr(backend, "device", "cpu")))  # fmt: skip

    ref = build_backend(FlowConfig()).__call__(body.pairs)
    t0 = time.perf_counter()
    blobs = [encode_flow(f[None]) for f in ref]
    enc_s = (time.perf_counter() - t0) / len(blobs)
    decoded = np.concatenate([decode_flow(b) for b in blobs])
    codec = {
        "epe_added": float(np.linalg.norm(decoded - ref, axis=-1).mean()),
        "max_error": float(np.abs(decoded - ref).max()),
        "bytes_per_pair": float(np.mean([len(b) for b in blobs])),
        "raw_bytes_per_pair": float(ref[0].nbytes),
        "encode_ms": 1000 * enc_s,
    }
    return rows, codec


_NO_SCORE = {"epe": float("nan"), "bad3": float("nan"), "pixels": 0}


def _score(pred, gt) -> dict:
    return endpoint_error(pred, gt.flow, gt.valid)


def format_table(rows: list[Row], codec: dict, size: int) -> str:
    threads = os.environ.get("OMP_NUM_THREADS", "all")
    lines = [
        f"| backend | pairs/s at {size}x{size} | body EPE (px) | body >3 px | motorcycle EPE (px) | motorcycle >3 px |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        rate = "-" if np.isnan(r.pairs_per_s) else f"{r.pairs_per_s:,.1f}" + (f" ({r.device})" if r.device not in ("cpu", "-") else "")
        lines.append(f"| {r.backend} | {rate} | {_fmt(r.body)} | {_fmt(r.motorcycle)} |")
    lines.append("")
    lines.append(
        f"codec (16-bit PNG, 1/64 px): adds {codec['epe_added']:.4f} px EPE (max component error "
        f"{codec['max_error']:.4f} px); {codec['bytes_per_pair'] / 1024:.1f} KiB per pair vs "
        f"{codec['raw_bytes_per_pair'] / 1024:.1f} KiB raw float32; encode {codec['encode_ms']:.1f} ms per pair"
    )
    lines.append(f"(OMP_NUM_THREADS={threads})")
    return "\n".join(lines)


def _fmt(score: dict) -> str:
    if np.isnan(score["epe"]):
        return "- | -"
    return f"{score['epe']:.2f} | {100 * score['bad3']:.1f} %"
