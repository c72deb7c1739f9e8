#!/usr/bin/env bash
# Set up .venv/, then run the pipeline on the embedded defaults (Anny body, DeepMimic
# mocap, real videos shipped in PyPI packages, OpenCV DIS flow): generate shards, check
# them, draw a few samples, then train Motion-HMR (inputs=flow+kp) on them for a few steps.
#   shards/shard-*.tar, shards/show/*.png, runs/flow+kp/last.pt (+ offline W&B run)
#
#   N=1000 WORKERS=8 OUT=/data/synth TRAIN_STEPS=0 bash jobs/generate.sh [generate overrides]
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/setup.sh
N="${N:-16}"
OUT="${OUT:-shards}"
WORKERS="${WORKERS:-$(nproc)}"
TRAIN_STEPS="${TRAIN_STEPS:-10}"
.venv/bin/synth generate --n "$N" --out "$OUT" --workers "$WORKERS" --per-shard 8 "$@"
.venv/bin/synth verify "$OUT"
.venv/bin/synth show "$OUT" --n 2 --out "$OUT/show"
if [ "$TRAIN_STEPS" -gt 0 ]; then
  # A CPU-sized smoke run of the full model (8-frame windows, batch 1); see README for real runs.
  .venv/bin/motionhmr train inputs=flow+kp "data=$OUT" data.frames=8 data.batch_size=1 data.workers=1 \
    "optim.steps=$TRAIN_STEPS" optim.warmup=2 val_every="$TRAIN_STEPS" val_batches=1 ckpt_every="$TRAIN_STEPS" \
    image_every="$TRAIN_STEPS" out=runs/flow+kp
fi
