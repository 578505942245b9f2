"""Choose ORF decoding's `start_weight` and `gene_bias` on validation DNA, never on the held-out genome.

    .venv/bin/python benchmarks/orf_decoding_sweep.py --model default_model --out-md docs/orf_decoding_sweep.md

The model reads the region once (coding-frame head and start scorer, `GeneFinderAnnotator.coding_evidence`);
each setting then only re-solves the ORF selection, so the grid isolates the two weights. The default region is
E. coli's validation block, as for benchmarks/frame_agreement_sweep.py. The report also gives generation on the
same region with the model's default settings, for comparison.
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
    p.add_argument("--start-weights", nargs="+", type=float, default=[0, 8, 32, 64, 128, 256])
    p.add_argument("--gene-biases", nargs="+", type=float, default=[80, 120, 200, 300])
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
    rows = ["| start_weight | gene_bias | genes predicted | gene F1 | stop F1 | base F1 |", "|---:|---:|---:|---:|---:|---:|"]
    best = (-1.0, None, None)
    for weight, bias in itertools.product(args.start_weights, args.gene_biases):
        genes = decode_orfs(seq, *evidence, replace(base, start_weight=weight, gene_bias=bias), seqid=r.seqid)
        s = score_region(shift_genes(genes, r.start - 1), where)
        rows.append(f"| {weight:g} | {bias:g} | {_cells(s)}")
        print(rows[-1], flush=True)
        best = max(best, (s["gene"].f1 or 0, weight, bias), key=lambda b: b[0])
    rows += ["", f"Best gene F1: {best[0]:.3f} at start_weight {best[1]:g}, gene_bias {best[2]:g}.", ""]
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
