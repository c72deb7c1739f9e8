#!/usr/bin/env bash
# Set up, then run the whole test suite (fast tests and the slow end-to-end group).
# Extra arguments go to pytest, e.g.  bash jobs/test.sh -m "not slow"
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/setup.sh
exec .venv/bin/python -m pytest -q "$@"
