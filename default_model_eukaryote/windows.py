"""Window arithmetic and gene models seen through a window: the one place both are defined.

Training data, `model.generate` on a long sequence, the CLI and the Hub pipeline all cut sequences with
`window_starts` and cut genes with `genes_in_window`, so their windows and partial flags can never disagree.
Windows are 0-based half-open [start, start + length) on the record; genes inside are 1-based inclusive
window coordinates (see features.py).

This module is stdlib-only: it is copied beside the Hub files as remote code.
"""

from __future__ import annotations

import bisect
from dataclasses import replace

from .features import CDSPart, Gene, Transcript, canonical

_COMPLEMENT = str.maketrans("ACGTUNRYKMSWBDHVacgtunrykmswbdhv", "TGCAANYRMKSWVHDBtgcaanyrmkswvhdb")


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """0-based starts of windows of `window` nt every `stride` nt; the last one ends at the record's end.

    A record shorter than `window` gets one window starting at 0 (of the record's length).
    """
    if window <= 0 or stride <= 0:
        raise ValueError(f"window and stride must be positive, got window={window} stride={stride}")
    if stride > window:
        raise ValueError(f"stride ({stride}) must not exceed window ({window}): bases would be skipped")
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


def reverse_complement(seq: str) -> str:
    """Reverse complement keeping case and IUPAC codes (R<->Y, K<->M, B<->V, D<->H; S, W, N map to themselves)."""
    return seq.translate(_COMPLEMENT)[::-1]


class GeneIndex:
    """Genes of one record sorted by start, for fast `genes_in_window` queries over many windows."""

    def __init__(self, genes: list[Gene]):
        self.genes = sorted(genes, key=lambda g: (g.start, g.end))
        self._starts = [g.start for g in self.genes]
        self._max_end: list[int] = []  # running max of ends: monotone, so bisectable
        for g in self.genes:
            self._max_end.append(max(g.end, self._max_end[-1] if self._max_end else 0))

    def overlapping(self, start: int, end: int) -> list[Gene]:
        """Genes overlapping the 1-based inclusive genome interval [start, end]."""
        lo = bisect.bisect_left(self._max_end, start)
        hi = bisect.bisect_right(self._starts, end)
        return [g for g in self.genes[lo:hi] if g.end >= start]


def genes_in_window(index: GeneIndex, win_start: int, win_len: int) -> list[Gene]:
    """Genes cut to the window [win_start, win_start + win_len) (0-based), in window coordinates, canonical order.

    Pieces outside the window are dropped; a transcript reaching past an edge gets `partial_left` /
    `partial_right`, and a CDS cut on its 5' side gets the phase of its first base inside the window.
    Transcripts with no exon or CDS inside (the window sits in an intron) are dropped, as are genes left empty.
    """
    lo, hi = win_start + 1, win_start + win_len  # window in 1-based genome coordinates
    out = []
    for g in index.overlapping(lo, hi):
        transcripts = tuple(t for t in (_clip(t, g.strand, lo, hi) for t in g.transcripts) if t is not None)
        if transcripts:
            out.append(replace(g, transcripts=transcripts))
    return shift_genes(canonical(out), -win_start)


def _clip(t: Transcript, strand: str, lo: int, hi: int) -> Transcript | None:
    exons = tuple((max(s, lo), min(e, hi)) for s, e in t.exons if e >= lo and s <= hi)
    cds = []
    for c in t.cds:
        if c.end < lo or c.start > hi:
            continue
        cut_5p = (lo - c.start) if strand == "+" else (c.end - hi)
        phase = (c.phase - max(cut_5p, 0)) % 3
        cds.append(CDSPart(max(c.start, lo), min(c.end, hi), phase))
    if not exons and not cds:
        return None
    return normalise_transcript(replace(t, exons=exons, cds=tuple(cds), partial_left=t.partial_left or t.start < lo,
                                        partial_right=t.partial_right or t.end > hi))


def normalise_transcript(t: Transcript) -> Transcript:
    """Drop exons that say nothing beyond the CDS (exons == CDS pieces merged): the tokens leave them out."""
    if t.cds and t.exons and list(t.exons) == merge_intervals([(c.start, c.end) for c in t.cds]):
        return replace(t, exons=())
    return t


def merge_intervals(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of 1-based inclusive intervals that touch or overlap."""
    merged: list[list[int]] = []
    for s, e in sorted(intervals):
        if merged and s <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def shift_genes(genes: list[Gene], offset: int) -> list[Gene]:
    """Add `offset` to every coordinate (window -> genome with +win_start, genome -> window with -win_start)."""
    def shift_t(t: Transcript) -> Transcript:
        return replace(t, exons=tuple((s + offset, e + offset) for s, e in t.exons),
                       cds=tuple(CDSPart(c.start + offset, c.end + offset, c.phase) for c in t.cds))
    return [replace(g, transcripts=tuple(shift_t(t) for t in g.transcripts)) for g in genes]


def reverse_complement_genes(genes: list[Gene], win_len: int) -> list[Gene]:
    """The same genes seen on the reverse-complemented window: positions mirrored, strands and edges swapped."""
    def flip(s: int, e: int) -> tuple[int, int]:
        return win_len - e + 1, win_len - s + 1

    def flip_t(t: Transcript) -> Transcript:
        return replace(t, exons=tuple(sorted(flip(s, e) for s, e in t.exons)),
                       cds=tuple(sorted(CDSPart(*flip(c.start, c.end), c.phase) for c in t.cds)),
                       partial_left=t.partial_right, partial_right=t.partial_left)
    return canonical([replace(g, strand="-" if g.strand == "+" else "+",
                              transcripts=tuple(flip_t(t) for t in g.transcripts)) for g in genes])
