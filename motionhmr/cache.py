"""A reduced-resolution cache of a shard folder, for CPU-scale training with ``model.input_size``.

Why: a CPU run of ``inputs=flow+kp`` at ``model.input_size=32`` spends most of each step
decoding full-size data it then shrinks: 30 flow PNGs of 224² per clip (~0.12 s a clip on one
core, ~1 s per 8-clip batch) and resizing them (~0.35 s a batch). A run of many epochs over
the same clips decodes each one dozens of times. The cache does that work once: it stores
each clip's network channels for rgb and/or flow already computed and resized to ``size`` px,
so the loader reads a few hundred KB of float16 per clip and the trainer only zeroes
occluded frames and renders the keypoint heatmaps (as for any data).

Contract
    :func:`build_cache` ``(src, out, size, parts=("flow",))`` writes ``out/`` with

    ``shard-XXXXXX.tar``  one per shard of ``src``, the same names and clips; each record keeps
                          ``arrays.npz`` and ``meta.json`` byte for byte and adds, per part,
                          ``flow_input.npy`` / ``rgb_input.npy``: float16 ``[T-1, 3, size, size]``
                          = :func:`motionhmr.inputs.flow_channels` / :func:`~motionhmr.inputs.rgb_channels`
                          of the stored field, resized with antialiased bilinear filtering (as
                          :func:`motionhmr.inputs.assemble` resizes), *not* zeroed for total
                          occlusion (assemble zeroes whole frames, which commutes with resizing);
    ``generate.yaml``     copied, so a run on the cache records the same data contract;
    ``cache.json``        ``{"format", "size", "parts", "source", "clips"}``.

    The shard files of the source are not needed for training on the cache; the image files
    (``rgb.jpg``, ``flow.png``, ``occluder.png``) are not copied. A run on a cache must use
    ``model.input_size == size`` and only the cached parts (:func:`check_cache`). Shards are
    written whole (temp file, then rename) and a rerun skips those already there.

Bytes (31-frame clips): flow at 32 px is 30 x 3 x 32 x 32 x 2 B = 184 KB a clip, plus ~25 KB of
arrays, against ~1.0 MB of shard record; at 64 px, 737 KB.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from synth.errors import InputError

log = logging.getLogger(__name__)

FORMAT = 1
CACHE_JSON = "cache.json"
#: The record file each cached part is stored in.
CACHED_FILE = {"rgb": "rgb_input.npy", "flow": "flow_input.npy"}


@dataclasses.dataclass(frozen=True)
class CacheInfo:
    """What ``cache.json`` says."""

    size: int
    parts: tuple[str, ...]
    source: str
    clips: int


def read_cache_info(root: str | Path) -> CacheInfo | None:
    """The cache's ``cache.json``, or None when ``root`` is a plain shard folder."""
    path = Path(root) / CACHE_JSON
    if not path.is_file():
        return None
    d = json.loads(path.read_text())
    if d.get("format") != FORMAT:
        raise InputError(f"{path} has cache format {d.get('format')}; this code reads {FORMAT}: rebuild it with "
                         f"motionhmr cache {d.get('source', 'SHARDS')} {root} --size {d.get('size', 'N')}")  # fmt: skip
    return CacheInfo(int(d["size"]), tuple(d["parts"]), str(d["source"]), int(d["clips"]))


def check_cache(root: str | Path, parts: tuple[str, ...], input_size: int | None) -> CacheInfo | None:
    """Refuse, in one line, a run whose inputs or ``model.input_size`` the cache at ``root``
    does not hold; None for plain shards."""
    info = read_cache_info(root)
    if info is None:
        return None
    missing = [p for p in parts if p not in info.parts]
    if missing:
        raise InputError(f"{root} is a cache of {'+'.join(info.parts) or 'no images'} only; these inputs need "
                         f"{'+'.join(missing)}: train on {info.source} or rebuild the cache with "
                         f"--parts {'+'.join(sorted(set(info.parts) | set(missing)))}")  # fmt: skip
    if parts and input_size != info.size:
        raise InputError(f"{root} is a {info.size}-px cache: train with model.input_size={info.size}, or build "
                         f"another with  motionhmr cache {info.source} OUT --size {input_size}")  # fmt: skip
    return info


def cached_inputs(record: dict, parts: tuple[str, ...], size: int) -> dict[str, bytes]:
    """The ``*_input.npy`` files of one raw shard record (float16, module doc)."""
    import torch

    from motionhmr.inputs import _resized, flow_channels, rgb_channels
    from synth.shards.schema import decode

    sample = decode(record, parts)
    out = {}
    for part, channels in (("rgb", rgb_channels), ("flow", flow_channels)):
        if part not in parts:
            continue
        stored = sample.rgb[:-1] if part == "rgb" else sample.flow  # the steps: T-1 of each
        with torch.no_grad():
            x = _resized(channels(torch.from_numpy(np.ascontiguousarray(stored)))[None], size)[0]
        buf = io.BytesIO()
        np.save(buf, x.numpy().astype(np.float16), allow_pickle=False)
        out[CACHED_FILE[part]] = buf.getvalue()
    return out


def cache_shard(src: Path, out: Path, parts: tuple[str, ...], size: int) -> int:
    """Write the cache of one shard (atomically); returns its clip count."""
    import torch
    import webdataset as wds

    from synth.shards.reader import iter_records

    torch.set_num_threads(1)  # one shard per process: the pool is the parallelism
    final = out / src.name
    tmp = out / f"{src.name}.tmp-{os.getpid()}"
    n = 0
    try:
        with open(tmp, "wb") as f:
            with wds.TarWriter(f, encoder=False, mtime=0.0) as sink:
                for record in iter_records(src):
                    kept = {k: record[k] for k in ("__key__", "arrays.npz", "meta.json")}
                    sink.write({**kept, **cached_inputs(record, parts, size)})
                    n += 1
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n


def _cache_shard(job) -> int:
    return cache_shard(*job)


def build_cache(src: str | Path, out: str | Path, size: int, parts: tuple[str, ...] = ("flow",),
                workers: int = 2, progress: bool = True) -> CacheInfo:  # fmt: skip
    """Build (or finish) the cache of ``src`` in ``out`` (module doc); returns its info."""
    import multiprocessing as mp

    from tqdm import tqdm

    from synth.shards.reader import iter_records, shard_files

    src, out = Path(src), Path(out)
    parts = tuple(p for p in CACHED_FILE if p in parts)
    if not parts:
        raise InputError(f"--parts names nothing to cache: choose from {', '.join(CACHED_FILE)} (inputs=kp needs no cache)")
    if not isinstance(size, int) or size < 32:
        raise InputError(f"--size {size!r} is not valid: an integer >= 32 (px), the model.input_size to train with")
    if read_cache_info(src) is not None:
        raise InputError(f"{src} is already a cache: build one from the shard folder it was made from")
    shards = shard_files(src)
    out.mkdir(parents=True, exist_ok=True)
    old = read_cache_info(out)
    if old is not None and (old.size, old.parts) != (size, parts):
        raise InputError(f"{out} holds a {old.size}-px cache of {'+'.join(old.parts)}: pick another folder")
    for tmp in out.glob("shard-*.tar.tmp-*"):
        tmp.unlink()  # a killed run's partial shard
    todo = [(s, out, parts, size) for s in shards if not (out / s.name).exists()]
    if len(todo) < len(shards):
        log.info("cache: %d of %d shards already in %s", len(shards) - len(todo), len(shards), out)
    bar = tqdm(total=len(todo), unit="shard", desc=f"cache {size}px", disable=not progress)
    if workers > 1 and len(todo) > 1:
        with mp.get_context("spawn").Pool(min(workers, len(todo))) as pool:
            for _ in pool.imap_unordered(_cache_shard, todo):
                bar.update()
    else:
        for job in todo:
            _cache_shard(job)
            bar.update()
    bar.close()
    if (src / "generate.yaml").is_file():
        shutil.copyfile(src / "generate.yaml", out / "generate.yaml")
    clips = sum(1 for s in shard_files(out) for _ in iter_records(s))
    info = CacheInfo(size, parts, str(src.resolve()), clips)
    (out / CACHE_JSON).write_text(json.dumps({"format": FORMAT, **dataclasses.asdict(info)}, indent=1) + "\n")
    return info
