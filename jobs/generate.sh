#!/usr/bin/env bash
# Set up .venv/, then run the generator on the embedded defaults (Anny body, DeepMimic
# mocap, real videos shipped in PyPI packages, OpenCV DIS flow), check the shards and draw
# a few samples:  shards/shard-*.tar, shards/show/*.png
#
#   N=1000 WORKERS=8 OUT=/data/synth bash jobs/generate.sh [key=value overrides]
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/setup.sh
N="${N:-16}"
OUT="${OUT:-shards}"
WORKERS="${WORKERS:-$(nproc)}"
.venv/bin/synth generate --n "$N" --out "$OUT" --workers "$WORKERS" --per-shard 8 "$@"
.venv/bin/synth verify "$OUT"
.venv/bin/synth show "$OUT" --n 2 --out "$OUT/show"
