"""Shard planning, node splitting (flags, Slurm, Kubernetes) and resume bookkeeping."""

from __future__ import annotations

import pytest

from synth.errors import InputError
from synth.shards.writer import node_jobs, node_split, pending, plan


def test_plan_covers_every_index_once():
    jobs = plan(103, 25)
    assert [j.name for j in jobs][:2] == ["shard-000000.tar", "shard-000001.tar"]
    idx = [i for j in jobs for i in range(j.start, j.stop)]
    assert idx == list(range(103)) and jobs[-1].stop - jobs[-1].start == 3


@pytest.mark.parametrize("k", [1, 3, 7])
def test_nodes_split_shards_without_overlap_or_gaps(k):
    jobs = plan(1000, 10)
    parts = [node_jobs(jobs, i, k) for i in range(k)]
    shards = sorted(j.shard for p in parts for j in p)
    assert shards == list(range(100))


def test_node_split_sources():
    assert node_split(None, None, env={}) == (0, 1)
    assert node_split(2, 4, env={}) == (2, 4)
    slurm = {"SLURM_ARRAY_TASK_ID": "13", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "8"}
    assert node_split(None, None, env=slurm) == (3, 8)
    assert node_split(None, None, env={"JOB_COMPLETION_INDEX": "5", "NUM_SHARDS": "16"}) == (5, 16)
    assert node_split(1, 2, env=slurm) == (1, 2)  # explicit flags win


@pytest.mark.parametrize(
    "args, env, message",
    [
        ((3, None), {}, "without the node count: pass --num-shards"),
        ((4, 4), {}, "outside 0..3"),
        ((None, 4), {}, "without this node's --shard-index"),
        ((None, None), {"JOB_COMPLETION_INDEX": "2"}, "without the node count"),
    ],
)
def test_node_split_errors(args, env, message):
    with pytest.raises(InputError, match=message):
        node_split(*args, env=env)


def test_pending_skips_whole_shards_and_removes_partial_files(tmp_path):
    jobs = plan(30, 10)
    (tmp_path / "shard-000000.tar").write_bytes(b"done")
    stale = tmp_path / "shard-000001.tar.tmp-12345"
    stale.write_bytes(b"half")
    todo = pending(jobs, tmp_path)
    assert [j.shard for j in todo] == [1, 2]
    assert not stale.exists()
