#!/usr/bin/env bash
# Set up (or reuse) the project's virtual environment in .venv, then run a command in it.
#
#   ./dev.sh medr1 train ...   run any command from the environment
#   ./dev.sh test [ARGS]       run the test suite (pytest ARGS)
#
# Installs medr1 with its dev extra and a torch + torchvision pair pinned by
# constraints.txt (torchvision: Qwen2-VL's processor needs it; first set-up about
# 3 minutes and 6 GB in .venv), then builds the tiny model into the cache (about
# 2 minutes once). Re-installs only when pyproject.toml or constraints.txt change. CPU threads: see MEDR1_THREADS in docs/training.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

find_python() {
  for py in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null 2>&1 &&
       "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "dev.sh: medr1 needs Python >= 3.11; none found (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
  py=$(find_python)
  echo "dev.sh: creating $VENV with $py" >&2
  "$py" -m venv "$VENV"
fi

stamp=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VENV/.medr1-installed" 2>/dev/null)" != "$stamp" ]; then
  echo "dev.sh: installing medr1, torch and torchvision into $VENV (first run: about 3 minutes, 6 GB)" >&2
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -c constraints.txt torch torchvision
  "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".[dev]"
  echo "$stamp" > "$VENV/.medr1-installed"
fi
# --model tiny: pretrained offline once (about 2 minutes of CPU), then cached (medr1_core/offline/pretrain.py)
if [ ! -e "${MEDR1_CACHE:-$HOME/.cache/medr1}/tiny-vlm-pretrained-v1" ]; then
  echo "dev.sh: building the tiny model (pretrained offline once, about 2 minutes)" >&2
  "$VENV/bin/python" -m medr1_core.offline.pretrain >/dev/null
fi

export PATH="$PWD/$VENV/bin:$PATH"
if [ "${1:-}" = "test" ]; then
  shift
  exec python -m pytest "$@"
fi
[ $# -gt 0 ] || { sed -n '2,8p' "$0"; exit 2; }
exec "$@"
