#!/usr/bin/env bash
# One call on a remote GPU machine (one H200, a 15-minute limit, nothing kept afterwards).
# Two jobs share the GPU, each far too small to fill it alone:
#   A. phase 5 of the default model (configs/bacteria-gpu-unfrozen.yaml): the whole network trained with the
#      coding-frame loss from the shipped default_model, for GPU_TRAIN_S seconds of steps, then evaluated by
#      scripts/evaluate_phase5.sh;
#   B. the context-extension study with configs/context-mlm-gpu.yaml, fine-tunes included, downstream left out,
#      within STUDY_S seconds.
# Both first time a few steps (the probes), so max_steps is set from measured speed and each cosine schedule
# ends inside the time limit; if a probe fails the call ends at once, before the long runs, so it can be rerun.
# What comes back ($OUT, at most 8 files of 16 MiB): scripts/gpu_transfer.py says (weights in shards, two archives).
#
#   remote:  bash scripts/gpu_run.sh                       (OUT set by the caller; .whl and .gpu_data carried)
#   here:    rm -rf out/gpu-rehearsal runs/bacteria-gpu-unfrozen runs/context-extension-gpu runs/gpu-eval
#            OUT=out/gpu-rehearsal PYTHON=.venv/bin/python GPU_TRAIN_S=20 STUDY_S=60 SMALL=1 bash scripts/gpu_run.sh
#            (the rm: the remote machine starts bare, and a rehearsal's run would refuse a new one)
# SMALL=1 shrinks batches so the same path runs on a CPU (a rehearsal before the remote call).
# Before the call, here: bash scripts/gpu_prepare.sh (makes .whl/ and .gpu_data/, both in .gitignore, so they
# travel only as the call's carry names them).
# Afterwards, here: .venv/bin/python scripts/gpu_transfer.py collect FOLDER  (the call's files -> runs/).
set -uo pipefail
ROOT=$(pwd)
OUT=${OUT:-$ROOT/out/gpu}
PY=${PYTHON:-python3}
GPU_TRAIN_S=${GPU_TRAIN_S:-260}
STUDY_S=${STUDY_S:-430}
LOGS=runs/gpu-logs
mkdir -p "$OUT" runs "$LOGS"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false

# -- environment: the wheels the image lacks (carried in .whl/), and this checkout as the `genefinder` package
if ! "$PY" -c "import datasets, pyfaidx" 2>/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site
fi
mkdir -p /tmp/pkg && ln -sfn "$ROOT" /tmp/pkg/genefinder
export PYTHONPATH=/tmp/pkg${PYTHONPATH:+:$PYTHONPATH}
# the training genomes: ../shared/data where it exists; on the device machine the carried copy in .gpu_data/
if [ ! -d ../shared/data ] && [ -d .gpu_data ]; then mkdir -p ../shared && ln -sfn "$ROOT/.gpu_data" ../shared/data; fi
"$PY" - <<'EOF' || exit 1
import datasets, torch, transformers
print("torch", torch.__version__, "transformers", transformers.__version__, "datasets", datasets.__version__,
      "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
EOF
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
GF=("$PY" -m genefinder.cli)
D=../shared/data
GENOMES=()
for g in ecoli_k12_mg1655 ccrescentus_cb15 saureus_502a; do GENOMES+=(--fasta "$D/$g/genome.fna.gz" --gff "$D/$g/annotation.gff3.gz"); done
A_CFG=configs/bacteria-gpu-unfrozen.yaml
B_CFG=configs/context-mlm-gpu.yaml
B_MIN_STEPS=300  # the study's base: at least 3 x its warm-up
A_SMALL=(); B_SMALL=(); STUDY_SMALL=()
if [ "${SMALL:-0}" = 1 ]; then  # the CPU study's smaller encoder, 2 methods, a few steps
    A_SMALL=(--batch_size 2 --micro_batch_size 2 --eval_windows 2); B_SMALL=(--batch_size 2 --micro_batch_size 2 --eval_windows 2)
    STUDY_SMALL=(--regions 1 --methods none linear --finetune-steps 2 --finetune-batch 1)
    B_CFG=configs/context-mlm-cpu.yaml; B_MIN_STEPS=40
    export HELDOUT=examples/bsubtilis_best7003_1-200000.fna.gz:examples/bsubtilis_best7003_1-200000.gff3.gz \
        SWEEP_REGIONS=ecoli_k12_mg1655:NC_000913.3:3720001-3770000
fi
B_WORK=runs/context-extension-gpu

# -- data (both jobs at once): phase 5's 4 kb windows; the study's 1 kb windows (each skipped where it exists, as
#    after a rehearsal here; build-dataset writes its folder whole or not at all)
[ -d datasets/bacteria3-4k ] || "${GF[@]}" build-dataset "${GENOMES[@]}" --window 4096 --stride 2048 --rc-augment \
    --out datasets/bacteria3-4k > "$LOGS/data_a.log" 2>&1 &
A_DATA=$!
[ -d $B_WORK/data-1024 ] || "${GF[@]}" build-dataset "${GENOMES[@]}" --window 1024 --stride 1024 --out $B_WORK/data-1024 \
    > "$LOGS/data_b.log" 2>&1 || { tail -5 "$LOGS/data_b.log"; exit 1; }
wait $A_DATA || { tail -5 "$LOGS/data_a.log"; exit 1; }

# -- probes: seconds per step from the 10th to the 30th step of a throwaway run of each config
probe() {  # name config extra-args...
    local name=$1 cfg=$2; shift 2
    rm -rf runs/probe-$name
    "$PY" train.py --config "$cfg" --run_dir runs/probe-$name --max_steps 1000 --stop_at_step 30 --log_every 10 \
        --eval_every 0 --checkpoint_every 1000 --progress_bar false --tensorboard false "$@" > "$LOGS/probe_$name.log" 2>&1
}
probe a $A_CFG "${A_SMALL[@]}" & PA=$!
probe b $B_CFG --dataset $B_WORK/data-1024 "${B_SMALL[@]}" & PB=$!
wait $PA; RA=$?; wait $PB; RB=$?
if [ $RA != 0 ] || [ $RB != 0 ]; then tail -25 "$LOGS"/probe_*.log; echo "probe failed (a=$RA b=$RB)"; exit 1; fi
rate() { "$PY" -c "
import json, sys
rows = [json.loads(l) for l in open('runs/probe-$1/metrics.jsonl') if '\"elapsed_s\"' in l]
t = {r['step']: r['elapsed_s'] for r in rows}
print(round((t[30] - t[10]) / 20, 4))"; }
SA=$(rate a); SB=$(rate b)
# A: its whole budget; B: the base gets what the study's other stages leave (230 s: an estimate, 8 fine-tunes
# of ~25 s each, mostly process start-up, and the scoring)
A_STEPS=$("$PY" -c "print(max(60, int(0.9 * $GPU_TRAIN_S / $SA)))")
B_STEPS=$("$PY" -c "print(max($B_MIN_STEPS, int(0.9 * ($STUDY_S - 230) / $SB)))")
echo "seconds per step: phase 5 $SA, study base $SB -> max_steps $A_STEPS and $B_STEPS"

# -- the two jobs, side by side
# (phase 5 then evaluates itself: scripts/evaluate_phase5.sh, the held-out annotations on the GPU)
("$PY" train.py --config $A_CFG --max_steps "$A_STEPS" --progress_bar false "${A_SMALL[@]}" > "$LOGS/phase5.log" 2>&1 \
    && PYTHON="$PY" THREADS=6 bash scripts/evaluate_phase5.sh runs/bacteria-gpu-unfrozen/checkpoint-"$A_STEPS" \
        runs/gpu-eval > "$LOGS/evaluate.log" 2>&1) &
JA=$!
timeout "$STUDY_S" "$PY" experiments/context_extension/study.py --config $B_CFG --work $B_WORK \
    --docs $B_WORK/docs --downstream-region none --regions 16 --finetune-steps 50 --finetune-batch 4 \
    --base-steps "$B_STEPS" --threads 4 "${STUDY_SMALL[@]}" > "$LOGS/study.log" 2>&1 &
JB=$!
wait $JA; RA=$?; wait $JB; RB=$?
echo "phase 5 exit $RA, study exit $RB; ${SECONDS} s since the call began"
tail -4 "$LOGS/phase5.log"; tail -16 "$LOGS/evaluate.log"; tail -12 "$LOGS/study.log"

# -- what comes back
"$PY" scripts/gpu_transfer.py pack "$OUT"
