"""What `--genetic-code auto` chooses on every bacterial genome of ../shared/data, and by what margin.

    .venv/bin/python benchmarks/genetic_code_choice.py --out-md docs/results/genetic_code_choice.md

For each whole genome: the gene score per kb of network-free ORF decoding self-trained under table 11 and under
table 4 (`genetic_code_choice.gene_score_per_kb`), their ratio, the table chosen (4 when the ratio is at least
AUTO_MARGIN) and the table its annotation uses (SOURCES.md of ../shared/data). Then, with `--slice-sizes`, the
share in genes of slices of each table-11 genome's longest record, each slice decoded alone under table 11 as
`annotate` decodes an input of that size: `annotate` warns below LOW_DENSITY only on inputs of at least
MIN_DENSITY_NT, and the table shows how close the training genomes' slices (E. coli, S. aureus, C. crescentus) come
to the share at each size.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

from validation_sweep import DATA, ORF_SETTINGS, parser, report, run, settings_line

import numpy as np

from genefinder.annotation.annotation import AnnotationSettings
from genefinder.commands.annotate_cli import LOW_DENSITY, MIN_DENSITY_NT, load_model
from genefinder.formats.fasta import FastaFile
from genefinder.prokaryotes.genetic_code_choice import (AUTO_MARGIN, coding_share, gene_score_per_kb,
                                                        self_trained_genes, table_for)

GENOMES = {"ecoli_k12_mg1655": 11, "saureus_502a": 11, "ccrescentus_cb15": 11, "bsubtilis_best7003": 11,
           "mgenitalium_g37": 4}  # bacterial genomes of ../shared/data and the table their annotation uses
TRAINING = ("ecoli_k12_mg1655", "saureus_502a", "ccrescentus_cb15")


def slice_shares(model, settings: AnnotationSettings, sizes: list[int]) -> tuple[list[str], dict[int, float]]:
    """(rows: per table-11 genome and slice size, the share in genes of its longest record's consecutive slices;
    the lowest share of a training genome's slice per size)."""
    lowest, rows = {}, ["| genome | slice nt | slices | lowest share in genes | median | below "
                        f"{LOW_DENSITY} |", "|---|---:|---:|---:|---:|---:|"]
    for genome in (g for g, table in GENOMES.items() if table == 11):
        fa = FastaFile(str(DATA / genome / "genome.fna.gz"))
        name = max(fa.names, key=fa.length)
        for size in (n for n in sizes if n <= fa.length(name)):
            shares = [coding_share(*self_trained_genes(model, settings, lambda a=a: [fa.fetch(name, a, a + size)]))
                      for a in range(0, fa.length(name) - size + 1, size)]
            if genome in TRAINING:
                lowest[size] = min(lowest.get(size, 1.0), min(shares))
            mark = "" if genome in TRAINING else " (held out)"
            rows.append(f"| {genome}{mark} | {size:,} | {len(shares)} | {min(shares):.3f} | {np.median(shares):.3f} | "
                        f"{sum(x < LOW_DENSITY for x in shares)} |")
            print(rows[-1], flush=True)
    return rows, lowest


def sweep(args, argv: list[str] | None) -> int:
    model, _, _ = load_model(args.model, "cpu", network_free=True)
    base = AnnotationSettings(*AnnotationSettings.window_for(model.config), decoding="orf")
    rows = ["| genome | annotated table | score per kb, table 11 | table 4 | ratio 4 / 11 | chosen | seconds | "
            "in genes, table 11 | table 4 |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for genome, table in GENOMES.items():
        fa = FastaFile(str(DATA / genome / "genome.fna.gz"))
        records = lambda: (fa.fetch(n, 0, fa.length(n)) for n in fa.names)  # noqa: E731
        t0 = time.perf_counter()  # both self-trainings, as choose_genetic_code runs them
        called = {code: self_trained_genes(model, replace(base, genetic_code=code), records) for code in (11, 4)}
        seconds = time.perf_counter() - t0
        scores = {code: gene_score_per_kb(*c) for code, c in called.items()}
        share = {code: coding_share(*c) for code, c in called.items()}
        chosen = table_for(scores)
        mark = "" if chosen == table else " (wrong)"
        rows.append(f"| {genome} | {table} | {scores[11]:.1f} | {scores[4]:.1f} | {scores[4] / scores[11]:.2f} | "
                    f"{chosen}{mark} | {seconds:.1f} | {share[11]:.3f} | {share[4]:.3f} |")
        print(rows[-1], flush=True)
    body = [f"Table 4 is chosen when its ratio is at least {AUTO_MARGIN}. Seconds: both self-trainings, in-process. "
            "In genes: the share of the genome the same decoding calls genes (`annotate` warns below "
            f"{LOW_DENSITY} under table 11, on inputs of at least {MIN_DENSITY_NT:,} nt).", "", *rows]
    if args.slice_sizes:
        slice_rows, lowest = slice_shares(model, replace(base, genetic_code=11), args.slice_sizes)
        body += ["", "Slices of the table-11 genomes (the longest record), each decoded alone under table 11. "
                 f"`annotate`'s warning needs an input of at least {MIN_DENSITY_NT:,} nt. The lowest share of a "
                 "training genome's slice, per size: " + ", ".join(f"{n:,} nt {x:.3f}" for n, x in lowest.items())
                 + ". Disclosure: the 500 kb size was chosen after the bundled example, the held-out genome's first "
                 "200 kb (rich in rRNA operons), was warned at 100 kb; it leaves a margin above the share on the "
                 "training genomes' slices. M. genitalium (580 kb) is still warned.", "",
                 *slice_rows]
    return report("genetic_code_choice.py", "--genetic-code auto on the shared bacterial genomes", args, argv,
                  f"{settings_line(base, ORF_SETTINGS)} (the start refit off while choosing).", [], body,
                  data_line=f"- Genomes: {', '.join(GENOMES)} (whole, every record).")


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__, [])
    p.add_argument("--slice-sizes", nargs="*", type=int, default=[100_000, 200_000, 500_000],
                   help="slice sizes (nt) for the share in genes of slices; none: leave that table out")
    args = p.parse_args(argv)
    if any(n < 1 for n in args.slice_sizes):
        p.error("--slice-sizes must be positive numbers of nt")
    return run("genetic_code_choice", args, lambda: sweep(args, argv))


if __name__ == "__main__":
    sys.exit(main())
