#!/usr/bin/env bash
# Create or refresh .venv/ at the repository root, installing any missing Debian packages
# for offscreen OpenGL (EGL/Mesa) first. Safe to run again: it only does what is missing.
#
#   MOTIONHMR_EXTRAS   pip extras to install (default "test", which includes smpl, ptlflow and detect;
#                      e.g. "smpl" or "ptlflow" for a lean non-test install)
#   PYTHON             interpreter for a new venv (default python3.11, else python3)
#
# torch is pinned in constraints.txt. On a CPU-only machine whose pip finds the CPU wheel
# (as here) that stays the CPU build; on a GPU machine the same pin resolves to the
# CUDA build from PyPI. Nothing else is needed to get CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_pkgs=(libegl1 libegl-mesa0 libgl1-mesa-dri libgl1)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

py="${PYTHON:-}"
if [ -z "$py" ]; then
  if command -v python3.11 >/dev/null; then py=python3.11; else py=python3; fi
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $py"
  "$py" -m venv .venv
fi

extras="${MOTIONHMR_EXTRAS:-test}"
stamp=".venv/.motionhmr-setup"
want="$(cat pyproject.toml constraints.txt jobs/setup.sh | sha256sum | cut -c1-16) $extras"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the suite into .venv (extras: $extras)"
  .venv/bin/python -m pip install -q -c constraints.txt torch==2.13.0 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install -q -c constraints.txt -e ".[$extras]" 2>&1 | grep -v "^WARNING: Location" || true
  # sports2d ships a real outdoor video (Sports2D/Demo/demo.mp4) used as an embedded
  # background; only that file is used, so its heavy pose-estimation requirements are skipped.
  .venv/bin/python -m pip install -q -c constraints.txt --no-deps sports2d==0.8.34 2>&1 | grep -v "^WARNING: Location" || true
  # pose2sim ships a real calibrated 4-camera recording (Demo_SinglePerson: Qualisys calibration
  # and videos), the embedded source of `motionhmr eval data=multiview`; only its files are used.
  .venv/bin/python -m pip install -q -c constraints.txt --no-deps pose2sim==0.10.49 2>&1 | grep -v "^WARNING: Location" || true
  if [[ ",$extras," == *",ptlflow,"* || ",$extras," == *",test,"* ]]; then
    # --no-deps: ptlflow requires opencv-python, which would overwrite our contrib cv2/;
    # its other requirements come from the [ptlflow] extra above.
    .venv/bin/python -m pip install -q -c constraints.txt --no-deps ptlflow==0.4.2 2>&1 | grep -v "^WARNING: Location" || true
  fi
  if [[ ",$extras," == *",detect,"* || ",$extras," == *",test,"* ]]; then
    # --no-deps: mediapipe 0.10.21 pins numpy<2 and opencv-contrib 4.11, but runs with ours;
    # its other requirements come from the [detect] extra above.
    .venv/bin/python -m pip install -q -c constraints.txt --no-deps mediapipe==0.10.21 2>&1 | grep -v "^WARNING: Location" || true
  fi
  .venv/bin/python -c "import synth, torch, anny, pyrender, cv2.optflow" # fail here, not later, if the install broke
  echo "$want" > "$stamp"
fi
