"""Tune a gene-structure model's decoding penalties on validation DNA and write them into its config.json.

The network's log-probabilities are computed once per record; coordinate ascent then re-decodes the whole region
with one penalty changed at a time (`decode_gene_structure` runs at several Mb/s) and keeps the change that raises
exon F1 + gene F1 (`genefinder evaluate`'s levels). The penalties travel with the model (config.json `decoding`),
so `genefinder annotate --eukaryote` and the pipeline decode as tuned. Never give it a test region.

    .venv/bin/python benchmarks/tune_gene_structure_decoding.py --model default_model_eukaryote \\
        --fasta ../shared/data/athaliana_chr1/genome.fna.gz --gff ../shared/data/athaliana_chr1/annotation.gff3.gz \\
        --region NC_003070.9:22000001-25000000 --write
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

from genefinder.annotation.gene_structure_annotation import decoding_params
from genefinder.commands.annotate_eukaryote import load_gene_structure_model
from genefinder.datasets_scripts.slice_genome import parse_region, slice_genome
from genefinder.decoding.gene_structure_viterbi import decode_gene_structure
from genefinder.evaluation.evaluation import evaluate
from genefinder.formats.fasta import FastaFile
from genefinder.formats.gff3 import read_gff3

# penalty -> values tried (log-space, <= 0); lengths stay at their defaults (set from the training genes)
GRID = {
    "gene_start": (-2.0, -4.0, -6.0, -8.0, -10.0, -13.0, -16.0, -20.0, -25.0, -30.0),
    "exon_to_intron": (-0.5, -1.0, -2.0, -3.0, -4.5, -6.0, -8.0),
    "intron_to_exon": (-0.5, -1.0, -2.0, -3.0, -4.5, -6.0, -8.0),
    "gc_donor": (-1.0, -2.0, -3.0, -4.5, -6.0),
    "splice_weight": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0),  # used where the model has splice-site scorers
}


def objective(scores) -> float:
    return (scores["exon"].f1 or 0.0) + (scores["gene"].f1 or 0.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, type=Path, help="gene-structure model folder")
    p.add_argument("--fasta", required=True, help="genome FASTA holding the validation region")
    p.add_argument("--gff", required=True, help="its reference GFF3")
    p.add_argument("--region", required=True, help="SEQID:START-END of validation DNA (never a test region)")
    p.add_argument("--rounds", type=int, default=2, help="passes over the penalties")
    p.add_argument("--write", action="store_true", help="write the best penalties into MODEL/config.json")
    args = p.parse_args(argv)
    model = load_gene_structure_model(args.model, "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        fasta, gff, _ = slice_genome(args.fasta, args.gff, *parse_region(args.region), f"{tmp}/validation")
        fa = FastaFile(str(fasta))
        reference, _ = read_gff3(gff)
        t0 = time.perf_counter()
        records = [(n, fa.fetch(n, 0, fa.length(n))) for n in fa.names]
        scorers = model.splice_sites
        evidence = [(n, dna, model.predict_log_probs(dna), None if scorers is None else scorers.decoder_bonus(dna))
                    for n, dna in records]
    print(f"network: {sum(len(d) for _, d in records):,} nt in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    def score(params):
        predicted = [g for n, dna, lp, sites in evidence for g in decode_gene_structure(
            dna, lp, params, seqid=n, splice=None if sites is None else params.splice_weight * sites)]
        return evaluate(predicted, reference)

    best = decoding_params(model)
    best_scores = score(best)
    start = {level: best_scores[level].f1 for level in ("base", "exon", "gene")}
    for round_no in range(args.rounds):
        for name, values in GRID.items():
            if name == "splice_weight" and scorers is None:
                continue
            for value in values:
                trial = replace(best, **{name: value})
                scores = score(trial)
                if objective(scores) > objective(best_scores):
                    best, best_scores = trial, scores
            print(f"round {round_no + 1} {name}={getattr(best, name):g}: exon F1 {best_scores['exon'].f1:.4f} "
                  f"gene F1 {best_scores['gene'].f1:.4f}", file=sys.stderr)
    tuned = {k: v for k, v in asdict(best).items() if k in GRID and (k != "splice_weight" or scorers is not None)}
    print(json.dumps({"start": start, "tuned": {level: best_scores[level].f1 for level in ("base", "exon", "gene")},
                      "decoding": tuned}, indent=1))
    if args.write:
        config_path = args.model / "config.json"
        config = json.loads(config_path.read_text())
        config["decoding"] = {**config.get("decoding", {}), **tuned}
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
