#!/usr/bin/env bash
# The main job: set up the environment, annotate the bundled example genome (examples/: 200 kb of B. subtilis
# BEST7003, a genome held out of training) with the bundled default model, and print its scores beside
# Prodigal's (pyrodigal, and Debian's prodigal when installed) on the same DNA, measured in the same run.
# Extra arguments go to benchmarks/baselines.py (e.g. --tools pyrodigal genefinder).
set -euo pipefail
cd "$(dirname "$0")/.."
GENEFINDER_EXTRAS=test,baselines bash scripts/setup_env.sh
ex=examples/bsubtilis_best7003_1-200000
exec .venv/bin/python benchmarks/baselines.py --fasta "$ex.fna.gz" --gff "$ex.gff3.gz" --organism-type bacteria \
  --augustus-species E_coli_K12 --genetic-code 11 --name bundled_example_bsubtilis_1-200000 \
  --tools prodigal pyrodigal genefinder --genefinder-cmd ".venv/bin/genefinder annotate {fasta} -o {out}" \
  --keep out/example --out-md out/example/scores.md "$@"
