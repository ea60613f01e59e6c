#!/usr/bin/env bash
# Set up (or reuse) the project's virtual environment in .venv, then run a command in it.
#
#   ./dev.sh medr1 train ...   run any command from the environment
#   ./dev.sh test [ARGS]       run the test suite (pytest ARGS)
#
# On a machine without an NVIDIA GPU, torch is pinned to its CPU build through
# constraints-cpu.txt. Re-installs only when pyproject.toml or the constraints change.
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

constraints=()
if ! command -v nvidia-smi >/dev/null 2>&1; then constraints=(-c constraints-cpu.txt); fi
stamp=$(cat pyproject.toml constraints-cpu.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VENV/.medr1-installed" 2>/dev/null)" != "$stamp" ]; then
  echo "dev.sh: installing medr1 and its dependencies into $VENV (first run takes a few minutes)" >&2
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "${constraints[@]}" -e ".[dev]"
  echo "$stamp" > "$VENV/.medr1-installed"
fi

export PATH="$PWD/$VENV/bin:$PATH"
if [ "${1:-}" = "test" ]; then
  shift
  exec python -m pytest "$@"
fi
[ $# -gt 0 ] || { sed -n '2,8p' "$0"; exit 2; }
exec "$@"
