#!/usr/bin/env bash
# Create .venv with everything genefinder needs, on a fresh machine or an existing one (idempotent).
# torch is pinned to the CPU build 2.13.0 *before* the package, so no CUDA wheels are pulled; on a GPU
# machine install the torch build you want first and this script leaves it alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.genefinder-installed
extras=${GENEFINDER_EXTRAS:-test}  # the main job adds `baselines` (pyrodigal)
want="$(sha256sum pyproject.toml | cut -c1-16) $extras"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[$extras]"
  echo "$want" > "$stamp"
fi
# genometools' gt gff3validator checks our GFF3 output in the tests; best effort (needs root and apt).
if ! command -v gt >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq genometools) >/dev/null 2>&1 || echo "note: could not install genometools; gt tests will skip" >&2
fi
