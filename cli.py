"""The `genefinder` command: one subcommand per job, each defined next to the code that does it.

User errors (`GeneFinderInputError`) print as one line and exit with status 2; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .formats.errors import GeneFinderInputError

# subcommand -> (module with add_arguments/run, one-line help)
SUBCOMMANDS = {
    "annotate": ("commands.annotate_cli", "annotate a genome FASTA with a trained model -> GFF3"),
    "build-dataset": ("datasets_scripts.build_dataset", "FASTA + GFF3 -> windowed Hugging Face dataset"),
    "slice-genome": ("datasets_scripts.slice_genome", "cut a region and its whole genes out of a genome (test sets)"),
    "check-tokenizer": ("datasets_scripts.check_roundtrip", "count GFF tokenizer round-trip mismatches over genomes"),
    "train-bpe": ("datasets_scripts.train_dna_bpe", "train a DNABERT-2-style BPE vocabulary on genomes"),
    "build-classification-dataset": ("datasets_scripts.build_classification_dataset",
                                     "labelled sequences (CSV, FASTA per class, genome fragments) -> dataset"),
    "embed": ("commands.embed_cli", "mean-pooled encoder embedding per FASTA record -> Parquet"),
    "classify": ("commands.classify_cli", "a trained sequence classifier on every FASTA record -> TSV"),
    "evaluate": ("evaluation.evaluation", "score a predicted GFF3 against a reference (base, exon, gene, stop, start)"),
    "errors": ("evaluation.error_analysis",
               "where a prediction's errors are: missed genes by length, wrong starts, false positives"),
    "train": ("train", "train a model from a YAML config (same as `accelerate launch train.py`)"),
    "plot-training": ("training.training_monitor", "RUN_DIR/metrics.jsonl -> PNG curves (loss, lr, grad norm, eval)"),
    "fit-starts": ("prokaryotes.start_site_training",
                   "fit the start-site scorer ORF decoding uses on annotated genomes"),
    "fit-coding-library": ("prokaryotes.coding_library_training",
                           "count the coding statistics inputs too short to self-train on read (Prodigal's -p meta)"),
    "export": ("hub.hub_export", "RUN_DIR/checkpoint-N -> a Hub model folder with code, tokenizers and model card"),
    "push-to-hub": ("hub.hub_push", "upload an exported folder to the Hugging Face Hub (--dry-run lists files)"),
    "score-variants": ("encoder_tools.variant_scoring",
                       "zero-shot SNV effects: masked-LM log-likelihood ratio ALT vs REF -> TSV/VCF"),
    "dependency-map": ("encoder_tools.dependency_map",
                       "nucleotide dependency map of a sequence under a masked LM -> PNG heatmap"),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """Only the invoked subcommand's module is imported: `genefinder build-dataset` never loads torch."""
    parser = argparse.ArgumentParser(prog="genefinder", description="Deep-learning gene finder: DNA in, GFF3 out.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    chosen = next((a for a in argv if a in SUBCOMMANDS), None)
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(module=module)
        if name == chosen:
            importlib.import_module(f".{module}", __package__).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        status = importlib.import_module(f".{args.module}", __package__).run(args)
    except GeneFinderInputError as err:
        print(f"genefinder: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genefinder: interrupted", file=sys.stderr)
        return 130
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
