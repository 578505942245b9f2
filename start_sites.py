"""The start-site scorer: how much the DNA around a start codon looks like a real translation start.

A gene's stop is easy to place once its reading frame is known; its start is not: an ORF holds several
in-frame start codons and the coding-frame head reads coding on both sides of the wrong ones. Bacterial
starts are marked by what lies upstream (the ribosome binding site, ~5-15 nt before the codon) and by the
codon itself (ATG > GTG > TTG), which a position-specific linear filter over one-hot DNA captures: one
`Conv1d(4, 1)` whose output at position p scores a start codon at p from `upstream` nt before it to
`downstream` nt after it. It has no bias: it is fitted by `start_site_training.py` to rank the true start
above the other start codons of the same ORF (a softmax over each ORF's candidates), where a constant
cancels. ORF decoding adds `start_weight` x this score to a candidate gene's coding score.

This module is Hub remote code: numpy, torch and siblings only.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .orfs import base_codes


_ACGT_CHANNEL = np.array([3, 1, 0, 2, 4])  # base_codes' TCAG index -> one-hot channel (A, C, G, T), 4 = none


def one_hot(seq: str) -> torch.Tensor:
    """(4, n) float one-hot of A/C/G/T (either case; channels in that order); N and IUPAC codes are all zeros."""
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
