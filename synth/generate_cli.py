"""``synth generate``: plan the shards, split them across nodes, skip finished ones, run."""

from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)


def generate(cfg, raw=None) -> dict:
    """Write this node's missing shards of ``cfg.n`` clips into ``cfg.out``; returns a
    summary (clips written, seconds, stage timings)."""
    from omegaconf import OmegaConf
    from tqdm import tqdm

    from synth.shards.writer import node_jobs, node_split, pending, plan, run

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if raw is not None:
        _write_config(out, OmegaConf.to_yaml(raw))
    index, count = node_split(cfg.shard_index, cfg.num_shards)
    mine = node_jobs(plan(cfg.n, cfg.per_shard), index, count)
    todo = pending(mine, out)
    clips = sum(j.stop - j.start for j in todo)
    log.info(
        "node %d/%d: %d of %d shards to write (%d clips) into %s with %d worker(s)",
        index, count, len(todo), len(mine), clips, out, cfg.workers,
    )  # fmt: skip
    if not todo:
        return {"clips": 0, "seconds": 0.0, "timings": {}}
    t0 = time.perf_counter()
    with tqdm(total=clips, desc="synth generate", unit="clip", smoothing=0.1) as bar:
        timings = run(cfg, todo, out, progress=bar.update)
    seconds = time.perf_counter() - t0
    log.info("wrote %d clips in %.1f s (%.2f clips/s)", clips, seconds, clips / seconds)
    return {"clips": clips, "seconds": seconds, "timings": timings}


def _write_config(out: Path, text: str) -> None:
    """Keep the resolved config beside the shards (``synth show`` regenerates from it).
    A rerun with a different config into the same folder would mix datasets: refuse."""
    from synth.errors import InputError

    path = out / "generate.yaml"
    keep = ("shard_index", "num_shards", "workers")  # may differ between nodes and reruns
    if path.exists() and _strip(path.read_text(), keep) != _strip(text, keep):
        raise InputError(
            f"{out} holds shards of another configuration ({path} differs); use a new --out or the same settings"
        )
    if not path.exists():
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(text)
        tmp.replace(path)


def _strip(text: str, keys) -> str:
    return "\n".join(line for line in text.splitlines() if line.split(":")[0] not in keys)
