"""Choose the start scorer's inputs and shape: one-hot DNA alone, or with Shine-Dalgarno tracks of which k-mer
lengths; a linear filter alone, or with motif detectors (a convolutional layer).

    .venv/bin/python benchmarks/sweeps/start_motif_sweep.py --threads 2 --out-md out/sweeps/start_site_motifs.md

The start scorer alone (no ORF decoding), leaving each training genome out: fit it as `genefinder fit-starts` does
(same context, L2 and train blocks) on the other genomes, then count the share of the left-out genome's reference
genes (all of them: the scorer never saw that genome) whose true start it ranks first among the start codons of its
ORF. A second column fits the scorer on the genome's own train blocks and scores its validation and test blocks:
roughly what a refit on the input (`self_training.refit_start_scorer`) can reach when it learns from right starts.
Which tracks the default model reads is chosen here; how much of it reaches gene F1 is measured with ORF decoding by
start_refit_sweep.py and on the held-out genome (docs/decisions/bacterial_decoder.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared sweep harness

import numpy as np  # noqa: E402
from validation_sweep import DATA, VALIDATION_REGIONS, parser, report, run  # noqa: E402

from genefinder.annotation.annotation import AnnotationSettings  # noqa: E402
from genefinder.datasets_scripts.build_dataset import GenomeSource  # noqa: E402
from genefinder.decoding.genetic_code import GeneticCode  # noqa: E402
from genefinder.prokaryotes.start_site_training import accuracy, genome_examples  # noqa: E402
from genefinder.prokaryotes.start_sites import StartExamples, StartSiteScorer, train_scorer  # noqa: E402

DEFAULT_GRID = ["none", "6", "4,5,6", "3,4,5,6", "3,4,5,6,7,8", "4,5,6:16", "4,5,6:32"]


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__, VALIDATION_REGIONS)
    p.add_argument("--context", type=int, nargs=2, default=(50, 20), metavar=("UPSTREAM", "DOWNSTREAM"))
    p.add_argument("--motifs", nargs="+", default=DEFAULT_GRID,
                   help="scorers to try, each TRACKS[:DETECTORS]: comma-separated k-mer lengths or 'none', and "
                        "optionally the number of motif detectors (9 nt wide)")
    args = p.parse_args(argv)
    return run("start_motif_sweep", args, lambda: sweep(args, argv))


def _shape(spec: str, context: tuple[int, int]) -> StartSiteScorer:
    """'4,5,6' -> a linear scorer reading tracks of 4, 5 and 6 nt; 'none' -> DNA alone; '4,5,6:32' -> with 32
    motif detectors."""
    motifs, _, detectors = spec.partition(":")
    try:
        lengths = () if motifs == "none" else tuple(int(k) for k in motifs.split(","))
        return StartSiteScorer(*context, lengths, int(detectors or 0))
    except ValueError as err:
        raise ValueError(f"--motifs: {spec!r} is not TRACKS[:DETECTORS] (comma-separated k-mer lengths or "
                         f"'none', then a number): {err}") from None


def sweep(args, argv: list[str] | None) -> int:
    genomes = [spec.split(":")[0] for spec in args.regions]
    code, min_length = GeneticCode(11), AnnotationSettings.min_cds_length
    rows, n_orfs = [], {}
    for motifs in args.motifs:
        shape = _shape(motifs, args.context)
        examples = {g: genome_examples(GenomeSource(str(DATA / g / "genome.fna.gz"),
                                                    str(DATA / g / "annotation.gff3.gz"), g), code, min_length, shape)
                    for g in genomes}
        left_out, own = [], []
        for g in genomes:
            whole = StartExamples.concat([ex for split in examples[g].values() for ex in split])
            scorer = shape.blank()
            train_scorer(scorer, StartExamples.concat([ex for h in genomes if h != g for ex in examples[h]["train"]]))
            left_out.append(accuracy(scorer, whole)[0])
            scorer = shape.blank()
            train_scorer(scorer, StartExamples.concat(examples[g]["train"]))
            own.append(accuracy(scorer, StartExamples.concat(examples[g]["validation"] + examples[g]["test"]))[0])
            n_orfs[g] = whole.n_orfs
        tracks, _, detectors = motifs.partition(":")
        rows.append(f"| {tracks} | {detectors or 'none'} | " + " | ".join(f"{a:.3f} / {b:.3f}" for a, b in zip(left_out, own))
                    + f" | {np.mean(left_out):.3f} | {np.mean(own):.3f} |")
        print(rows[-1], flush=True)
    body = ["Each cell: start accuracy of the scorer fitted on the other genomes (whole genome scored) / fitted on",
            "the genome's own train blocks (its validation and test blocks scored).", "",
            "| Shine-Dalgarno tracks (k) | motif detectors | " + " | ".join(genomes) + " | mean, left out | mean, own |",
            "|---|---" + "|---:" * (len(genomes) + 2) + "|", *rows, ""]
    data = (f"- Genomes: {', '.join(f'{g} ({n_orfs[g]:,} reference genes with an ATG/GTG/TTG start in their ORF)' for g in genomes)};"
            f" train/validation/test blocks as `build-dataset --split-by region` cuts them.")
    return report("sweeps/start_motif_sweep.py", "Start scorer inputs and shape: Shine-Dalgarno tracks, motif detectors",
                  args, argv, f"not used (the start scorer alone); context {args.context[0]} nt up / "
                  f"{args.context[1]} nt down, linear filter L2 0.001; detectors 9 nt wide, fitted as "
                  "`start_sites.fit_detectors` fits them (20 epochs of AdamW, weight decay 0.03).", [], body,
                  data_line=data)


if __name__ == "__main__":
    sys.exit(main())
