"""Open reading frames of a DNA string, vectorised: every (start codon, in-frame stop) pair a gene could use.

ORF decoding (`orf_decoding.py`) chooses among these pairs, and the start-site scorer is fitted on them
(`start_site_training.py`), so both see exactly the same candidates. Coordinates are 0-based on the string as
given; the reverse strand is handled by the callers on the reverse complement.

Start codons are the table's starts among ATG, GTG and TTG, as in Prodigal: the rarer ones a table allows
(table 11's ATT, ATC, ATA, CTG start a few genes per genome) would add a wrong candidate to most ORFs.

This module is Hub remote code: numpy and siblings only.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .genetic_code import CODONS, GeneticCode

COMMON_STARTS = frozenset({"ATG", "GTG", "TTG"})

_BASE = np.full(256, 4, dtype=np.int8)  # base -> TCAG index (0-3: GeneticCode's codon order), else 4
for _i, _b in enumerate("TCAG"):
    _BASE[ord(_b)] = _BASE[ord(_b.lower())] = _i
_BASE[ord("U")] = _BASE[ord("u")] = 0  # U reads as T, as in the grammar and the BPE tokenizer: the same codons


def base_codes(seq: str) -> np.ndarray:
    """(n,) int8 TCAG index of each base in either case (U as T), 4 for any other character (N, IUPAC codes)."""
    return _BASE[np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)]


def growing_kmer_ids(seq: str, max_k: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(k, ids, valid) for k = 1 .. max_k, the k-mer codes of every position grown one base at a time, in place:
    ids (n,) the TCAG base-4 digits (0..4**k - 1) of the k-mer starting at each position, valid (n,) whether it
    is all ACGT (either case, U as T) and within the sequence. Both arrays are updated for the next k: read
    them before advancing."""
    b = base_codes(seq).astype(np.int64)
    ids, valid = np.zeros(len(b), dtype=np.int64), np.ones(len(b), dtype=bool)
    for k in range(1, max_k + 1):
        m = max(len(b) - k + 1, 0)  # positions whose k-mer lies within the sequence
        digit = b[k - 1:]
        ids[:m] *= 4
        ids[:m] += np.minimum(digit, 3)
        valid[:m] &= digit < 4
        valid[m:] = False
        yield k, ids, valid


# unknown bases in a row (N or other IUPAC codes) that no gene may span: an assembly gap, not a sequenced codon
MIN_GAP = 50


def gaps(seq: str, min_length: int = MIN_GAP) -> tuple[np.ndarray, np.ndarray]:
    """(starts, exclusive ends) of the runs of at least `min_length` bases other than ACGT (either case, U as T):
    a scaffold's gaps, or a record of Ns, whose length says nothing about coding (Prodigal's -m masks them too)."""
    unknown = np.concatenate(([False], base_codes(seq) == 4, [False]))
    edges = np.flatnonzero(unknown[1:] != unknown[:-1])
    starts, ends = edges[::2], edges[1::2]
    long = ends - starts >= min_length
    return starts[long], ends[long]


def spans_gap(starts: np.ndarray, ends: np.ndarray, gaps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Whether each candidate [start, end) overlaps one of the sorted, disjoint `gaps` (`gaps`' output)."""
    gap_starts, gap_ends = gaps
    if not len(gap_starts):
        return np.zeros(len(starts), dtype=bool)
    last = np.searchsorted(gap_starts, ends) - 1  # the last gap that begins before the candidate ends
    return (last >= 0) & (gap_ends[np.maximum(last, 0)] > starts)


def kmer_ids(seq: str, k: int) -> np.ndarray:
    """(max(n - k + 1, 0),) index (TCAG base-4 digits, 0..4**k - 1) of the k-mer starting at each position; -1
    where it holds a base other than ACGT (either case; U reads as T)."""
    for _, ids, valid in growing_kmer_ids(seq, k):
        pass
    m = max(len(seq) - k + 1, 0)
    return np.where(valid[:m], ids[:m], -1) if k else np.zeros(m, dtype=np.int64)


def codon_ids(seq: str) -> np.ndarray:
    """(max(n - 2, 0),) index of the codon starting at each position into `GeneticCode`'s 65-entry lookups
    (`genetic_code.codon_index`: TCAG order, 64 for a codon holding a non-ACGT base)."""
    b = base_codes(seq).astype(np.int64)
    if len(b) < 3:
        return np.zeros(0, dtype=np.int64)
    ids = 16 * b[:-2] + 4 * b[1:-1] + b[2:]
    return np.where((b[:-2] < 4) & (b[1:-1] < 4) & (b[2:] < 4), ids, 64)


def _start_lookup(code: GeneticCode) -> np.ndarray:
    """(65,) whether each codon index is a start codon a candidate may use: the table's starts among
    COMMON_STARTS that are not also its stops."""
    common = np.array([c in COMMON_STARTS for c in CODONS] + [False])
    return np.array(code.start_lookup()) & common & ~np.array(code.stop_lookup())


def start_codon_positions(seq: str, code: GeneticCode) -> np.ndarray:
    """0-based positions of the start codons (in any frame) that `open_reading_frames` may use."""
    return np.flatnonzero(_start_lookup(code)[codon_ids(seq)])


def open_reading_frames(seq: str, code: GeneticCode, min_length: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of every candidate gene on the string's forward strand, sorted by (end, start).

    starts[i] is the 0-based first base of a start codon and ends[i] the exclusive end of the first in-frame
    stop codon after it, with ends[i] - starts[i] >= min_length (stop included). An ORF that runs off the
    string's end without a stop gives no candidate here: those are `edge_reading_frames`'.
    """
    ids = codon_ids(seq)
    is_start, is_stop = _start_lookup(code)[ids], np.array(code.stop_lookup())[ids]
    starts, ends = [], []
    for frame in range(3):
        codons = np.arange(frame, len(ids), 3)
        stops, begins = codons[is_stop[codons]], codons[is_start[codons]]
        nxt = np.searchsorted(stops, begins)  # the first stop at or after each start codon
        has_stop = nxt < len(stops)
        s, e = begins[has_stop], stops[nxt[has_stop]] + 3
        long_enough = e - s >= min_length
        starts.append(s[long_enough])
        ends.append(e[long_enough])
    s, e = np.concatenate(starts), np.concatenate(ends)
    order = np.lexsort((s, e))
    return s[order], e[order]


def edge_reading_frames(seq: str, code: GeneticCode, min_length: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, open_start, open_end) of the candidate genes the string's ends cut, sorted by (end, start):
    a gene may begin before the string does or end after it, as in a contig of a draft assembly. Per frame:

    - open start: the frame's first complete codon (`open_start` True), up to the first in-frame stop; it joins
      that stop's start codons as one more way to begin (its gene lies partly beyond the 5' end), unless that
      codon is a start codon itself (then the uncut candidate is the same gene);
    - open end: each start codon after the frame's last stop, up to the frame's last complete codon
      (`open_end` True: no stop within the string);
    - both, for a frame without any stop: its first complete codon to its last.

    Coordinates as in `open_reading_frames` (ends exclusive, a stop included when there is one), lengths a
    multiple of 3 and >= `min_length`."""
    ids = codon_ids(seq)
    is_start, is_stop = _start_lookup(code)[ids], np.array(code.stop_lookup())[ids]
    rows = []  # (start, end, open start, open end)
    for frame in range(min(3, len(ids))):
        codons = np.arange(frame, len(ids), 3)
        last_end = int(codons[-1]) + 3  # exclusive end of the frame's last complete codon
        stops = codons[is_stop[codons]]
        if not is_start[frame]:  # a start codon there begins that candidate already, uncut
            rows.append((frame, int(stops[0]) + 3 if len(stops) else last_end, True, not len(stops)))
        after_last = codons[codons > stops[-1]] if len(stops) else codons
        rows += [(int(b), last_end, False, True) for b in after_last[is_start[after_last]]]
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, bool)
    starts, ends, open_start, open_end = (np.array(c) for c in zip(*rows))
    keep = np.flatnonzero(ends - starts >= min_length)
    keep = keep[np.lexsort((starts[keep], ends[keep]))]
    return (starts[keep].astype(np.int64), ends[keep].astype(np.int64), open_start[keep].astype(bool),
            open_end[keep].astype(bool))
