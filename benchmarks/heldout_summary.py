"""Two gene finders over every held-out genome at once: each genome's gene and stop F1, and the paired bootstrap.

    .venv/bin/python benchmarks/heldout_summary.py --names genefinder Prodigal \
        --genome bsubtilis_best7003 REF.gff3 A.gff3 B.gff3 --genome ... --out-md docs/results/heldout_summary.md

One held-out genome says little about a 0.002 difference (`paired_bootstrap.py`); several from different phyla
say more. For each `--genome NAME REF A B` (predictions A and B of the genome REF annotates, each read as
`genefinder evaluate` reads it) this scores both as `paired_bootstrap.paired_bootstrap` does, and adds a row for
all genomes pooled: their genes together, each genome's records kept apart, so the pooled F1 weighs a genome by
its genes and the bootstrap resamples every genome's blocks together. A genome's row says what it is; the
verdict column reads the 95% interval: "above" or "below" when it excludes 0, "level" when it holds it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from paired_bootstrap import (LEVELS, Difference, paired_bootstrap, parse_with_bootstrap_options, publish,
                              read_predictions)

from genefinder.evaluation.evaluation import coding_genes
from genefinder.formats.errors import GeneFinderInputError


def verdict(d: Difference) -> str:
    return "above" if d.low > 0 else "below" if d.high < 0 else "level"


def report(rows: list[tuple[str, int, list[Difference]]], names: tuple[str, str], command: str, block: int,
           samples: int) -> str:
    a, b = names
    head = " | ".join(f"{level}: {a} / {b} F1, {a} - {b} (95% interval), verdict" for level in LEVELS)
    lines = [f"# {a} vs {b} on every held-out genome", "",
             f"Written by `{command}` (the script's docstring says what it does); blocks of {block:,} nt, "
             f"{samples:,} samples.", "",
             f"| genome | reference genes | {head} |", "|---|---:|" + "---|" * len(LEVELS)]
    for name, n_ref, diffs in rows:
        cells = [f"{d.f1_a:.4f} / {d.f1_b:.4f}, {d.difference:+.4f} ({d.low:+.4f} .. {d.high:+.4f}), "
                 f"**{verdict(d)}**" for d in diffs]
        lines.append(f"| {name} | {n_ref:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--genome", nargs=4, action="append", required=True, metavar=("NAME", "REF", "A", "B"),
                    help="a held-out genome: its name, reference GFF3 and the two predictions (repeat per genome)")
    args = parse_with_bootstrap_options(ap, argv)
    if len({name for name, *_ in args.genome}) < len(args.genome):
        ap.error("each --genome needs its own NAME")
    rows, pooled = [], ([], [], [])
    for name, ref_path, a_path, b_path in args.genome:
        try:
            ref, a, b = read_predictions(ref_path, a_path, b_path, tuple(f"{name}: {who}" for who in args.names),
                                         "heldout_summary.py")
        except GeneFinderInputError as err:
            print(f"heldout_summary.py: error: {name}: {err}", file=sys.stderr)
            return 2
        rows.append((name, len(coding_genes(ref)), paired_bootstrap(ref, a, b, args.block, args.samples, args.seed)))
        for into, genes in zip(pooled, (ref, a, b)):  # a genome's records stay its own in the pool
            into.extend(replace(g, seqid=f"{name}/{g.seqid}") for g in genes)
    if len(rows) > 1:
        rows.append((f"all {len(rows)} pooled", len(coding_genes(pooled[0])),
                     paired_bootstrap(*pooled, args.block, args.samples, args.seed)))
    command = " ".join(["benchmarks/heldout_summary.py", *(argv if argv is not None else sys.argv[1:])])
    publish(report(rows, tuple(args.names), command, args.block, args.samples), args.out_md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
