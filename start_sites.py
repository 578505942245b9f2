"""The start-site scorer: how much the DNA around a start codon looks like a real translation start.

A gene's stop is easy to place once its reading frame is known; its start is not: an ORF holds several
in-frame start codons and the coding-frame head reads coding on both sides of the wrong ones. Bacterial
starts are marked by what lies upstream (the ribosome binding site, ~5-15 nt before the codon) and by the
codon itself (ATG > GTG > TTG). The scorer is a position-specific linear filter, one `Conv1d(channels, 1)`
whose output at position p scores a start codon at p from `upstream` nt before it to `downstream` nt after it,
over one-hot DNA and, optionally, Shine-Dalgarno tracks (`motif_lengths`): per k, 1 where the k nt from a
position are a piece of the sequence that pairs with the 3' end of 16S rRNA. One-hot DNA alone must spell a
binding site out base by base at each spacing, which a linear filter can only average over; a track says "a
4-mer of the binding site starts here" in one channel, and the filter learns at what spacing it counts
(leaving each training genome out, the scorer alone places 66% of starts with one-hot DNA, 71% with the
tracks of 4-6 nt: docs/start_site_motifs.md). It has no bias: it is fitted (`fit`) to rank the true start above the other start
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
from .orfs import base_codes, growing_kmer_ids, kmer_ids, open_reading_frames


# The 3' end of bacterial 16S rRNA, 3'-AUUCCUCCACU-5', is conserved across bacteria; the mRNA it pairs with,
# 5'-TAAGGAGGTGA-3', is the Shine-Dalgarno sequence, and ribosome binding sites are pieces of it (AGGAGG, GGAG...)
SHINE_DALGARNO = "TAAGGAGGTGA"

_ACGT_CHANNEL = np.array([3, 1, 0, 2, 4])  # base_codes' TCAG index -> one-hot channel (A, C, G, T), 4 = none


def one_hot(seq: str) -> torch.Tensor:
    """(4, n) float one-hot of A/C/G/T (either case, U as T; channels in that order); N and IUPAC codes are all
    zeros."""
    b = torch.from_numpy(_ACGT_CHANNEL[base_codes(seq)])
    out = torch.zeros(5, len(seq))
    out[b, torch.arange(len(seq))] = 1.0
    return out[:4]


def shine_dalgarno_hits(seq: str, lengths: tuple[int, ...]) -> np.ndarray:
    """(len(lengths), n) bool: row i is True at p where the `lengths[i]` nt from p (either case, U as T) are a
    piece of SHINE_DALGARNO (False where they would run past the end); one pass over the sequence for all lengths."""
    hits = {}
    for k, ids, valid in growing_kmer_ids(seq, max(lengths, default=0)):
        if k in lengths:
            piece = np.zeros(4 ** k, dtype=bool)
            piece[kmer_ids(SHINE_DALGARNO, k)] = True
            hits[k] = valid & piece[ids]
    return np.stack([hits[k] for k in lengths]) if lengths else np.zeros((0, len(seq)), dtype=bool)


def shine_dalgarno_tracks(seq: str, lengths: tuple[int, ...]) -> torch.Tensor:
    """`shine_dalgarno_hits` as the scorer's (len(lengths), n) float input channels."""
    return torch.from_numpy(shine_dalgarno_hits(seq, lengths)).float()


class StartSiteScorer(nn.Module):
    """Start-codon logits of every position of a sequence from the DNA around it (see the module docstring)."""

    def __init__(self, upstream: int, downstream: int, motif_lengths: tuple[int, ...] = ()):
        super().__init__()
        if upstream < 0 or downstream < 0:
            raise ValueError(f"start-site context must be >= 0 nt each side, got {upstream}, {downstream}")
        if any(not 1 <= k <= len(SHINE_DALGARNO) for k in motif_lengths):
            raise ValueError(f"Shine-Dalgarno motif lengths must be 1-{len(SHINE_DALGARNO)} nt, got {list(motif_lengths)}")
        self.upstream, self.downstream = upstream, downstream
        self.motif_lengths = tuple(int(k) for k in motif_lengths)
        self.filter = nn.Conv1d(4 + len(self.motif_lengths), 1, kernel_size=upstream + 3 + downstream, bias=False)

    @property
    def width(self) -> int:
        return self.upstream + 3 + self.downstream

    def blank(self) -> "StartSiteScorer":
        """A scorer of the same shape (context and tracks), its filter freshly initialised."""
        return StartSiteScorer(self.upstream, self.downstream, self.motif_lengths)

    def encode(self, seq: str) -> torch.Tensor:
        """(channels, n) what the filter reads of `seq`: one-hot DNA, then the Shine-Dalgarno tracks."""
        return torch.cat([one_hot(seq), shine_dalgarno_tracks(seq, self.motif_lengths)])

    def forward(self, encoded: torch.Tensor) -> torch.Tensor:
        """(B, channels, n) `encode`d DNA -> (B, n) logits; beyond the sequence's ends all channels are 0."""
        padded = nn.functional.pad(encoded, (self.upstream, self.width - 1 - self.upstream))
        return self.filter(padded).squeeze(1)

    @torch.no_grad()
    def score(self, seq: str, at: np.ndarray | None = None, chunk: int = 1 << 15) -> np.ndarray:
        """float32 logits of the forward strand of `seq` at every position (n,), or at the positions `at` only;
        score the reverse strand on its reverse complement.

        ORF decoding reads ~1 position in 20 (its start codons), so for `at` the filter is not run over the
        whole sequence: each position's channels (a base, or none, and its track bits) are one of
        5 x 2**tracks codes, and a logit is the sum over the window of a (code, offset) table of filter weights,
        `chunk` positions at a time (far less work than convolving every position)."""
        w = self.filter.weight
        if at is None:
            return self(self.encode(seq).to(w.device, w.dtype).unsqueeze(0))[0].float().cpu().numpy()
        weight = w[0].detach().float().cpu().numpy()  # (4 + tracks, width)
        n_tracks = len(self.motif_lengths)
        code = _ACGT_CHANNEL[base_codes(seq)]
        for i, hits in enumerate(shine_dalgarno_hits(seq, self.motif_lengths)):
            code += (5 << i) * hits
        rows = np.arange(5 * 2 ** n_tracks)
        on = (rows[:, None] // 5 >> np.arange(n_tracks)) & 1  # (codes, tracks): the code's track bits
        table = np.vstack([weight[:4], np.zeros((1, self.width))])[rows % 5] + on @ weight[4:]
        code = np.pad(code, (self.upstream, self.width), constant_values=4)  # beyond the ends: no base, no track
        offsets = np.arange(self.width)
        at = np.asarray(at, dtype=np.int64)
        out = [table[code[at[i:i + chunk, None] + offsets], offsets].sum(1) for i in range(0, len(at), chunk)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


@dataclass
class StartExamples:
    """Candidate start codons grouped by ORF: `contexts` (m, channels, width) of the scorer's `encode`, `group` (m,) ORF index,
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
                    min_length: int, scorer: StartSiteScorer) -> dict[str, StartExamples]:
    """Examples for `scorer`'s shape of one strand read 5'->3' (`seq`) per split block: from the complete genes
    (0-based start, exclusive end) lying inside the block whose true start is one of their ORF's candidates.
    The strand's ORFs and encoding are computed once for all blocks."""
    orf_starts, orf_ends = open_reading_frames(seq, code, min_length)
    width = scorer.width
    padded = torch.nn.functional.pad(scorer.encode(seq), (scorer.upstream, width))
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
