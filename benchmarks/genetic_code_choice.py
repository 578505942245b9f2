"""What `--genetic-code auto` chooses on every bacterial genome of ../shared/data, and by what margin.

    .venv/bin/python benchmarks/genetic_code_choice.py --out-md docs/genetic_code_choice.md

For each whole genome: the gene score per kb of network-free ORF decoding self-trained under table 11 and under
table 4 (`genetic_code_choice.gene_score_per_kb`), their ratio, the table chosen (4 when the ratio is at least
AUTO_MARGIN) and the table its annotation uses (SOURCES.md of ../shared/data).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

from validation_sweep import DATA, ORF_SETTINGS, parser, report, run, settings_line

from genefinder.annotate_cli import LOW_DENSITY, load_model
from genefinder.annotation import AnnotationSettings
from genefinder.fasta import FastaFile
from genefinder.genetic_code_choice import AUTO_MARGIN, coding_share, gene_score_per_kb, self_trained_genes, table_for

GENOMES = {"ecoli_k12_mg1655": 11, "saureus_502a": 11, "ccrescentus_cb15": 11, "bsubtilis_best7003": 11,
           "mgenitalium_g37": 4}  # bacterial genomes of ../shared/data and the table their annotation uses


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
            f"{LOW_DENSITY} under table 11).", "", *rows]
    return report("genetic_code_choice.py", "--genetic-code auto on the shared bacterial genomes", args, argv,
                  f"{settings_line(base, ORF_SETTINGS)} (the start refit off while choosing).", [], body,
                  data_line=f"- Genomes: {', '.join(GENOMES)} (whole, every record).")


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__, []).parse_args(argv)
    return run("genetic_code_choice", args, lambda: sweep(args, argv))


if __name__ == "__main__":
    sys.exit(main())
