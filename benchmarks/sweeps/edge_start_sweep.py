"""Choose `edge_start_logit` (how likely a gene that runs off a record's 5' end is) on training genomes cut into
contigs.

    .venv/bin/python benchmarks/sweeps/edge_start_sweep.py --values 0 2 4 6 8 12 16 \\
        --out-md out/sweeps/edge_start_sweep.md

Each genome (default: the three training genomes) is cut into contigs of `--contig-length` nt with its reference
genes cut to them (`draft_assembly.cut_genome`); `genefinder annotate` runs on the contigs at each value (all other
settings the defaults, the report lists them) and `genefinder evaluate` scores it, cut genes counted. The model's
start scorer saw these genomes' train blocks; the setting weighs a start that has no DNA to read, and the refit on
the input runs as on any input. Never run on the held-out genome. What it chose:
docs/decisions/bacterial_decoder.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared sweep harness

import numpy as np  # noqa: E402
from draft_assembly import cut_genome  # noqa: E402
from validation_sweep import DATA, ORF_SETTINGS, ROOT, settings_line  # noqa: E402

from genefinder.annotation.annotation import AnnotationSettings  # noqa: E402
from genefinder.evaluation.machine_info import cpu_model  # noqa: E402
from genefinder.formats.errors import GeneFinderInputError  # noqa: E402
from genefinder.formats.gff3 import write_gff3  # noqa: E402

GENOMES = ["ecoli_k12_mg1655", "saureus_502a", "ccrescentus_cb15"]
GENEFINDER = str(Path(sys.executable).with_name("genefinder"))


def score(contigs: Path, reference: Path, pred: Path, value: float, model: str) -> tuple[float, float]:
    """(gene F1, stop F1) of `genefinder annotate` at `value` on the contigs."""
    subprocess.run([GENEFINDER, "annotate", str(contigs), "-o", str(pred), "--model", model,
                    "--edge-start-logit", str(value)], check=True, stderr=subprocess.DEVNULL)
    out = subprocess.run([GENEFINDER, "evaluate", str(pred), str(reference), "--json"], check=True,
                         capture_output=True, text=True).stdout
    levels = json.loads(out)
    return levels["gene"]["f1"] or 0.0, levels["stop"]["f1"] or 0.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(ROOT / "default_model"))
    p.add_argument("--genomes", nargs="+", default=GENOMES, help="folders of ../shared/data")
    p.add_argument("--values", nargs="+", type=float, default=[0, 4, 8, 16], help="edge_start_logit values")
    p.add_argument("--contig-length", type=int, default=10_000)
    p.add_argument("--out-md", type=Path)
    args = p.parse_args(argv)
    try:
        return sweep(args, argv)
    except GeneFinderInputError as err:
        print(f"edge_start_sweep.py: error: {err}", file=sys.stderr)
        return 2


def sweep(args, argv: list[str] | None) -> int:
    if args.contig_length < 1:
        raise GeneFinderInputError("--contig-length must be >= 1")
    rows, counts = [], []
    with tempfile.TemporaryDirectory() as tmp:
        cut = []
        for g in args.genomes:
            fasta_text, genes, lengths = cut_genome(str(DATA / g / "genome.fna.gz"),
                                                    str(DATA / g / "annotation.gff3.gz"), args.contig_length,
                                                    AnnotationSettings.min_cds_length)
            contigs, reference = Path(tmp, f"{g}.fna"), Path(tmp, f"{g}.gff3")
            contigs.write_text(fasta_text)
            with open(reference, "w") as fh:
                write_gff3(fh, genes, lengths, eukaryote=False, source="reference")
            cut.append((contigs, reference))
            counts.append(f"{g} {len(lengths)} contigs, {len(genes):,} reference genes")
        for value in args.values:
            cells = [score(c, r, Path(tmp, "pred.gff3"), value, args.model) for c, r in cut]
            rows.append(f"| {value:g} | " + " | ".join(f"{gene:.3f} / {stop:.3f}" for gene, stop in cells)
                        + f" | {np.mean([c[0] for c in cells]):.3f} | {np.mean([c[1] for c in cells]):.3f} |")
            print(rows[-1], flush=True)
    base = replace(AnnotationSettings(), decoding="orf")
    command = "python benchmarks/sweeps/edge_start_sweep.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = "\n".join([
        "# A start beyond a record's 5' end: edge_start_logit on training genomes cut into contigs", "",
        f"Written by `{command}`; do not edit by hand.", "",
        f"- Model: `{os.path.relpath(args.model, ROOT)}`; "
        f"otherwise {settings_line(base, ORF_SETTINGS)}.",
        f"- Contigs of {args.contig_length:,} nt: {'; '.join(counts)} (genes cut by a contig's end included, trimmed to "
        "whole codons: `benchmarks/draft_assembly.py`).",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, {platform.system()}; "
        f"{datetime.date.today().isoformat()}; `genefinder annotate` then `genefinder evaluate` per cell.", "",
        "| edge_start_logit | " + " | ".join(f"{g} gene / stop F1" for g in args.genomes)
        + " | mean gene F1 | mean stop F1 |",
        "|---:" + "|---:" * (len(args.genomes) + 2) + "|", *rows, ""])
    if args.out_md:
        args.out_md.parent.mkdir(parents=True, exist_ok=True)
        args.out_md.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
