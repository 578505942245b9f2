"""Choose `min_frame_agreement` on validation DNA, never on the held-out genome: one annotation per threshold of a
region from a training genome's validation block, scored against its reference.

    .venv/bin/python benchmarks/frame_agreement_sweep.py --model default_model \\
        --region ecoli_k12_mg1655:NC_000913.3:3720001-4020000 --out-md docs/frame_agreement_sweep.md

The default region lies in E. coli's validation block (build-dataset's --split-by region: 80-90% of each record),
which the default model's training never used. Every threshold reruns the same windows, so the table isolates
the filter: generation is identical, only which generated genes are kept changes.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import torch

from genefinder.annotate_cli import load_model
from genefinder.annotation import AnnotationSettings
from genefinder.errors import GeneFinderInputError
from genefinder.machine_info import cpu_model
from genefinder.region_annotation import GenomeRegion, annotate_region, score_region

ROOT = Path(__file__).resolve().parents[1]

DATA = ROOT.parent / "shared" / "data"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(ROOT / "default_model"))
    p.add_argument("--region", default="ecoli_k12_mg1655:NC_000913.3:3720001-4020000",
                   help="GENOME:SEQID:START-END, GENOME a folder of ../shared/data")
    p.add_argument("--thresholds", nargs="+", type=float, default=[0.0, 0.2, 0.3, 0.4, 0.5])
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out-md", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        return sweep(args, argv)
    except (GeneFinderInputError, ValueError) as err:  # a bad region, model folder or threshold: one line
        print(f"frame_agreement_sweep: error: {err}", file=sys.stderr)
        return 2


def sweep(args, argv: list[str] | None) -> int:
    where = GenomeRegion.in_shared_data(DATA, args.region)
    model, tok, inputs = load_model(args.model, "cpu")
    window, overlap = AnnotationSettings.window_for(model.config)
    rows = ["| min_frame_agreement | genes predicted | gene F1 | stop F1 | base F1 |", "|---:|---:|---:|---:|---:|"]
    for threshold in args.thresholds:
        t0 = time.perf_counter()
        settings = AnnotationSettings(window=window, overlap=overlap, max_new_tokens=args.max_new_tokens,
                                      min_frame_agreement=threshold)
        s = score_region(annotate_region(model, tok, inputs, where, settings), where)
        rows.append(f"| {threshold:.2f} | {s['gene'].n_pred} | {s['gene'].f1 or 0:.3f} | {s['stop'].f1 or 0:.3f} | "
                    f"{s['base'].f1 or 0:.3f} |")
        print(rows[-1], f"{time.perf_counter() - t0:.0f} s", flush=True)
    command = "python benchmarks/frame_agreement_sweep.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = "\n".join([
        "# Choosing min_frame_agreement on validation DNA", "",
        f"Written by `{command}`; do not edit by hand.", "",
        f"- Model: `{os.path.relpath(args.model, ROOT)}`; windows of {window:,} nt (its trained window), "
        f"max {args.max_new_tokens} new tokens.",
        f"- Region: {args.region} (validation block, never trained on; {s['gene'].n_ref} reference genes "
        "wholly inside).",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, {platform.system()}, {args.threads} torch threads; "
        f"{datetime.date.today().isoformat()}.", "", *rows, ""])
    if args.out_md:
        args.out_md.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
