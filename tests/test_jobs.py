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


def _fake_torchrun(tmp_path):
    fake = tmp_path / ".venv" / "bin"
    fake.mkdir(parents=True, exist_ok=True)
    (fake / "torchrun").write_text('#!/bin/sh\necho "$@"\n')
    (fake / "torchrun").chmod(0o755)


def test_train_slurm_runs_torchrun_over_the_node_gpus(tmp_path):
    _fake_torchrun(tmp_path)
    env = {**os.environ, "SLURM_SUBMIT_DIR": str(tmp_path), "SLURM_GPUS_ON_NODE": "8", "OUT": "/shared/runs/a"}
    out = subprocess.run(["bash", str(ROOT / "jobs/train.slurm"), "inputs=flow+kp", "data=/shared/synth"],
                         env=env, capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert out == ["--standalone", "--nproc_per_node", "8", "-m", "motionhmr.cli", "train",
                   "out=/shared/runs/a", "inputs=flow+kp", "data=/shared/synth"]  # fmt: skip
    from motionhmr.config import load_train_config

    cfg = load_train_config(out[6:])  # the arguments are a valid train config
    assert cfg.out == "/shared/runs/a" and cfg.data.path == "/shared/synth"


def test_train_launcher_uses_every_gpu_it_is_given(tmp_path):
    import shutil

    _fake_torchrun(tmp_path)
    (tmp_path / "jobs").mkdir()
    shutil.copy(ROOT / "jobs/train.sh", tmp_path / "jobs/train.sh")
    (tmp_path / ".venv/bin/python").symlink_to(Path(os.sys.executable))
    out = subprocess.run(["bash", str(tmp_path / "jobs/train.sh"), "inputs=kp"], env={**os.environ, "GPUS": "4"},
                         capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert out[:3] == ["--standalone", "--nproc_per_node", "4"] and out[-2:] == ["train", "inputs=kp"]


def test_ship_model_script_generates_trains_exports_and_scores_in_order(tmp_path):
    """jobs/ship_model.sh (the remake command of the shipped model's card) with recording
    stand-ins for the CLIs: both sets generated, trained together, exported, scored."""
    import shutil

    (tmp_path / "jobs").mkdir()
    shutil.copy(ROOT / "jobs/ship_model.sh", tmp_path / "jobs/ship_model.sh")
    (tmp_path / "jobs/setup.sh").write_text("true\n")
    (tmp_path / ".venv/bin").mkdir(parents=True)
    log = tmp_path / "calls.txt"
    for tool in ("synth", "motionhmr"):
        script = tmp_path / ".venv/bin" / tool
        script.write_text(f'#!/usr/bin/env bash\necho "{tool} $*" >> {log}\n')
        script.chmod(0o755)
    (tmp_path / "bvh").mkdir(), (tmp_path / "daz").mkdir()
    env = {**os.environ, "CMU_BVH": str(tmp_path / "bvh"), "CMU_DAZ_BVH": str(tmp_path / "daz"), "WORK": "w", "WORKERS": "2"}
    subprocess.run(["bash", str(tmp_path / "jobs/ship_model.sh")], env=env, check=True, capture_output=True)
    calls = log.read_text().splitlines()
    assert [c.split()[:2] for c in calls] == [["synth", "generate"], ["synth", "generate"], ["motionhmr", "train"],
                                              ["motionhmr", "export"]] + [["motionhmr", "eval"]] * 3  # fmt: skip
    assert f"motion.path={tmp_path / 'bvh'}" in calls[0] and f"motion.path={tmp_path / 'daz'}" in calls[1]
    assert "data=w/shards_cmu,w/shards_daz" in calls[2] and "inputs=kp" in calls[2]
    assert calls[3] == "motionhmr export w/run_kp/last.pt motionhmr/weights/kp.pt"
    assert "data.path=embedded" in calls[5] and calls[6].endswith("refine=true")
    assert "data.kp_offset_px=4" in calls[2] and "optim.steps=6000" in calls[2]
    env["CMU_DAZ_BVH"] = str(tmp_path / "missing")
    bad = subprocess.run(["bash", str(tmp_path / "jobs/ship_model.sh")], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "missing is not a folder of CMU .bvh files" in bad.stderr
