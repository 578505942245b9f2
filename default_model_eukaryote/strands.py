"""The two strands of a record as ORF decoding reads them, each reading computed once and kept.

Annotating a bacterial genome decodes each record several times: the self-training passes (hexamer statistics,
then each start-scorer refit) and the real pass. Every pass reads the same things off the DNA: the reverse
complement, the ORFs, the start codons, the hexamers, the start scorer's input. What changes between passes is
only what they are weighed by (the hexamer scores, the scorer's filter). A `Strand` computes each reading the
first time it is asked for and keeps it, about 5 bytes per nt once all are read (the strand's sequence, its
hexamer ids as int16, the scorer's input codes, the ORF and start-codon coordinates).

This module is Hub remote code: numpy and siblings only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .windows import reverse_complement
from .genetic_code import GeneticCode
from .orfs import edge_reading_frames, gaps, kmer_ids, open_reading_frames, spans_gap, start_codon_positions

N_HEXAMERS = 4 ** 6


@dataclass(eq=False)
class Strand:
    """One strand read 5'->3' (`seq`: the record, or its reverse complement), with the candidates of ORF
    decoding under genetic code `code` and its minimum gene length `min_length` (nt, stop included)."""

    seq: str
    code: GeneticCode
    min_length: int
    # the model's start-scorer detector part at `start_codons` (`StartSiteScorer.detected_at`), set by whoever
    # holds that scorer: it is the costly part of scoring and the refits on the input leave it unchanged
    detected: np.ndarray | None = None
    _scorer_codes: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.seq)

    @cached_property
    def orfs(self) -> tuple[np.ndarray, np.ndarray]:
        """(starts, exclusive ends) of the candidate genes, sorted by (end, start): `orfs.open_reading_frames`,
        less those that span one of the strand's `gaps` (unknown bases do not stop a frame)."""
        starts, ends = open_reading_frames(self.seq, self.code, self.min_length)
        if not len(self.gaps[0]):
            return starts, ends
        keep = ~spans_gap(starts, ends, self.gaps)
        return starts[keep], ends[keep]

    @cached_property
    def edge_orfs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(starts, exclusive ends, open start, open end) of the candidate genes that the strand's ends and its
        gaps (`gaps`: a scaffold's runs of Ns, across which no gene is called) cut, sorted by (end, start):
        `orfs.edge_reading_frames` of each stretch between them."""
        gap_starts, gap_ends = self.gaps
        if not len(gap_starts):
            return edge_reading_frames(self.seq, self.code, self.min_length)
        columns = [[np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, bool)], [np.zeros(0, bool)]]
        for lo, hi in zip([0, *gap_ends.tolist()], [*gap_starts.tolist(), len(self)]):
            starts, ends, open_start, open_end = edge_reading_frames(self.seq[lo:hi], self.code, self.min_length)
            for column, part in zip(columns, (starts + lo, ends + lo, open_start, open_end)):
                column.append(part)
        starts, ends, open_start, open_end = (np.concatenate(column) for column in columns)
        order = np.lexsort((starts, ends))
        return starts[order], ends[order], open_start[order], open_end[order]

    @cached_property
    def cut_and_uncut_orfs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """`orfs` and `edge_orfs` together, as (starts, exclusive ends, open start, open end) sorted by (end,
        start): the candidates when genes the ends cut are called, merged once for every pass."""
        starts, ends = self.orfs
        uncut = np.zeros(len(starts), dtype=bool)
        merged = [np.concatenate(pair) for pair in zip((starts, ends, uncut, uncut), self.edge_orfs)]
        order = np.lexsort((merged[0], merged[1]))
        return tuple(column[order] for column in merged)

    @cached_property
    def gaps(self) -> tuple[np.ndarray, np.ndarray]:
        """(starts, exclusive ends) of the strand's runs of unknown bases that no gene may span (`orfs.gaps`)."""
        return gaps(self.seq)

    @cached_property
    def start_codons(self) -> np.ndarray:
        """0-based positions of every start codon a candidate may begin at (`orfs.start_codon_positions`)."""
        return start_codon_positions(self.seq, self.code)

    @cached_property
    def hexamers(self) -> np.ndarray:
        """(max(n - 5, 0),) int16 hexamer index (0..4095, TCAG base-4 digits) starting at each position; -1 where
        it holds a base other than ACGT (either case; U reads as T)."""
        return kmer_ids(self.seq, 6).astype(np.int16)

    @cached_property
    def hexamer_counts(self) -> np.ndarray:
        """(4096,) how often each hexamer occurs on the strand: self-training's background."""
        return np.bincount(self.hexamers[self.hexamers >= 0], minlength=N_HEXAMERS)

    def scorer_codes(self, scorer) -> np.ndarray:
        """`scorer.input_codes` of the strand (a `start_sites.StartSiteScorer`; one array per set of tracks)."""
        if scorer.motif_lengths not in self._scorer_codes:
            self._scorer_codes[scorer.motif_lengths] = scorer.input_codes(self.seq)
        return self._scorer_codes[scorer.motif_lengths]


def record_strands(seq: str, code: GeneticCode, min_length: int) -> tuple[Strand, Strand]:
    """(forward, reverse) strands of a record: `seq` and its reverse complement, both read 5'->3'."""
    return Strand(seq, code, min_length), Strand(reverse_complement(seq), code, min_length)
