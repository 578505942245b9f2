"""Choose whether and how strongly ORF decoding refits the start scorer on the input's own genes.

    .venv/bin/python benchmarks/sweeps/start_refit_sweep.py --model default_model --threads 2 \\
        --out-md out/sweeps/start_refit.md

The refit (`self_training.refit_start_scorer`, `AnnotationSettings.refit_starts` / `start_refit_l2` /
`start_refit_rounds`, and the decoder weights its genes are decoded with: `length_prior`, `upstream_prior`,
`gene_bias`, `start_evidence`) is for genomes whose ribosome binding sites the model's scorer has not seen, so it
cannot be judged on the training genomes with the model's own scorer. Leave one genome out instead: for each
training genome, fit a start scorer as `genefinder fit-starts` does (same context, L2 and train blocks) on the other
two, then annotate the left-out genome (statistics and refit on the whole genome, no reference read) and score its
validation block, without the refit and with it at each setting of the grid. The row "model's scorer" is the shipped
scorer, which saw the genome.
`--regions` with whole chromosomes scores ~10x more genes than the validation blocks (the left-out scorer saw
none of them): the leave-one-out comparisons of docs/decisions/bacterial_decoder.md score them.
All other settings are the defaults of the code that runs it; the report lists them.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared sweep harness

import numpy as np  # noqa: E402
from validation_sweep import DATA, ORF_SETTINGS, VALIDATION_REGIONS, parser, report, run, settings_line  # noqa: E402

from genefinder.annotation.annotation import AnnotationSettings  # noqa: E402
from genefinder.annotation.region_annotation import GenomeRegion, annotate_region, score_region  # noqa: E402
from genefinder.commands.annotate_cli import load_model  # noqa: E402
from genefinder.datasets_scripts.build_dataset import GenomeSource  # noqa: E402
from genefinder.decoding.genetic_code import GeneticCode  # noqa: E402
from genefinder.prokaryotes.start_site_training import genome_examples  # noqa: E402
from genefinder.prokaryotes.start_sites import StartExamples, StartSiteScorer, train_scorer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__, VALIDATION_REGIONS)
    p.add_argument("--l2", nargs="+", type=float, default=[0.001, 0.01, 0.1], help="start_refit_l2 values to try")
    p.add_argument("--rounds", nargs="+", type=int, default=[1], help="start_refit_rounds values to try (each with "
                   "every --l2)")
    p.add_argument("--length-priors", nargs="+", type=float, default=[AnnotationSettings.length_prior],
                   help="length_prior values to try with each refit (the decoder's push towards upstream starts, "
                        "which a better start scorer may need less of)")
    p.add_argument("--upstream-priors", nargs="+", type=float,
                   help="upstream_prior values to try with each length prior (default: equal to it, which scores "
                        "every nt of a candidate alike)")
    p.add_argument("--start-evidence", nargs="+", type=float, default=[AnnotationSettings.start_evidence],
                   help="start_evidence values to try with each gene bias (a start's logit above the record's "
                        "average start codon's, added to its gene's score)")
    p.add_argument("--gene-biases", nargs="+", type=float, default=[AnnotationSettings.gene_bias],
                   help="gene_bias values to try with each length prior (a lower prior calls fewer short genes "
                        "unless the bias comes down with it)")
    p.add_argument("--convergent-overlaps", nargs="+", type=int, default=[AnnotationSettings.max_convergent_overlap],
                   help="max_convergent_overlap values to try with each gene bias (nt two genes on opposite strands "
                        "may share where their 3' ends meet)")
    p.add_argument("--divergent-overlaps", nargs="+", type=int, default=[AnnotationSettings.max_divergent_overlap],
                   help="max_divergent_overlap values to try with each convergent one (where their 5' ends meet)")
    p.add_argument("--self-training-rounds", nargs="+", type=int, default=[AnnotationSettings.self_training_rounds],
                   help="self_training_rounds values to try with each refit (hexamer statistics refitted on the genes "
                        "the last statistics call)")
    args = p.parse_args(argv)
    return run("start_refit_sweep", args, lambda: sweep(args, argv))


def scorer_without(genome: str, genomes: list[str], like: StartSiteScorer) -> StartSiteScorer:
    """A start scorer of `like`'s shape fitted as fit-starts fits it, on the train blocks of every genome but
    `genome`."""
    code, scorer = GeneticCode(11), like.blank()
    parts = [ex for g in genomes if g != genome
             for ex in genome_examples(GenomeSource(str(DATA / g / "genome.fna.gz"), str(DATA / g / "annotation.gff3.gz"),
                                                    g), code, AnnotationSettings.min_cds_length, scorer)["train"]]
    train_scorer(scorer, StartExamples.concat(parts))
    return scorer


def _cells(s: dict) -> list[float]:
    gene, stop = s["gene"].f1 or 0, s["stop"].f1 or 0
    return [gene, stop, gene / stop if stop else 0.0]


def refit_trials(args, base: AnnotationSettings) -> list[tuple[str, str, AnnotationSettings]]:
    """(row name, "out", settings) for each point of the refit grid: the product of every swept setting, each
    named in the row when it takes more than one value (an upstream prior when it is given at all)."""
    out = []
    for rounds, l2, prior, up, bias, evidence, convergent, divergent, hexamer_rounds in itertools.product(
            args.rounds, args.l2, args.length_priors, args.upstream_priors or [None], args.gene_biases,
            args.start_evidence, args.convergent_overlaps, args.divergent_overlaps, args.self_training_rounds):
        name = f"left-out scorer, refit, L2 {l2:g}" + (f", {rounds} rounds" if rounds > 1 else "")
        name += f", length prior {prior:g}" if len(args.length_priors) > 1 else ""
        name += f", upstream prior {up:g}" if up is not None else ""
        name += f", gene bias {bias:g}" if len(args.gene_biases) > 1 else ""
        name += f", start evidence {evidence:g}" if len(args.start_evidence) > 1 else ""
        name += f", convergent overlap {convergent}" if len(args.convergent_overlaps) > 1 else ""
        name += f", divergent overlap {divergent}" if len(args.divergent_overlaps) > 1 else ""
        name += f", {hexamer_rounds} hexamer rounds" if len(args.self_training_rounds) > 1 else ""
        out.append((name, "out", replace(base, refit_starts=True, start_refit_l2=l2, start_refit_rounds=rounds,
                                         length_prior=prior, upstream_prior=prior if up is None else up,
                                         gene_bias=bias, start_evidence=evidence,
                                         max_convergent_overlap=convergent, max_divergent_overlap=divergent,
                                         self_training_rounds=hexamer_rounds)))
    return out


def sweep(args, argv: list[str] | None) -> int:
    model, tok, inputs = load_model(args.model, "cpu")
    up, down = model.config.start_site_context
    motifs = model.config.start_site_motifs
    detectors = getattr(model.config, "start_site_detectors", None)
    base = AnnotationSettings(*AnnotationSettings.window_for(model.config), decoding="orf")
    genomes = [spec.split(":")[0] for spec in args.regions]
    trials = [("model's scorer (saw this genome)", None, replace(base, refit_starts=False)),
              ("left-out scorer, no refit", "out", replace(base, refit_starts=False))]
    trials += refit_trials(args, base)
    results = {name: [] for name, _, _ in trials}
    n_ref = []
    shipped = model.start_scorer
    for spec, genome in zip(args.regions, genomes):
        where = GenomeRegion.in_shared_data(DATA, spec)
        left_out = scorer_without(genome, genomes, model.start_scorer)
        for name, which, settings in trials:
            model.start_scorer = left_out if which == "out" else shipped
            s = score_region(annotate_region(model, tok, inputs, where, settings, self_train_on="genome"), where)
            results[name].append(_cells(s))
            print(genome, name, " ".join(f"{x:.3f}" for x in results[name][-1]), flush=True)
        n_ref.append(s["gene"].n_ref)
    header = ["| start scorer | " + " | ".join(f"{g} gene / stop / start" for g in genomes)
              + " | mean gene F1 | mean start accuracy |", "|---" + "|---:" * (len(genomes) + 2) + "|"]
    rows = [f"| {name} | " + " | ".join(f"{g:.3f} / {s:.3f} / {a:.3f}" for g, s, a in cells)
            + f" | {np.mean([c[0] for c in cells]):.3f} | {np.mean([c[2] for c in cells]):.3f} |"
            for name, cells in results.items()]
    body = ["Start accuracy = gene F1 / stop F1 (the share of right stops whose start is right too). The left-out",
            "rows score DNA their scorer never saw whatever the regions; the model's scorer saw the train blocks.", "",
            *header, *rows, ""]
    return report("sweeps/start_refit_sweep.py", "Refitting the start scorer on the input: leave-one-genome-out", args,
                  argv, f"where a row does not say otherwise, {settings_line(base, ORF_SETTINGS)}; scorers of {up} "
                  f"nt up / {down} nt down, Shine-Dalgarno tracks "
                  f"{motifs or 'none'}, motif detectors [number, width] {detectors or 'none'}.", n_ref, body)


if __name__ == "__main__":
    sys.exit(main())
