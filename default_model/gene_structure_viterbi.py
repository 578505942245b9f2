"""Exact gene-structure decoding: the most likely set of valid eukaryotic gene models on both strands of a record.

Input: the record's forward-strand DNA and the network's (L, 9) log-probabilities over the gene-structure classes
(0 non-coding, 1-3 codon position on '+', 4-6 codon position on '-', 7 '+' intron, 8 '-' intron; see
`training/gene_structure_labels.py`). Output: `Gene` models whose joint log-probability (the sum over nucleotides
of the class each model gives it, plus the log-penalties of `GeneStructureDecodingParams`) is the highest among all
parses that obey these rules by construction:

- a CDS begins at ATG (on '-': CAT on the forward strand at the gene's high end) and ends with the first in-frame
  stop TAA/TAG/TGA (translation table 1), the stop inside the CDS; start and stop codons are never split by an
  intron, and no in-frame stop occurs inside, including one whose bases an intron separates;
- introns are GT..AG, GC..AG or AT..AC (on '-' their reverse complements), at least `min_intron` long;
- every CDS piece is at least `min_exon` long and a single-piece CDS at least `min_single_exon_cds` (a CDS of
  several pieces is bounded by its pieces only: carrying a CDS length across introns would multiply the intron
  states by that length);
- genes do not overlap; a gene cut by the record's end may start or stop inside a CDS piece or an intron there,
  and is then marked partial on that side (lacking its start or stop codon there).

One Viterbi pass runs over the record from left to right for both strands at once, so genes on the two strands
compete for every base. A '-' gene is read in the same direction, i.e. from its 3' end: its "begin" in reading
order is the stop codon's reverse complement (TTA/CTA/TCA) and its "finish" the start codon's (CAT). Both strands
therefore share one state machine whose signals come from tables (`_strand_tables`); per strand:

- F0-F2: CDS base at codon position 0-2 (reading order) of a gene's first piece, long enough to enter an intron;
- E0-E2: CDS base that may also be followed by the gene's finish codon;
- FIN: the last base of a gene (the stop on '+', the A of ATG on '-');
- I[t, v] (12): intron base, for the intron type t (U2: GT/GC..AG, U12: AT..AC, so that signals pair) and the
  variant v = (phase, what the bases read before the intron can still become): phase 0; phase 1 remembering
  whether the base before could start a stop ('+': T; '-': T or C or neither); phase 2 remembering the two bases
  ('+': TA, TG or neither; '-': a stop prefix or not). The exon after the intron checks the split codon with
  these classes, as ANNEVO does, so a stop codon split by an intron never appears.

plus one shared non-coding state: 2 x (3 + 3 + 1 + 12) + 1 = 39 states. Minimum lengths are exact without chains
of states: a run of k nucleotides of one piece or one intron has a fixed emission sum (a prefix-sum difference), so
a state that requires "at least k so far" is entered by a delayed transition from the run's entry k - 1 positions
earlier, its emissions added as a block and the codons inside checked in O(1) from the last in-frame stop seen;
the shorter runs are implicit (ring buffers of entry scores). The cost per nucleotide is constant.

Memory is bounded: the record is split into segments of `segment_length` nt. A first forward pass keeps only the
state vector at each segment start; the backtrace then recomputes one segment at a time, from its saved state, with
its backpointers (51 bytes per position), last segment first. This is the exact Viterbi path of the whole
record (the recomputed segment repeats the same floating-point operations), not a stitch of separate decodes; it
costs a second forward pass over all but the last segment.

`Gene.score` (and the transcript's) is the mean, over the gene's CDS and intron bases, of the network's
probability of the class the decoded model gives each base.

References: Gabriel et al., Bioinformatics 2024, Tiberius (a gene-structure HMM over a network's per-base
classes); ANNEVO (github.com/xjtu-omics/ANNEVO: intron states carrying the bases read before the intron).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numba import njit

from .features import CDSPart, Gene, Transcript
from .windows import reverse_complement
from .genetic_code import CODONS, GeneticCode
from .orfs import base_codes

NUM_CLASSES = 9
_NEG = -np.inf
_FAR = -(1 << 40)  # "no forbidden codon seen yet": far before any window start
_CODON_BASE = {b: i for i, b in enumerate("TCAG")}  # base_codes' index of each base; 4 = any other character


@dataclass(frozen=True)
class GeneStructureDecodingParams:
    """Transition log-penalties and length rules of the gene-structure decoder (tuned on validation data)."""

    gene_start: float = -8.0  # log-penalty per gene: keeps short runs of weak coding evidence non-coding
    exon_to_intron: float = -3.0  # per donor (5' splice site): a weak intron call does not cut an exon
    intron_to_exon: float = -3.0  # per acceptor (3' splice site)
    gc_donor: float = -3.0  # extra for a GC..AG intron's donor (about 1% of introns)
    at_ac_intron: float = -6.0  # extra for an AT..AC intron's donor (U12 introns, about 0.1%)
    min_intron: int = 40  # nt; A. thaliana training genes: 52 of 45,156 introns are shorter
    min_exon: int = 3  # nt per CDS piece; A. thaliana training genes: 22 of 53,898 pieces are shorter
    min_single_exon_cds: int = 90  # nt (stop included) of a single-piece CDS: spurious short ORFs stay out
    splice_weight: float = 1.0  # times the splice-site scorers' log-odds (splice_sites.py), where a model has them
    segment_length: int = 1 << 18  # nt of backpointers held at once (51 bytes each): ~13 MB

    def __post_init__(self):
        for name in ("gene_start", "exon_to_intron", "intron_to_exon", "gc_donor", "at_ac_intron"):
            value = getattr(self, name)
            if not np.isfinite(value) or value > 0:
                raise ValueError(f"`{name}` must be a finite log-penalty <= 0, got {value!r}")
        if not (np.isfinite(self.splice_weight) and self.splice_weight >= 0):
            raise ValueError(f"`splice_weight` must be a finite number >= 0, got {self.splice_weight!r}")
        if self.min_intron < 4:
            raise ValueError(f"`min_intron` must be >= 4 (two splice-site bases at each end), got {self.min_intron}")
        if self.min_exon < 2:
            raise ValueError(f"`min_exon` must be >= 2 (a split codon is checked inside its piece), got "
                             f"{self.min_exon}")
        if self.min_single_exon_cds < 6:
            raise ValueError(f"`min_single_exon_cds` must be >= 6 (start + stop codon), got "
                             f"{self.min_single_exon_cds}")
        if self.segment_length < 4 * _ring_size(self):
            raise ValueError(f"`segment_length` must be >= {4 * _ring_size(self)} for these minimum lengths, got "
                             f"{self.segment_length}")

    @property
    def first_piece_min(self) -> int:
        """Shortest first piece that may enter an intron: `min_exon`, and never inside the begin codon."""
        return max(self.min_exon, 3)

    @property
    def single_exon_min(self) -> int:
        """Length a first piece must reach before the base preceding its finish codon's last base."""
        return max(self.min_single_exon_cds, self.first_piece_min + 1) - 1


def _ring_size(params: GeneStructureDecodingParams) -> int:
    """Power of two above every delayed-transition window (ring buffers of entries and prefix sums)."""
    longest = max(params.min_intron, params.min_exon, params.first_piece_min, params.single_exon_min)
    return 1 << int(np.ceil(np.log2(longest + 2)))


# ------------------------------------------------------------------------------------------------ tables

def _codon_rows(codons) -> np.ndarray:
    """(65,) uint8 row over trip indices (base_codes digits, 64 = a trip with N) marking `codons`."""
    row = np.zeros(65, dtype=np.uint8)
    for c in codons:
        row[CODONS.index(c)] = 1
    return row


def _dinucleotide_table(signals: dict[str, tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    """(25,) intron type (-1 none) and (25,) extra log-penalty per dinucleotide index 5 * first + second."""
    kind = np.full(25, -1, dtype=np.int64)
    penalty = np.zeros(25, dtype=np.float64)
    for pair, (t, pen) in signals.items():
        index = 5 * _CODON_BASE[pair[0]] + _CODON_BASE[pair[1]]
        kind[index], penalty[index] = t, pen
    return kind, penalty


def _memory_classes(forbidden: np.ndarray, n_read: int):
    """Group the 1 (n_read=1) or 2 bases read before an intron by the completions they forbid.

    Returns (class of each prefix index in 0..5**n_read-1, (n_classes, 5**(3-n_read)) forbidden completions)."""
    def trip(digits):
        return 64 if max(digits) > 3 else 16 * digits[0] + 4 * digits[1] + digits[2]

    prefixes = [(a,) for a in range(5)] if n_read == 1 else [(a, b) for a in range(5) for b in range(5)]
    suffixes = [(a, b) for a in range(5) for b in range(5)] if n_read == 1 else [(a,) for a in range(5)]
    signatures: list[tuple] = [(0,) * len(suffixes)]  # class 0 forbids nothing: prefixes with N, the record's edge
    classes = np.zeros(len(prefixes), dtype=np.int64)
    for i, prefix in enumerate(prefixes):
        signature = tuple(int(forbidden[trip(prefix + s)]) for s in suffixes)
        if signature not in signatures:
            signatures.append(signature)
        classes[i] = signatures.index(signature)
    return classes, np.array(signatures, dtype=np.uint8)


def _strand_tables(params: GeneStructureDecodingParams) -> dict[str, np.ndarray]:
    """Per-strand signal tables in reading order (left to right on the forward strand), stacked ('+', '-')."""
    code = GeneticCode(1)
    stops = sorted(code.stops)
    rows = {"begin": [], "finish": [], "internal_ok": []}
    opens, closes, mem1, mem2 = [], [], [], []
    # (intron type, log-penalty) of each splice-site dinucleotide; the rare donors carry their type's extra
    donor, acceptor = params.exon_to_intron, params.intron_to_exon
    donors = {"GT": (0, donor), "GC": (0, donor + params.gc_donor), "AT": (1, donor + params.at_ac_intron)}
    acceptors = {"AG": (0, acceptor), "AC": (1, acceptor)}
    for strand in "+-":
        if strand == "+":
            begin, finish, bad = ["ATG"], stops, stops
            open_sig, close_sig = donors, acceptors
        else:  # reading order meets the acceptor first, as reverse complements
            begin, finish = [reverse_complement(c) for c in stops], ["CAT"]
            bad = begin
            open_sig = {reverse_complement(k): v for k, v in acceptors.items()}
            close_sig = {reverse_complement(k): v for k, v in donors.items()}
        forbidden = _codon_rows(bad)
        rows["begin"].append(_codon_rows(begin))
        rows["finish"].append(_codon_rows(finish))
        rows["internal_ok"].append(1 - forbidden)
        opens.append(_dinucleotide_table(open_sig))
        closes.append(_dinucleotide_table(close_sig))
        mem1.append(_memory_classes(forbidden, 1))
        mem2.append(_memory_classes(forbidden, 2))
    n_variants = max(1 + len(m1[1]) + len(m2[1]) for m1, m2 in zip(mem1, mem2))
    max_classes = max(max(len(m1[1]), len(m2[1])) for m1, m2 in zip(mem1, mem2))
    variant_of = np.full((2, 3, max_classes), -1, dtype=np.int64)  # (strand, phase, memory class) -> variant
    variant_phase = np.zeros((2, n_variants), dtype=np.int64)
    forbid1 = np.zeros((2, max_classes, 25), dtype=np.uint8)
    forbid2 = np.zeros((2, max_classes, 5), dtype=np.uint8)
    for s in range(2):
        sig1, sig2 = mem1[s][1], mem2[s][1]
        variant_phase[s, :] = 2
        variant_phase[s, :1 + len(sig1)] = 1
        variant_phase[s, 0] = 0
        variant_of[s, 0, 0] = 0
        variant_of[s, 1, :len(sig1)] = 1 + np.arange(len(sig1))
        variant_of[s, 2, :len(sig2)] = 1 + len(sig1) + np.arange(len(sig2))
        forbid1[s, :len(sig1)] = sig1
        forbid2[s, :len(sig2)] = sig2
    return {
        "cds_class": np.array([[1, 2, 3], [6, 5, 4]], dtype=np.int64),  # reading-order codon position -> class
        "intron_class": np.array([7, 8], dtype=np.int64),
        "begin": np.stack(rows["begin"]), "finish": np.stack(rows["finish"]),
        "internal_ok": np.stack(rows["internal_ok"]),
        "open_type": np.stack([o[0] for o in opens]), "open_pen": np.stack([o[1] for o in opens]),
        "close_type": np.stack([c[0] for c in closes]), "close_pen": np.stack([c[1] for c in closes]),
        "class1": np.stack([m[0] for m in mem1]), "class2": np.stack([m[0] for m in mem2]),
        "forbid1": forbid1, "forbid2": forbid2, "variant_of": variant_of, "variant_phase": variant_phase,
        "n_variants": np.array([n_variants], dtype=np.int64),
    }


# ------------------------------------------------------------------------------------------------ kernel
# Explicit states of one strand (columns of `scores`): F0-F2, E0-E2, FIN, then I[t, v] at 7 + t * NV + v.
_F, _E, _FIN, _I = 0, 3, 6, 7
# Ring buffers of one strand (rows of `rings`): prefix sums of the CDS class in frame r (codon position at q is
# (q + r) % 3), prefix sum of the intron class, begin entries, intron entries per phase, exon entries per phase.
_CUM, _CUM_I, _BEGIN, _IENT, _XENT, _N_RINGS = 0, 3, 4, 5, 8, 11
# Backpointer columns of one strand (after column 0, the shared non-coding choice): F0-2, E0-2, FIN, I[t, v],
# intron entries per phase, exon entries per phase.
_BP_F, _BP_E, _BP_FIN, _BP_I = 0, 3, 6, 7
# Backtrace positions: what the path is at position p.
_K_FREE, _K_F, _K_E, _K_FIN, _K_I, _K_BEGIN, _K_IENT, _K_XENT, _K_START = range(9)
# Label flags: the gene's begin (first base in reading order) and finish (last base in reading order).
BEGIN_FLAG, FINISH_FLAG, CLASS_MASK = 16, 32, 15
_STRAND_OF_CLASS = np.array([0, 1, 1, 1, 2, 2, 2, 1, 2], dtype=np.int8)  # 0 non-coding, 1 '+', 2 '-'


@njit(cache=True)
def _trip(codes, p):
    """Index of the trip codes[p-2], codes[p-1], codes[p] (64 if out of the record or with N)."""
    if p < 2 or p >= len(codes):
        return 64
    a, b, c = codes[p - 2], codes[p - 1], codes[p]
    if a > 3 or b > 3 or c > 3:
        return 64
    return 16 * a + 4 * b + c


@njit(cache=True)
def _code(codes, p):
    return codes[p] if 0 <= p < len(codes) else 4


@njit(cache=True)
def _memory_variant(codes, j, ph, s, class1, class2, variant_of):
    """Intron variant of an intron of phase `ph` whose first base is j: from the bases read before it."""
    if ph == 0:
        return 0
    if ph == 1:
        return variant_of[s, 1, class1[s, _code(codes, j - 1)]]
    return variant_of[s, 2, class2[s, 5 * _code(codes, j - 2) + _code(codes, j - 1)]]


@njit(cache=True)
def _initial_state(n_variants, ring, gene_start, variant_of):
    """State before position 0: non-coding, or already inside a gene cut by the record's left edge."""
    nv = n_variants
    scores = np.full((2, 7 + 2 * nv), _NEG)
    for s in range(2):
        for c in range(3):
            scores[s, _E + c] = gene_start
        for t in range(2):
            for ph in range(3):
                scores[s, _I + t * nv + variant_of[s, ph, 0]] = gene_start
    rings = np.full((2, _N_RINGS, ring), _NEG)
    rings[:, _CUM:_CUM_I + 1, :] = 0.0
    lastbad = np.full((2, 3), _FAR, dtype=np.int64)
    free = np.zeros(1)
    return scores, rings, lastbad, free


@njit(cache=True)
def _window(rings, s, kind, j, im):
    """Sum of strand s's prefix sums in ring row `kind` over positions j..i (im = i's ring slot)."""
    return rings[s, kind, im] - rings[s, kind, (j - 1) & (rings.shape[2] - 1)]


@njit(cache=True)
def _forward(codes, logp, splice, start, stop, scores, rings, lastbad, free, bp, store,
             cds_class, intron_class, begin, finish, internal_ok, open_type, open_pen, close_type, close_pen,
             class1, class2, forbid1, forbid2, variant_of, n_variants,
             gene_start, min_intron, min_exon, first_min, single_min):
    """Advance the Viterbi state over positions start..stop-1 in place; with `store`, write the non-zero
    backpointers to bp[i - start] (zeroed by the caller; column 0: the non-coding choice, then per strand the
    columns _BP_*)."""
    nv = n_variants
    mask = rings.shape[2] - 1
    n_bp = (bp.shape[1] - 1) // 2
    first_c, single_c, exon_c = (first_min - 1) % 3, (single_min - 1) % 3, (min_exon - 1) % 3
    new = np.empty(scores.shape[1])
    e = np.empty(3)  # CDS emission at i of each codon position
    for i in range(start, stop):
        row = i - start
        im, im1 = i & mask, (i - 1) & mask
        i3 = i % 3
        free_prev = free[0]
        best_free = free_prev + logp[i, 0]
        free_choice = 0
        b0, b1, b2, n1 = _code(codes, i), _code(codes, i - 1), _code(codes, i - 2), _code(codes, i + 1)
        trip = _trip(codes, i)
        codon_here = _trip(codes, i + 2)  # the codon that starts at i
        for s in range(2):
            col = 1 + s * n_bp
            for c in range(3):
                e[c] = logp[i, cds_class[s, c]]
            for r in range(3):  # frame r: codon position (i + r) % 3 at i
                rings[s, _CUM + r, im] = rings[s, _CUM + r, im1] + e[(i3 + r) % 3]
            e_intron = logp[i, intron_class[s]]
            rings[s, _CUM_I, im] = rings[s, _CUM_I, im1] + e_intron
            bad_before = lastbad[s, i3]  # last forbidden completion of this residue before i
            ok = internal_ok[s, trip] == 1
            if not ok:
                lastbad[s, i3] = i
            for c in range(3):
                r = (c - i3 + 3) % 3  # frame whose codon position at i is c
                no_bad = lastbad[s, (i3 + 2 - c + 3) % 3]  # last forbidden completion of that frame so far
                # F: a first piece long enough to enter an intron
                best = scores[s, _F + (c + 2) % 3] + e[c] if c != 2 or ok else _NEG
                if c == first_c:
                    j = i - first_min + 1
                    cand = rings[s, _BEGIN, j & mask] + _window(rings, s, _CUM + r, j, im)
                    if no_bad < j + 3 and cand >= best and cand > _NEG:  # ties: a begin, not the record's edge
                        best = cand
                        if store:
                            bp[row, col + _BP_F + c] = 1
                new[_F + c] = best
                # E: a piece that may be followed by the finish codon
                best = scores[s, _E + (c + 2) % 3] + e[c] if c != 2 or ok else _NEG
                choice = 0
                if c == single_c:
                    j = i - single_min + 1
                    cand = rings[s, _BEGIN, j & mask] + _window(rings, s, _CUM + r, j, im)
                    if no_bad < j + 3 and cand >= best and cand > _NEG:  # ties: a begin, not the record's edge
                        best, choice = cand, 1
                j = i - min_exon + 1
                cand = rings[s, _XENT + (c - exon_c + 3) % 3, j & mask] + _window(rings, s, _CUM + r, j, im)
                if no_bad < j + 2 and cand > best:
                    best, choice = cand, 2
                new[_E + c] = best
                if store and choice:
                    bp[row, col + _BP_E + c] = choice
            # FIN: the finish codon completes at i
            best = _NEG
            if finish[s, trip] == 1:
                best = scores[s, _E + 1] + e[2]
                j = i - min_exon + 1
                if i - 2 >= j:  # a piece after an intron, just min_exon long, holds the whole codon
                    cand = (rings[s, _XENT + (2 - exon_c + 3) % 3, j & mask]
                            + _window(rings, s, _CUM + (2 - i3 + 3) % 3, j, im))
                    if bad_before < j + 2 and cand > best:
                        best = cand
                        if store:
                            bp[row, col + _BP_FIN] = 1
            new[_FIN] = best
            # I: an intron at least min_intron long so far
            for v in range(2 * nv):
                new[_I + v] = scores[s, _I + v] + e_intron
            j = i - min_intron + 1
            if j >= 0:
                t = open_type[s, 5 * _code(codes, j) + _code(codes, j + 1)]
                if t >= 0:
                    block = _window(rings, s, _CUM_I, j, im)
                    for ph in range(3):
                        v = t * nv + _memory_variant(codes, j, ph, s, class1, class2, variant_of)
                        cand = rings[s, _IENT + ph, j & mask] + block
                        if cand > new[_I + v]:
                            new[_I + v] = cand
                            if store:
                                bp[row, col + _BP_I + v] = 1
            # entries at i: a gene begins, an intron begins, an exon begins after an intron
            rings[s, _BEGIN, im] = free_prev + gene_start if begin[s, codon_here] == 1 else _NEG
            t = open_type[s, 5 * b0 + n1]
            for ph in range(3):
                c = (ph + 2) % 3  # codon position of the exon base before an intron of this phase
                value = _NEG
                if t >= 0:
                    value = scores[s, _E + c]
                    # ties: a gene's begin, not the record's edge
                    if scores[s, _F + c] >= value and scores[s, _F + c] > _NEG:
                        value = scores[s, _F + c]
                        if store:
                            bp[row, col + 2 * nv + _BP_I + ph] = 1
                    value += open_pen[s, 5 * b0 + n1] + splice[s, i]
                rings[s, _IENT + ph, im] = value
            t = close_type[s, 5 * b2 + b1] if i >= 2 else -1
            for ph in range(3):
                value = _NEG
                if t >= 0:
                    choice = 0
                    for k in range(variant_of.shape[2]):
                        v = variant_of[s, ph, k]
                        if v < 0 or (ph == 1 and forbid1[s, k, 5 * b0 + n1] == 1) or (
                                ph == 2 and forbid2[s, k, b0] == 1):
                            continue
                        if scores[s, _I + t * nv + v] > value:
                            value, choice = scores[s, _I + t * nv + v], v
                    value += close_pen[s, 5 * b2 + b1] + splice[2 + s, i]
                    if store:
                        bp[row, col + 2 * nv + _BP_I + 3 + ph] = choice
                rings[s, _XENT + ph, im] = value
            for k in range(new.shape[0]):
                scores[s, k] = new[k]
            if scores[s, _FIN] > best_free:
                best_free, free_choice = scores[s, _FIN], 1 + s
        free[0] = best_free
        if store:
            bp[row, 0] = free_choice


@njit(cache=True)
def _finish_state(length, scores, rings, lastbad, free, n_variants, min_intron, min_exon, first_min):
    """Best way for the path to end at the record's last base: (score, kind, strand, a, b, position).

    Besides the explicit states, a gene may end inside a run shorter than its minimum (cut by the edge)."""
    nv = n_variants
    mask = rings.shape[2] - 1
    last = length - 1
    best, kind, strand, a, b, pos = free[0], _K_FREE, 0, 0, 0, last
    for s in range(2):
        for c in range(3):
            if scores[s, _F + c] > best:
                best, kind, strand, a, b, pos = scores[s, _F + c], _K_F, s, c, 0, last
            if scores[s, _E + c] > best:
                best, kind, strand, a, b, pos = scores[s, _E + c], _K_E, s, c, 0, last
        for t in range(2):
            for v in range(nv):
                if scores[s, _I + t * nv + v] > best:
                    best, kind, strand, a, b, pos = scores[s, _I + t * nv + v], _K_I, s, t, v, last
        rg = rings[s]
        for j in range(max(last - first_min + 2, 0), length):  # begin run shorter than first_min
            r = (-j) % 3
            cand = rg[_BEGIN, j & mask] + rg[_CUM + r, last & mask] - rg[_CUM + r, (j - 1) & mask]
            if lastbad[s, (j + 2) % 3] < j + 3 and cand >= best and cand > _NEG:  # ties: a begin, not a cut
                best, kind, strand, a, b, pos = cand, _K_BEGIN, s, 0, 0, j
        for j in range(max(last - min_intron + 2, 0), length):  # intron run shorter than min_intron
            for ph in range(3):
                cand = rg[_IENT + ph, j & mask] + rg[_CUM_I, last & mask] - rg[_CUM_I, (j - 1) & mask]
                if cand > best:
                    best, kind, strand, a, b, pos = cand, _K_IENT, s, ph, 0, j
        for j in range(max(last - min_exon + 2, 0), length):  # exon run shorter than min_exon
            for ph in range(3):
                r = (ph - j) % 3
                cand = rg[_XENT + ph, j & mask] + rg[_CUM + r, last & mask] - rg[_CUM + r, (j - 1) & mask]
                if lastbad[s, (2 - r) % 3] < j + 2 and cand > best:
                    best, kind, strand, a, b, pos = cand, _K_XENT, s, ph, 0, j
    return best, kind, strand, a, b, pos


@njit(cache=True)
def _label_run(labels, lo, hi, cds_class, s, frame_r):
    """Label positions lo..hi of one CDS run whose codon position at q is (q + frame_r) % 3."""
    for q in range(lo, hi + 1):
        labels[q] = cds_class[s, (q + frame_r) % 3]


@njit(cache=True)
def _backtrace(codes, labels, bp, seg_start, state,
               cds_class, intron_class, close_type, variant_phase, n_variants, min_intron, min_exon, first_min,
               single_min):
    """Follow backpointers of the segment starting at seg_start from `state` = [kind, strand, a, b, p], writing
    labels (class | flags) for positions >= the position reached. Returns when the next step needs a backpointer
    before seg_start (state updated in place) or the record's start is reached (kind _K_START)."""
    nv = n_variants
    n_bp = (bp.shape[1] - 1) // 2
    kind, s, a, b, p = state[0], state[1], state[2], state[3], state[4]
    while True:
        if kind == _K_START:
            break
        if p < 0:
            kind = _K_START
            break
        if kind == _K_BEGIN:  # gene begins at p; the path before it is free at p - 1
            labels[p] |= BEGIN_FLAG
            kind, p = _K_FREE, p - 1
            continue
        if p < seg_start:
            break
        row = p - seg_start
        col = 1 + s * n_bp
        if kind == _K_FREE:
            choice = bp[row, 0]
            if choice == 0:
                labels[p] = 0
                p -= 1
            else:
                kind, s = _K_FIN, choice - 1
        elif kind == _K_FIN:
            labels[p] = cds_class[s, 2] | FINISH_FLAG
            if bp[row, col + _BP_FIN] == 0:
                kind, a, p = _K_E, 1, p - 1
            else:
                j = p - min_exon + 1
                ph = (2 - min_exon + 1) % 3
                _label_run(labels, j, p - 1, cds_class, s, (ph - j) % 3)
                kind, a, p = _K_XENT, ph, j
        elif kind == _K_F or kind == _K_E:
            c = a
            labels[p] = cds_class[s, c]
            choice = bp[row, col + (_BP_F if kind == _K_F else _BP_E) + c]
            if choice == 0:
                a, p = (c + 2) % 3, p - 1
            elif choice == 1:
                j = p - (first_min if kind == _K_F else single_min) + 1
                _label_run(labels, j, p - 1, cds_class, s, (-j) % 3)
                kind, p = _K_BEGIN, j
            else:
                j = p - min_exon + 1
                ph = (c - min_exon + 1) % 3
                _label_run(labels, j, p - 1, cds_class, s, (ph - j) % 3)
                kind, a, p = _K_XENT, ph, j
        elif kind == _K_I:
            labels[p] = intron_class[s]
            v = a * nv + b
            if bp[row, col + _BP_I + v] == 0:
                p -= 1
            else:
                j = p - min_intron + 1
                for q in range(j, p):
                    labels[q] = intron_class[s]
                kind, a, p = _K_IENT, variant_phase[s, b], j
        elif kind == _K_IENT:  # intron's first base is p: labelled; go to the exon base before it
            ph = a
            choice = bp[row, col + 2 * nv + _BP_I + ph]
            kind, a, p = (_K_E if choice == 0 else _K_F), (ph + 2) % 3, p - 1
        else:  # _K_XENT: exon's first base is p (labelled); the intron before it ends at p - 1
            ph = a
            v = bp[row, col + 2 * nv + _BP_I + 3 + ph]
            t = close_type[s, 5 * _code(codes, p - 2) + _code(codes, p - 1)]
            kind, a, b, p = _K_I, t, v, p - 1
    state[0], state[1], state[2], state[3], state[4] = kind, s, a, b, p


# ------------------------------------------------------------------------------------------------ driver

@functools.lru_cache(maxsize=8)
def _kernel_args(params: GeneStructureDecodingParams) -> tuple:
    """(arguments of _forward after `store`, of _backtrace after `state`, ring size, variants per intron type,
    the tables by name)."""
    tab = _strand_tables(params)
    nv = int(tab["n_variants"][0])
    lengths = (params.min_intron, params.min_exon, params.first_piece_min, params.single_exon_min)
    forward = (tab["cds_class"], tab["intron_class"], tab["begin"], tab["finish"], tab["internal_ok"],
               tab["open_type"], tab["open_pen"], tab["close_type"], tab["close_pen"], tab["class1"],
               tab["class2"], tab["forbid1"], tab["forbid2"], tab["variant_of"], nv,
               float(params.gene_start), *lengths)
    backward = (tab["cds_class"], tab["intron_class"], tab["close_type"], tab["variant_phase"], nv, *lengths)
    return forward, backward, _ring_size(params), nv, tab


def _as_codes(dna) -> np.ndarray:
    """base_codes of a str/bytes record, or an integer array already in that form (0-3 TCAG, 4 other)."""
    if isinstance(dna, (bytes, bytearray)):
        dna = dna.decode("ascii", "replace")
    if isinstance(dna, str):
        return np.ascontiguousarray(base_codes(dna), dtype=np.int8)
    codes = np.asarray(dna)
    if codes.ndim != 1 or codes.dtype.kind not in "iu" or (codes.size and (codes.min() < 0 or codes.max() > 4)):
        raise ValueError("`dna` must be a str, bytes or a 1-D integer array of base codes 0-4 (TCAG, 4 = other)")
    return np.ascontiguousarray(codes, dtype=np.int8)


def _as_log_probs(log_probs, length: int) -> np.ndarray:
    logp = np.ascontiguousarray(log_probs, dtype=np.float32)
    if logp.shape != (length, NUM_CLASSES):
        raise ValueError(f"`log_probs` must have shape ({length}, {NUM_CLASSES}) for a record of {length} nt, got "
                         f"{logp.shape}")
    if logp.size and not logp.max() < np.inf:  # the max is NaN if any value is
        raise ValueError("`log_probs` holds NaN or +inf")
    return logp


def gene_structure_path(dna, log_probs, params: GeneStructureDecodingParams | None = None,
                        splice: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """The Viterbi path as per-nucleotide labels and its score.

    Labels: (L,) uint8, the gene-structure class of each nucleotide (`& CLASS_MASK`), `BEGIN_FLAG` on the first
    base of each gene in reading order ('+': the A of ATG; '-': the first base of the stop's reverse complement)
    and `FINISH_FLAG` on its last. A gene without its begin (finish) flag is cut by the record's edge."""
    codes = _as_codes(dna)
    return _viterbi_path(codes, _as_log_probs(log_probs, len(codes)), params or GeneStructureDecodingParams(),
                         _as_splice(splice, len(codes)))


def _as_splice(splice, length: int) -> np.ndarray:
    """The (4, L) splice-site bonuses (splice_sites.SpliceSiteScorers.decoder_bonus), zeros when None."""
    if splice is None:
        return np.zeros((4, length), dtype=np.float32)
    splice = np.ascontiguousarray(splice, dtype=np.float32)
    if splice.shape != (4, length) or not np.isfinite(splice).all():
        raise ValueError(f"`splice` must be finite with shape (4, {length}), got {splice.shape}")
    if length and splice[:2, 0].any():  # an intron opening at the first base has its exon outside the record:
        splice = splice.copy()  # that path is the edge-cut intron, which carries neither penalty nor bonus
        splice[:2, 0] = 0.0
    return splice


def _viterbi_path(codes: np.ndarray, logp: np.ndarray, params: GeneStructureDecodingParams,
                  splice: np.ndarray) -> tuple[np.ndarray, float]:
    length = len(codes)
    labels = np.zeros(length, dtype=np.uint8)
    if length == 0:
        return labels, 0.0
    forward, backward, ring, nv, tables = _kernel_args(params)
    n_bp = 1 + 2 * (13 + 2 * nv)
    seg = params.segment_length
    starts = list(range(0, length, seg))
    state = _initial_state(nv, ring, float(params.gene_start), tables["variant_of"])
    checkpoints = []
    no_bp = np.zeros((1, n_bp), dtype=np.uint8)
    for a in starts[:-1]:  # first pass: only the state at each segment start is kept
        checkpoints.append(tuple(x.copy() for x in state))
        _forward(codes, logp, splice, a, a + seg, *state, no_bp, False, *forward)
    checkpoints.append(tuple(x.copy() for x in state))
    bp = np.zeros((min(seg, length), n_bp), dtype=np.uint8)  # _forward writes only non-zero choices
    _forward(codes, logp, splice, starts[-1], length, *state, bp, True, *forward)
    score, kind, s, a, b, pos = _finish_state(length, *state, nv, params.min_intron, params.min_exon,
                                              params.first_piece_min)
    if not np.isfinite(score):
        raise ValueError("no gene-structure path has a finite score: some position gives every class -inf")
    _label_edge_run(labels, kind, s, a, pos, tables["cds_class"], tables["intron_class"])
    trace = np.array([kind, s, a, b, pos], dtype=np.int64)
    for k in range(len(starts) - 1, -1, -1):
        if k < len(starts) - 1:
            state = tuple(x.copy() for x in checkpoints[k])
            bp[:] = 0
            _forward(codes, logp, splice, starts[k], starts[k] + seg, *state, bp, True, *forward)
        _backtrace(codes, labels, bp, starts[k], trace, *backward)
        if trace[0] == _K_START:
            break
    return labels, float(score)


def _label_edge_run(labels, kind, s, a, pos, cds_class, intron_class) -> None:
    """Label the run from `pos` to the record's end when the path ends inside a run shorter than its minimum."""
    q = np.arange(pos, len(labels))
    if kind == _K_BEGIN:
        labels[pos:] = cds_class[s][(q - pos) % 3]
    elif kind == _K_XENT:
        labels[pos:] = cds_class[s][(q - pos + a) % 3]
    elif kind == _K_IENT:
        labels[pos:] = intron_class[s]


def decode_gene_structure(dna, log_probs, params: GeneStructureDecodingParams | None = None, *,
                          seqid: str = "", splice: np.ndarray | None = None) -> list[Gene]:
    """Gene models (1-based coordinates on the record, one mRNA per gene, exons = CDS pieces) of one record.

    `dna`: the forward strand as str/bytes (any case; N and IUPAC codes allowed, never part of a signal) or as
    `orfs.base_codes`; `log_probs`: (len(dna), 9) log-probabilities over the gene-structure classes; `splice`:
    optional (4, len(dna)) bonuses added where an intron opens or closes (splice_sites.py)."""
    codes = _as_codes(dna)
    logp = _as_log_probs(log_probs, len(codes))
    labels, _ = _viterbi_path(codes, logp, params or GeneStructureDecodingParams(), _as_splice(splice, len(codes)))
    return genes_from_labels(labels, logp, seqid=seqid)


def genes_from_labels(labels: np.ndarray, log_probs: np.ndarray, *, seqid: str = "") -> list[Gene]:
    """`Gene`s of a labelled path (gene_structure_path's labels); scores from `log_probs` (module docstring)."""
    length = len(labels)
    cls = labels & CLASS_MASK
    strand = _STRAND_OF_CLASS[cls]
    intron = (cls == 7) | (cls == 8)
    begin = (labels & BEGIN_FLAG) > 0
    finish = (labels & FINISH_FLAG) > 0
    # a new gene at p: strand changes, a gene begins at p, or one finished at p - 1. In reading order a gene's
    # leftmost base carries its begin flag and its rightmost its finish flag, unless the record's edge cut it.
    new_gene = np.ones(length, dtype=bool)
    new_gene[1:] = (strand[1:] != strand[:-1]) | begin[1:] | finish[:-1]
    # a new run (CDS piece or intron) at p: a new gene or a change between CDS and intron
    new_run = new_gene.copy()
    new_run[1:] |= intron[1:] != intron[:-1]
    run_starts = np.flatnonzero(new_run)
    run_ends = np.append(run_starts[1:], length) - 1
    gene_of_run = np.cumsum(new_gene[run_starts])  # every gene's first base starts a run
    in_gene = strand[run_starts] > 0
    run_starts, run_ends, gene_of_run = run_starts[in_gene], run_ends[in_gene], gene_of_run[in_gene]
    decoded = np.flatnonzero(strand > 0)
    probability = np.exp(log_probs[decoded, cls[decoded]].astype(np.float64))
    genes = []
    for runs in np.split(np.arange(len(run_starts)), np.flatnonzero(np.diff(gene_of_run)) + 1):
        if not len(runs):
            continue
        lo, hi = int(run_starts[runs[0]]), int(run_ends[runs[-1]])
        plus = strand[lo] == 1
        pieces = []
        for a, b in zip(run_starts[runs].tolist(), run_ends[runs].tolist()):
            if intron[a]:
                continue
            five_prime = a if plus else b  # codon position (0-2) of the piece's 5' base gives its GFF phase
            position = int(cls[five_prime]) - (1 if plus else 4)
            pieces.append(CDSPart(a + 1, b + 1, (3 - position) % 3))
        if not pieces:  # the record lies inside one intron: no gene model to report
            continue
        confidence = float(probability[np.searchsorted(decoded, lo):np.searchsorted(decoded, hi, "right")].mean())
        transcript = Transcript(kind="mRNA", exons=tuple((c.start, c.end) for c in pieces), cds=tuple(pieces),
                                partial_left=not begin[lo], partial_right=not finish[hi], score=confidence)
        genes.append(Gene(strand="+" if plus else "-", transcripts=(transcript,), seqid=seqid, score=confidence))
    return genes
