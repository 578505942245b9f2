"""`genefinder fit-starts MODEL_DIR --fasta G.fa --gff G.gff3 ... --out DIR`: fit the start-site scorer.

The scorer (`start_sites.py`) is a linear filter over the DNA around a start codon (one-hot, and Shine-Dalgarno
tracks: `--motifs`), optionally with motif detectors (`--detectors`: a convolutional layer, fitted after the
filter by AdamW in a minute or two), so it is fitted apart from
the network on the genomes the model was trained on and on the same train blocks
(`build-dataset --split-by region`'s split, so the validation and test blocks stay unseen). Every complete
reference gene whose ORF the decoder would see gives one example: its true start against the other start
codons of its ORF (`orfs.open_reading_frames`: ORF decoding's own candidates). The loss is the softmax
cross-entropy of the true start within its ORF, with an L2 penalty; full-batch L-BFGS.

The output folder is a copy of MODEL_DIR whose config gains `start_site_context` and `start_site_motifs` and whose weights gain the
fitted `start_scorer`; a training checkpoint fitted this way exports (`genefinder export`) with its scorer.
It prints the validation blocks' start accuracy (true start ranked first within its ORF) beside the
longest-ORF rule's.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from pathlib import Path

import torch

from ..annotation.annotation import AnnotationSettings
from ..datasets_scripts.build_dataset import add_pair_arguments, load_genome, sources_from_args, split_regions
from ..decoding.genetic_code import GeneticCode
from ..decoding.strands import record_strands
from ..formats.errors import GeneFinderInputError
from .start_sites import StartExamples, StartSiteScorer, ranking, strand_examples, train_scorer

logger = logging.getLogger(__name__)


def genome_examples(source, code: GeneticCode, min_length: int, scorer: StartSiteScorer,
                    val_fraction: float = 0.1, test_fraction: float = 0.1) -> dict[str, list[StartExamples]]:
    """Examples for `scorer`'s shape of one genome per split ("train", "validation", "test": its blocks as build-dataset
    --split-by region cuts them), both strands; the genome and its annotation are read once for all splits."""
    fa, genes_by_seq = load_genome(source, coding_only=True)
    blocks: dict[str, dict[str, tuple[int, int]]] = {}  # seqid -> split -> (lo, hi)
    for split, seqid, lo, hi in split_regions(fa, "region", val_fraction, test_fraction):
        blocks.setdefault(seqid, {})[split] = (lo, hi)
    out: dict[str, list[StartExamples]] = {}
    for seqid, by_split in blocks.items():
        n = fa.length(seqid)
        seq = fa.fetch(seqid, 0, n)
        complete = [(g.strand, t.cds[0]) for g in genes_by_seq.get(seqid, []) for t in g.transcripts[:1]
                    if len(t.cds) == 1 and not (t.partial_left or t.partial_right)]
        forward = [(c.start - 1, c.end) for strand, c in complete if strand == "+"]
        reverse = [(n - c.end, n - c.start + 1) for strand, c in complete if strand == "-"]
        mirrored = {split: (n - hi, n - lo) for split, (lo, hi) in by_split.items()}
        plus, minus = record_strands(seq, code, min_length)
        for per_split in (strand_examples(plus, forward, by_split, scorer),
                          strand_examples(minus, reverse, mirrored, scorer)):
            for split, ex in per_split.items():
                out.setdefault(split, []).append(ex)
    return out


def accuracy(scorer: StartSiteScorer, ex: StartExamples) -> tuple[float, float]:
    """(scorer's start accuracy, longest-ORF rule's) over the examples' ORFs."""
    with torch.no_grad():
        logits = scorer.context_logits(ex.contexts)
    first = torch.ones(len(ex.group), dtype=torch.bool)
    first[1:] = ex.group[1:] != ex.group[:-1]
    return float(ranking(logits, ex)[1]), float(ex.true[first].float().mean())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model folder or training checkpoint (config.json + model.safetensors)")
    add_pair_arguments(parser)
    parser.add_argument("--out", required=True, help="output folder (must not exist): the model with its scorer")
    parser.add_argument("--context", type=int, nargs=2, default=(50, 20), metavar=("UPSTREAM", "DOWNSTREAM"),
                        help="nt read before and after the start codon (default 50 20: the ribosome binding "
                             "site and the first codons; this command prints the start accuracy it reaches)")
    parser.add_argument("--motifs", type=int, nargs="*", default=[4, 5, 6], metavar="K",
                        help="k-mer lengths of the Shine-Dalgarno tracks read beside the DNA (default 4 5 6; "
                             "none: --motifs with no value)")
    parser.add_argument("--detectors", type=int, default=0, metavar="N",
                        help="motif detectors (a convolutional layer) beside the linear filter (default 0: linear "
                             "only)")
    parser.add_argument("--detector-width", type=int, default=9, metavar="NT", help="their width (odd; default 9)")
    parser.add_argument("--l2", type=float, default=1e-3, help="L2 penalty on the filter (default 1e-3)")


def run(args) -> None:
    from ..modeling_genefinder import GeneFinderForConditionalGeneration

    model_dir, out = Path(args.model), Path(args.out)
    if not (model_dir / "config.json").is_file() or not (model_dir / "model.safetensors").is_file():
        raise GeneFinderInputError("not a model folder (needs config.json and model.safetensors)", str(model_dir))
    if out.exists():
        raise GeneFinderInputError("output folder exists; give a new --out", str(out))
    if min(args.context) < 0:
        raise GeneFinderInputError(f"--context must be >= 0 nt each side, got {args.context[0]} {args.context[1]}")
    if args.detectors < 0 or args.detector_width < 1 or args.detector_width % 2 == 0:
        raise GeneFinderInputError(f"--detectors must be >= 0 and --detector-width odd, got {args.detectors} and "
                                   f"{args.detector_width}")
    up, down = args.context
    try:
        scorer = StartSiteScorer(up, down, tuple(args.motifs), args.detectors, args.detector_width)
    except ValueError as err:
        raise GeneFinderInputError(f"--motifs: {err}") from None
    sources = sources_from_args(args)
    model = GeneFinderForConditionalGeneration.from_pretrained(model_dir)
    model.start_scorer = scorer
    model.config.start_site_context, model.config.start_site_motifs = [up, down], list(args.motifs)
    model.config.start_site_detectors = [args.detectors, args.detector_width] if args.detectors else None
    code, min_length = GeneticCode(model.config.genetic_code), AnnotationSettings.min_cds_length
    per_genome = [genome_examples(src, code, min_length, model.start_scorer) for src in sources]
    examples = {split: StartExamples.concat([ex for g in per_genome for ex in g.get(split, [])])
                for split in ("train", "validation")}
    if examples["train"].n_orfs == 0:
        raise GeneFinderInputError("no complete reference gene with an ATG/GTG/TTG start lies in the train blocks: "
                                   "nothing to fit the start scorer on", ", ".join(s.gff for s in sources))
    loss = train_scorer(model.start_scorer, examples["train"], args.l2)
    for split, ex in examples.items():
        acc, longest = accuracy(model.start_scorer, ex)
        print(f"{split:<10} ORFs {ex.n_orfs:>6}  start accuracy {acc:.3f}  (longest ORF: {longest:.3f})")
    print(f"train loss {loss:.4f}")
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as tmp:
        staged = Path(tmp) / out.name
        shutil.copytree(model_dir, staged, symlinks=True,
                        ignore=shutil.ignore_patterns("optimizer.bin", "random_states_*.pkl", "scheduler.bin"))
        model.save_pretrained(staged, safe_serialization=True)
        staged.rename(out)
    print(f"wrote {out}")
