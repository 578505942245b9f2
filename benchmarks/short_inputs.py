"""Inputs too short to self-train on (a plasmid, a phage, one metagenome contig): each slice of a genome annotated
alone, self-trained or reading the pre-trained coding library (coding_library.py).

    .venv/bin/python benchmarks/short_inputs.py --out-md docs/results/short_inputs.md

1. **Choosing `min_self_training_nt`, leaving each training genome out.** For each training genome and each
   `--sizes` length, slices spread evenly over the genome, `--nt-per-size` of them in all (as many genes at every
   size) (its `draft_assembly.contigs` of that length,
   reference genes cut to them and trimmed to whole codons, partial ones counted) are annotated one at a time, the
   slice being the whole input: self-trained (`min_self_training_nt` 0) and with the library of the other training
   genomes. The start scorer is fitted without the genome (`sweeps/start_refit_sweep.scorer_without`), so neither arm
   has seen it. The threshold is the smallest size from which self-training is at least as good (mean gene F1) at
   that size and every larger one.
2. **Held out.** Slices of `--heldout` the same way, with the shipped model (its library and scorer saw only the
   training genomes): genefinder's default, self-trained at any size, reading the library at any size, and
   pyrodigal (the Prodigal algorithm in-process) in metagenomic mode, and in single mode from 20 kb (Prodigal's
   floor for training on the input). Seconds are the whole set of slices, in-process, one after another.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

import numpy as np
from draft_assembly import contigs
from sweeps.start_refit_sweep import scorer_without
from validation_sweep import DATA, ORF_SETTINGS, parser, report, run, settings_line

from genefinder.annotation.annotation import AnnotationSettings, GeneFinderAnnotator
from genefinder.commands.annotate_cli import load_model
from genefinder.evaluation.evaluation import evaluate
from genefinder.formats.errors import GeneFinderInputError
from genefinder.formats.features import CDSPart, Gene, Transcript

TRAINING = ["ecoli_k12_mg1655", "saureus_502a", "ccrescentus_cb15"]
ALWAYS_SELF, NEVER_SELF = 0, 10**15  # min_self_training_nt: self-train at any size / read the library at any size


def slices(genome: str, size: int, total: int) -> list[tuple[str, str, list[Gene]]]:
    """Slices of `size` nt, `total` nt of them in all (at least one), evenly spread over the genome's full-length
    contigs of that size."""
    folder = DATA / genome
    full = [c for c in contigs(str(folder / "genome.fna.gz"), str(folder / "annotation.gff3.gz"), size, 60)
            if len(c[1]) == size]
    if not full:
        raise GeneFinderInputError(f"no record of {genome} is {size:,} nt long")
    n = min(max(1, round(total / size)), len(full))
    return [full[i] for i in np.linspace(0, len(full) - 1, n).round().astype(int)]


def genefinder_alone(model, settings: AnnotationSettings, cut: list[tuple[str, str, list[Gene]]]) -> list[Gene]:
    """Every slice annotated as an input of its own: its own annotator, self-training on the slice alone."""
    genes = []
    for name, seq, _ in cut:
        annotator = GeneFinderAnnotator(model, None, None, settings)
        annotator.self_train(lambda: [seq])
        prediction, = annotator.annotate_record(name, len(seq), lambda a, b: seq[a:b])
        genes += [replace(g, seqid=name) for g in prediction.genes]
    return genes


def pyrodigal_alone(cut: list[tuple[str, str, list[Gene]]], meta: bool) -> list[Gene]:
    """pyrodigal on every slice alone: metagenomic mode, or single mode trained on the slice."""
    import pyrodigal

    genes = []
    for name, seq, _ in cut:
        finder = pyrodigal.GeneFinder(meta=meta)
        if not meta:
            finder.train(seq, translation_table=11)
        for p in finder.find_genes(seq):
            mrna = Transcript("mRNA", cds=(CDSPart(p.begin, p.end, 0),), partial_left=p.partial_begin,
                              partial_right=p.partial_end)  # begin / end: the left / right end on the slice
            genes.append(Gene("+" if p.strand == 1 else "-", (mrna,), seqid=name))
    return genes


def scores(genes: list[Gene], cut: list[tuple[str, str, list[Gene]]]) -> tuple[float, float]:
    """(gene F1, stop F1) over all the slices together."""
    s = evaluate(genes, [g for _, _, ref in cut for g in ref])
    return s["gene"].f1 or 0.0, s["stop"].f1 or 0.0


def choose_threshold(sizes: list[int], self_mean: list[float], library_mean: list[float]) -> int | None:
    """The smallest size from which self-training's mean gene F1 is >= the library's there and at every larger
    size; None if the library wins at the largest."""
    chosen = None
    for size, own, lib in reversed(list(zip(sizes, self_mean, library_mean))):
        if own < lib:
            break
        chosen = size
    return chosen


def sweep(args, argv: list[str] | None) -> int:
    model, _, _ = load_model(args.model, "cpu", network_free=True)
    if model.coding_library is None:
        raise GeneFinderInputError("the model folder has no coding library (genefinder fit-coding-library)", args.model)
    base = AnnotationSettings(*AnnotationSettings.window_for(model.config), decoding="orf")
    own_arm = replace(base, min_self_training_nt=ALWAYS_SELF)
    library_arm = replace(base, min_self_training_nt=NEVER_SELF)
    shipped_scorer, shipped_library = model.start_scorer, model.coding_library
    sizes = sorted(args.sizes)
    cells = {g: {} for g in TRAINING}  # genome -> size -> (self gene, self stop, library gene, library stop)
    for genome in TRAINING:
        model.start_scorer = scorer_without(genome, TRAINING, shipped_scorer)
        model.coding_library = shipped_library.without(genome)
        for size in sizes:
            cut = slices(genome, size, args.nt_per_size)
            cells[genome][size] = (*scores(genefinder_alone(model, own_arm, cut), cut),
                                   *scores(genefinder_alone(model, library_arm, cut), cut))
            print(genome, size, " ".join(f"{x:.3f}" for x in cells[genome][size]), flush=True)
    model.start_scorer, model.coding_library = shipped_scorer, shipped_library
    self_mean = [float(np.mean([cells[g][s][0] for g in TRAINING])) for s in sizes]
    library_mean = [float(np.mean([cells[g][s][2] for g in TRAINING])) for s in sizes]
    threshold = choose_threshold(sizes, self_mean, library_mean)

    body = ["## 1. Self-training or the library, leaving each training genome out", "",
            "Cells: gene F1 / stop F1 over the slices, self-trained | library (the other training genomes' only).", "",
            "| slice nt | " + " | ".join(TRAINING) + " | mean gene F1 self / library |",
            "|---:" * (len(TRAINING) + 2) + "|"]
    for i, size in enumerate(sizes):
        body.append(f"| {size:,} | " + " | ".join(
            "{:.3f} / {:.3f} \\| {:.3f} / {:.3f}".format(*cells[g][size]) for g in TRAINING)
            + f" | {self_mean[i]:.3f} / {library_mean[i]:.3f} |")
    body += ["", f"Smallest size from which self-training is at least as good at every larger size: "
             f"**{f'{threshold:,} nt' if threshold else 'none (the library wins at every size)'}** "
             f"(the default `min_self_training_nt` is {base.min_self_training_nt:,}).", ""]

    body += [f"## 2. Held out: {args.heldout}", "",
             f"{args.nt_per_size:,} nt of slices per size, each annotated alone. Cells: gene F1 / stop F1 (seconds "
             "for all the slices).", "", "| slice nt | genefinder default | genefinder self-trained | "
             "genefinder library | pyrodigal meta | pyrodigal single |", "|---:|---:|---:|---:|---:|---:|"]
    arms = {"default": base, "self": own_arm, "library": library_arm}
    for size in sizes:
        cut = slices(args.heldout, size, args.nt_per_size)
        row = []
        for tool in (*arms, "meta", "single"):
            if tool == "single" and size < 20_000:
                row.append("- (needs 20 kb)")
                continue
            t0 = time.perf_counter()
            genes = genefinder_alone(model, arms[tool], cut) if tool in arms else pyrodigal_alone(cut, tool == "meta")
            seconds = time.perf_counter() - t0
            row.append("{:.3f} / {:.3f} ({:.1f} s)".format(*scores(genes, cut), seconds))
        body.append(f"| {size:,} | " + " | ".join(row) + " |")
        print(body[-1], flush=True)
    import pyrodigal  # installed: pyrodigal_alone ran

    return report("short_inputs.py", "Short inputs: self-training or the pre-trained coding library", args, argv,
                  f"{settings_line(base, ORF_SETTINGS)}; library genomes {', '.join(shipped_library.names)}; "
                  f"pyrodigal {pyrodigal.__version__}.", [], body,
                  data_line=f"- Slices: {args.nt_per_size:,} nt per size of each genome in ../shared/data, sizes "
                  f"{', '.join(f'{s:,}' for s in sizes)} nt.")


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__, [])
    p.add_argument("--sizes", nargs="+", type=int, default=[5_000, 10_000, 20_000, 50_000, 100_000, 200_000],
                   help="slice lengths in nt")
    p.add_argument("--nt-per-size", type=int, default=600_000,
                   help="nt of slices per genome and size (default 600,000: some 500 genes)")
    p.add_argument("--heldout", default="bsubtilis_best7003", help="the held-out genome (a folder of ../shared/data)")
    args = p.parse_args(argv)
    if min(args.sizes) < 1 or args.nt_per_size < 1:
        print("short_inputs.py: error: --sizes and --nt-per-size must be >= 1", file=sys.stderr)
        return 2
    return run("short_inputs", args, lambda: sweep(args, argv))


if __name__ == "__main__":
    sys.exit(main())
