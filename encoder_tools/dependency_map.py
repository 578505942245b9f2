"""Nucleotide dependency maps: how much a substitution at position i changes the model's prediction at position j.

Following Tomaz da Silva et al. 2024 ("Nucleotide dependency analysis of DNA language models reveals genomic
functional elements", bioRxiv 2024.07.27.605418), for a sequence of n nt:

    dep[i, j] = max over the 3 substitutions s at i, max over the 4 bases b at j of
                | logit p_s(b at j) - logit p(b at j) |,      logit p = log(p / (1 - p)),

where p(b at j) is the model's distribution at j over A, C, G, T (renormalised over those four) for the
reference sequence, p_s the same for the sequence carrying substitution s. As in the paper, position j is *not*
masked: the model reads the whole (mutated) sequence and we take its output distribution at every j, so one
forward pass per substitution gives a whole row: 3n + 1 passes of n tokens for the map, run `batch_size` at a
time. The diagonal (a substitution's effect on its own position, trivially large) is set to 0. Row i is the
"target" (what was changed), column j the "query" (what was affected); dependencies between base-paired or
co-evolving positions show up as off-diagonal blocks and lines.

Only single-nucleotide models (`encoder_type="aido"`, `kmer=1`) are accepted: with codon or BPE tokens a
position's prediction is a distribution over multi-base tokens, not over the four bases at j.

`genefinder dependency-map --model M --sequence ACGT... | --fasta F --region chr:start-end -o map.png
[--tsv map.tsv]` draws the heatmap and writes the matrix.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from ..formats.errors import GeneFinderInputError
from .mlm_inference import NUCLEOTIDES

DEFAULT_MAX_LENGTH = 1000  # 3,001 forward passes of 1,000 tokens: minutes for a small model on CPU


def base_log_odds(log_probs: torch.Tensor) -> torch.Tensor:
    """(..., 4) log-probabilities over A, C, G, T (any normalisation) -> log(p / (1 - p)) after renormalising."""
    lp = torch.log_softmax(log_probs, dim=-1)  # (..., 4)
    others = torch.stack([torch.logsumexp(lp[..., [c for c in range(4) if c != b]], dim=-1) for b in range(4)],
                         dim=-1)  # (..., 4) log(1 - p_b)
    return lp - others


def dependency_map(lm, seq: str, batch_size: int = 32, max_length: int = DEFAULT_MAX_LENGTH,
                   progress: bool = False) -> np.ndarray:
    """The (n, n) dependency map of `seq` under the single-nucleotide masked LM `lm` (a `MaskedLMScorer`)."""
    from tqdm.auto import tqdm

    if not lm.single_nucleotide:
        raise GeneFinderInputError(f"dependency maps need a single-nucleotide model (encoder_type 'aido', kmer 1); "
                                   f"this model has {lm.description}")
    seq = seq.upper()
    n = len(seq)
    if not 2 <= n <= max_length:
        raise GeneFinderInputError(f"the sequence is {n} nt; a dependency map needs 2 to --max-length={max_length} "
                                   f"nt (it costs 3n forward passes of n tokens)")
    ids, spans = lm.encode(seq)
    token_of = [t for t, (s, e) in enumerate(spans) if e - s == 1]  # nucleotide j -> its token index
    base_ids = lm.base_ids()
    rows = [(i, b) for i in range(n) for b in range(4) if NUCLEOTIDES[b] != seq[i]]

    def log_odds(batch: list[tuple[int, ...]]) -> torch.Tensor:  # -> (B, n, 4)
        return base_log_odds(lm.log_probs(batch)[:, token_of][..., base_ids])

    reference = log_odds([tuple(ids)])[0]  # (n, 4)
    dep = torch.zeros(n, n)
    with tqdm(total=len(rows), unit="pass", desc="dependency-map", file=sys.stderr, disable=not progress) as bar:
        for first in range(0, len(rows), batch_size):
            chunk = rows[first:first + batch_size]
            mutated = []
            for i, b in chunk:
                row = list(ids)
                row[token_of[i]] = base_ids[b]
                mutated.append(tuple(row))
            change = (log_odds(mutated) - reference).abs().amax(dim=-1)  # (B, n): max over the 4 bases at j
            for (i, _), effect in zip(chunk, change):
                dep[i] = torch.maximum(dep[i], effect)  # max over the substitutions at i
            bar.update(len(chunk))
    dep.fill_diagonal_(0.0)
    return dep.numpy()


def plot_dependency_map(dep: np.ndarray, path: str, first_position: int = 1, title: str = "",
                        seq: str | None = None) -> None:
    """Heatmap PNG of `dep` (rows: substituted position i, columns: affected position j), atomically written.

    Ticks are 1-based positions starting at `first_position`; for up to 60 nt, `seq` labels every base instead.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..formats.atomic_output import atomic_path

    n = dep.shape[0]
    fig, ax = plt.subplots(figsize=(7.5, 6.5), dpi=120)
    image = ax.imshow(dep, cmap="viridis", interpolation="nearest", origin="upper")
    fig.colorbar(image, ax=ax, shrink=0.8, label="max |change of log-odds| (nats)")
    if seq is not None and n <= 60:
        ticks, labels = range(n), list(seq)
    else:
        ticks = np.unique(np.linspace(0, n - 1, 9).round().astype(int))
        labels = [f"{first_position + t:,}" for t in ticks]
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("affected position j (prediction read here)")
    ax.set_ylabel("substituted position i")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def write_tsv(dep: np.ndarray, path: str, first_position: int = 1) -> None:
    """The matrix as TSV: a header of affected positions j, then one row per substituted position i."""
    from ..formats.atomic_output import atomic_path

    positions = range(first_position, first_position + dep.shape[0])
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write("position\t" + "\t".join(map(str, positions)) + "\n")
        for pos, row in zip(positions, dep):
            fh.write(f"{pos}\t" + "\t".join(f"{v:.5g}" for v in row) + "\n")


# ----------------------------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="single-nucleotide masked-LM model folder")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--sequence", help="the DNA sequence itself")
    source.add_argument("--fasta", help="FASTA (plain or .gz) to read --region from")
    parser.add_argument("--region", help="SEQID:START-END, 1-based inclusive (with --fasta)")
    parser.add_argument("-o", "--output", required=True, help="heatmap PNG")
    parser.add_argument("--tsv", help="also write the matrix as TSV (rows: substituted i, columns: affected j)")
    parser.add_argument("--title", help="heatmap title (default: the region or length, and the model folder)")
    parser.add_argument("--max-length", type=int, default=DEFAULT_MAX_LENGTH,
                        help="refuse longer sequences (the cost grows as n^3 with attention)")
    parser.add_argument("--batch-size", type=int, default=32, help="mutated sequences per forward pass")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")


def run(args) -> None:
    from .mlm_inference import MaskedLMScorer
    from ..tokenization.tokenization_dna import normalize_dna

    if args.batch_size < 1:
        raise GeneFinderInputError("--batch-size must be positive")
    if args.fasta:
        from ..evaluation.evaluation import parse_region
        from ..formats.fasta import FastaFile

        if not args.region:
            raise GeneFinderInputError("--fasta needs --region SEQID:START-END")
        region, fasta = parse_region(args.region), FastaFile(args.fasta)
        if region.seqid not in fasta:
            raise GeneFinderInputError(f"--region: no sequence named {region.seqid!r}", args.fasta)
        if region.end > fasta.length(region.seqid):
            raise GeneFinderInputError(f"--region ends past {region.seqid!r} ({fasta.length(region.seqid)} nt)",
                                       args.fasta)
        seq, first, name = fasta.fetch(region.seqid, region.start - 1, region.end), region.start, str(region)
    else:
        if args.region:
            raise GeneFinderInputError("--region goes with --fasta, not --sequence")
        seq, first, name = args.sequence, 1, f"{len(args.sequence)} nt"
    try:
        seq = normalize_dna(seq, keep_u=False)
    except ValueError as err:
        raise GeneFinderInputError(f"--sequence: {err}") from None
    lm = MaskedLMScorer.from_folder(args.model, args.device)
    dep = dependency_map(lm, seq, args.batch_size, args.max_length, progress=True)
    title = args.title or f"nucleotide dependency map, {name} ({args.model})"
    plot_dependency_map(dep, args.output, first, title=title, seq=seq)
    if args.tsv:
        write_tsv(dep, args.tsv, first)
