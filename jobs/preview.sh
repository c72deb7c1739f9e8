#!/usr/bin/env bash
# Set up, then run the main job on the embedded defaults: the DeepMimic walk on the Anny
# body, rendered to preview/. Extra arguments are synth overrides (key=value).
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/setup.sh
exec .venv/bin/synth preview "$@"
