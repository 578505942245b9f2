"""Self-training on the input genome: the codon statistics of its own genes, learned before annotating it.

Codon and dicodon usage differ from genome to genome (GC content, tRNA pools, expression), and they are the
strongest single signal for a short gene, which has too few codons for the network's coding-frame head to be
sure of. Prodigal and GeneMarkS therefore fit a genome's coding statistics on the genome itself; so does
ORF decoding here, in a cheap first pass:

1. decode every record network-free (ORF structure, length prior, start scorer: `head_weight` 0), as Prodigal
   starts from its longest ORFs;
2. count the in-frame hexamers (dicodons) of the genes it calls (those of at least `self_training_min_length`
   nt: short calls are the likeliest false ones) and every hexamer of both strands
   (`CodingStatistics.fit`): the score of a hexamer is log P(hexamer | in-frame coding) - log P(hexamer |
   genome), shrunk towards 0 by a pseudo-count so that a small input changes little;
3. optionally repeat with that score in the decoder (`self_training_rounds`);
4. decode once more with the statistics and refit the start-site scorer on the starts of the genes called
   (`refit_start_scorer`), pulled towards the model's scorer by an L2 penalty: ribosome binding sites differ
   between genomes, and the model's scorer has seen only its training genomes'; `start_refit_rounds` > 1
   decodes again with the refitted scorer and refits on those genes (from the model's scorer again), as
   Prodigal iterates its start training;
5. the real pass adds `hexamer_weight` x the sum of the scores of an ORF's in-frame hexamers
   (`CodingStatistics.orf_scores`) to what `orf_decoding.decode_orfs` weighs, and reads starts with the refitted
   scorer.

No reference annotation is read: this is unsupervised, from the DNA being annotated, so it runs on any input.

This module is Hub remote code: numpy, torch and siblings only.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
import torch

from .strands import N_HEXAMERS, Strand
from .features import Gene
from .start_sites import StartExamples, StartSiteScorer, fit, strand_examples

PSEUDO_HEXAMERS = 20_000  # coding hexamers worth of the genome background mixed into the coding counts


def strand_spans(strands: tuple[Strand, Strand], genes: list[Gene]) -> Iterator[tuple[Strand, np.ndarray, np.ndarray]]:
    """(strand, 0-based starts, exclusive ends) of the genes on each strand of a record (`strands.record_strands`):
    the forward strand with its + genes, then the reverse strand with the - genes' coordinates mirrored onto it."""
    n = len(strands[0])
    plus, minus = [g for g in genes if g.strand == "+"], [g for g in genes if g.strand == "-"]
    yield strands[0], np.array([g.start - 1 for g in plus], np.int64), np.array([g.end for g in plus], np.int64)
    yield (strands[1], np.array([n - g.end for g in minus], np.int64),
           np.array([n - g.start + 1 for g in minus], np.int64))


def in_frame_positions(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The positions of the in-frame hexamers of genes [start, end) read 5'->3' (start codon .. last sense codon
    + stop), concatenated."""
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64)
    counts = (ends - starts - 3) // 3  # hexamers at start, start + 3, ..., end - 6
    first = np.repeat(starts, counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return first + 3 * offsets


def hexamer_counts(records: Iterable[tuple[tuple[Strand, Strand], list[Gene]]]) -> tuple[np.ndarray, np.ndarray, int]:
    """(in-frame hexamer counts of the genes, counts of every hexamer of both strands, number of genes), each count
    (4096,), over (`strands.record_strands`, genes in 1-based coordinates) per record."""
    coding, background = np.zeros(N_HEXAMERS, np.int64), np.zeros(N_HEXAMERS, np.int64)
    n_genes = 0
    for strands, genes in records:
        for strand, lo, hi in strand_spans(strands, genes):
            background += strand.hexamer_counts
            at = strand.hexamers[in_frame_positions(lo, hi)]
            coding += np.bincount(at[at >= 0], minlength=N_HEXAMERS)
            n_genes += len(lo)
    return coding, background, n_genes


@dataclass(frozen=True)
class CodingStatistics:
    """log P(hexamer | in-frame coding) - log P(hexamer | genome), one score per hexamer (4096,)."""

    scores: np.ndarray
    n_genes: int  # the genes the coding counts came from

    @classmethod
    def fit(cls, records: Iterable[tuple[tuple[Strand, Strand], list[Gene]]]) -> "CodingStatistics":
        """From (`strands.record_strands`, genes called on the record in 1-based coordinates) per record: coding
        counts from the genes' in-frame hexamers, background counts from every hexamer of both strands."""
        coding, background, n_genes = hexamer_counts(records)
        p_background = (background + 1) / (background.sum() + N_HEXAMERS)
        p_coding = (coding + PSEUDO_HEXAMERS * p_background) / (coding.sum() + PSEUDO_HEXAMERS)
        return cls(np.log(p_coding) - np.log(p_background), n_genes)

    def orf_scores(self, ids: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Sum of the scores of each candidate's in-frame hexamers, for ORFs [start, end) of a strand read 5'->3'
        whose hexamers are `ids` (`Strand.hexamers`; every candidate is at least two codons long)."""
        per_position = np.where(ids >= 0, self.scores[np.maximum(ids, 0)], 0.0)
        per_position = np.concatenate((per_position, np.zeros(-len(per_position) % 3 + 3)))
        by_frame = np.zeros((len(per_position) // 3 + 1, 3))  # row q + 1 holds the sum up to q:
        np.cumsum(per_position.reshape(-1, 3), axis=0, out=by_frame[1:])  # [q, r] sums positions 3q' + r, q' <= q
        frame, last = starts % 3, (ends - 6) // 3
        return by_frame[last + 1, frame] - by_frame[starts // 3, frame]


def refit_start_scorer(scorer: StartSiteScorer, records: Iterable[tuple[tuple[Strand, Strand], list[Gene]]],
                       l2: float) -> StartSiteScorer:
    """A new scorer fitted (on CPU) to the starts of the genes called on the input, (`strands.record_strands`,
    genes in 1-based coordinates) per record, among the candidates of the strands' ORFs: `scorer`'s linear
    filter refitted, pulled towards it with strength `l2` (its detectors, if any, kept); `scorer` itself when no
    called gene has a start to learn from."""
    parts = []
    for strands, genes in records:
        for strand, lo, hi in strand_spans(strands, genes):
            parts.append(strand_examples(strand, list(zip(lo.tolist(), hi.tolist())), {"all": (0, len(strand))},
                                         scorer)["all"])
    examples = StartExamples.concat(parts)
    if examples.n_orfs == 0:
        return scorer
    refit = copy.deepcopy(scorer).float().cpu()
    with torch.no_grad():  # the detectors stay as fitted on the training genomes: their part is a fixed offset
        offset = refit.detector_part(examples.contexts)[:, 0]
    fit(refit, examples, l2, prior=scorer.filter.weight.detach().float().cpu(), offset=offset)
    return refit.to(scorer.filter.weight.device, scorer.filter.weight.dtype)
