"""ORF decoding: the best set of genes a record's ORFs allow, scored by the coding-frame head and the start scorer.

Generation writes genes token by token from the window and must get every coordinate right on its own; a
bacterial gene, though, is an ORF: a start codon and the first in-frame stop after it. This decoder takes the
model's dense per-nucleotide outputs for a whole record and solves for the genes exactly, as Prodigal does
with its hand-built scores (and Tiberius or Helixer with a structured layer over a network's outputs):

1. candidates: every ORF of at least `min_cds_length` nt on both strands (`orfs.open_reading_frames`), and unless
   `closed_ends`, the genes the record's ends and its gaps cut (`Strand.edge_orfs`: begun before the 5' end,
   whose start then reads as the record's average start codon + `edge_start_logit`, or ending after the 3' end),
   called partial; none that spans a gap (`Strand.gaps`: >= 50 unknown bases in a row, as a scaffold has);
2. score of a candidate = `head_weight` x sum over its nucleotides of [log P(the codon position the gene implies)
   - log P(non-coding)] under the coding-frame head, + `length_prior` x its length (nats per nt: in bacteria most
   DNA is coding and a long ORF is rarely there by chance; the nt by which its start lies upstream of the ORF's
   most downstream start count `upstream_prior` each instead: `length_scores`), + `start_weight` x log P(this
   start | its ORF) under
   the start scorer (a softmax over the ORF's start codons: what the scorer is fitted to, and <= 0, so it places
   the start without making genes likelier), + `start_evidence` x its start's logit above the record's average
   start codon's (what does make a gene likelier: a strong ribosome binding site, as Prodigal's start score
   counts towards calling), + `hexamer_weight` x the sum of its in-frame hexamers' log-odds
   under the input genome's own coding statistics (`self_training.py`: fitted on the input before decoding it,
   as Prodigal trains on its input), - `gene_bias` (the evidence a gene must add to be called).
   `head_weight` 0 leaves the network out: the ORF-structure baseline the head has to beat;
3. selection: the highest-scoring set of candidates in which each starts and ends after the one before it and
   overlaps it by at most `max_overlap` nt on the same strand, `max_convergent_overlap` where their 3' ends meet
   on opposite strands (-> <-) and `max_divergent_overlap` where their 5' ends meet (<- ->), as Prodigal bounds
   them (weighted interval scheduling, one pass over the candidates sorted by end). Two starts of one ORF never
   both come out: one lies inside the other.

The settings (`genetic_code`, `min_cds_length`, `head_weight`, `length_prior`, `upstream_prior`, `start_weight`,
`start_evidence`, `hexamer_weight`, `gene_bias`, `closed_ends`, `max_overlap`, `max_convergent_overlap`,
`max_divergent_overlap`) are `annotation.AnnotationSettings` fields; the weights are chosen on validation DNA
and, with the start refit, leaving each training genome out (docs/decisions/bacterial_decoder.md). Only single-piece
bacterial genes come out of it; genes with introns need generation.

This module is Hub remote code: numpy and siblings only.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .features import CDSPart, Gene, Transcript
from .self_training import CodingStatistics
from .genetic_code import GeneticCode
from .strands import Strand, record_strands

# columns of the coding-frame head (coding_frames.FRAME_CLASSES) that read a strand 5'->3':
# non-coding, then codon positions 1-3 on that strand
_STRAND_CLASSES = {"+": [0, 1, 2, 3], "-": [0, 4, 5, 6]}


def strand_view(coding_logp: np.ndarray, strand: str) -> np.ndarray:
    """The (n, 4) head log-probabilities [non-coding, codon position 1-3] as strand `strand` reads them 5'->3'
    (reversed rows for '-')."""
    cols = coding_logp[:, _STRAND_CLASSES[strand]]
    return cols if strand == "+" else cols[::-1]


def coding_scores(strand_logp: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Sum over [start, end) of log P(codon position implied by the frame of `start`) - log P(non-coding)."""
    n = len(strand_logp)
    llr = strand_logp[:, 1:] - strand_logp[:, :1]  # (n, 3)
    k = np.arange(n)
    prefix = np.zeros((3, n + 1))
    for frame in range(3):  # codon position of nucleotide k in a gene whose frame is `frame`: (k - frame) % 3
        prefix[frame, 1:] = np.cumsum(llr[k, (k - frame) % 3], dtype=np.float64)
    frame = starts % 3
    return prefix[frame, ends] - prefix[frame, starts]


def _orf_groups(ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of each ORF's first candidate, number of candidates) for candidates sharing an end, contiguous in
    `ends` (non-empty)."""
    first = np.flatnonzero(np.concatenate(([True], ends[1:] != ends[:-1])))
    return first, np.diff(np.append(first, len(ends)))


def length_scores(starts: np.ndarray, ends: np.ndarray, length_prior: float, upstream_prior: float) -> np.ndarray:
    """The length term of each candidate (ORFs sharing an end contiguous in `ends`): `length_prior` x the length
    of its ORF's shortest candidate (the most downstream start) + `upstream_prior` x the nt its own start lies
    upstream of that one. Calling a gene and placing its start are apart: the first weighs how much coding
    sequence a stop has behind it, the second only how far a start moves; equal priors give prior x length."""
    if len(ends) == 0:
        return np.zeros(0)
    first, size = _orf_groups(ends)
    last_start = np.repeat(np.maximum.reduceat(starts, first), size)
    return length_prior * (ends - last_start) + upstream_prior * (last_start - starts)


def start_log_probs(logits: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """log softmax of the start logits within each ORF (candidates sharing an end, contiguous in `ends`)."""
    if len(ends) == 0:
        return logits.astype(np.float64)
    first, size = _orf_groups(ends)
    top = np.repeat(np.maximum.reduceat(logits, first), size)
    log_z = np.repeat(np.log(np.add.reduceat(np.exp(logits - top), first)), size) + top
    return logits - log_z


@dataclass(frozen=True)
class Candidates:
    """Every candidate gene of a sequence, both strands (+ first), with its decoder score: 1-based `lo`..`hi` on
    the sequence, `plus` (on '+'), `cut_5` / `cut_3` (its 5' / 3' end lies beyond the record's: a partial
    gene). The score is what `decode_orfs` weighs; `called_genes` chooses among those scoring above 0."""

    lo: np.ndarray
    hi: np.ndarray
    score: np.ndarray
    plus: np.ndarray
    cut_5: np.ndarray
    cut_3: np.ndarray

    def subset(self, keep: np.ndarray) -> "Candidates":
        return Candidates(*(getattr(self, f.name)[keep] for f in fields(self)))


def scored_candidates(seq: str, coding_logp: np.ndarray | None, start_logits: dict[str, np.ndarray], settings,
                      hexamers: CodingStatistics | None = None, strands: tuple[Strand, Strand] | None = None,
                      records: np.ndarray | None = None) -> Candidates:
    """Every candidate of `seq` scored as `decode_orfs` scores it (its arguments, the same meaning): what the
    selection chooses from, and what an analysis of the decoder's near misses reads."""
    n, code = len(seq), GeneticCode(settings.genetic_code)
    if coding_logp is None and settings.head_weight:
        raise ValueError("a head weight needs the coding-frame head's log-probabilities")
    if coding_logp is not None and coding_logp.shape != (n, 7):
        raise ValueError(f"coding log-probabilities of shape {coding_logp.shape} for a sequence of {n} nt")
    if strands is None:
        strands = record_strands(seq, code, settings.min_cds_length)
    elif len(strands[0]) != n or strands[0].min_length != settings.min_cds_length \
            or strands[0].code.table != code.table:
        raise ValueError("`strands` were read for another sequence, genetic code or minimum CDS length")
    lo, hi, score, plus, cut_5, cut_3 = [], [], [], [], [], []
    bounds = np.zeros(1, np.int64) if records is None else np.asarray(records, dtype=np.int64)
    # each record's average start-codon logit, read when a start's evidence counts or a start is cut
    typical = np.zeros(len(bounds), np.float32)
    if settings.start_evidence or not settings.closed_ends:
        typical = _average_start_logits(start_logits, strands, bounds)
    upstream = settings.length_prior if settings.upstream_prior is None else settings.upstream_prior
    for strand, s in zip("+-", strands):
        if settings.closed_ends:
            a, e = s.orfs
            open_start = open_end = np.zeros(len(a), dtype=bool)
        else:  # with the genes the record's ends cut
            a, e, open_start, open_end = s.cut_and_uncut_orfs
        record = _record_of(a, e, strand, n, bounds)
        logits = start_logits[strand][a]
        if open_start.any():  # a start beyond the 5' end reads as its record's typical one + edge_start_logit
            logits = np.where(open_start, typical[record] + settings.edge_start_logit, logits)
        sc = length_scores(a, e, settings.length_prior, upstream) - settings.gene_bias \
            + settings.start_weight * start_log_probs(logits, e)
        if settings.start_evidence:
            sc = sc + settings.start_evidence * (logits - typical[record])
        if settings.head_weight:  # network-free decoding (self-training's passes, the default) skips the head
            sc = sc + settings.head_weight * coding_scores(strand_view(coding_logp, strand), a, e)
        if hexamers is not None and settings.hexamer_weight:
            sc = sc + settings.hexamer_weight * hexamers.orf_scores(s.hexamers, a, e)
        lo.append(a + 1 if strand == "+" else n - e + 1)
        hi.append(e if strand == "+" else n - a)
        score.append(sc)
        plus.append(np.full(len(a), strand == "+"))
        cut_5.append(open_start)
        cut_3.append(open_end)
    return Candidates(*(np.concatenate(x) for x in (lo, hi, score, plus, cut_5, cut_3)))


def decode_orfs(seq: str, coding_logp: np.ndarray | None, start_logits: dict[str, np.ndarray],
                settings, seqid: str = "", hexamers: CodingStatistics | None = None,
                strands: tuple[Strand, Strand] | None = None, records: np.ndarray | None = None) -> list[Gene]:
    """Genes (1-based coordinates on `seq`) from the head's (n, 7) log-probabilities and the start scorer's
    logits per strand, each (n,) in that strand's 5'->3' order (`StartSiteScorer.score` of the sequence and
    of its reverse complement), under `settings` (an `AnnotationSettings`); `coding_logp` None, network-free
    decoding (`settings.head_weight` 0), reads no head at all; `hexamers`, the input genome's own
    coding statistics (`self_training.py`), adds `settings.hexamer_weight` x their score of each ORF.
    `strands`, the record's `strands.record_strands` under the settings' code and minimum length, reuses what
    an earlier pass over it read (its ORFs, its hexamers). `records`, the 0-based starts of the records `seq`
    joins (`annotation.joined_records`: apart by gaps, so no candidate crosses from one to the next), gives
    each record its own average start codon, as decoding it alone would."""
    return called_genes(scored_candidates(seq, coding_logp, start_logits, settings, hexamers, strands, records),
                        settings, seqid)


def called_genes(candidates: Candidates, settings, seqid: str = "") -> list[Gene]:
    """The genes `decode_orfs` calls from `scored_candidates`: the best compatible set of those scoring above 0,
    within `settings`' overlap limits, sorted by position."""
    c = candidates.subset(candidates.score > 0)
    chosen = _best_compatible_set(c.lo, c.hi, c.score, overlap_limits(settings), c.plus)
    genes = []
    for i in chosen:
        left, right = (c.cut_5[i], c.cut_3[i]) if c.plus[i] else (c.cut_3[i], c.cut_5[i])
        mrna = Transcript("mRNA", cds=(CDSPart(int(c.lo[i]), int(c.hi[i]), 0),), partial_left=bool(left),
                          partial_right=bool(right))
        genes.append(Gene("+" if c.plus[i] else "-", (mrna,), seqid=seqid, score=round(float(c.score[i]), 1)))
    return sorted(genes, key=lambda g: (g.start, g.end, g.strand))


def _average_start_logits(start_logits: dict[str, np.ndarray], strands: tuple[Strand, Strand],
                          bounds: np.ndarray) -> np.ndarray:
    """(records,) float32 mean start-scorer logit at the start codons of each record that starts at `bounds`
    (its forward strand's codons, then its reverse strand's: the array one record alone averages)."""
    n = len(strands[0])
    plus, minus = strands[0].start_codons, strands[1].start_codons
    ends = np.append(bounds[1:], n)
    p_lo, p_hi = np.searchsorted(plus, bounds), np.searchsorted(plus, ends)
    m_lo, m_hi = np.searchsorted(minus, n - ends), np.searchsorted(minus, n - bounds)  # mirrored on '-'
    out = np.zeros(len(bounds), np.float32)
    for r in range(len(bounds)):
        at = np.concatenate([start_logits["+"][plus[p_lo[r]:p_hi[r]]], start_logits["-"][minus[m_lo[r]:m_hi[r]]]])
        out[r] = at.mean() if len(at) else 0.0
    return out


def _record_of(starts: np.ndarray, ends: np.ndarray, strand: str, n: int, bounds: np.ndarray) -> np.ndarray:
    """Index into `bounds` (the records' 0-based starts) of each candidate [start, end) of `strand` (5'->3')."""
    forward = starts if strand == "+" else n - ends
    return np.searchsorted(bounds, forward, side="right") - 1


def overlap_limits(settings) -> tuple[int, int, int]:
    """(same strand, convergent, divergent): the nt a called gene may share with the one before it when both
    lie on one strand, when their 3' ends meet (-> <-) and when their 5' ends meet (<- ->); `settings`'
    `max_overlap`, and the other two where set (None: `max_overlap` too)."""
    same = settings.max_overlap
    convergent = same if settings.max_convergent_overlap is None else settings.max_convergent_overlap
    divergent = same if settings.max_divergent_overlap is None else settings.max_divergent_overlap
    return same, convergent, divergent


def _best_compatible_set(lo: np.ndarray, hi: np.ndarray, score: np.ndarray, limits: tuple[int, int, int],
                         plus: np.ndarray | None = None) -> list[int]:
    """Indices of the max-total-score set of intervals [lo, hi] in which each overlaps the one before it by at
    most the `limits` (`overlap_limits`) its and its predecessor's strands allow (`plus`: True on '+'; None,
    all on '+'), and starts and ends after it (no gene inside another). Weighted interval scheduling sorted by
    end: the best set ending before a candidate's start is a running maximum, and only the few candidates ending
    inside its first max(limits) nt are compared one by one."""
    k = len(hi)
    plus = np.ones(k, dtype=bool) if plus is None else np.asarray(plus, dtype=bool)
    order = np.lexsort((lo, hi))
    lo, hi, score, plus = lo[order].tolist(), hi[order], score[order].tolist(), plus[order].tolist()
    same, convergent, divergent = limits
    clear = np.searchsorted(hi, lo, side="left").tolist()  # candidates that end before j starts: no overlap
    reach = np.minimum(np.searchsorted(hi, np.add(lo, max(limits) - 1), side="right"), np.arange(k)).tolist()
    hi = hi.tolist()
    ending = [0.0] * k  # best total of a set whose last candidate is j
    back = [-1] * k  # that set's candidate before j
    prefix, prefix_at = [0.0] * (k + 1), [-1] * (k + 1)  # best total among the first m candidates, and its last
    for j in range(k):
        best, at = prefix[clear[j]], prefix_at[clear[j]]
        for i in range(clear[j], reach[j]):
            limit = same if plus[i] == plus[j] else convergent if plus[i] else divergent
            if hi[i] - lo[j] + 1 <= limit and lo[i] < lo[j] and hi[i] < hi[j] and ending[i] > best:
                best, at = ending[i], i
        ending[j], back[j] = best + score[j], at
        if ending[j] > prefix[j]:
            prefix[j + 1], prefix_at[j + 1] = ending[j], j
        else:
            prefix[j + 1], prefix_at[j + 1] = prefix[j], prefix_at[j]
    chosen, j = [], prefix_at[k]
    while j >= 0:
        chosen.append(int(order[j]))
        j = back[j]
    return chosen[::-1]
