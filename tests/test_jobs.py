"""The cluster launchers render to a sane ``synth generate`` command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_slurm_script_runs_synth_generate_with_its_settings(tmp_path):
    fake = tmp_path / ".venv" / "bin"
    fake.mkdir(parents=True)
    (fake / "synth").write_text('#!/bin/sh\necho "$@"\n')
    (fake / "synth").chmod(0o755)
    env = {**os.environ, "SLURM_SUBMIT_DIR": str(tmp_path), "SLURM_CPUS_PER_TASK": "16",
           "SLURM_ARRAY_TASK_ID": "3", "N": "5000", "OUT": "/shared/x"}  # fmt: skip
    out = subprocess.run(["bash", str(ROOT / "jobs/generate.slurm"), "background.mode=static"],
                         env=env, capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert out == ["generate", "--n", "5000", "--out", "/shared/x", "--workers", "16", "background.mode=static"]


def test_slurm_directives_are_present():
    text = (ROOT / "jobs/generate.slurm").read_text()
    assert "#SBATCH --cpus-per-task=" in text and "--array" in text


def test_k8s_indexed_job_is_consistent():
    job = yaml.safe_load((ROOT / "jobs/generate-k8s.yaml").read_text())
    spec = job["spec"]
    assert job["kind"] == "Job" and spec["completionMode"] == "Indexed"
    container = spec["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert int(env["NUM_SHARDS"]) == spec["completions"]  # pods must agree on the split
    assert container["command"][-2:] == ["/app/.venv/bin/synth", "generate"][-2:]
    args = container["args"]
    assert args[args.index("--n") + 1].isdigit() and "--out" in args
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    out = args[args.index("--out") + 1]
    assert any(out.startswith(m) for m in mounts)  # output lands on the shared volume


def test_generate_cli_reads_the_same_environment():
    from synth.shards.writer import node_split

    assert node_split(None, None, env={"JOB_COMPLETION_INDEX": "63", "NUM_SHARDS": "64"}) == (63, 64)
