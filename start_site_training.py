"""`genefinder fit-starts MODEL_DIR --fasta G.fa --gff G.gff3 ... --out DIR`: fit the start-site scorer.

The scorer (`start_sites.py`) is a linear filter over the DNA around a start codon, so it is fitted apart from
the network, in seconds, on the genomes the model was trained on and on the same train blocks
(`build-dataset --split-by region`'s split, so the validation and test blocks stay unseen). Every complete
reference gene whose ORF the decoder would see gives one example: its true start against the other start
codons of its ORF (`orfs.open_reading_frames`: ORF decoding's own candidates). The loss is the softmax
cross-entropy of the true start within its ORF, with an L2 penalty; full-batch L-BFGS.

The output folder is a copy of MODEL_DIR whose config gains `start_site_context` and whose weights gain the
fitted `start_scorer`; a training checkpoint fitted this way exports (`genefinder export`) with its scorer.
It prints the validation blocks' start accuracy (true start ranked first within its ORF) beside the
longest-ORF rule's.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .annotation import AnnotationSettings
from .datasets_scripts.build_dataset import add_pair_arguments, load_genome, sources_from_args, split_regions
from .errors import GeneFinderInputError
from .genetic_code import GeneticCode
from .orfs import open_reading_frames
from .start_sites import StartSiteScorer, one_hot
from .windows import reverse_complement

logger = logging.getLogger(__name__)


@dataclass
class StartExamples:
    """Candidate start codons grouped by ORF: `contexts` (m, 4, width) one-hot, `group` (m,) ORF index,
    `true` (m,) whether the candidate is the annotated start; candidates of a group sorted 5' -> 3'."""

    contexts: torch.Tensor
    group: torch.Tensor
    true: torch.Tensor

    @property
    def n_orfs(self) -> int:
        return int(self.group.max()) + 1 if len(self.group) else 0

    @classmethod
    def concat(cls, parts: list["StartExamples"]) -> "StartExamples":
        offsets = np.cumsum([0] + [p.n_orfs for p in parts[:-1]])
        return cls(torch.cat([p.contexts for p in parts]), torch.cat([p.group + int(o) for p, o in zip(parts, offsets)]),
                   torch.cat([p.true for p in parts]))


def strand_examples(seq: str, genes: list[tuple[int, int]], blocks: dict[str, tuple[int, int]], code: GeneticCode,
                    min_length: int, upstream: int, downstream: int) -> dict[str, StartExamples]:
    """Examples of one strand read 5'->3' (`seq`) per split block: from the complete genes (0-based start,
    exclusive end) lying inside the block whose true start is one of their ORF's candidates. The strand's ORFs
    and one-hot DNA are computed once for all blocks."""
    orf_starts, orf_ends = open_reading_frames(seq, code, min_length)
    width = upstream + 3 + downstream
    padded = torch.nn.functional.pad(one_hot(seq), (upstream, width))
    out = {}
    for split, (lo, hi) in blocks.items():
        true_start = dict((e, a) for a, e in genes if lo <= a and e <= hi)
        in_block = (orf_starts >= lo) & np.isin(orf_ends, list(true_start))
        starts, ends = orf_starts[in_block], orf_ends[in_block]
        has_true = {e for a, e in zip(starts, ends) if true_start[e] == a}
        keep = np.isin(ends, list(has_true))
        starts, ends = starts[keep], ends[keep]
        contexts = padded[:, torch.from_numpy(starts)[:, None] + torch.arange(width)].permute(1, 0, 2)
        _, group = np.unique(ends, return_inverse=True)
        true = np.array([true_start[e] == a for a, e in zip(starts, ends)], dtype=bool)
        out[split] = StartExamples(contexts.contiguous(), torch.from_numpy(group.reshape(-1)), torch.from_numpy(true))
    return out


def genome_examples(source, code: GeneticCode, min_length: int, upstream: int, downstream: int,
                    val_fraction: float = 0.1, test_fraction: float = 0.1) -> dict[str, list[StartExamples]]:
    """Examples of one genome per split ("train", "validation", "test": its blocks as build-dataset
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
        for per_split in (strand_examples(seq, forward, by_split, code, min_length, upstream, downstream),
                          strand_examples(reverse_complement(seq), reverse, mirrored, code, min_length, upstream,
                                          downstream)):
            for split, ex in per_split.items():
                out.setdefault(split, []).append(ex)
    return out


def ranking(logits: torch.Tensor, ex: StartExamples) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean cross-entropy of the true start within its ORF, fraction of ORFs whose true start scores strictly
    above every other candidate: ties count as misses, so a constant scorer places no start)."""
    top = torch.full((ex.n_orfs,), -torch.inf, dtype=logits.dtype).scatter_reduce(0, ex.group, logits.detach(), "amax")
    total = torch.zeros(ex.n_orfs, dtype=logits.dtype).index_add(0, ex.group, (logits - top[ex.group]).exp())
    log_z = total.log() + top
    true_logits = torch.zeros(ex.n_orfs, dtype=logits.dtype).index_add(0, ex.group[ex.true], logits[ex.true])
    at_least_true = torch.zeros(ex.n_orfs).index_add(0, ex.group, (logits >= true_logits[ex.group]).float())
    return (log_z - true_logits).mean(), (at_least_true == 1).float().mean()


def fit(scorer: StartSiteScorer, train: StartExamples, l2: float = 1e-3, steps: int = 100) -> float:
    """Fit the scorer's filter in place; returns the final training loss."""
    weight = scorer.filter.weight  # (1, 4, width)
    with torch.no_grad():
        weight.zero_()
    optimizer = torch.optim.LBFGS([weight], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        if torch.is_grad_enabled():
            optimizer.zero_grad()
        loss = ranking(torch.einsum("mck,ck->m", train.contexts, weight[0]), train)[0] + l2 * weight.pow(2).sum()
        if loss.requires_grad:
            loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return float(closure())


def accuracy(scorer: StartSiteScorer, ex: StartExamples) -> tuple[float, float]:
    """(scorer's start accuracy, longest-ORF rule's) over the examples' ORFs."""
    with torch.no_grad():
        logits = torch.einsum("mck,ck->m", ex.contexts, scorer.filter.weight[0])
    first = torch.ones(len(ex.group), dtype=torch.bool)
    first[1:] = ex.group[1:] != ex.group[:-1]
    return float(ranking(logits, ex)[1]), float(ex.true[first].float().mean())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model folder or training checkpoint (config.json + model.safetensors)")
    add_pair_arguments(parser)
    parser.add_argument("--out", required=True, help="output folder (must not exist): the model with its scorer")
    parser.add_argument("--context", type=int, nargs=2, default=(50, 20), metavar=("UPSTREAM", "DOWNSTREAM"),
                        help="nt read before and after the start codon (default 50 20: on the default model's "
                             "training genomes it places 74%% of the validation blocks' starts, 30 12 70%%, as "
                             "this command prints)")
    parser.add_argument("--l2", type=float, default=1e-3, help="L2 penalty on the filter (default 1e-3)")


def run(args) -> None:
    from .modeling_genefinder import GeneFinderForConditionalGeneration

    model_dir, out = Path(args.model), Path(args.out)
    if not (model_dir / "config.json").is_file() or not (model_dir / "model.safetensors").is_file():
        raise GeneFinderInputError("not a model folder (needs config.json and model.safetensors)", str(model_dir))
    if out.exists():
        raise GeneFinderInputError("output folder exists; give a new --out", str(out))
    if min(args.context) < 0:
        raise GeneFinderInputError(f"--context must be >= 0 nt each side, got {args.context[0]} {args.context[1]}")
    sources = sources_from_args(args)
    model = GeneFinderForConditionalGeneration.from_pretrained(model_dir)
    up, down = args.context
    model.config.start_site_context = [up, down]
    model.start_scorer = StartSiteScorer(up, down)
    code, min_length = GeneticCode(model.config.genetic_code), AnnotationSettings.min_cds_length
    per_genome = [genome_examples(src, code, min_length, up, down) for src in sources]
    examples = {split: StartExamples.concat([ex for g in per_genome for ex in g.get(split, [])])
                for split in ("train", "validation")}
    if examples["train"].n_orfs == 0:
        raise GeneFinderInputError("no complete reference gene with an ATG/GTG/TTG start lies in the train blocks: "
                                   "nothing to fit the start scorer on", ", ".join(s.gff for s in sources))
    loss = fit(model.start_scorer, examples["train"], args.l2)
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
