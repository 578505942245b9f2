"""The exact gene-structure decoder: optimal against brute force, its rules by construction, chunking, real genes.

The brute force enumerates every transcript a plain reading of the rules allows (on '-' by enumerating '+'
transcripts of the reverse complement), scores each, and picks the best set of non-overlapping transcripts by
weighted interval scheduling: no state machine, so it checks the decoder's machine rather than repeating it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from genefinder.decoding.gene_structure_viterbi import (
    GeneStructureDecodingParams, decode_gene_structure, gene_structure_path)
from genefinder.decoding.splice_sites import SiteScorer, SpliceSiteScorers, base_ids
from genefinder.formats.features import CDSPart, Gene, Transcript, phase_after
from genefinder.formats.windows import (
    GeneIndex, genes_in_window, reverse_complement, reverse_complement_genes, shift_genes)
from genefinder.training.gene_structure_labels import (
    REVERSE_COMPLEMENT_CLASS, chosen_transcript, gene_structure_labels)

STOPS = {"TAA", "TAG", "TGA"}
DONOR_TYPE = {"GT": 0, "GC": 0, "AT": 1}
ACCEPTOR_TYPE = {"AG": 0, "AC": 1}


# ------------------------------------------------------------------------------------------- brute force

def _plus_parses(seq: str, p: GeneStructureDecodingParams) -> list[tuple]:
    """Every '+' transcript as (segments, partial_left, partial_right, cds): segments ("E"|"I", lo, hi) 0-based,
    cds the joined CDS with '?' for the codon bases before a left-cut first piece. Only splice dinucleotides, an
    in-frame stop ending the CDS and minimum lengths prune; `_valid_plus` checks the rest."""
    n = len(seq)
    found = []

    def exon(segments, cds, a, left_cut):
        for e in range(a, n):
            joined = cds + seq[a:e + 1]
            piece = segments + [("E", a, e)]
            if len(joined) % 3 == 0 and joined[-3:] in STOPS:
                found.append((piece, left_cut, False, joined))
                return  # nothing extends past an in-frame stop
            if e == n - 1:
                found.append((piece, left_cut, True, joined))
            edge = left_cut and a == 0
            if seq[e + 1:e + 3] in DONOR_TYPE and (edge or e - a + 1 >= p.min_exon):
                for d in range(e + 2, n):
                    intron(piece, joined, e + 1, d, left_cut)

    def intron(segments, cds, a, d, left_cut):
        piece = segments + [("I", a, d)]
        if d == n - 1:
            found.append((piece, left_cut, True, cds))
        elif seq[d - 1:d + 1] in ACCEPTOR_TYPE and (a == 0 or d - a + 1 >= p.min_intron):
            exon(piece, cds, d + 1, left_cut)

    for j in range(n - 2):
        if seq[j:j + 3] == "ATG":
            exon([], "", j, False)
    for codon_position in range(3):
        exon([], "?" * codon_position, 0, True)
        for d in range(n):
            intron([], "?" * codon_position, 0, d, True)
    return found


def _valid_plus(seq: str, segments, left_cut: bool, right_cut: bool, cds: str,
                p: GeneStructureDecodingParams) -> bool:
    """The decoder's rules read plainly, for one '+' transcript."""
    exons = [s for s in segments if s[0] == "E"]
    if not left_cut and (segments[0][0] != "E" or seq[segments[0][1]:segments[0][1] + 3] != "ATG"
                         or segments[0][2] - segments[0][1] + 1 < 3):
        return False
    for index, (kind, a, b) in enumerate(segments):
        cut = (left_cut and index == 0) or (right_cut and index == len(segments) - 1)
        if kind == "I":
            donor = None if left_cut and index == 0 else seq[a:a + 2]
            acceptor = None if right_cut and index == len(segments) - 1 else seq[b - 1:b + 1]
            if donor is not None and donor not in DONOR_TYPE or acceptor is not None and acceptor not in ACCEPTOR_TYPE:
                return False
            if donor and acceptor and DONOR_TYPE[donor] != ACCEPTOR_TYPE[acceptor]:
                return False
            if not cut and b - a + 1 < p.min_intron:
                return False
        elif not cut and b - a + 1 < p.min_exon:
            return False
    if not left_cut and not right_cut and len(exons) == 1 and len(cds) < p.min_single_exon_cds:
        return False
    if not right_cut and (len(cds) % 3 or cds[-3:] not in STOPS or exons[-1][2] - exons[-1][1] + 1 < 3):
        return False
    last = len(cds) - 3 if not right_cut else None
    return all(cds[q:q + 3] not in STOPS for q in range(0, len(cds) - 2, 3) if q != last)


def _plus_score(seq: str, logp: np.ndarray, segments, left_cut: bool, right_cut: bool, cds: str,
                p: GeneStructureDecodingParams, sites=None) -> float:
    score = p.gene_start
    k = len(cds) - len(cds.lstrip("?"))  # codon position of the first CDS base
    for index, (kind, a, b) in enumerate(segments):
        if kind == "E":
            for q in range(a, b + 1):
                score += logp[q, 1 + k % 3]
                k += 1
            continue
        score += logp[a:b + 1, 7].sum()
        if not (left_cut and index == 0):
            donor = seq[a:a + 2]
            score += p.exon_to_intron + {"GT": 0.0, "GC": p.gc_donor, "AT": p.at_ac_intron}[donor]
            score += 0.0 if sites is None else sites[0][a]  # the donor's G: the intron's first base
        if not (right_cut and index == len(segments) - 1):
            score += p.intron_to_exon
            score += 0.0 if sites is None else sites[1][b - 1]  # the acceptor's A: the intron's second-last base
    return float(score)


def _plus_gene(segments, left_cut: bool, right_cut: bool, cds: str) -> Gene | None:
    exons = [(a, b) for kind, a, b in segments if kind == "E"]
    if not exons:
        return None
    phase, pieces = (3 - (len(cds) - len(cds.lstrip("?")))) % 3, []
    for a, b in exons:
        pieces.append(CDSPart(a + 1, b + 1, phase))
        phase = phase_after(b - a + 1, phase)
    return Gene("+", (Transcript("mRNA", tuple((c.start, c.end) for c in pieces), tuple(pieces),
                                 left_cut, right_cut),))


def _candidates(seq: str, logp: np.ndarray, p: GeneStructureDecodingParams, scorers=None) -> list[tuple]:
    """(lo, hi, gain over non-coding, gene or None) of every valid transcript on both strands, forward coords."""
    n = len(seq)
    out = []
    rc_seq, rc_logp = reverse_complement(seq), logp[::-1][:, REVERSE_COMPLEMENT_CLASS]
    for strand, s, lp in (("+", seq, logp), ("-", rc_seq, rc_logp)):
        ids = base_ids(s)
        sites = None if scorers is None else (p.splice_weight * scorers.donor.site_scores(ids, "donor"),
                                              p.splice_weight * scorers.acceptor.site_scores(ids, "acceptor"))
        for segments, left_cut, right_cut, cds in _plus_parses(s, p):
            if not _valid_plus(s, segments, left_cut, right_cut, cds, p):
                continue
            lo, hi = segments[0][1], segments[-1][2]
            gain = _plus_score(s, lp, segments, left_cut, right_cut, cds, p, sites) - float(lp[lo:hi + 1, 0].sum())
            gene = _plus_gene(segments, left_cut, right_cut, cds)
            if strand == "-":
                lo, hi = n - 1 - hi, n - 1 - lo
                gene = reverse_complement_genes([gene], n)[0] if gene else None
            out.append((lo, hi, gain, gene))
    return out


def _brute_force(seq: str, logp: np.ndarray, p: GeneStructureDecodingParams,
                 scorers=None) -> tuple[float, list[Gene]]:
    """Best total score and its genes: weighted interval scheduling over all valid transcripts."""
    n = len(seq)
    ending = [[] for _ in range(n)]
    for cand in _candidates(seq, logp, p, scorers):
        ending[cand[1]].append(cand)
    best = [0.0] * (n + 1)  # best[q]: best gain using positions < q
    choice: list = [None] * (n + 1)
    for q in range(1, n + 1):
        best[q], choice[q] = best[q - 1], None
        for cand in ending[q - 1]:
            if best[cand[0]] + cand[2] > best[q] + 1e-12:
                best[q], choice[q] = best[cand[0]] + cand[2], cand
    genes, q = [], n
    while q > 0:
        if choice[q] is None:
            q -= 1
        else:
            if choice[q][3] is not None:
                genes.append(choice[q][3])
            q = choice[q][0]
    return float(logp[:, 0].sum()) + best[n], sorted(genes, key=Gene.sort_key)


MOTIFS = ["ATG", "TAA", "TAG", "TGA", "GT", "AG", "GC", "AC", "AT", "CAT", "TTA", "CTA", "TCA", "CT",
          "A", "C", "G", "T", "A", "C", "G", "T", "N"]


def _motif_dna(rng: np.random.Generator, n: int) -> str:
    """Random DNA rich in start, stop and splice-site motifs (and an N now and then)."""
    seq = ""
    while len(seq) < n:
        seq += MOTIFS[rng.integers(len(MOTIFS))]
    return seq[:n]


def _planted_gene(rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """A short two- or three-piece '+' gene in motif DNA and its labels (the signals are real, lengths random)."""
    codons = [c for c in (a + b + d for a in "ACGT" for b in "ACGT" for d in "ACGT") if c not in STOPS]
    cds = "ATG" + "".join(rng.choice(codons, int(rng.integers(2, 5)))) + str(rng.choice(sorted(STOPS)))
    cuts = sorted(rng.choice(np.arange(3, len(cds) - 3), int(rng.integers(1, 3)), replace=False))
    seq, labels = _motif_dna(rng, int(rng.integers(0, 5))), []
    labels = [0] * len(seq)
    pieces = np.split(np.arange(len(cds)), cuts)
    for index, piece in enumerate(pieces):
        seq += cds[piece[0]:piece[-1] + 1]
        labels += [1 + q % 3 for q in piece]
        if index < len(pieces) - 1:
            donor, acceptor = [("GT", "AG"), ("GC", "AG"), ("AT", "AC")][rng.integers(3)]
            intron = donor + _motif_dna(rng, int(rng.integers(1, 4))) + acceptor
            seq += intron
            labels += [7] * len(intron)
    tail = _motif_dna(rng, int(rng.integers(0, 5)))
    return seq + tail, np.array(labels + [0] * len(tail))


def _random_case(rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """Motif DNA with random log-probabilities, or a planted gene (on either strand) with noisy ones."""
    if rng.random() < 0.4:
        n = int(rng.integers(18, 31))
        seq, labels, weight = _motif_dna(rng, n), np.zeros(n, dtype=int), 0.0
    else:
        seq, labels = _planted_gene(rng)
        if rng.random() < 0.5:
            seq, labels = reverse_complement(seq), REVERSE_COMPLEMENT_CLASS[labels[::-1]]
        weight = 3.0
    logits = rng.normal(0.0, 2.0, size=(len(seq), 9)) + np.array([0, 1, 1, 1, 1, 1, 1, 1.5, 1.5])
    logits[np.arange(len(seq)), labels] += weight
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return seq, logp.astype(np.float32)


def _random_params(rng: np.random.Generator) -> GeneStructureDecodingParams:
    return GeneStructureDecodingParams(
        gene_start=-float(rng.uniform(0, 4)), exon_to_intron=-float(rng.uniform(0, 2)),
        intron_to_exon=-float(rng.uniform(0, 2)), gc_donor=-float(rng.uniform(0, 2)),
        at_ac_intron=-float(rng.uniform(0, 2)), min_intron=int(rng.integers(4, 7)),
        min_exon=int(rng.integers(2, 5)), min_single_exon_cds=int(rng.choice([6, 7, 9, 12])), segment_length=64)


def test_decoder_is_exact_against_brute_force():
    rng = np.random.default_rng(7)
    checked_genes = 0
    for _ in range(120):
        p = _random_params(rng)
        seq, logp = _random_case(rng)
        expected_score, expected_genes = _brute_force(seq, logp.astype(np.float64), p)
        _, score = gene_structure_path(seq, logp, p)
        genes = sorted(decode_gene_structure(seq, logp, p), key=Gene.sort_key)
        assert score == pytest.approx(expected_score, abs=1e-4), (seq, p)
        assert genes == expected_genes, (seq, p)
        checked_genes += len(genes)
    assert checked_genes > 50  # the cases exercise genes, not only non-coding paths


def _random_scorers(rng: np.random.Generator) -> SpliceSiteScorers:
    def site():  # 2 nt either side of the dinucleotide: 6 bases, 24 one-hot features, 3 hidden units
        return SiteScorer(2, 2, rng.normal(0, 1, (24, 3)).astype(np.float32), rng.normal(0, 1, 3).astype(np.float32),
                          rng.normal(0, 1, 3).astype(np.float32), float(rng.normal()))
    return SpliceSiteScorers(site(), site())


def test_decoder_with_splice_site_bonuses_is_exact_against_brute_force():
    """The bonuses land on the right bases of both strands: the donor's G and the acceptor's A, read on the
    strand of the gene, exactly when the splice penalties do."""
    rng = np.random.default_rng(11)
    checked_introns = 0
    for _ in range(100):
        p = replace(_random_params(rng), splice_weight=float(rng.uniform(0.5, 2.0)))
        seq, logp = _random_case(rng)
        scorers = _random_scorers(rng)
        expected_score, expected_genes = _brute_force(seq, logp.astype(np.float64), p, scorers)
        splice = scorers.decoder_bonus(seq, p.splice_weight)
        _, score = gene_structure_path(seq, logp, p, splice)
        genes = sorted(decode_gene_structure(seq, logp, p, splice=splice), key=Gene.sort_key)
        assert score == pytest.approx(expected_score, abs=1e-3), (seq, p)
        assert genes == expected_genes, (seq, p)
        checked_introns += sum(len(g.transcripts[0].cds) - 1 for g in genes)
    assert checked_introns > 30


# ------------------------------------------------------------------------------------------- the rules

def _as_plus_parse(seq: str, gene: Gene) -> tuple[str, tuple]:
    """A decoded gene as a '+' parse of the sequence it reads in (`_valid_plus`'s input)."""
    if gene.strand == "-":
        seq, gene = reverse_complement(seq), reverse_complement_genes([gene], len(seq))[0]
    t = gene.transcripts[0]
    segments, cds = [], "?" * ((3 - t.cds[0].phase) % 3)
    for index, c in enumerate(t.cds):
        if index:
            segments.append(("I", t.cds[index - 1].end, c.start - 2))
        segments.append(("E", c.start - 1, c.end - 1))
        cds += seq[c.start - 1:c.end]
    return seq, (segments, t.partial_left, t.partial_right, cds)


def _assert_valid(seq: str, genes: list[Gene], p: GeneStructureDecodingParams) -> None:
    """Every decoded gene obeys the rules, its phases chain as GFF3 says, and genes do not overlap."""
    for gene in genes:
        oriented, parse = _as_plus_parse(seq, gene)
        assert _valid_plus(oriented, *parse, p), gene
        pieces = gene.transcripts[0].cds if gene.strand == "+" else gene.transcripts[0].cds[::-1]
        for before, after in zip(pieces, pieces[1:]):
            assert after.phase == phase_after(before.end - before.start + 1, before.phase), gene
    spans = sorted((g.start, g.end) for g in genes)
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:]))


def _random_dna(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), n))


def _coding(rng: np.random.Generator, n_codons: int) -> str:
    codons = [a + b + c for a in "ACGT" for b in "ACGT" for c in "ACGT" if a + b + c not in STOPS]
    return "".join(rng.choice(codons, n_codons))


def _gene(rng: np.random.Generator, cds: str, cuts: list[int], introns: list[str]) -> tuple[str, np.ndarray]:
    """A '+' gene: the joined `cds` cut before the given CDS offsets, with `introns` in between; its labels."""
    dna, labels, last = "", [], 0
    for cut, intron in zip([*cuts, len(cds)], [*introns, ""]):
        dna += cds[last:cut] + intron
        labels += [1 + q % 3 for q in range(last, cut)] + [7] * len(intron)
        last = cut
    return dna, np.array(labels)


def _intron(rng: np.random.Generator, n: int, donor: str = "GT", acceptor: str = "AG") -> str:
    return donor + _random_dna(rng, n - 4) + acceptor


def _confident(labels: np.ndarray, p_true: float = 0.9) -> np.ndarray:
    """Log-probabilities putting p_true on each labelled class and the rest evenly on the others."""
    probs = np.full((len(labels), 9), (1 - p_true) / 8)
    probs[np.arange(len(labels)), labels] = p_true
    return np.log(probs).astype(np.float32)


def _two_exon_record(rng, seed_codons=60):
    """Flanks + a two-piece '+' gene (intron of 80 nt after CDS base 100, phase 1) + flanks, and its labels."""
    cds = "ATG" + _coding(rng, seed_codons) + "TAA"
    body, body_labels = _gene(rng, cds, [100], [_intron(rng, 80)])
    left, right = _random_dna(rng, 150), _random_dna(rng, 150)
    labels = np.concatenate([np.zeros(len(left), int), body_labels, np.zeros(len(right), int)])
    return left + body + right, labels, len(left)


def _cds_keys(genes: list[Gene]) -> set:
    return {(g.strand, g.transcripts[0].cds, g.transcripts[0].partial_left, g.transcripts[0].partial_right)
            for g in genes}


def _expected(seq: str, labels: np.ndarray) -> list[Gene]:
    """The gene models the labels of a record of well-formed genes spell (decoded from certain log-probs)."""
    return decode_gene_structure(seq, _confident(labels, 0.999))


def test_two_exon_gene_is_decoded_with_its_phases():
    rng = np.random.default_rng(1)
    seq, labels, offset = _two_exon_record(rng)
    genes = decode_gene_structure(seq, _confident(labels), seqid="chrT")
    first = CDSPart(offset + 1, offset + 100, 0)
    second = CDSPart(offset + 181, offset + 80 + 186, 2)  # 100 nt = 33 codons + 1: the next piece skips 2
    assert [(g.strand, g.seqid, g.transcripts[0].cds) for g in genes] == [("+", "chrT", (first, second))]
    assert genes[0].transcripts[0].exons == ((first.start, first.end), (second.start, second.end))
    assert genes[0].score == pytest.approx(0.9)  # the mean probability of the decoded class over the gene


def test_minus_strand_gene_is_the_mirror_image():
    rng = np.random.default_rng(2)
    seq, labels, _ = _two_exon_record(rng)
    plus = decode_gene_structure(seq, _confident(labels))
    rc_labels = REVERSE_COMPLEMENT_CLASS[labels[::-1]]
    minus = decode_gene_structure(reverse_complement(seq), _confident(rc_labels))
    assert _cds_keys(minus) == _cds_keys(reverse_complement_genes(plus, len(seq)))
    assert minus[0].strand == "-" and len(minus[0].transcripts[0].cds) == 2


def test_both_strands_in_one_record():
    rng = np.random.default_rng(3)
    seq_a, labels_a, _ = _two_exon_record(rng)
    seq_b, labels_b, _ = _two_exon_record(rng, seed_codons=90)
    seq = seq_a + reverse_complement(seq_b)
    labels = np.concatenate([labels_a, REVERSE_COMPLEMENT_CLASS[labels_b[::-1]]])
    genes = decode_gene_structure(seq, _confident(labels))
    assert [g.strand for g in sorted(genes, key=Gene.sort_key)] == ["+", "-"]
    alone_b = reverse_complement_genes(decode_gene_structure(seq_b, _confident(labels_b)), len(seq_b))
    assert _cds_keys(genes) == _cds_keys(decode_gene_structure(seq_a, _confident(labels_a))) | _cds_keys(
        shift_genes(alone_b, len(seq_a)))
    _assert_valid(seq, genes, GeneStructureDecodingParams())


def test_split_stop_codon_is_never_decoded():
    """The network calls T | intron | AA...: the joined CDS would read TAA in frame there, so the decoder must
    choose another model; with T | intron | AC... (TAC, tyrosine) the same call is decoded as given."""
    rng = np.random.default_rng(4)
    p = GeneStructureDecodingParams()
    for second_piece, allowed in (("AA", False), ("AC", True)):
        cds = "ATG" + _coding(rng, 33) + "T" + second_piece + _coding(rng, 40) + "TGA"
        body, body_labels = _gene(rng, cds, [103], [_intron(rng, 90)])  # 103 = 34 codons + 1: the T before
        seq = _random_dna(rng, 120) + body + _random_dna(rng, 120)
        labels = np.concatenate([np.zeros(120, int), body_labels, np.zeros(120, int)])
        genes = decode_gene_structure(seq, _confident(labels, 0.99), p)
        _assert_valid(seq, genes, p)
        called = (CDSPart(121, 223, 0), CDSPart(224 + 90, 120 + len(body), 2))
        assert (called in [g.transcripts[0].cds for g in genes]) == allowed


def test_gene_cut_by_the_record_ends_is_partial():
    rng = np.random.default_rng(5)
    seq, labels, offset = _two_exon_record(rng)
    whole = decode_gene_structure(seq, _confident(labels))
    index = GeneIndex(whole)
    p = GeneStructureDecodingParams()
    # cut inside the first piece (the start codon is lost), inside the intron, inside the second piece
    for lo, hi in ((offset + 50, len(seq)), (0, offset + 140), (0, offset + 230), (offset + 150, len(seq))):
        cut = decode_gene_structure(seq[lo:hi], _confident(labels[lo:hi]), p)
        expected = genes_in_window(index, lo, hi - lo)
        assert _cds_keys(cut) == _cds_keys(expected), (lo, hi)
        assert all(g.transcripts[0].partial_left or g.transcripts[0].partial_right for g in cut)
        _assert_valid(seq[lo:hi], cut, p)


def test_unknown_bases_are_never_signals():
    """Ns inside and around a gene: the path never uses an N as part of a start, stop or splice site."""
    rng = np.random.default_rng(6)
    seq, labels, offset = _two_exon_record(rng)
    p = GeneStructureDecodingParams()
    broken = seq[:offset] + "N" + seq[offset + 1:offset + 100] + "NN" + seq[offset + 102:] + "N" * 400
    logp = _confident(np.concatenate([labels, np.zeros(400, int)]))
    genes = decode_gene_structure(broken.lower(), logp, p)  # either case reads the same
    _assert_valid(broken.upper(), genes, p)
    assert not any(g.start == offset + 1 for g in genes)  # its ATG became NTG
    noise = np.log(rng.dirichlet(np.ones(9), size=len(broken))).astype(np.float32)
    _assert_valid(broken.upper(), decode_gene_structure(broken, noise, p), p)
    assert decode_gene_structure("N" * 500, noise[:500], p) == []


def test_minimum_intron_length_is_respected():
    rng = np.random.default_rng(8)
    cds = "ATG" + _coding(rng, 60) + "TAG"
    body, body_labels = _gene(rng, cds, [90], [_intron(rng, 25)])
    seq = _random_dna(rng, 100) + body + _random_dna(rng, 100)
    labels = np.concatenate([np.zeros(100, int), body_labels, np.zeros(100, int)])
    strict = GeneStructureDecodingParams(min_intron=40)
    for g in decode_gene_structure(seq, _confident(labels), strict):
        cds_parts = g.transcripts[0].cds
        assert all(b.start - a.end - 1 >= 40 for a, b in zip(cds_parts, cds_parts[1:]))
    loose = GeneStructureDecodingParams(min_intron=20)
    assert [g.transcripts[0].cds for g in decode_gene_structure(seq, _confident(labels), loose)] == [
        (CDSPart(101, 190, 0), CDSPart(216, 100 + len(body), 0))]


def test_params_are_checked_by_name():
    with pytest.raises(ValueError, match="min_exon"):
        GeneStructureDecodingParams(min_exon=1)
    with pytest.raises(ValueError, match="gene_start"):
        GeneStructureDecodingParams(gene_start=1.0)
    with pytest.raises(ValueError, match="segment_length"):
        GeneStructureDecodingParams(segment_length=100)
    with pytest.raises(ValueError, match="log_probs"):
        decode_gene_structure("ACGT", np.zeros((3, 9), dtype=np.float32))


# ------------------------------------------------------------------------------------------- real genes

@pytest.fixture(scope="module")
def worm_records() -> list[tuple[str, list[Gene]]]:
    """The C. elegans single-gene loci (training data), every second one reverse-complemented: both strands."""
    from real_data import genome

    from genefinder.formats.fasta import FastaFile
    from genefinder.formats.gff3 import read_gff3

    fasta_path, gff_path = genome("celegans_smallgenes")
    fasta, (genes, _) = FastaFile(fasta_path), read_gff3(gff_path)
    by_record: dict[str, list[Gene]] = {}
    for g in genes:
        by_record.setdefault(g.seqid, []).append(g)
    records = []
    for k, name in enumerate(fasta.names):
        seq, record_genes = fasta.fetch(name, 0, fasta.length(name)), by_record.get(name, [])
        if k % 2:
            seq, record_genes = reverse_complement(seq), reverse_complement_genes(record_genes, len(seq))
        records.append((seq, record_genes))
    return records


def _oracle_log_probs(rng: np.random.Generator, labels: np.ndarray, noise: float = 1.0) -> np.ndarray:
    """The reference labels as a network might call them: 0.9 on the true class, logits with Gaussian noise."""
    logits = _confident(labels).astype(np.float64) + rng.normal(0.0, noise, size=(len(labels), 9))
    return (logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))).astype(np.float32)


def _reference_models(seq: str, genes: list[Gene], p: GeneStructureDecodingParams) -> tuple[set, set]:
    """(all, rule-abiding) reference CDS chains of the coding genes, as _cds_keys keys."""
    every, abiding = set(), set()
    for g in genes:
        t = chosen_transcript(g)
        if t is None:
            continue
        one = Gene(g.strand, (Transcript("mRNA", t.exons, t.cds),))
        key = (g.strand, t.cds, False, False)
        every.add(key)
        oriented, parse = _as_plus_parse(seq, one)
        if _valid_plus(oriented, *parse, p):
            abiding.add(key)
    return every, abiding


def test_oracle_recovers_real_gene_structures(worm_records):
    """Noisy calls of the true classes decode to the reference CDS chains of (nearly) every real gene that obeys
    the rules, on both strands, with few models that are not in the reference."""
    p = GeneStructureDecodingParams()
    rng = np.random.default_rng(11)
    found = abiding_total = decoded_total = extra = 0
    for seq, genes in worm_records:
        every, abiding = _reference_models(seq, genes, p)
        decoded = _cds_keys(decode_gene_structure(seq, _oracle_log_probs(rng, gene_structure_labels(genes, len(seq))),
                                                  p))
        found += len(abiding & decoded)
        abiding_total += len(abiding)
        decoded_total += len(decoded)
        extra += len(decoded - every)
    assert abiding_total >= 850  # of 914 loci: the rules hold for nearly all real genes
    assert found / abiding_total >= 0.95, (found, abiding_total)
    assert extra / decoded_total <= 0.05, (extra, decoded_total)


def test_segmented_decoding_is_the_whole_record_path(worm_records):
    """Backpointers held one segment at a time give exactly the path of one segment spanning the record."""
    seqs, labels = [], []
    for seq, genes in worm_records[:150]:
        seqs.append(seq)
        labels.append(gene_structure_labels(genes, len(seq)))
    seq, labels = "".join(seqs), np.concatenate(labels)
    logp = _oracle_log_probs(np.random.default_rng(12), labels, noise=1.5)
    whole = GeneStructureDecodingParams(segment_length=len(seq))
    segmented = GeneStructureDecodingParams(segment_length=2048)
    assert len(seq) > 40 * segmented.segment_length
    path_whole, score_whole = gene_structure_path(seq, logp, whole)
    path_segmented, score_segmented = gene_structure_path(seq, logp, segmented)
    assert score_segmented == score_whole
    np.testing.assert_array_equal(path_segmented, path_whole)
    genes = decode_gene_structure(seq, logp, segmented)
    assert len(genes) > 100
    _assert_valid(seq, genes, segmented)
