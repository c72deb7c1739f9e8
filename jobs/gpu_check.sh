#!/usr/bin/env bash
# The GPU path in one command (fits a 10-minute GPU window): set up .venv/ (on a GPU machine
# the pinned torch resolves to PyPI's CUDA build), then bench/bench_gpu.py: the CUDA tests,
# the full model's clips/s and memory against a bare ResNet-50, the loader against the model,
# and a 2-minute training run with the GPU's busy share; one table, results in gpu_check.json.
#
#   bash jobs/gpu_check.sh                  # ~3 min set-up on a fresh machine, then ~5 min
#   bash jobs/gpu_check.sh --dry-run        # every step at toy sizes on the CPU
#   bash jobs/gpu_check.sh --train-seconds 60 --out /tmp/gpu.json
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/setup.sh
exec .venv/bin/python bench/bench_gpu.py "$@"
