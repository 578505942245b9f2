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
    string's end without a stop gives no candidate: genes cut by a record's end are not called.
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
