"""Splice-site scorers: a small network per site type over the bases around each candidate, added to the decoder.

The gene-structure network reads splice sites among everything else; a scorer that sees only the bases around a
GT/GC donor or an AG acceptor places the exon ends more sharply, as the signal models of HMM gene finders
(Augustus, GeneMark) do. Each scorer is a one-hidden-layer network over one-hot bases (N = all zeros) in a fixed
window around the site's dinucleotide, giving a log-odds per candidate; `decoder_bonus` turns them into the
per-position bonuses the exact decoder adds where it opens or closes an intron (decoding/gene_structure_viterbi.py),
for both strands, times the tuned `splice_weight` (GeneStructureDecodingParams).

Site positions (0-based, on the strand the gene reads): a donor's is the G of its GT/GC (the intron's first base);
an acceptor's the A of its AG (the intron's second-last base). The scorers are fitted on training genes
(training/splice_site_training.py) and stored beside the model as `splice_sites.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLICE_SITES_FILE = "splice_sites.json"
_BASE = np.full(256, 4, dtype=np.int8)
for _i, _b in enumerate("ACGT"):
    _BASE[ord(_b)] = _BASE[ord(_b.lower())] = _i
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.int8)
MOTIFS = {"donor": ("GT", "GC"), "acceptor": ("AG",)}


def base_ids(dna: str) -> np.ndarray:
    """(L,) int8: A C G T = 0-3 (any case), anything else 4."""
    return _BASE[np.frombuffer(dna.encode("ascii"), dtype=np.uint8)]


def reverse_complement_base_ids(ids: np.ndarray) -> np.ndarray:
    return _COMPLEMENT[ids[::-1]]


def motif_positions(ids: np.ndarray, kind: str) -> np.ndarray:
    """0-based positions p where ids[p:p + 2] is one of the site type's dinucleotides."""
    hits = np.zeros(max(len(ids) - 1, 0), dtype=bool)
    for motif in MOTIFS[kind]:
        a, b = (int(_BASE[ord(c)]) for c in motif)
        hits |= (ids[:-1] == a) & (ids[1:] == b)
    return np.flatnonzero(hits)


def window_features(ids: np.ndarray, positions: np.ndarray, left: int, right: int) -> np.ndarray:
    """(n, 4 * (left + 2 + right)) float32 one-hot of the bases from p - left to p + 1 + right (N and outside: 0)."""
    offsets = np.arange(-left, 2 + right)
    idx = positions[:, None] + offsets[None, :]  # (n, W)
    inside = (idx >= 0) & (idx < len(ids))
    bases = np.where(inside, ids[np.clip(idx, 0, max(len(ids) - 1, 0))], 4)  # (n, W)
    onehot = np.zeros((len(positions), len(offsets), 5), dtype=np.float32)
    np.put_along_axis(onehot, bases[..., None].astype(np.int64), 1.0, axis=2)
    return onehot[..., :4].reshape(len(positions), 4 * len(offsets))


@dataclass
class SiteScorer:
    """One site type's network: features (n, F) -> log-odds (n,) = w2 . gelu(x W1 + b1) + b2."""

    left: int
    right: int
    w1: np.ndarray  # (F, H)
    b1: np.ndarray  # (H,)
    w2: np.ndarray  # (H,)
    b2: float

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        hidden = features @ self.w1 + self.b1
        hidden = 0.5 * hidden * (1.0 + np.tanh(0.7978845608 * (hidden + 0.044715 * hidden ** 3)))  # GELU (tanh)
        return hidden @ self.w2 + self.b2

    def site_scores(self, ids: np.ndarray, kind: str, chunk: int = 1 << 16) -> np.ndarray:
        """(L,) float32: the log-odds at each candidate site of this type, 0 elsewhere."""
        out = np.zeros(len(ids), dtype=np.float32)
        positions = motif_positions(ids, kind)
        for a in range(0, len(positions), chunk):
            p = positions[a:a + chunk]
            out[p] = self.log_odds(window_features(ids, p, self.left, self.right))
        return out

    def to_dict(self) -> dict:
        return {"left": self.left, "right": self.right, "w1": self.w1.tolist(), "b1": self.b1.tolist(),
                "w2": self.w2.tolist(), "b2": float(self.b2)}

    @classmethod
    def from_dict(cls, d: dict) -> "SiteScorer":
        return cls(int(d["left"]), int(d["right"]), np.asarray(d["w1"], dtype=np.float32),
                   np.asarray(d["b1"], dtype=np.float32), np.asarray(d["w2"], dtype=np.float32), float(d["b2"]))


@dataclass
class SpliceSiteScorers:
    donor: SiteScorer
    acceptor: SiteScorer

    def decoder_bonus(self, dna: str, weight: float = 1.0) -> np.ndarray:
        """(4, L) float32 bonuses in the decoder's reading order (left to right on the forward strand): rows '+'
        intron open (at a donor's G), '-' intron open, '+' intron close (at the exon base after an acceptor's G),
        '-' intron close; each the site's log-odds times `weight`."""
        ids = base_ids(dna)
        L = len(ids)
        bonus = np.zeros((4, L), dtype=np.float32)
        if L < 3 or weight == 0:
            return bonus
        rc = reverse_complement_base_ids(ids)
        donor_fwd, acceptor_fwd = self.donor.site_scores(ids, "donor"), self.acceptor.site_scores(ids, "acceptor")
        donor_rc, acceptor_rc = self.donor.site_scores(rc, "donor"), self.acceptor.site_scores(rc, "acceptor")
        i = np.arange(L)
        bonus[0] = donor_fwd  # '+' open at i: the intron's first base, the donor's G
        bonus[1, : L - 1] = acceptor_rc[L - 2 - i[: L - 1]]  # '-' open at i: forward CT at i, i+1 = AG on '-'
        bonus[2, 2:] = acceptor_fwd[: L - 2]  # '+' close at i: AG at i-2, i-1
        bonus[3, 1:] = donor_rc[L - i[1:]]  # '-' close at i: forward AC at i-2, i-1 = GT on '-', G at i-1
        return bonus * np.float32(weight)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"donor": self.donor.to_dict(), "acceptor": self.acceptor.to_dict()}))

    @classmethod
    def load(cls, path: str | Path) -> "SpliceSiteScorers":
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(SiteScorer.from_dict(d["donor"]), SiteScorer.from_dict(d["acceptor"]))
