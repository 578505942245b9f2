"""Choose `min_frame_agreement` (generation's frame check) on validation DNA, never on the held-out genome: one
annotation per threshold of a region from a training genome's validation block, scored against its reference.

    .venv/bin/python benchmarks/sweeps/frame_agreement_sweep.py --model default_model \\
        --regions ecoli_k12_mg1655:NC_000913.3:3720001-4020000 --out-md out/sweeps/frame_agreement_sweep.md

The default region lies in E. coli's validation block (build-dataset's --split-by region: 80-90% of each record),
which the default model's training never used. Every threshold reruns the same windows, so the table isolates the
filter: generation is identical, only which generated genes are kept changes. What it chose:
docs/decisions/bacterial_decoder.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared sweep harness

from validation_sweep import DATA, ECOLI_VALIDATION, parser, report, run  # noqa: E402

from genefinder.annotation.annotation import AnnotationSettings  # noqa: E402
from genefinder.annotation.region_annotation import GenomeRegion, annotate_region, score_region  # noqa: E402
from genefinder.commands.annotate_cli import load_model  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__, [ECOLI_VALIDATION])
    p.add_argument("--thresholds", nargs="+", type=float, default=[0.0, 0.2, 0.3, 0.4, 0.5])
    p.add_argument("--max-new-tokens", type=int, default=128)
    args = p.parse_args(argv)
    if len(args.regions) != 1:
        p.error("give one region")
    return run("frame_agreement_sweep", args, lambda: sweep(args, argv))


def sweep(args, argv: list[str] | None) -> int:
    where = GenomeRegion.in_shared_data(DATA, args.regions[0])
    model, tok, inputs = load_model(args.model, "cpu")
    window, overlap = AnnotationSettings.window_for(model.config)
    rows = ["| min_frame_agreement | genes predicted | gene F1 | stop F1 | base F1 |", "|---:|---:|---:|---:|---:|"]
    for threshold in args.thresholds:
        t0 = time.perf_counter()
        settings = AnnotationSettings(window=window, overlap=overlap, max_new_tokens=args.max_new_tokens,
                                      min_frame_agreement=threshold, decoding="generate")
        s = score_region(annotate_region(model, tok, inputs, where, settings), where)
        rows.append(f"| {threshold:.2f} | {s['gene'].n_pred} | {s['gene'].f1 or 0:.3f} | {s['stop'].f1 or 0:.3f} | "
                    f"{s['base'].f1 or 0:.3f} |")
        print(rows[-1], f"{time.perf_counter() - t0:.0f} s", flush=True)
    return report("sweeps/frame_agreement_sweep.py", "Choosing min_frame_agreement on validation DNA", args, argv,
                  f"generation, windows of {window:,} nt (its trained window), max {args.max_new_tokens} new tokens.",
                  [s["gene"].n_ref], rows)


if __name__ == "__main__":
    sys.exit(main())
