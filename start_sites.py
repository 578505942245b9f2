"""The start-site scorer: how much the DNA around a start codon looks like a real translation start.

A gene's stop is easy to place once its reading frame is known; its start is not: an ORF holds several
in-frame start codons and the coding-frame head reads coding on both sides of the wrong ones. Bacterial
starts are marked by what lies upstream (the ribosome binding site, ~5-15 nt before the codon) and by the
codon itself (ATG > GTG > TTG), which a position-specific linear filter over one-hot DNA captures: one
`Conv1d(4, 1)` whose output at position p scores a start codon at p from `upstream` nt before it to
`downstream` nt after it. It has no bias: it is fitted (`fit`) to rank the true start above the other start
codons of the same ORF (a softmax over each ORF's candidates), where a constant cancels: on annotated genomes by
`start_site_training.py` (the model's scorer), and again on the genes of the input genome itself, pulled
towards the model's scorer (`self_training.py`). ORF decoding adds `start_weight` x this score to a candidate
gene's coding score.

This module is Hub remote code: numpy, torch and siblings only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .genetic_code import GeneticCode
from .orfs import base_codes, open_reading_frames


_ACGT_CHANNEL = np.array([3, 1, 0, 2, 4])  # base_codes' TCAG index -> one-hot channel (A, C, G, T), 4 = none


def one_hot(seq: str) -> torch.Tensor:
    """(4, n) float one-hot of A/C/G/T (either case, U as T; channels in that order); N and IUPAC codes are all
    zeros."""
    b = torch.from_numpy(_ACGT_CHANNEL[base_codes(seq)])
    out = torch.zeros(5, len(seq))
    out[b, torch.arange(len(seq))] = 1.0
    return out[:4]


class StartSiteScorer(nn.Module):
    """Start-codon logits of every position of a sequence from the DNA around it (see the module docstring)."""

    def __init__(self, upstream: int, downstream: int):
        super().__init__()
        if upstream < 0 or downstream < 0:
            raise ValueError(f"start-site context must be >= 0 nt each side, got {upstream}, {downstream}")
        self.upstream, self.downstream = upstream, downstream
        self.filter = nn.Conv1d(4, 1, kernel_size=upstream + 3 + downstream, bias=False)

    @property
    def width(self) -> int:
        return self.upstream + 3 + self.downstream

    def forward(self, one_hot_dna: torch.Tensor) -> torch.Tensor:
        """(B, 4, n) one-hot -> (B, n) logits; beyond the sequence's ends the DNA counts as unknown (zeros)."""
        padded = nn.functional.pad(one_hot_dna, (self.upstream, self.width - 1 - self.upstream))
        return self.filter(padded).squeeze(1)

    @torch.no_grad()
    def score(self, seq: str) -> np.ndarray:
        """(n,) float32 logits of the forward strand of `seq`; score the reverse strand on its reverse complement."""
        w = self.filter.weight
        return self(one_hot(seq).to(w.device, w.dtype).unsqueeze(0))[0].float().cpu().numpy()


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


def ranking(logits: torch.Tensor, ex: StartExamples) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean cross-entropy of the true start within its ORF, fraction of ORFs whose true start scores strictly
    above every other candidate: ties count as misses, so a constant scorer places no start)."""
    top = torch.full((ex.n_orfs,), -torch.inf, dtype=logits.dtype).scatter_reduce(0, ex.group, logits.detach(), "amax")
    total = torch.zeros(ex.n_orfs, dtype=logits.dtype).index_add(0, ex.group, (logits - top[ex.group]).exp())
    log_z = total.log() + top
    true_logits = torch.zeros(ex.n_orfs, dtype=logits.dtype).index_add(0, ex.group[ex.true], logits[ex.true])
    at_least_true = torch.zeros(ex.n_orfs).index_add(0, ex.group, (logits >= true_logits[ex.group]).float())
    return (log_z - true_logits).mean(), (at_least_true == 1).float().mean()


def fit(scorer: StartSiteScorer, train: StartExamples, l2: float = 1e-3, steps: int = 100,
        prior: torch.Tensor | None = None) -> float:
    """Fit the scorer's filter in place, from `prior` (a filter's weight; default zeros) with an L2 pull of
    strength `l2` towards it; returns the final training loss."""
    weight = scorer.filter.weight  # (1, 4, width)
    anchor = torch.zeros_like(weight) if prior is None else prior.detach().clone().to(weight)
    with torch.no_grad():
        weight.copy_(anchor)
    optimizer = torch.optim.LBFGS([weight], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        if torch.is_grad_enabled():
            optimizer.zero_grad()
        loss = ranking(torch.einsum("mck,ck->m", train.contexts, weight[0]), train)[0] \
            + l2 * (weight - anchor).pow(2).sum()
        if loss.requires_grad:
            loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return float(closure())
