"""What the validation sweeps share (`frame_agreement_sweep.py`, `orf_decoding_sweep.py`): their common options,
one-line errors, and the markdown report's header (command, model, region, machine). Settings are chosen on a
training genome's validation block, never on the held-out genome."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path
from typing import Callable

import torch

from genefinder.evaluation.machine_info import cpu_model
from genefinder.formats.errors import GeneFinderInputError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


# validation blocks (build-dataset --split-by region's 80-90% of a record) of the three training genomes
ECOLI_VALIDATION = "ecoli_k12_mg1655:NC_000913.3:3720001-4020000"  # 300 kb of it
VALIDATION_REGIONS = [ECOLI_VALIDATION, "saureus_502a:Chromosome:2211760-2488229",
                      "ccrescentus_cb15:Chromosome:3213559-3615252"]


# the AnnotationSettings fields ORF decoding and its self-training read, for a report to say what it ran with
ORF_SETTINGS = ("min_cds_length", "length_prior", "upstream_prior", "start_weight", "start_evidence", "hexamer_weight",
                "gene_bias", "closed_ends", "edge_start_logit", "max_overlap", "max_convergent_overlap",
                "max_divergent_overlap", "self_training_rounds", "self_training_min_length", "min_self_training_nt",
                "refit_starts", "start_refit_l2", "start_refit_rounds")


def settings_line(settings, names: tuple[str, ...]) -> str:
    """`name value, ...` of `settings`' fields `names`: a report names the settings it ran with, so that it reads the
    same once the defaults move on."""
    return "settings " + ", ".join(f"{n} {getattr(settings, n)}" for n in names)


def parser(doc: str, regions: list[str]) -> argparse.ArgumentParser:
    """--model, --regions (default `regions`), --threads, --out-md; the script adds its own grid."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--model", default=str(ROOT / "default_model"))
    p.add_argument("--regions", nargs="+", default=regions,
                   help="GENOME:SEQID:START-END ..., GENOME a folder of ../shared/data")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out-md", type=Path)
    return p


def run(name: str, args, sweep: Callable[[], int]) -> int:
    """`sweep()` with torch's threads set; a bad region, model folder or setting is one line and status 2."""
    torch.set_num_threads(args.threads)
    try:
        return sweep()
    except (GeneFinderInputError, ValueError) as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return 2


def _seen(regions: list[str]) -> str:
    """Whether the model can have trained on `regions`: not if all are training genomes' validation blocks."""
    if all(r in VALIDATION_REGIONS for r in regions):
        return "validation blocks, never trained on"
    return "not all validation blocks: a model fitted on these genomes saw parts of them"


def report(script: str, title: str, args, argv: list[str] | None, model_line: str, n_ref: list[int],
           body: list[str], data_line: str | None = None) -> int:
    """Print the report (and write it to --out-md): title, the command that wrote it, model, regions (or
    `data_line` for a report on other data), machine, body."""
    command = f"python benchmarks/{script} " + " ".join(argv if argv is not None else sys.argv[1:])
    text = "\n".join([
        f"# {title}", "", f"Written by `{command}`; do not edit by hand.", "",
        f"- Model: `{os.path.relpath(args.model, ROOT)}`; {model_line}",
        data_line or f"- Regions: {', '.join(args.regions)} ({_seen(args.regions)}; "
        f"{', '.join(f'{n:,}' for n in n_ref)} reference genes wholly inside).",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, {platform.system()}, {args.threads} torch threads; "
        f"{datetime.date.today().isoformat()}.", "", *body, ""])
    if args.out_md:
        args.out_md.parent.mkdir(parents=True, exist_ok=True)
        args.out_md.write_text(text)
    print(text)
    return 0
