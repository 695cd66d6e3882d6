#!/usr/bin/env bash
# Create (or join) a sweep from sweep_config.yaml and start one agent per GPU slot.
#   ./launch_sweep.sh --demo                              offline demo on CPU, generated data
#   ./launch_sweep.sh --data my/data.yaml                 W&B when logged in, else local
#   ./launch_sweep.sh --help                              every option
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x "$here/.venv/bin/python" ]; then python="$here/.venv/bin/python"; else python=python3; fi
fi
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" -m yolosweep launch "$@"
