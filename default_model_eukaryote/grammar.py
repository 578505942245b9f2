"""Grammar-constrained decoding: a `LogitsProcessor` that lets the decoder write only valid, plausible genes.

At every step `GFFGrammarLogitsProcessor` sets to -inf the score of each token that would break

1. the token grammar of `tokenization_gff` (`GENE± KIND [PARTIAL_LEFT] [PARTIAL_RIGHT] EXON* CDS* ... </s>`,
   then only `<pad>`), so every finished sequence decodes with `GFFTokenizer.decode_genes`;
2. order and bounds: coordinates inside the row's own window, genes in canonical order (first coordinate
   never below the previous gene's, and strictly above that of the previous gene on the same strand, so no
   gene is written twice: a weak model otherwise repeats one gene until the length limit, and the genes after
   it in the window are never written), transcripts of a gene likewise, exons and CDS pieces left to right
   without overlap, end >= start;
3. the biology of the window's DNA under one NCBI translation table (`genetic_code.py`):
   - a CDS complete on its 5' side starts with a start codon (phase 0, no PHASE token); on its 3' side it
     ends with an in-frame stop; complete at both ends it is a multiple of 3 and at least `min_cds_length`;
   - no in-frame stop inside a CDS, codons split by an intron included; the frame runs across pieces as the
     phases say;
   - introns between CDS pieces are at least `min_intron` long with a donor/acceptor pair of `splice_sites`
     (strand-aware: on '-' the donor is the higher-coordinate end, reverse-complemented);
   - PARTIAL_LEFT: the transcript's first coordinate is 1, or, when introns are allowed, follows an intron
     end (a window edge cut inside an intron); PARTIAL_RIGHT likewise with the last coordinate and L. A CDS
     may be cut (no start / stop codon, PHASE_1 / PHASE_2 on its 5'-most piece) only on a side whose flag is
     set and only where it touches that edge;
   - EXON pieces (UTRs, RNA genes) need only order and bounds; CDS pieces then lie within the exons' span.

Design
------
*No dead ends.* A token is allowed only if the sequence can still be finished validly after it, so a row
never gets stuck half way through a gene. Each decision is checked against a *witness* completion: the
current CDS piece can end where it is (W0), or it can end at a donor, take one intron and end in the next
piece (W1). Any state reached through an allowed token has such a witness, by induction, so some token is
always allowed. The price is that a few exotic genes are forbidden: ones that reach `min_cds_length` only
with two or more further introns, start/stop codons split by an intron, programmed frameshifts,
selenocysteine TGA, non-canonical splice sites.

*Frames as hypotheses.* On '+' the frame is fixed at the first piece (start codon or PHASE). On '-' tokens
run 3' -> 5': a 3'-complete CDS starts with a stop, which fixes the frame; a 3'-cut one keeps up to three
frame hypotheses, each dropped at its first in-frame stop, and the 5' end (start codon, or PHASE at the
edge) must agree with a surviving one.

*Vectorised per row.* For each window and strand the sequence is scanned once with numpy: start/stop
codons at every position, "next in-frame stop at or after p" per reading frame, splice dinucleotides,
split-codon classes. For each CDS setting (strand, partial flags, span end) come per-position tables: the
farthest single-piece end from each reading frame, and, when introns are allowed, suffix maxima over
acceptors (W1 in O(1) per end position) and a segmented suffix maximum that answers "may a piece starting
here end at a donor and finish after one intron". A decoding step is then a few slices and gathers per row:
O(L) numpy work at worst, usually the few hundred positions up to the next stop codon.

*State.* The parse state of each row is cached, keyed by its window and its whole token prefix, and
advanced by one token per step; beams share states, and a beam reorder only changes which row holds which
prefix. A prefix not seen at the previous step is re-parsed from the start. A prefix that already breaks the
grammar (a forced `decoder_input_ids` outside it) gets `</s>` then `<pad>`.

*Cost.* The per-window tables are built once per window and strand, spread over the first steps (intron tables
only for the settings a row actually uses); after that a step is a few slices and gathers per row. Re-parsing a
prefix from scratch costs time in proportion to its length, and every row at every step would make decoding
quadratic in the number of tokens: hence the cache, which advances each row by one token. Memory grows with the
window length, and more with introns allowed.

*Length limit.* `generate` may stop at `max_length` in the middle of a gene. The processor does not promise
to prevent that; instead (a) given `max_length`, it stops opening genes and closes the open one as soon as
it may once fewer than `closing_budget` steps remain, and (b) `annotation.decode_generated` reads a generated row,
and when it has no `</s>` drops its last gene (complete or not: the model may have been about to extend
it). With both, every row decodes.

*Diagnostics.* `first_forbidden(window, ids)` says whether a reference annotation is expressible (the
index of the first forbidden token), `allowed_next(window, ids)` what may follow a prefix. The reference genes
it cannot express are the exotic ones named above: selenoproteins, programmed frameshifts, start/stop codons
straddling the window edge or split by an intron, non-canonical introns (GT-CG).

Token ids: words have fixed ids (`tokenization_gff.WORDS`); coordinate `@p` (1-based) is id
`n_words + p - 1`; scores have `n_words + L_max` columns, L_max the longest window of the batch.

This module is Hub remote code: it imports numpy, torch, transformers and sibling modules only.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import LogitsProcessor

from .features import TRANSCRIPT_KINDS
from .genetic_code import GeneticCode

DEFAULT_SPLICE_SITES = (("GT", "AG"), ("GC", "AG"), ("AT", "AC"))

_BIG = 1 << 30  # "no such position" / "unbounded length"
_NEG = -(1 << 30)  # "no witness" in the W1 tables
_SEG = 1 << 32  # segment stride of the segmented suffix maximum (> 2 * _BIG + window)

_CODE = np.full(256, 4, dtype=np.int8)  # base -> TCAG index (0-3), anything else 4
for _i, _b in enumerate("TCAG"):
    _CODE[ord(_b)] = _CODE[ord(_b.lower())] = _i
_CODE[ord("U")] = _CODE[ord("u")] = 0
_COMP = {"A": "T", "C": "G", "G": "C", "T": "A"}


def _dinuc_code(s: str) -> int:
    s = s.upper()
    if len(s) != 2 or any(c not in "TCAG" for c in s):
        raise ValueError(f"splice site {s!r} must be two of A, C, G, T")
    return 4 * "TCAG".index(s[0]) + "TCAG".index(s[1])


def _rc(s: str) -> str:
    return "".join(_COMP[c] for c in reversed(s.upper()))


# -- scans over a padded position axis (length a multiple of 3) ---------------------------------------------
def _next_same_frame(mask: np.ndarray) -> np.ndarray:
    """out[i] = the smallest y >= i with y ≡ i (mod 3) and mask[y], else _BIG."""
    idx = np.where(mask, np.arange(len(mask), dtype=np.int32), np.int32(_BIG)).reshape(-1, 3)
    return np.minimum.accumulate(idx[::-1], axis=0)[::-1].reshape(-1)


def _prev_same_frame(mask: np.ndarray) -> np.ndarray:
    """out[i] = the largest y <= i with y ≡ i (mod 3) and mask[y], else -1."""
    idx = np.where(mask, np.arange(len(mask), dtype=np.int32), np.int32(-1)).reshape(-1, 3)
    return np.maximum.accumulate(idx, axis=0).reshape(-1)


def _next_true(mask: np.ndarray) -> np.ndarray:
    """out[i] = the smallest y >= i with mask[y], else _BIG."""
    idx = np.where(mask, np.arange(len(mask), dtype=np.int32), np.int32(_BIG))
    return np.minimum.accumulate(idx[::-1])[::-1]


class _Params:
    """The numeric settings every table needs."""

    def __init__(self, min_cds_length: int, max_introns: int, min_intron: int):
        self.min_cds_length, self.max_introns, self.min_intron = min_cds_length, max_introns, min_intron


class _Strand:
    """One window read on one strand: codon, splice-site and split-codon tables over positions (0-based)."""

    def __init__(self, codes: np.ndarray, plus: bool, code: GeneticCode, splice_sites, introns: bool):
        L = len(codes)
        self.L, self.plus = L, plus
        self.P = P = L + 9 + (-(L + 9)) % 3  # padded length: queries never index past it
        c0 = np.full(P + 2, 4, dtype=np.int64)
        c0[:L] = codes
        c1, c2, c0 = c0[1:P + 1], c0[2:P + 2], c0[:P]
        self.base = c0.astype(np.int8)
        lut_i = np.array(code.internal_stop_lookup())
        lut_t = np.array(code.stop_lookup())
        lut_s = np.array(code.start_lookup())

        def codon(b1, b2, b3):  # genomic bases in increasing position -> codon index read on this strand
            ok = (b1 < 4) & (b2 < 4) & (b3 < 4)
            idx = 16 * b1 + 4 * b2 + b3 if plus else 16 * (b3 ^ 2) + 4 * (b2 ^ 2) + (b1 ^ 2)
            return np.where(ok, idx, 64)

        idx = codon(c0, c1, c2)  # codon occupying positions i, i+1, i+2
        self.stopI, self.stopT, self.start = lut_i[idx], lut_t[idx], lut_s[idx]
        self.nxtI = _next_same_frame(self.stopI)  # next in-frame stop that may not be read through
        self.di = np.where((c0 < 4) & (c1 < 4), 4 * c0 + c1, 16).astype(np.int8)  # dinucleotide at (i, i+1)

        # splice sites. right: dinucleotide at (e+1, e+2) after a piece ending at e; left: at (x-2, x-1) before
        # a piece starting at x. '+': right = donor, left = acceptor; '-': right = rc(acceptor), left = rc(donor)
        pairs = [(d, a) if plus else (_rc(a), _rc(d)) for d, a in splice_sites]
        lefts = sorted({_dinuc_code(left) for _, left in pairs})
        self.n_left = len(lefts)
        rd = np.full(P, 16, dtype=np.int8)
        rd[:P - 1] = self.di[1:]
        ld = np.full(P, 16, dtype=np.int8)
        ld[2:] = self.di[:P - 2]
        self.left_kind = np.full(P, self.n_left, dtype=np.int8)  # n_left = none
        self.right_ok = np.zeros((self.n_left, P), dtype=bool)  # [λ, e]: (e+1, e+2) pairs with left kind λ
        if introns:
            for lam, lc in enumerate(lefts):
                self.left_kind[ld == lc] = lam
            for r, left in pairs:
                self.right_ok[lefts.index(_dinuc_code(left))] |= rd == _dinuc_code(r)
        self.left_kind[L:] = self.n_left
        self.leftB = np.zeros(P, dtype=bool)  # may be a cut transcript's first coordinate
        self.rightB = np.zeros(P, dtype=bool)  # may be a cut transcript's last coordinate
        if L:
            self.leftB[0] = self.rightB[L - 1] = True
        if introns:
            self.leftB[:L] |= self.left_kind[:L] < self.n_left
            self.rightB[:L] |= self.right_ok[:, :L].any(axis=0)
        self.nxt_leftB = _next_true(self.leftB)
        # next rightB at/after i (any frame / same frame). A setting's span end b needs no copy of these:
        # every query compares them with an end limit that is itself <= b.
        self.nxtRB = np.append(_next_true(self.rightB), np.full(3, _BIG, dtype=np.int32))
        self.nxtRB3 = np.append(_next_same_frame(self.rightB), np.full(3, _BIG, dtype=np.int32))

        # split codons: a piece ending with c = 1 or 2 bases of a codon (tail) needs k = 3 - c bases (head)
        # from the next piece. Tails are grouped by the set of heads that would make an in-frame stop:
        # kc 0 = nothing carried; kc (1, j) = 2-base tail, 1-base head; kc (2, j) = 1-base tail, 2-base head.
        def stops(b1: int, b2: int, b3: int) -> bool:
            return bool(lut_i[int(codon(np.int64(b1), np.int64(b2), np.int64(b3)))])

        headok, kc1_of, kc2_of = [np.ones(P, dtype=bool)], np.zeros(17, dtype=np.int64), np.zeros(5, dtype=np.int64)
        kc_k = [0]
        for k, n_tail, of in ((1, 16, kc1_of), (2, 4, kc2_of)):
            classes: dict[frozenset, int] = {}
            for t in range(n_tail + 1):  # the last value stands for a tail with N: nothing forbidden
                forbidden = frozenset()
                if t < n_tail and k == 1:
                    forbidden = frozenset(h for h in range(4) if stops(t // 4, t % 4, h))
                elif t < n_tail:
                    forbidden = frozenset(h for h in range(16) if stops(t, h // 4, h % 4))
                if forbidden not in classes:
                    kc_k.append(k)
                    classes[forbidden] = len(headok)
                    head = self.base if k == 1 else self.di
                    headok.append(~np.isin(head, list(forbidden)))
                of[t] = classes[forbidden]
        self.headok = np.stack(headok)  # [kc, x]: the head at x completes the carried codon without a stop
        tail2 = np.full(P, 16, dtype=np.int8)
        tail2[1:] = self.di[:P - 1]
        self.kc1 = kc1_of[tail2].astype(np.int8)  # kc when a piece ends at e with 2 bases (e-1, e) of an open codon
        self.kc2 = kc2_of[self.base].astype(np.int8)  # kc when a piece ends at e with 1 base (e) of an open codon
        self.n_kc = len(headok)
        self.k_of_kc = np.array(kc_k)  # [kc]: bases the next piece must give

    def kc_at(self, e, k):
        """Split-codon class carried by a piece ending at e that needs k more bases (vectorised)."""
        return np.where(k == 0, 0, np.where(k == 1, self.kc1[e], self.kc2[e]))


class _Config:
    """Completion tables for CDS of one setting: strand, partial permissions, span end b (0-based, inclusive).

    A piece is described by its start x, its grid g (the first position where a whole codon of the reading
    frame begins; g ≡ every later codon start mod 3) and lo, the first position it may end at.
    """

    def __init__(self, st: _Strand, p: _Params, allow5p: bool, allow3p: bool, req_left: bool, req_right: bool,
                 b: int):
        self.st, self.p, self.b = st, p, b
        self.allow5p, self.allow3p, self.req_left, self.req_right = allow5p, allow3p, req_left, req_right
        plus, P = st.plus, st.P
        ar = np.arange(P)
        self.allow_pt = allow3p if plus else allow5p  # may the last piece in token order be cut at the edge
        # complete end in token order: '+' a stop (3'), '-' a start (5'); the farthest one before the next stop
        self.termc = termc = st.stopT if plus else st.start
        ok = termc & (ar + 2 <= b)
        if req_right:
            ok &= st.rightB[np.minimum(ar + 2, P - 1)]
        prev_ok = _prev_same_frame(ok)
        z = np.minimum(st.nxtI, (b - 2) - ((b - 2 - ar) % 3))  # last codon start on g's grid allowed
        y = np.where(z >= 0, prev_ok[np.clip(z, 0, P - 1)], -1)
        self.Ec = np.where((z >= ar) & (y >= ar), y + 2, -1).astype(np.int32)  # [g]: farthest complete end, or -1
        # where a first piece may start (any phase) with a single-piece witness: cheap, checked first
        self._w0_any = np.logical_or.reduce(self._first_masks(with_w1=False))
        self._first = self._any = None
        self._w1_built = False

    @property
    def first(self) -> list[np.ndarray]:
        """[phase] -> positions where a first CDS piece may start (lower bounds not applied)."""
        if self._first is None:
            self._first = self._first_masks(with_w1=self.p.max_introns >= 1)
            self._any = np.logical_or.reduce(self._first)
        return self._first

    def any_start(self, lb: int) -> bool:
        """Is there a first-piece start at or after lb (and within the span)?"""
        if self._w0_any[lb:self.b + 1].any():
            return True  # a single-piece CDS: no need for the intron tables
        self.first  # noqa: B018 (builds the full masks)
        return bool(self._any[lb:self.b + 1].any())

    def _ensure_w1(self):
        if not self._w1_built and self.p.max_introns >= 1:
            self._build_w1()
        self._w1_built = True

    # -- single-piece completions (W0), vectorised over arrays of x / g / lo --------------------------------
    def lim(self, g):
        """Last end a piece on grid g may have before an in-frame stop lies whole inside it (and <= b)."""
        return np.minimum(self.st.nxtI[g] + 1, self.b)

    def cut_end(self, lo, g):
        """A cut last piece (no phase rule) can end at some rightB in [lo, lim(g)]."""
        return self.allow_pt & (self.st.nxtRB[lo] <= self.lim(g))

    def cut_5p(self, lo, g, phase):
        """'-' only: the 5'-most piece can end at the right edge with `phase` (its first `phase` bases skipped)."""
        res = (g + phase - 1) % 3
        return self.allow5p & (self.st.nxtRB3[lo + (res - lo) % 3] <= self.lim(g))

    def w0_len(self, x, g, lo, phase=None):
        """Longest single-piece completion from x (nt), _BIG if the piece can end cut, -1 if none.

        phase=None: a piece whose PHASE token is still to choose ('-': any phase at a cut 5' end).
        """
        ec = self.Ec[g]
        out = np.where(ec >= 0, ec - x + 1, -1)
        if self.st.plus or phase is None:
            cut = self.cut_end(lo, g)
        else:
            cut = self.cut_5p(lo, g, phase)
            if phase:
                out = np.full_like(out, -1)  # a PHASE token on '-' marks the cut 5'-most piece
        return np.where(cut, _BIG, out)

    # -- one intron, then a single-piece completion (W1) --------------------------------------------------
    def _build_w1(self):
        st, p, P = self.st, self.p, self.st.P
        ar = np.arange(P)
        # len0[k][x]: best completion of a piece starting at x that first needs k bases to close a split codon
        self.len0 = np.stack([self.w0_len(ar, np.minimum(ar + k, P - 1), np.minimum(ar + max(k - 1, 0), P - 1))
                              for k in range(3)]).astype(np.int32)
        # suf[λ, kc, x0] = max over x >= x0 with an acceptor of kind λ before x and a head that closes the
        # carried codon (class kc) without a stop, of len0[k(kc)][x]
        suf = np.full((st.n_left, st.n_kc, P + 1), -1, dtype=np.int32)
        for lam in range(st.n_left):
            site = st.left_kind == lam
            for kc in range(st.n_kc):
                v = np.where(site & st.headok[kc], self.len0[st.k_of_kc[kc]], -1)
                suf[lam, kc, :P] = np.maximum.accumulate(v[::-1])[::-1]
        self.suf = suf
        del self.len0  # only needed for suf
        # q[r, e]: a piece on grid residue r ending at e, then an intron, then a finished next piece: e + 1 +
        # the best next length (so that "total >= m" reads q >= m + x - A), or _NEG
        t = np.minimum(ar + p.min_intron + 1, P)
        q = np.full((3, P), _NEG, dtype=np.int64)
        for r in range(3):
            k = (r - ar - 1) % 3
            kc = st.kc_at(ar, k)
            s = np.full(P, -1, dtype=np.int64)
            for lam in range(st.n_left):
                s = np.maximum(s, np.where(st.right_ok[lam], suf[lam, kc, t], -1))
            q[r] = np.where(s >= 0, ar + 1 + s, _NEG)
        # w1[r, e0]: max q[r, e] over e from e0 to the end of e0's stretch on grid r (e <= next stop + 1)
        self.w1 = np.empty((3, P), dtype=np.int32)  # values within ±(2^30 + L)
        for r in range(3):
            cs = np.cumsum(st.stopI & (ar % 3 == r))
            seg = np.zeros(P, dtype=np.int64)
            seg[2:] = cs[:P - 2]
            off = (cs[-1] + 1 - seg) * _SEG
            self.w1[r] = np.maximum.accumulate((off + q[r])[::-1])[::-1] - off

    def w1_at(self, lo, g):
        """Best q over the ends a piece on grid g may have from lo on (vectorised)."""
        return self.w1[g % 3, lo]

    # -- first piece ------------------------------------------------------------------------------------
    def first_frames(self, x: int, phase: int) -> list[tuple[int, int, bool]]:
        """Frame hypotheses (g, lo, length rule applies) of a first piece starting at x."""
        st, out = self.st, []
        if st.plus:
            if phase == 0 and self.allow5p and st.leftB[x]:
                out.append((x, x, False))  # cut 5' end at the edge (a start codon there is welcome too)
            elif phase == 0 and not self.req_left and st.start[x]:
                out.append((x, x + 2, True))  # complete: the start codon lies inside the piece
            elif phase and self.allow5p and st.leftB[x]:
                out.append((x + phase, max(x, x + phase - 1), False))
        else:
            if not self.req_left and st.stopT[x]:
                out.append((x + 3, x + 2, True))  # complete 3' end: the stop codon opens the piece
            if self.allow3p and st.leftB[x]:
                out += [(x + d, max(x, x + d - 1), False) for d in range(3)]
        return out

    def _first_masks(self, with_w1: bool) -> list[np.ndarray]:
        """[phase] -> positions where a first CDS piece may start (before lower bounds), with a witness.

        Witnesses are evaluated only at the candidate positions (start / stop codons, edge positions).
        """
        st, p, P = self.st, self.p, self.st.P
        w1_ok = with_w1
        if w1_ok:
            self._ensure_w1()
        m = p.min_cds_length

        def witness(x, d, lo_d, lenreq, phase):  # x: candidate starts; g = x + d; lo = x + lo_d
            g, lo = np.minimum(x + d, P - 1), np.minimum(x + lo_d, P - 1)
            ok = self.w0_len(x, g, lo, phase if not st.plus else None) >= (m if lenreq else 0)
            if w1_ok and not (phase and not st.plus):
                ok |= self.w1_at(lo, g) >= ((m + x) if lenreq else 0)
            return x[ok]

        masks = [np.zeros(P, dtype=bool) for _ in range(3)]
        inside = np.arange(P) < st.L
        edge = np.flatnonzero(st.leftB & inside)
        for phase in range(3):
            if st.plus:
                if self.allow5p:
                    masks[phase][witness(edge, phase, max(phase - 1, 0), False, phase)] = True
                if phase == 0 and not self.req_left:
                    cand = st.start & inside
                    if self.allow5p:
                        cand &= ~st.leftB
                    masks[0][witness(np.flatnonzero(cand), 0, 2, True, 0)] = True
            else:
                if not self.req_left:
                    masks[phase][witness(np.flatnonzero(st.stopT & inside), 3, 2, True, phase)] = True
                if self.allow3p:
                    for d in range(3):
                        masks[phase][witness(edge, d, max(d - 1, 0), False, phase)] = True
        return masks

    # -- a later piece ----------------------------------------------------------------------------------
    def next_masks(self, e_prev: int, frames, acc: int, introns: int) -> list[np.ndarray]:
        """[phase] -> positions (over the padded axis) where the piece after one ending at e_prev may start.

        frames: carried hypotheses (k, kc, lenreq); acc: CDS length so far; introns: introns so far.
        """
        st, p = self.st, self.p
        self._ensure_w1()
        lo_x, hi_x = e_prev + p.min_intron + 1, min(self.b, st.L - 1)
        out = [np.zeros(st.P, dtype=bool) for _ in range(3)]
        if lo_x > hi_x:
            return out
        lut = np.append(st.right_ok[:, e_prev], False)  # acceptor kinds that pair with this donor
        xs = lo_x + np.flatnonzero(lut[st.left_kind[lo_x:hi_x + 1]])
        m = p.min_cds_length
        more = introns + 1 < p.max_introns
        for k, kc, lenreq in frames:
            base = st.headok[kc, xs]
            g, lo = xs + k, xs + max(k - 1, 0)
            for phase in range(3 if not st.plus else 1):
                ok = self.w0_len(xs, g, lo, phase if not st.plus else None) >= (max(m - acc, 0) if lenreq else 0)
                if more and phase == 0:
                    ok |= self.w1_at(lo, g) >= ((m - acc + xs) if lenreq else 0)
                out[phase][xs] |= base & ok
        return out

    def end_masks(self, x: int, g: int, lo: int, lenreq: bool, acc: int, introns: int, phase: int):
        """(close, cont) over the padded axis: where the current piece may end as the last one / before an intron."""
        st, p, b = self.st, self.p, self.b
        P, m = st.P, p.min_cds_length
        self._ensure_w1()
        close, cont = np.zeros(P, dtype=bool), np.zeros(P, dtype=bool)
        hi = int(self.lim(g))
        # complete end: a stop ('+') / start ('-') codon on the grid, the piece already in its own frame
        if st.plus or phase == 0:
            ys = np.arange(g, min(int(st.nxtI[g]), b - 2) + 1, 3)
            ok = self.termc[ys] & (ys + 2 >= lo)
            if self.req_right:
                ok &= st.rightB[ys + 2]
            if lenreq:
                ok &= acc + ys + 2 - x + 1 >= m
            close[ys[ok] + 2] = True
        if self.allow_pt and hi >= lo:
            es = np.arange(lo, hi + 1)
            ok = st.rightB[es]
            if not st.plus:
                ok &= (es - (g + phase - 1)) % 3 == 0
            close[es[ok]] = True
        hi2 = min(hi, b - p.min_intron - 1)
        if introns < p.max_introns and (st.plus or phase == 0) and hi2 >= lo:
            es = np.arange(lo, hi2 + 1)
            kc = st.kc_at(es, (g - es - 1) % 3)
            t = es + p.min_intron + 1
            need = np.maximum(m - acc - (es - x + 1), 0) if lenreq else 0
            ok = np.zeros(len(es), dtype=bool)
            for lam in range(st.n_left):
                ok |= st.right_ok[lam, es] & (self.suf[lam, kc, t] >= need)
            cont[es[ok]] = True
        return close, cont


# -- parse state -------------------------------------------------------------------------------------------
TOP, DONE, BROKEN, GENE, TX, EXON_S, EXON_E, AFTER_EXON, CDS_PH, CDS_S, CDS_E, AFTER_CDS = range(12)


class _State:
    """Where one row stands in the grammar. Never mutated once built (rows and beams share states)."""

    __slots__ = ("mode", "strand", "gene_lb", "strand_lb", "gene_start", "tx_lb", "tx_start", "kind", "coding", "pl",
                 "pr", "n_exons", "first_exon", "exon_start", "last_exon_end", "cfg", "n_cds", "acc", "introns", "x",
                 "phase", "frames", "prev_end", "can_close", "can_continue", "masks")

    def __init__(self):
        self.mode, self.strand, self.gene_lb, self.gene_start = TOP, "+", 0, -1
        self.strand_lb = {"+": 0, "-": 0}  # least first coordinate of a next gene on each strand (never mutated)
        self.tx_lb, self.tx_start, self.kind, self.coding, self.pl, self.pr = 0, -1, "", False, False, False
        self.n_exons, self.first_exon, self.exon_start, self.last_exon_end = 0, -1, -1, -1
        self.cfg, self.n_cds, self.acc, self.introns, self.x, self.phase = None, 0, 0, 0, -1, 0
        self.frames, self.prev_end, self.can_close, self.can_continue = (), -1, False, False
        self.masks = None  # (allowed word ids, position mask or None, extra) once computed

    def copy(self) -> "_State":
        s = _State.__new__(_State)
        for k in _State.__slots__:
            setattr(s, k, getattr(self, k))
        s.masks = None
        return s


class _Row:
    """One window: its strands' tables and CDS settings, built on first use."""

    def __init__(self, dna: str, proc: "GFFGrammarLogitsProcessor"):
        self.proc = proc
        self.codes = _CODE[np.frombuffer(dna.encode("ascii", "replace"), dtype=np.uint8)]
        self.L = len(dna)
        self._strands: dict[str, _Strand] = {}
        self._configs: dict[tuple, _Config] = {}
        self._kind_ok: dict[tuple, bool] = {}

    def strand(self, s: str) -> _Strand:
        if s not in self._strands:
            p = self.proc
            self._strands[s] = _Strand(self.codes, s == "+", p.code, p.splice_sites, p.params.max_introns > 0)
        return self._strands[s]

    def config(self, strand: str, pl: bool, pr: bool, exons: bool, b: int) -> _Config:
        plus = strand == "+"
        key = (strand, pl, pr, exons, b)
        if key not in self._configs:
            if len(self._configs) > 24:  # exon spans make new settings; keep memory bounded
                self._configs.pop(next(iter(self._configs)))
            self._configs[key] = _Config(self.strand(strand), self.proc.params, allow5p=pl if plus else pr,
                                         allow3p=pr if plus else pl, req_left=pl and not exons,
                                         req_right=pr and not exons, b=b)
        return self._configs[key]

    # -- feasibility of whole transcripts ------------------------------------------------------------
    def exon_route(self, strand: str, pl: bool, lb: int) -> bool:
        if not self.proc.allow_exons or lb > self.L - 1:
            return False
        return not pl or self.strand(strand).nxt_leftB[lb] <= self.L - 1

    def cds_route(self, strand: str, pl: bool, pr: bool, lb: int) -> bool:
        if lb > self.L - 1:
            return False
        cfg = self.config(strand, pl, pr, False, self.L - 1)
        return cfg.any_start(lb)

    def tx_ok(self, strand: str, coding: bool, pl: bool, pr: bool, lb: int) -> bool:
        if (pl or pr) and not self.proc.allow_partial:
            return False
        return self.exon_route(strand, pl, lb) or (coding and self.cds_route(strand, pl, pr, lb))

    def kind_ok(self, strand: str, coding: bool, lb: int) -> bool:
        key = (strand, coding, lb)
        if key not in self._kind_ok:
            combos = ((False, False), (True, False), (False, True), (True, True))
            self._kind_ok[key] = any(self.tx_ok(strand, coding, pl, pr, lb) for pl, pr in combos)
        return self._kind_ok[key]


class GFFGrammarLogitsProcessor(LogitsProcessor):
    """Forbid every next token that would break the GFF token grammar or the gene biology of each window.

    Args:
        tokenizer: the `GFFTokenizer` (word ids and `n_words`).
        dna: the window sequences, one per batch row before beam / return-sequence expansion; row i of
            `input_ids` reads `dna[i // (rows // len(dna))]`.
        genetic_code: NCBI translation table id (11 bacteria, 4 Mycoplasma, 1 eukaryotes) or a `GeneticCode`.
        allow_partial: allow PARTIAL_LEFT / PARTIAL_RIGHT (transcripts cut by the window edge).
        allow_exons: allow EXON pieces (UTRs, RNA genes); False for models trained on coding-only targets.
        splice_sites: (donor, acceptor) dinucleotide pairs on the transcript's strand.
        min_cds_length: least length (nt, stop included) of a CDS complete at both ends.
        max_introns: most introns per CDS (None = no limit; 0 for prokaryotes, which also skips their tables).
        min_intron: least intron length (nt).
        coding_kinds: transcript kinds that may carry CDS pieces.
        max_length: the `max_length` given to `generate` (decoder start token included), to close early.
        closing_budget: with `max_length`, once this few steps remain, open no gene and close the open one
            as soon as the grammar lets it.

    The first column of `input_ids` is the decoder start token and is not parsed. Build one processor per
    `generate` call: it keeps tables per window and parse states per row prefix.
    """

    def __init__(self, tokenizer, dna, genetic_code: int | GeneticCode = 11, *, allow_partial: bool = True,
                 allow_exons: bool = True, splice_sites=DEFAULT_SPLICE_SITES, min_cds_length: int = 60,
                 max_introns: int | None = None, min_intron: int = 20, coding_kinds=("mRNA",),
                 max_length: int | None = None, closing_budget: int = 16):
        if isinstance(dna, str):
            dna = [dna]
        if not dna:
            raise ValueError("`dna` must hold one window sequence per batch row")
        if max_introns is not None and max_introns < 0:
            raise ValueError(f"`max_introns` must be >= 0 or None, got {max_introns}")
        if min_intron < 4:
            raise ValueError(f"`min_intron` must be >= 4 (room for a donor and an acceptor), got {min_intron}")
        if min_cds_length < 0:
            raise ValueError(f"`min_cds_length` must be >= 0, got {min_cds_length}")
        unknown = [k for k in coding_kinds if k not in TRANSCRIPT_KINDS]
        if unknown:
            raise ValueError(f"`coding_kinds` {unknown} are not transcript kinds of the GFF tokenizer")
        for pair in splice_sites:
            if len(pair) != 2:
                raise ValueError(f"`splice_sites` holds (donor, acceptor) pairs, got {pair!r}")
            _dinuc_code(pair[0]), _dinuc_code(pair[1])
        self.code = genetic_code if isinstance(genetic_code, GeneticCode) else GeneticCode(genetic_code)
        self.dna = list(dna)
        self.allow_partial, self.allow_exons = allow_partial, allow_exons
        self.splice_sites = tuple((d.upper(), a.upper()) for d, a in splice_sites)
        self.params = _Params(min_cds_length, _BIG if max_introns is None else max_introns, min_intron)
        self.max_length, self.closing_budget = max_length, closing_budget
        w = tokenizer.word_to_id
        self.w, self.n_words = w, tokenizer.n_words
        self.pad, self.eos = w["<pad>"], w["</s>"]
        self.kind_ids = {k: w[k] for k in TRANSCRIPT_KINDS}
        self.kind_of = {i: k for k, i in self.kind_ids.items()}
        self.coding_kinds = frozenset(coding_kinds)
        self.max_window = max(len(d) for d in self.dna)
        self._rows: dict[int, _Row] = {}
        self._states: dict[tuple, _State] = {}

    # -- transformers hook --------------------------------------------------------------------------------
    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        rows, cur = input_ids.shape
        if rows % len(self.dna):
            raise ValueError(f"{rows} rows of input_ids do not expand {len(self.dna)} windows evenly")
        if scores.shape[-1] < self.n_words + self.max_window:
            raise ValueError(f"scores have {scores.shape[-1]} columns; the longest window needs "
                             f"{self.n_words} words + {self.max_window} positions")
        expand = rows // len(self.dna)
        budget = None if self.max_length is None else self.max_length - cur
        penalty = np.full((rows, scores.shape[-1]), -np.inf, dtype=np.float32)  # 0 where allowed
        states: dict[tuple, _State] = {}
        n = self.n_words
        for r, ids in enumerate(input_ids.tolist()):
            key = (r // expand, tuple(ids[1:]))
            state = states.get(key) or self._state(key)
            states[key] = state
            words, pos = self._masks(key[0], state, budget)
            penalty[r, words] = 0.0
            if pos is not None:
                L = self._row(key[0]).L
                penalty[r, n:n + L] = np.where(pos[:L], np.float32(0.0), np.float32(-np.inf))
        self._states = states
        # An additive mask. On CPU float32 the add runs in numpy: for a mask this small, torch's threaded
        # elementwise kernel pays more in thread hand-off than in arithmetic; numpy's single-threaded add does not.
        if scores.device.type == "cpu" and scores.dtype == torch.float32:
            return torch.from_numpy(scores.detach().numpy() + penalty)
        return scores + torch.from_numpy(penalty).to(device=scores.device, dtype=scores.dtype)

    # -- state bookkeeping --------------------------------------------------------------------------------
    def _row(self, w: int) -> _Row:
        if w not in self._rows:
            self._rows[w] = _Row(self.dna[w], self)
        return self._rows[w]

    def _state(self, key: tuple) -> _State:
        w, ids = key
        prev = self._states.get((w, ids[:-1])) if ids else None
        if prev is not None:
            return self._advance(w, prev, ids[-1])
        state = _State()
        for t in ids:
            state = self._advance(w, state, t)
        return state

    def first_forbidden(self, window: int, ids) -> int | None:
        """Index in `ids` (no start token) of the first token the grammar forbids, or None if all are allowed.

        Tells whether a reference annotation is expressible under these settings (e.g. the share of training
        targets the grammar accepts).
        """
        for i, (allowed, _, _) in enumerate(self.allowed_along(window, ids)):
            if not allowed:
                return i
        return None

    def allowed_along(self, window: int, ids):
        """For each token of `ids` (no start token), in order: (whether it is allowed, the word ids allowed
        there, the position mask over 0-based window positions or None). Stops after the first forbidden token.

        What a grammar-aware loss needs: the set the decoder may choose from at every step of a teacher-forced
        reference (train.py's `constrained_loss`).
        """
        state, row = _State(), self._row(window)
        for t in (int(t) for t in ids):
            if state.masks is None:
                state.masks = self._compute_masks(row, state)
            words, pos, _ = state.masks
            ok = t in words if t < self.n_words else pos is not None and t - self.n_words < row.L and bool(
                pos[t - self.n_words])
            yield ok, words, None if pos is None else pos[:row.L]
            if not ok:
                return
            state = self._advance(window, state, t)

    def allowed_next(self, window: int, ids) -> tuple[list[int], np.ndarray | None]:
        """(word ids, position mask over 0-based window positions or None) allowed after `ids` (no start token).

        For tests and debugging; generation goes through `__call__`.
        """
        state = self._state((window, tuple(int(i) for i in ids)))
        words, pos = self._masks(window, state, None)
        return words, None if pos is None else pos[:self._row(window).L].copy()

    # -- what may come next ----------------------------------------------------------------------------
    def _close_words(self, row: _Row, s: _State) -> list[int]:
        """Tokens that end the open transcript: another transcript of the gene, another gene, or </s>."""
        words = [self.eos]
        words += self._kind_words(row, s.strand, s.tx_start)
        for strand in "+-":
            if self._gene_ok(row, strand, self._next_gene_lb(s, strand)):
                words.append(self.w["GENE" + strand])
        return words

    @staticmethod
    def _next_gene_lb(s: _State, strand: str) -> int:
        """Least first coordinate of a gene on `strand` after the open one: canonical order, and strictly after
        the last start on the same strand (the open gene's included), so no gene repeats."""
        lb = max(s.gene_start, s.strand_lb[strand])
        return lb + 1 if strand == s.strand else lb

    def _kind_words(self, row: _Row, strand: str, lb: int) -> list[int]:
        out = []
        noncoding_ok = row.kind_ok(strand, False, lb)
        coding_ok = row.kind_ok(strand, True, lb)
        for k, i in self.kind_ids.items():
            if (coding_ok if k in self.coding_kinds else noncoding_ok):
                out.append(i)
        return out

    def _gene_ok(self, row: _Row, strand: str, lb: int) -> bool:
        return row.kind_ok(strand, False, lb) or row.kind_ok(strand, True, lb)

    def _masks(self, w: int, s: _State, budget: int | None):
        if s.masks is None:
            s.masks = self._compute_masks(self._row(w), s)
        words, pos = s.masks[0], s.masks[1]
        if budget is not None and budget <= self.closing_budget and s.mode != DONE:
            if self.eos in words:
                return [self.eos], None  # little room left: close now that the grammar allows it
            if s.mode == CDS_E and s.masks[2][0].any():
                return words, s.masks[2][0]  # end the piece where the transcript may close
        return words, pos

    def _compute_masks(self, row: _Row, s: _State):
        w, L, m = self.w, row.L, s.mode
        if m == DONE:
            return [self.pad], None, None
        if m == BROKEN:
            return [self.eos], None, None
        if m == TOP:
            return [self.eos] + [w["GENE" + st] for st in "+-" if self._gene_ok(row, st, s.gene_lb)], None, None
        if m == GENE:
            return self._kind_words(row, s.strand, s.tx_lb), None, None
        if m == TX:
            words = []
            if self.allow_partial and not s.pl and not s.pr and any(
                    row.tx_ok(s.strand, s.coding, True, pr, s.tx_lb) for pr in (False, True)):
                words.append(w["PARTIAL_LEFT"])
            if self.allow_partial and not s.pr and row.tx_ok(s.strand, s.coding, s.pl, True, s.tx_lb):
                words.append(w["PARTIAL_RIGHT"])
            if row.exon_route(s.strand, s.pl, s.tx_lb):
                words.append(w["EXON"])
            if s.coding and row.cds_route(s.strand, s.pl, s.pr, s.tx_lb):
                words.append(w["CDS"])
            return words, None, None
        st = row.strand(s.strand)
        if m == EXON_S:
            pos = np.zeros(st.P, dtype=bool)
            lo = s.last_exon_end + 1 if s.n_exons else s.tx_lb
            pos[lo:L] = True
            if not s.n_exons and s.pl:
                pos &= st.leftB
            return [], pos, None
        if m == EXON_E:
            pos = np.zeros(st.P, dtype=bool)
            pos[s.exon_start:L] = True
            return [], pos, None
        if m == AFTER_EXON:
            closed = not s.pr or bool(st.rightB[s.last_exon_end])
            words = [w["EXON"]] if s.last_exon_end < L - 1 else []
            if s.coding and closed:
                cfg = row.config(s.strand, s.pl, s.pr, True, s.last_exon_end)
                if cfg.any_start(s.first_exon):
                    words.append(w["CDS"])
            if closed:
                words += self._close_words(row, s)
            return words, None, None
        cfg = row.config(*s.cfg)
        if m in (CDS_PH, CDS_S):
            if s.n_cds == 0:
                lb = s.first_exon if s.n_exons else s.tx_lb
                by_phase = []
                for phase in range(3):
                    pos = cfg.first[phase].copy()
                    pos[:lb] = False
                    by_phase.append(pos)
            else:
                by_phase = cfg.next_masks(s.prev_end, s.frames, s.acc, s.introns)
            words = []
            if m == CDS_PH:
                words = [w[f"PHASE_{ph}"] for ph in (1, 2) if by_phase[ph].any()]
            return words, by_phase[s.phase], None
        if m == CDS_E:
            close, cont, per_frame = np.zeros(st.P, dtype=bool), np.zeros(st.P, dtype=bool), []
            for g, lo, lenreq in s.frames:
                c1, c2 = cfg.end_masks(s.x, g, lo, lenreq, s.acc, s.introns, s.phase)
                close |= c1
                cont |= c2
                per_frame.append(c2)
            return [], close | cont, (close, per_frame)
        if m == AFTER_CDS:
            words = [w["CDS"]] if s.can_continue else []
            if s.can_close:
                words += self._close_words(row, s)
            return words, None, None
        raise AssertionError(f"unknown parse mode {m}")

    # -- one token ------------------------------------------------------------------------------------
    def _advance(self, wi: int, s: _State, t: int) -> _State:
        row = self._row(wi)
        w = self.w
        if s.masks is None:
            s.masks = self._compute_masks(row, s)
        words, pos, extra = s.masks
        n = self.n_words
        ok = t in words if t < n else (pos is not None and t - n < row.L and bool(pos[t - n]))
        new = s.copy()
        if s.mode == DONE:
            return new  # pad after </s> (anything else too: the row is finished)
        if not ok:
            new.mode = DONE if t == self.eos else BROKEN
            return new
        if t == self.eos:
            new.mode = DONE
            return new
        m = s.mode
        if t in (w["GENE+"], w["GENE-"]):  # from TOP or after a finished transcript
            new.mode, new.strand = GENE, "+" if t == w["GENE+"] else "-"
            if m != TOP:  # the gene just closed: the next one starts where _close_words allowed it
                new.gene_lb = self._next_gene_lb(s, new.strand)
                new.strand_lb = {**s.strand_lb, s.strand: s.gene_start + 1}
            new.gene_start, new.tx_lb = -1, new.gene_lb
            return new
        if t in self.kind_of:  # first transcript of a gene, or the next one
            kind = self.kind_of[t]
            new.mode, new.kind, new.coding = TX, kind, kind in self.coding_kinds
            new.tx_lb = s.tx_lb if m == GENE else s.tx_start
            new.tx_start, new.pl, new.pr = -1, False, False
            new.n_exons, new.first_exon, new.last_exon_end, new.n_cds, new.acc, new.introns = 0, -1, -1, 0, 0, 0
            return new
        if t == w["PARTIAL_LEFT"]:
            new.pl = True
            return new
        if t == w["PARTIAL_RIGHT"]:
            new.pr = True
            return new
        if t == w["EXON"]:
            new.mode = EXON_S
            return new
        if t == w["CDS"]:
            new.mode, new.phase = CDS_PH, 0
            if s.n_cds == 0:
                exons = s.n_exons > 0
                new.cfg = (s.strand, s.pl, s.pr, exons, s.last_exon_end if exons else row.L - 1)
            return new
        if t in (w["PHASE_1"], w["PHASE_2"]):
            new.mode, new.phase = CDS_S, 1 if t == w["PHASE_1"] else 2
            return new
        p = t - n  # a position, allowed by the mask
        if m == EXON_S:
            new.mode, new.exon_start = EXON_E, p
            if not s.n_exons:
                new.first_exon = new.tx_start = p
                if s.gene_start < 0:
                    new.gene_start = p
            return new
        if m == EXON_E:
            new.mode, new.n_exons, new.last_exon_end = AFTER_EXON, s.n_exons + 1, p
            return new
        if m in (CDS_PH, CDS_S):
            cfg = row.config(*s.cfg)
            if s.n_cds == 0:
                new.frames = tuple(cfg.first_frames(p, s.phase))
                if not s.n_exons:
                    new.tx_start = p
                    if s.gene_start < 0:
                        new.gene_start = p
            else:
                st = row.strand(s.strand)
                new.frames = tuple((p + k, p + max(k - 1, 0), lenreq) for k, kc, lenreq in s.frames
                                   if st.headok[kc, p])
                new.introns = s.introns + 1
            new.mode, new.x = CDS_E, p
            return new
        if m == CDS_E:
            close, per_frame = extra
            st = row.strand(s.strand)
            carried = []
            for (g, _, lenreq), cont in zip(s.frames, per_frame):
                if cont[p]:
                    k = (g - p - 1) % 3
                    carried.append((k, int(st.kc_at(np.int64(p), np.int64(k))), lenreq))
            new.mode, new.frames = AFTER_CDS, tuple(carried)
            new.can_close, new.can_continue = bool(close[p]), bool(carried)
            new.acc, new.prev_end, new.n_cds = s.acc + p - s.x + 1, p, s.n_cds + 1
            return new
        raise AssertionError(f"token {t} allowed in mode {m} but not handled")
