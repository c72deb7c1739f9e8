"""Writing shards: the plan, node splitting, atomic shard files, resume, worker processes.

The dataset of ``n`` clips is cut into shards of ``per_shard`` consecutive indices:
shard s holds clips ``[s * per_shard, min(n, (s + 1) * per_shard))`` in
``shard-%06d.tar``. Node i of k (``--shard-index i --num-shards k``, or the Slurm array /
Kubernetes Indexed Job environment) writes shards ``s % k == i``: no overlap, no gaps.

A shard is written to ``shard-XXXXXX.tar.tmp-<pid>`` and renamed into place only when
complete (``os.replace`` is atomic on POSIX), so a killed run leaves only whole shards and
a rerun skips them and fills in the rest.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

SHARD_PATTERN = "shard-%06d.tar"


@dataclasses.dataclass(frozen=True)
class ShardJob:
    shard: int
    start: int
    stop: int

    @property
    def name(self) -> str:
        return SHARD_PATTERN % self.shard


def plan(n: int, per_shard: int) -> list[ShardJob]:
    return [ShardJob(s, s * per_shard, min(n, (s + 1) * per_shard)) for s in range(-(-n // per_shard))]


def node_split(shard_index: int | None, num_shards: int | None, env=os.environ) -> tuple[int, int]:
    """This node's ``(index, count)``: explicit values win; then Slurm job arrays
    (``SLURM_ARRAY_TASK_ID`` relative to ``SLURM_ARRAY_TASK_MIN``, of
    ``SLURM_ARRAY_TASK_COUNT``); then Kubernetes Indexed Jobs (``JOB_COMPLETION_INDEX``
    of ``NUM_SHARDS``, which the manifest sets to the Job's completions); else (0, 1)."""
    from synth.errors import InputError

    if shard_index is None and "SLURM_ARRAY_TASK_ID" in env:
        shard_index = int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN", 0))
        num_shards = num_shards or int(env.get("SLURM_ARRAY_TASK_COUNT", 0)) or None
    elif shard_index is None and "JOB_COMPLETION_INDEX" in env:
        shard_index = int(env["JOB_COMPLETION_INDEX"])
        num_shards = num_shards or int(env.get("NUM_SHARDS", 0)) or None
    if shard_index is None:
        if num_shards not in (None, 1):
            raise InputError(f"--num-shards {num_shards} given without this node's --shard-index")
        return 0, 1
    if not num_shards:
        raise InputError(f"shard index {shard_index} given without the node count: pass --num-shards K")
    if not 0 <= shard_index < num_shards:
        raise InputError(f"--shard-index {shard_index} is outside 0..{num_shards - 1}")
    return shard_index, num_shards


def pending(jobs: list[ShardJob], out: Path) -> list[ShardJob]:
    """The jobs whose shard file is not there yet; stale partial files of ours are removed."""
    todo = []
    for job in jobs:
        for tmp in out.glob(job.name + ".tmp-*"):
            tmp.unlink(missing_ok=True)  # a killed run's partial shard: never read, rewrite it
        if not (out / job.name).exists():
            todo.append(job)
    return todo


def write_shard(generator, job: ShardJob, out: Path, on_clip=None) -> Path:
    """Make clips ``job.start..job.stop`` and write them as one shard, atomically."""
    import webdataset as wds

    from synth.shards.schema import encode

    final = out / job.name
    tmp = out / f"{job.name}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        # mtime fixed: the same clips give the same shard bytes
        with wds.TarWriter(f, encoder=False, mtime=0.0) as sink:
            for index in range(job.start, job.stop):
                sample = generator.make(index)
                t0 = time.perf_counter()
                sink.write(encode(sample))
                generator.timings["encode"] += time.perf_counter() - t0
                if on_clip is not None:
                    on_clip()
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    return final


# -- worker processes ------------------------------------------------------------------
_GEN = None
_COUNTER = None


def _init_worker(cfg, counter) -> None:
    global _GEN, _COUNTER
    import torch

    torch.set_num_threads(1)  # one process per core: torch threads would fight each other
    from synth.generate import ClipGenerator

    _GEN, _COUNTER = ClipGenerator(cfg), counter


def _bump() -> None:
    with _COUNTER.get_lock():
        _COUNTER.value += 1


def _run_job(job_and_out) -> tuple[str, dict]:
    job, out = job_and_out
    path = write_shard(_GEN, job, Path(out), on_clip=_bump)
    timings = dict(_GEN.timings)
    _GEN.timings.clear()
    return str(path), timings


def node_jobs(jobs: list[ShardJob], index: int, count: int) -> list[ShardJob]:
    return [j for j in jobs if j.shard % count == index]


def run(cfg, jobs: list[ShardJob], out: Path, progress=None) -> dict[str, float]:
    """Write ``jobs`` with ``cfg.workers`` processes; returns summed stage timings.

    ``progress(n)`` is called with the number of clips finished since the last call."""
    from collections import Counter

    totals: Counter = Counter()
    if not jobs:
        return dict(totals)
    if cfg.workers == 1:
        from synth.generate import ClipGenerator

        gen = ClipGenerator(cfg)
        try:
            for job in jobs:
                write_shard(gen, job, out, on_clip=(lambda: progress(1)) if progress else None)
        finally:
            gen.close()
        return dict(gen.timings)
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # fork would share the parent's GL/EGL state
    counter = ctx.Value("i", 0)
    with ctx.Pool(min(cfg.workers, len(jobs)), initializer=_init_worker, initargs=(cfg, counter)) as pool:
        results = pool.map_async(_run_job, [(j, str(out)) for j in jobs], chunksize=1)
        seen = 0
        while not results.ready():
            results.wait(0.5)
            if progress and counter.value > seen:
                progress(counter.value - seen)
                seen = counter.value
        for _, timings in results.get():  # re-raises a worker's exception here
            totals.update(timings)
        if progress and counter.value > seen:
            progress(counter.value - seen)
    return dict(totals)
