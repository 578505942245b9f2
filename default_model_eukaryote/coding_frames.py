"""Per-nucleotide coding-frame labels of a window: the targets of the model's auxiliary coding-frame head.

Class of each nucleotide (`FRAME_CLASSES`): 0 outside every CDS; 1-3 its codon position (1 = first base) in a
CDS on '+'; 4-6 the same on '-', where codons are read from the higher coordinate down. Codon positions come
from each CDS piece's GFF phase (bases to skip from the piece's 5' end), so pieces cut by the window edge and
pieces split by introns are labelled in their true frame. Where CDS overlap (bacterial genes sharing a few
bases, alternative transcripts), the gene later in the window's canonical order wins: such bases are a tiny
fraction and any of the labels is true of them.
"""

from __future__ import annotations

import numpy as np

from .features import Gene

FRAME_CLASSES = ("non-coding", "+1", "+2", "+3", "-1", "-2", "-3")


def coding_frame_labels(genes: list[Gene], length: int) -> np.ndarray:
    """(length,) int64 class per nucleotide of a window of `length` nt whose genes are in window coordinates."""
    labels = np.zeros(length, dtype=np.int64)
    for gene in genes:
        for transcript in gene.transcripts:
            for piece in transcript.cds:
                lo, hi = max(piece.start, 1), min(piece.end, length)
                if lo > hi:
                    continue
                positions = np.arange(lo, hi + 1)
                if gene.strand == "+":
                    labels[lo - 1:hi] = 1 + (positions - piece.start - piece.phase) % 3
                else:
                    labels[lo - 1:hi] = 4 + (piece.end - positions - piece.phase) % 3
    return labels


def frame_agreement(gene: Gene, predicted: np.ndarray) -> float:
    """Fraction of the gene's CDS nucleotides (inside the window) whose predicted class (`predicted`: (L,) class
    ids, e.g. the coding-frame head's argmax) is the frame the gene implies; 0.0 for a gene without CDS."""
    labels = coding_frame_labels([gene], len(predicted))
    inside = labels > 0
    return float((predicted[inside] == labels[inside]).mean()) if inside.any() else 0.0
