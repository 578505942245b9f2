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
(leaving each training genome out, the tracks of 4-6 nt place more starts than one-hot DNA alone:
docs/decisions/bacterial_decoder.md). It has no bias: it is fitted (`fit`) to rank the true start above the other start
codons of the same ORF (a softmax over each ORF's candidates), where a constant cancels: on annotated genomes by
`start_site_training.py` (the model's scorer), and again on the genes of the input genome itself, pulled
towards the model's scorer (`self_training.py`). ORF decoding adds `start_weight` x this score to a candidate
gene's coding score.

A linear filter adds evidence up; it cannot say "one binding site at the best of several spacings, whichever
k-mer it is, and more so before an ATG". `detectors` > 0 adds that: a small convolutional layer (`detectors`
motif detectors of `detector_width` nt, ReLU) whose outputs a second position-specific filter weighs across
the same window, summed with the linear filter. It is fitted after the linear filter, jointly, by AdamW on
minibatches of ORFs; the refit on the input moves the linear filter only (the detectors' part is a fixed offset
then), which keeps the refit a convex L-BFGS fit of seconds.

This module is Hub remote code: numpy, torch and siblings only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .orfs import base_codes, growing_kmer_ids, kmer_ids
from .strands import Strand


# The 3' end of bacterial 16S rRNA, 3'-AUUCCUCCACU-5', is conserved across bacteria; the mRNA it pairs with,
# 5'-TAAGGAGGTGA-3', is the Shine-Dalgarno sequence, and ribosome binding sites are pieces of it (AGGAGG, GGAG...)
SHINE_DALGARNO = "TAAGGAGGTGA"

_ACGT_CHANNEL = np.array([3, 1, 0, 2, 4])  # base_codes' TCAG index -> one-hot channel (A, C, G, T), 4 = none


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


class StartSiteScorer(nn.Module):
    """Start-codon logits of every position of a sequence from the DNA around it (see the module docstring)."""

    def __init__(self, upstream: int, downstream: int, motif_lengths: tuple[int, ...] = (), detectors: int = 0,
                 detector_width: int = 9):
        super().__init__()
        if upstream < 0 or downstream < 0:
            raise ValueError(f"start-site context must be >= 0 nt each side, got {upstream}, {downstream}")
        if any(not 1 <= k <= len(SHINE_DALGARNO) for k in motif_lengths):
            raise ValueError(f"Shine-Dalgarno motif lengths must be 1-{len(SHINE_DALGARNO)} nt, got {list(motif_lengths)}")
        if detectors < 0 or detector_width < 1 or detector_width % 2 == 0:
            raise ValueError(f"start-site detectors must be >= 0 of an odd width, got {detectors} of {detector_width} nt")
        self.upstream, self.downstream = upstream, downstream
        self.motif_lengths = tuple(int(k) for k in motif_lengths)
        self.n_detectors, self.detector_width = int(detectors), int(detector_width)
        channels = 4 + len(self.motif_lengths)
        self.filter = nn.Conv1d(channels, 1, kernel_size=self.width, bias=False)
        if self.n_detectors:
            self.detectors = nn.Conv1d(channels, self.n_detectors, kernel_size=detector_width)
            self.detector_filter = nn.Conv1d(self.n_detectors, 1, kernel_size=self.width, bias=False)
            nn.init.zeros_(self.detector_filter.weight)  # starts as the linear filter alone

    @classmethod
    def from_config(cls, config) -> "StartSiteScorer | None":
        """The scorer a model config describes (`start_site_context`, `start_site_motifs`, `start_site_detectors`,
        as `genefinder fit-starts` writes them), freshly initialised; None for a model without one."""
        context = getattr(config, "start_site_context", None)
        if not context:
            return None
        return cls(*context, getattr(config, "start_site_motifs", None) or (),
                   *(getattr(config, "start_site_detectors", None) or ()))

    @property
    def width(self) -> int:
        """nt the filters weigh: the codon and its context."""
        return self.upstream + 3 + self.downstream

    @property
    def margin(self) -> int:
        """nt read beyond the window on each side, by the detectors at its edges."""
        return self.detector_width // 2 if self.n_detectors else 0

    @property
    def span(self) -> int:
        """nt of DNA one logit reads: the window and a margin each side (`strand_examples`' contexts)."""
        return self.width + 2 * self.margin

    def blank(self) -> "StartSiteScorer":
        """A scorer of the same shape (context, tracks, detectors), freshly initialised."""
        return StartSiteScorer(self.upstream, self.downstream, self.motif_lengths, self.n_detectors,
                               self.detector_width)

    def input_codes(self, seq: str) -> np.ndarray:
        """(n,) what the scorer reads at each position of `seq` as one integer: the base's channel (A, C, G, T
        in either case, U as T; 4 for N, IUPAC codes and beyond the ends) + 5 x the bits of the Shine-Dalgarno
        tracks that hit there. Every input of the scorer is a lookup in these codes: `channel_table` for the
        encoded DNA, a table of filter weights for `linear_at`."""
        codes = _ACGT_CHANNEL[base_codes(seq)]
        for i, hits in enumerate(shine_dalgarno_hits(seq, self.motif_lengths)):
            codes = codes + (5 << i) * hits
        return codes.astype(np.min_scalar_type(5 << len(self.motif_lengths)))

    def channel_table(self) -> np.ndarray:
        """(5 x 2**tracks, channels) float32: the channels (one-hot DNA, then the tracks) of each input code."""
        return _channel_table(len(self.motif_lengths))

    def encode(self, seq: str) -> torch.Tensor:
        """(channels, n) what the filter reads of `seq`: one-hot DNA (A, C, G, T), then the Shine-Dalgarno tracks."""
        return torch.from_numpy(np.ascontiguousarray(self.channel_table()[self.input_codes(seq)].T))

    def contexts_at(self, codes: np.ndarray, at: np.ndarray) -> torch.Tensor:
        """(m, channels, span) encoded DNA each logit at the positions `at` reads (`StartExamples.contexts`), from
        a strand's `input_codes`; beyond its ends all channels are 0."""
        padded = _padded(codes, self.upstream + self.margin, self.span)
        windows = padded[np.asarray(at, dtype=np.int64)[:, None] + np.arange(self.span)]  # (m, span)
        return torch.from_numpy(np.ascontiguousarray(self.channel_table()[windows].transpose(0, 2, 1)))

    def linear_part(self, padded: torch.Tensor) -> torch.Tensor:
        """(B, L) the linear filter's logits over (B, channels, L + span - 1) encoded DNA."""
        m = self.margin
        return self.filter(padded[..., m:padded.shape[-1] - m]).squeeze(1)

    def detector_part(self, padded: torch.Tensor) -> torch.Tensor:
        """(B, L) the detectors' logits over (B, channels, L + span - 1) encoded DNA (zeros without detectors)."""
        if not self.n_detectors:
            return padded.new_zeros(padded.shape[0], padded.shape[-1] - self.span + 1)
        return self.detector_filter(torch.relu(self.detectors(padded))).squeeze(1)

    def context_logits(self, contexts: torch.Tensor) -> torch.Tensor:
        """(m,) logits of (m, channels, span) contexts (`StartExamples.contexts`), one start codon each."""
        return (self.linear_part(contexts) + self.detector_part(contexts))[:, 0]

    def pad(self, encoded: torch.Tensor) -> torch.Tensor:
        """`encode`d DNA (..., channels, n) -> (..., channels, n + span - 1): zeros beyond the sequence's ends, so
        that `linear_part` and `detector_part` give one logit per position."""
        m = self.margin
        return nn.functional.pad(encoded, (self.upstream + m, self.width - 1 - self.upstream + m))

    def forward(self, encoded: torch.Tensor) -> torch.Tensor:
        """(B, channels, n) `encode`d DNA -> (B, n) logits; beyond the sequence's ends all channels are 0."""
        padded = self.pad(encoded)
        return self.linear_part(padded) + self.detector_part(padded)

    @torch.no_grad()
    def score(self, seq: str, at: np.ndarray | None = None, chunk: int = 1 << 15) -> np.ndarray:
        """float32 logits of the forward strand of `seq` at every position (n,), or at the positions `at` only;
        score the reverse strand on its reverse complement.

        ORF decoding reads ~1 position in 20 (its start codons), so for `at` the linear filter is not run over
        the whole sequence: each position's channels (a base, or none, and its track bits) are one of
        5 x 2**tracks codes, and a logit is the sum over the window of a (code, offset) table of filter weights,
        `chunk` positions at a time (far less work than convolving every position); then `detected_at`."""
        w = self.filter.weight
        if at is None:
            return self(self.encode(seq).to(w.device, w.dtype).unsqueeze(0))[0].float().cpu().numpy()
        at = np.asarray(at, dtype=np.int64)
        return self.linear_at(seq, at, chunk) + self.detected_at(seq, at, chunk * 8)

    @torch.no_grad()
    def detected_at(self, seq: str, at: np.ndarray, chunk: int = 1 << 18) -> np.ndarray:
        """float32 detector part of the logits at the positions `at` (zeros without detectors): the detectors,
        whose windows overlap at every start codon, run over the whole sequence, `chunk` positions at a time;
        the costly part of scoring, and what a refit on the input leaves unchanged."""
        if not self.n_detectors or len(at) == 0:
            return np.zeros(len(at), np.float32)
        w = self.filter.weight
        padded = self.pad(self.encode(seq).to(w.device, w.dtype))
        detected = np.concatenate([self.detector_part(padded[None, :, i:i + chunk + self.span - 1])[0].float().cpu().numpy()
                                   for i in range(0, len(seq), chunk)])
        return detected[at]

    def linear_at(self, seq: str, at: np.ndarray, chunk: int = 1 << 18, codes: np.ndarray | None = None
                  ) -> np.ndarray:
        """float32 linear-filter part of the logits at the positions `at`, by (code, offset) table lookup (see
        `score`); `codes`, the `input_codes` of `seq`, when already at hand."""
        weight, at = self.filter.weight[0].detach().float().cpu().numpy(), np.asarray(at, dtype=np.int64)
        # (width, codes): each code's contribution at each offset, one contiguous row per offset
        table = np.ascontiguousarray((self.channel_table() @ weight).T)
        codes = self.input_codes(seq) if codes is None else codes
        codes = _padded(codes, self.upstream, self.width)  # beyond the ends: nothing
        if len(at) * self.width <= 1 << 16:  # a short record: one lookup of every (position, offset) at once
            windows = np.lib.stride_tricks.sliding_window_view(codes, self.width)[at]  # (positions, width) codes
            index = windows + np.arange(self.width, dtype=np.int32) * table.shape[1]  # into table.ravel()
            # a running sum along the window adds in the same order as the loop below: the same float32 logits
            return np.cumsum(table.ravel()[index], axis=1, dtype=np.float32)[:, -1]
        out = np.zeros(len(at), np.float32)
        for i in range(0, len(at), chunk):  # offset by offset: no (positions, width) index array
            part = at[i:i + chunk]
            for offset, row in enumerate(table):
                out[i:i + chunk] += row[codes[part + offset]]
        return out


def _padded(codes: np.ndarray, before: int, after: int) -> np.ndarray:
    """`input_codes` with `before` and `after` positions of code 4 (no base, no track) around them."""
    out = np.full(before + len(codes) + after, 4, dtype=codes.dtype)
    out[before:before + len(codes)] = codes
    return out


@functools.lru_cache(maxsize=None)
def _channel_table(n_tracks: int) -> np.ndarray:
    rows = np.arange(5 << n_tracks)
    base = np.eye(5, 4, dtype=np.float32)[rows % 5]  # code 4: no base, all zeros
    bits = (rows[:, None] // 5 >> np.arange(n_tracks)) & 1
    table = np.hstack([base, bits.astype(np.float32)])
    table.flags.writeable = False  # shared by every scorer with as many tracks
    return table


@dataclass
class StartExamples:
    """Candidate start codons grouped by ORF: `contexts` (m, channels, span) of the scorer's `encode`, `group` (m,) ORF index,
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


def strand_examples(strand: Strand, genes: list[tuple[int, int]], blocks: dict[str, tuple[int, int]],
                    scorer: StartSiteScorer) -> dict[str, StartExamples]:
    """Examples for `scorer`'s shape of one strand (`strands.Strand`, read 5'->3') per split block: from the
    complete genes (0-based start, exclusive end) lying inside the block whose true start is one of their ORF's
    candidates (the strand's ORFs, under its genetic code and minimum length)."""
    orf_starts, orf_ends = strand.orfs
    codes = strand.scorer_codes(scorer)
    out = {}
    for split, (lo, hi) in blocks.items():
        true_start = dict((e, a) for a, e in genes if lo <= a and e <= hi)
        in_block = (orf_starts >= lo) & np.isin(orf_ends, list(true_start))
        starts, ends = orf_starts[in_block], orf_ends[in_block]
        has_true = {e for a, e in zip(starts, ends) if true_start[e] == a}
        keep = np.isin(ends, list(has_true))
        starts, ends = starts[keep], ends[keep]
        _, group = np.unique(ends, return_inverse=True)
        true = np.array([true_start[e] == a for a, e in zip(starts, ends)], dtype=bool)
        out[split] = StartExamples(scorer.contexts_at(codes, starts), torch.from_numpy(group.reshape(-1)),
                                   torch.from_numpy(true))
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
        prior: torch.Tensor | None = None, offset: torch.Tensor | None = None) -> float:
    """Fit the scorer's linear filter in place, from `prior` (a filter's weight; default zeros) with an L2 pull
    of strength `l2` towards it, on top of fixed per-candidate `offset` logits (default none; the refit passes
    the detectors' part); returns the final training loss. Convex: full-batch L-BFGS."""
    weight = scorer.filter.weight  # (1, channels, width)
    anchor = torch.zeros_like(weight) if prior is None else prior.detach().clone().to(weight)
    m = scorer.margin
    window = train.contexts[..., m:train.contexts.shape[-1] - m]
    fixed = torch.zeros(len(train.group)) if offset is None else offset.detach()
    with torch.no_grad():
        weight.copy_(anchor)
    optimizer = torch.optim.LBFGS([weight], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        if torch.is_grad_enabled():
            optimizer.zero_grad()
        loss = ranking(torch.einsum("mck,ck->m", window, weight[0]) + fixed, train)[0] \
            + l2 * (weight - anchor).pow(2).sum()
        if loss.requires_grad:
            loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return float(closure())


def fit_detectors(scorer: StartSiteScorer, train: StartExamples, epochs: int = 20, weight_decay: float = 0.03,
                  lr: float = 3e-3, batch_orfs: int = 2048, seed: int = 0) -> float:
    """Fit the whole scorer (linear filter, detectors and their filter) in place, from where it is (after `fit`
    of the linear filter), by AdamW on minibatches of `batch_orfs` whole ORFs, shuffled with `seed`; returns the
    last epoch's mean loss."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        scorer.detectors.reset_parameters()
    optimizer = torch.optim.AdamW(scorer.parameters(), lr=lr, weight_decay=weight_decay)
    bounds = torch.cat([torch.tensor([0]), torch.nonzero(torch.diff(train.group)).flatten() + 1,
                        torch.tensor([len(train.group)])])
    size = torch.diff(bounds)
    for _ in range(epochs):
        order, losses = torch.randperm(len(size), generator=generator), []
        for i in range(0, len(order), batch_orfs):
            chosen = order[i:i + batch_orfs]
            n = size[chosen]
            rows = torch.repeat_interleave(bounds[chosen] - torch.cumsum(n, 0) + n, n) + torch.arange(int(n.sum()))
            batch = StartExamples(train.contexts[rows], torch.repeat_interleave(torch.arange(len(chosen)), n),
                                  train.true[rows])
            loss = ranking(scorer.context_logits(batch.contexts), batch)[0]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    return float(np.mean(losses)) if losses else 0.0


def train_scorer(scorer: StartSiteScorer, train: StartExamples, l2: float = 1e-3) -> float:
    """`fit` the linear filter, then, for a scorer with detectors, `fit_detectors`: how `genefinder fit-starts`
    fits a model's scorer; returns the final training loss."""
    loss = fit(scorer, train, l2)
    return fit_detectors(scorer, train) if scorer.n_detectors else loss
