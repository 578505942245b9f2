"""Choose ORF decoding's weights on validation DNA of the training genomes, never on the held-out genome.

    .venv/bin/python benchmarks/sweeps/orf_decoding_sweep.py --model default_model --threads 2 \\
        --out-md out/sweeps/orf_decoding_sweep.md

The model reads each region once (coding-frame head and start scorer, `GeneFinderAnnotator.coding_evidence`); each
setting then only re-solves the ORF selection, so the grid isolates the weights. The input genome's own hexamer
statistics (self_training.py) are fitted as `genefinder annotate` fits them on its input: on the whole genome the
region lies in (no reference read; `--fit-on region`: on the region alone, as when annotating a few hundred kb),
with the default settings' first passes, per minimum gene length counted and number of self-training rounds (and per
hexamer weight from the second round on, whose pass uses it). Starts are read with the model's own start scorer: its
refit on the input (`refit_starts`) is chosen apart, leaving each genome out of the scorer's fit
(benchmarks/sweeps/start_refit_sweep.py), since here the scorer has seen these genomes. `head_weight` 0 is the
network-free decoder and `hexamer_weight` 0 the decoder without self-training: the best rows per pair show what the
coding-frame head and self-training each add. Settings are ranked by the mean gene F1 over the regions (default: the
validation blocks of E. coli, S. aureus and C. crescentus, GC 51%, 33%, 67%). The report also gives generation on
the first region, for comparison. What it chose: docs/decisions/bacterial_decoder.md.
"""

from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared sweep harness

import numpy as np  # noqa: E402
from validation_sweep import DATA, ORF_SETTINGS, VALIDATION_REGIONS, parser, report, run, settings_line  # noqa: E402

from genefinder.annotation.annotation import AnnotationSettings, GeneFinderAnnotator  # noqa: E402
from genefinder.annotation.region_annotation import GenomeRegion, annotate_region, score_region  # noqa: E402
from genefinder.commands.annotate_cli import load_model  # noqa: E402
from genefinder.decoding.orf_decoding import decode_orfs  # noqa: E402
from genefinder.formats.windows import shift_genes  # noqa: E402
from genefinder.prokaryotes.self_training import CodingStatistics  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__, VALIDATION_REGIONS)
    p.add_argument("--head-weights", nargs="+", type=float, default=[0, 0.1])
    p.add_argument("--length-priors", nargs="+", type=float, default=[0.2, 0.3])
    p.add_argument("--start-and-bias", nargs="+", default=["16:40", "32:40", "32:80"],
                   help="start_weight:gene_bias pairs (the bias must grow with the start weight)")
    p.add_argument("--hexamer-weights", nargs="+", type=float, default=[0, 1, 2])
    p.add_argument("--rounds", nargs="+", type=int, default=[1], help="self-training rounds to try")
    p.add_argument("--min-lengths", nargs="+", type=int, default=[0, 300, 500],
                   help="self_training_min_length values to try")
    p.add_argument("--fit-on", choices=("genome", "region"), default="genome",
                   help="fit the hexamer statistics on the region's whole genome (annotating a genome) or on the "
                        "region alone (annotating a few hundred kb)")
    p.add_argument("--skip-generation", action="store_true", help="leave out the generation line (slow)")
    args = p.parse_args(argv)
    return run("orf_decoding_sweep", args, lambda: sweep(args, argv))


@dataclass
class RegionEvidence:
    """What the grid reuses for one region: its sequence, the network's evidence and the genome's statistics."""

    where: GenomeRegion
    seq: str
    strands: tuple  # strands.record_strands of `seq`
    evidence: tuple
    hexamers: dict  # (hexamer_weight of the later rounds' passes, rounds, min length) -> CodingStatistics

    def score(self, settings: AnnotationSettings, hexamers: CodingStatistics | None) -> dict:
        r = self.where.region
        genes = decode_orfs(self.seq, *self.evidence, settings, seqid=r.seqid, hexamers=hexamers,
                            strands=self.strands)
        return score_region(shift_genes(genes, r.start - 1), self.where)


def _statistics_key(hexamer_weight: float, rounds: int, min_length: int) -> tuple:
    """Which fitted statistics a setting reads: the first round's pass does not use the hexamer weight."""
    return hexamer_weight if rounds > 1 else None, rounds, min_length


def read_region(spec: str, annotator: GeneFinderAnnotator, args) -> RegionEvidence:
    """The region's evidence (the network runs: `annotator` has a head weight) and the statistics of its genome
    (or of the region alone: `args.fit_on`), fitted with `annotator`'s other settings."""
    where = GenomeRegion.in_shared_data(DATA, spec)
    r, genome = where.region, where.genome
    seq = genome.fetch(r.seqid, r.start - 1, r.end)
    hexamers = {}
    for weight, k, shortest in itertools.product([w for w in args.hexamer_weights if w], args.rounds,
                                                 args.min_lengths):
        key = _statistics_key(weight, k, shortest)
        if key not in hexamers:
            fit = GeneFinderAnnotator(annotator.model, annotator.tok, annotator.inputs,
                                      replace(annotator.settings, hexamer_weight=weight, self_training_rounds=k,
                                              self_training_min_length=shortest, refit_starts=False))
            fit.self_train(where.sequences(args.fit_on))
            hexamers[key] = fit.hexamers
    strands = annotator.strands(seq)
    return RegionEvidence(where, seq, strands, annotator.coding_evidence(seq, strands=strands), hexamers)


def sweep(args, argv: list[str] | None) -> int:
    model, tok, inputs = load_model(args.model, "cpu")
    window, overlap = AnnotationSettings.window_for(model.config)
    base = AnnotationSettings(window=window, overlap=overlap, decoding="orf")
    annotator = GeneFinderAnnotator(model, tok, inputs, replace(base, head_weight=1.0))  # head weight 0 skips it
    t0 = time.perf_counter()
    regions = [read_region(spec, annotator, args) for spec in args.regions]
    read_s = time.perf_counter() - t0
    names = [spec.split(":")[0] for spec in args.regions]
    header = ["| head_weight | length_prior | start_weight | gene_bias | hexamer_weight | rounds | min length | "
              + " | ".join(f"{n} gene F1" for n in names) + " | mean gene F1 | mean stop F1 |",
              "|---:" * (9 + len(names)) + "|"]
    pairs = [tuple(float(x) for x in pair.split(":")) for pair in args.start_and_bias]
    trials = [(hw, k, m) for hw in args.hexamer_weights
              for k, m in (itertools.product(args.rounds, args.min_lengths) if hw else [(0, 0)])]
    rows, best = [], {}
    for head, prior, (weight, bias), (hw, k, m) in itertools.product(args.head_weights, args.length_priors, pairs,
                                                                     trials):
        settings = replace(base, head_weight=head, length_prior=prior, start_weight=weight, gene_bias=bias,
                           hexamer_weight=hw, self_training_rounds=max(k, 1), self_training_min_length=m)
        scores = [reg.score(settings, reg.hexamers.get(_statistics_key(hw, k, m))) for reg in regions]
        gene = [s["gene"].f1 or 0 for s in scores]
        stop = float(np.mean([s["stop"].f1 or 0 for s in scores]))
        rows.append(f"| {head:g} | {prior:g} | {weight:g} | {bias:g} | {hw:g} | {k} | {m} | "
                    + " | ".join(f"{g:.3f}" for g in gene) + f" | {np.mean(gene):.3f} | {stop:.3f} |")
        print(rows[-1], flush=True)
        group = (head, hw > 0)
        if np.mean(gene) > best.get(group, (-1.0,))[0]:
            best[group] = (float(np.mean(gene)), rows[-1])
    rows = ["Best mean gene F1 per head weight, without and with self-training (head_weight 0: without the "
            "network's coding-frame head; hexamer_weight 0: without the genome's own statistics):", "", *header,
            *[best[g][1] for g in sorted(best)], "", "Whole grid:", "", *header, *rows, ""]
    if not args.skip_generation:
        t0 = time.perf_counter()
        where = regions[0].where
        s = score_region(annotate_region(model, tok, inputs, where, replace(base, decoding="generate")), where)
        rows += [f"Generation on {args.regions[0]} (decoding=generate, default settings): {s['gene'].n_pred} genes, "
                 f"gene F1 {s['gene'].f1 or 0:.3f}, stop F1 {s['stop'].f1 or 0:.3f}, base F1 {s['base'].f1 or 0:.3f}; "
                 f"{time.perf_counter() - t0:.0f} s.", ""]
    return report("sweeps/orf_decoding_sweep.py", "Choosing ORF decoding's weights on validation DNA", args, argv,
                  f"windows of {window:,} nt, overlap {overlap:,}; reading the regions (encoder, coding-frame head, "
                  f"start scorer) and fitting the hexamer statistics (on each {args.fit_on}) took {read_s:.0f} s; "
                  f"where the grid does not set them, {settings_line(base, ORF_SETTINGS)}.",
                  [s["gene"].n_ref for s in scores], rows)


if __name__ == "__main__":
    sys.exit(main())
