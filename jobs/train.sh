#!/usr/bin/env bash
# Train Motion-HMR on every GPU of this machine with torchrun (DDP; one process per GPU).
# The loader deals shards to ranks, so give at least as many shards as GPUs x data.workers.
#
#   bash jobs/train.sh inputs=flow+kp data=/shared/synth out=/shared/runs/flow+kp
#   GPUS=4 bash jobs/train.sh inputs=rgb data=/shared/synth model.backbone_weights=/models/resnet50.pth
#
# Extra arguments are motionhmr train overrides; rerunning the same command resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
GPUS="${GPUS:-$(.venv/bin/python -c 'import torch; print(max(1, torch.cuda.device_count()))')}"
exec .venv/bin/torchrun --standalone --nproc_per_node "$GPUS" -m motionhmr.cli train "$@"
