#!/usr/bin/env bash
# Phase 5 of the default model (configs/bacteria-gpu-unfrozen.yaml) as ORF decoding reads it, to answer:
# does a coding-frame head trained with the encoder unfrozen add to the genome's own statistics? Exported to a Hub
# folder (with the default model's coding library), then
#   1. benchmarks/sweeps/orf_decoding_sweep.py on the training genomes' validation blocks (never trained on), at the
#      default settings with head weights 0 to 0.4: the weight to use is chosen here, never on the held-out genome;
#   2. the held-out genome (B. subtilis) annotated at every head weight tried, each scored by `genefinder evaluate`,
#      a preview: the numbers for the README come from benchmarks/baselines.py beside Prodigal and Augustus.
# Runs on the device machine at the end of scripts/gpu_run.sh (GPU for the held-out annotations) or here:
#   PYTHON=.venv/bin/python bash scripts/evaluate_phase5.sh runs/bacteria-gpu-unfrozen/checkpoint-N runs/gpu-eval
# HELDOUT (a FASTA:GFF pair) and SWEEP_REGIONS (GENOME:SEQID:START-END ...) replace the held-out genome and the
# validation blocks, for a quick rehearsal on less DNA.
set -uo pipefail
CHECKPOINT=$1
EVAL=$2
PY=${PYTHON:-python3}
THREADS=${THREADS:-4}
WEIGHTS=(0.05 0.1 0.2 0.4)
D=../shared/data/bsubtilis_best7003
IFS=: read -r FASTA GFF <<< "${HELDOUT:-$D/genome.fna.gz:$D/annotation.gff3.gz}"
GF=("$PY" -m genefinder.cli)
mkdir -p "$EVAL"
MODEL=$EVAL/model
rm -rf "$MODEL"
"${GF[@]}" export "$CHECKPOINT" "$MODEL" > "$EVAL/export.log" 2>&1 || { tail -3 "$EVAL/export.log"; exit 1; }
cp default_model/coding_library.safetensors "$MODEL/"  # network-free statistics: the same as the default's

REGIONS=()
[ -n "${SWEEP_REGIONS:-}" ] && read -r -a REGIONS <<< "--regions $SWEEP_REGIONS"
"$PY" benchmarks/sweeps/orf_decoding_sweep.py --model "$MODEL" --threads "$THREADS" --head-weights 0 "${WEIGHTS[@]}" \
    --length-priors 0.15 --start-and-bias 16:55 --hexamer-weights 2 --min-lengths 500 --skip-generation \
    "${REGIONS[@]}" --out-md "$EVAL/orf_decoding_sweep_phase5.md" > "$EVAL/sweep.log" 2>&1 &
SWEEP=$!
for w in "${WEIGHTS[@]}"; do
    (OMP_NUM_THREADS=$THREADS "${GF[@]}" annotate "$FASTA" -o "$EVAL/heldout_head_$w.gff3" --model "$MODEL" \
        --head-weight "$w" && "${GF[@]}" evaluate "$EVAL/heldout_head_$w.gff3" "$GFF" --json \
        > "$EVAL/heldout_head_$w.json") > "$EVAL/heldout_head_$w.log" 2>&1 &
done
wait
"$PY" - "$EVAL" "${WEIGHTS[@]}" <<'EOF'
import json, sys
from pathlib import Path
folder = Path(sys.argv[1])
print("held-out, head weight: gene F1 / stop F1 (preview; the default settings otherwise)")
for w in sys.argv[2:]:
    path = folder / f"heldout_head_{w}.json"
    if path.is_file() and path.stat().st_size:
        m = json.loads(path.read_text())
        print(f"  {w}: {m['gene']['f1']:.3f} / {m['stop']['f1']:.3f}")
    else:
        print(f"  {w}: failed, see heldout_head_{w}.log")
EOF
grep -A8 "^Best mean gene F1" "$EVAL/orf_decoding_sweep_phase5.md" 2>/dev/null || tail -5 "$EVAL/sweep.log"
