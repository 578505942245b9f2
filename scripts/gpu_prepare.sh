#!/usr/bin/env bash
# Make what scripts/gpu_run.sh's device call carries (both folders are in .gitignore): .whl/, the wheels the
# device image lacks (for its Python 3.12), and .gpu_data/, the three training genomes and the held-out one.
# Run here, before the call; idempotent (a second run finds both and only checks them).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS=(datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 pyfaidx==0.9.2.2)
mkdir -p .whl
for w in "${WHEELS[@]}"; do
    name=${w%%==*}
    ls .whl/"${name}"-*.whl >/dev/null 2>&1 && continue
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "$w"
done
for g in ecoli_k12_mg1655 ccrescentus_cb15 saureus_502a bsubtilis_best7003; do
    src=../shared/data/$g
    [ -f "$src/genome.fna.gz" ] || { echo "gpu_prepare: $src/genome.fna.gz not found" >&2; exit 1; }
    mkdir -p .gpu_data/$g
    cp -u "$src/genome.fna.gz" "$src/annotation.gff3.gz" .gpu_data/$g/
done
echo "carry: .whl ($(du -sh .whl | cut -f1)), .gpu_data ($(du -sh .gpu_data | cut -f1)); tracked tree $(git ls-files -z | du -ch --files0-from=- | tail -1 | cut -f1)"
