#!/usr/bin/env bash
# genefinder beside Prodigal on every genome the model never saw, then one summary with a paired bootstrap each:
#   bash scripts/heldout_genomes.sh          (~25 min on 2 cores, most of it Augustus on the Debian genomes)
# 1. the seven genomes Debian ships as test data (benchmarks/debian_genomes.py: a spirochaete, two
#    alphaproteobacteria, four archaea), each run through benchmarks/baselines.py (Prodigal, pyrodigal, Augustus,
#    genefinder) into docs/results/heldout_debian_genomes.md, every tool's GFF3 kept in out/NAME/baselines/;
# 2. the two held-out genomes of ../shared/data, annotated by genefinder and Prodigal as the README's commands do
#    (their full tables: docs/results/heldout_bsubtilis.md, docs/results/heldout_mgenitalium.md; M. genitalium
#    reads table 4);
# 3. benchmarks/heldout_summary.py over all nine (docs/results/heldout_summary.md) and over the five bacteria
#    (docs/results/heldout_summary_bacteria.md).
# SUMMARY_ONLY=1 skips 1 and 2 and summarises the predictions an earlier run kept.
# Needs Debian's prodigal and augustus (apt-get install -y prodigal augustus) and the `baselines` extra
# (pip install -e ".[baselines]": pyrodigal, biopython).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
GF=${GENEFINDER:-.venv/bin/genefinder}
D=${GENEFINDER_SHARED_DATA:-../shared/data}
DEBIAN_BACTERIA="lkirschneri_h1 rdenitrificans_och114 bjaponicum_usda110"
DEBIAN_ARCHAEA="mmaripaludis_s2 macetivorans_c2a tkodakaraensis_kod1 mthermautotrophicus_deltah"
DEBIAN="$DEBIAN_BACTERIA $DEBIAN_ARCHAEA"

if [ "${SUMMARY_ONLY:-0}" != 1 ]; then
  "$PY" benchmarks/debian_genomes.py $DEBIAN
  i=0; n=$(echo $DEBIAN | wc -w)
  for g in $DEBIAN; do
    i=$((i + 1)); echo "heldout_genomes.sh: [$i/$n] $g: baselines.py (Augustus takes most of it)" >&2
    "$PY" benchmarks/baselines.py --fasta out/$g/genome.fna.gz --gff out/$g/annotation.gff3.gz --organism-type bacteria \
      --augustus-species E_coli_K12 --genetic-code 11 --name ${g}_heldout \
      --genefinder-cmd "$GF annotate {fasta} -o {out}" --keep out/$g/baselines \
      --out-md docs/results/heldout_debian_genomes.md
  done

  shared() {  # NAME GENOME_DIR TABLE: genefinder and Prodigal on a genome of ../shared/data, into out/NAME/
    mkdir -p out/$1
    "$GF" annotate "$D/$2/genome.fna.gz" -o out/$1/genefinder.gff3 --genetic-code $3
    zcat "$D/$2/genome.fna.gz" > out/$1/genome.fa
    prodigal -i out/$1/genome.fa -p single -g $3 -f gff -o out/$1/prodigal.gff -q
  }
  echo "heldout_genomes.sh: B. subtilis and M. genitalium: genefinder and Prodigal" >&2
  shared heldout bsubtilis_best7003 11
  shared mgenitalium mgenitalium_g37 4
fi

bacteria=(--genome bsubtilis_best7003 "$D/bsubtilis_best7003/annotation.gff3.gz" out/heldout/genefinder.gff3 out/heldout/prodigal.gff
          --genome mgenitalium_g37_table4 "$D/mgenitalium_g37/annotation.gff3.gz" out/mgenitalium/genefinder.gff3 out/mgenitalium/prodigal.gff)
row() { echo --genome $1 out/$1/annotation.gff3.gz out/$1/baselines/genefinder.gff3 out/$1/baselines/prodigal.gff3; }
for g in $DEBIAN_BACTERIA; do bacteria+=($(row $g)); done
archaea=()
for g in $DEBIAN_ARCHAEA; do archaea+=($(row $g)); done
"$PY" benchmarks/heldout_summary.py --names genefinder Prodigal "${bacteria[@]}" "${archaea[@]}" --out-md docs/results/heldout_summary.md
"$PY" benchmarks/heldout_summary.py --names genefinder Prodigal "${bacteria[@]}" --out-md docs/results/heldout_summary_bacteria.md
