"""bench/bench_gpu.py (``bash jobs/gpu_check.sh``): its ``--dry-run`` runs every step at toy sizes
on the CPU and writes the whole table; a failing step is one line and the others still run."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def bench_gpu():
    spec = importlib.util.spec_from_file_location("bench_gpu", ROOT / "bench" / "bench_gpu.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_gpu"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_dry_run_runs_every_step_on_the_cpu(tmp_path, capsys):
    out = tmp_path / "gpu_check.json"
    assert bench_gpu().main(["--dry-run", "--out", str(out)]) == 0
    steps = json.loads(out.read_text())
    assert list(steps) == ["env", "cuda_tests", "throughput", "data", "loader", "train"]
    assert all(s["ok"] for s in steps.values()), {k: s.get("error") for k, s in steps.items()}
    assert [r["batch"] for r in steps["throughput"]["sweep"]] == [1, 2]
    assert all(r["clips_s"] > 0 and r["bare_clips_s"] > 0 for r in steps["throughput"]["sweep"])
    assert steps["data"]["clips"] == 4 and steps["train"]["steps"] == 3 and len(steps["train"]["losses"]) == 3
    assert "skipped" in steps["cuda_tests"]["summary"]  # no CUDA here: skipped with the stated reason
    table = capsys.readouterr().out
    assert "| throughput | batch 2:" in table and "GPU busy share: n/a (no GPU)" in table


def test_a_failing_step_is_one_line_and_the_rest_still_run(tmp_path, capsys):
    out = tmp_path / "gpu_check.json"
    code = bench_gpu().main(["--dry-run", "--out", str(out), "--data", str(tmp_path / "nowhere"),
                             "--skip", "cuda_tests", "--skip", "throughput", "--skip", "train"])  # fmt: skip
    assert code == 1
    steps = json.loads(out.read_text())
    assert steps["env"]["ok"] and not steps["data"]["ok"] and not steps["loader"]["ok"]
    assert "nowhere" in steps["data"]["error"] and "\n" not in steps["data"]["error"]
    assert "| data | failed: InputError:" in capsys.readouterr().out
