"""Choose ORF decoding's four weights on validation DNA, never on the held-out genome.

    .venv/bin/python benchmarks/orf_decoding_sweep.py --model default_model --out-md docs/orf_decoding_sweep.md

The model reads the region once (coding-frame head and start scorer, `GeneFinderAnnotator.coding_evidence`);
each setting then only re-solves the ORF selection, so the grid isolates the weights. `head_weight` 0 is the
network-free baseline (ORF structure, a length prior and the start scorer): the best row per head weight shows what
the coding-frame head adds. The default region is E. coli's validation block, as for
benchmarks/frame_agreement_sweep.py. The report also gives generation on the same region, for comparison.
"""

from __future__ import annotations

import itertools
import sys
import time
from dataclasses import replace

from validation_sweep import DATA, parser, report, run

from genefinder.annotate_cli import load_model
from genefinder.annotation import AnnotationSettings, GeneFinderAnnotator
from genefinder.orf_decoding import decode_orfs
from genefinder.region_annotation import GenomeRegion, annotate_region, score_region
from genefinder.windows import shift_genes


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--head-weights", nargs="+", type=float, default=[0, 0.1, 0.25, 0.5, 1])
    p.add_argument("--length-priors", nargs="+", type=float, default=[0, 0.05, 0.1, 0.2, 0.3])
    p.add_argument("--start-and-bias", nargs="+", default=["4:20", "16:40", "32:80", "64:120", "128:200", "128:300",
                                                           "256:300"],
                   help="start_weight:gene_bias pairs (the bias must grow with the start weight)")
    p.add_argument("--skip-generation", action="store_true", help="leave out the generation line (slow)")
    args = p.parse_args(argv)
    return run("orf_decoding_sweep", args, lambda: sweep(args, argv))


def _cells(s) -> str:
    return f"{s['gene'].n_pred} | {s['gene'].f1 or 0:.3f} | {s['stop'].f1 or 0:.3f} | {s['base'].f1 or 0:.3f} |"


def sweep(args, argv: list[str] | None) -> int:
    where = GenomeRegion.in_shared_data(DATA, args.region)
    model, tok, inputs = load_model(args.model, "cpu")
    window, overlap = AnnotationSettings.window_for(model.config)
    base = AnnotationSettings(window=window, overlap=overlap, decoding="orf")
    r = where.region
    seq = where.genome.fetch(r.seqid, r.start - 1, r.end)
    t0 = time.perf_counter()
    evidence = GeneFinderAnnotator(model, tok, inputs, base).coding_evidence(seq)
    read_s = time.perf_counter() - t0
    header = ["| head_weight | length_prior | start_weight | gene_bias | genes predicted | gene F1 | stop F1 | base F1 |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows, best = [], {}
    pairs = [tuple(float(x) for x in pair.split(":")) for pair in args.start_and_bias]
    for head, prior, (weight, bias) in itertools.product(args.head_weights, args.length_priors, pairs):
        settings = replace(base, head_weight=head, length_prior=prior, start_weight=weight, gene_bias=bias)
        s = score_region(shift_genes(decode_orfs(seq, *evidence, settings, seqid=r.seqid), r.start - 1), where)
        rows.append(f"| {head:g} | {prior:g} | {weight:g} | {bias:g} | {_cells(s)}")
        print(rows[-1], flush=True)
        if (s["gene"].f1 or 0) > best.get(head, (-1.0,))[0]:
            best[head] = (s["gene"].f1 or 0, rows[-1])
    rows = ["Best gene F1 per head weight (0 = without the network's coding-frame head):", "", *header,
            *[row for _, row in best.values()], "", "Whole grid:", "", *header, *rows, ""]
    if not args.skip_generation:
        t0 = time.perf_counter()
        s = score_region(annotate_region(model, tok, inputs, where, replace(base, decoding="generate")), where)
        rows += [f"Generation on the same region (decoding=generate, default settings): {s['gene'].n_pred} genes, "
                 f"gene F1 {s['gene'].f1 or 0:.3f}, stop F1 {s['stop'].f1 or 0:.3f}, base F1 {s['base'].f1 or 0:.3f}; "
                 f"{time.perf_counter() - t0:.0f} s.", ""]
    return report("orf_decoding_sweep.py", "Choosing ORF decoding's weights on validation DNA", args, argv,
                  f"windows of {window:,} nt, overlap {overlap:,}; reading the region (encoder, coding-frame head, "
                  f"start scorer) took {read_s:.0f} s.", s["gene"].n_ref, rows)


if __name__ == "__main__":
    sys.exit(main())
