"""ORF decoding: candidate ORFs, the exact selection, and the whole decoder with the reference's own frame labels
standing in for the coding-frame head on a real E. coli slice."""

from dataclasses import replace

import numpy as np
import pytest

from genefinder.annotation.annotation import AnnotationSettings
from genefinder.decoding.coding_frames import coding_frame_labels
from genefinder.decoding.genetic_code import GeneticCode
from genefinder.decoding.orf_decoding import (_best_compatible_set, decode_orfs, length_scores, overlap_limits,
                                              scored_candidates, start_log_probs)
from genefinder.decoding.orfs import edge_reading_frames, open_reading_frames
from genefinder.evaluation.evaluation import evaluate
from genefinder.formats.fasta import FastaFile
from genefinder.formats.gff3 import read_gff3
from genefinder.formats.windows import GeneIndex, genes_in_window, reverse_complement, reverse_complement_genes
from real_data import write_slice


def test_orfs_pair_each_common_start_codon_with_its_first_in_frame_stop():
    seq = "CC" + "ATG" + "AAA" + "TAA" + "G" + "TTG" + "CCC" + "ATT" + "TAG" + "NNN" + "ATG" + "CCC"
    starts, ends = open_reading_frames(seq, GeneticCode(11), min_length=9)
    # ATG@2 -> TAA@8; TTG@12 -> TAG@21 (ATT@18 is a table-11 start but not a common one); the last ATG has no stop
    assert list(zip(starts.tolist(), ends.tolist())) == [(2, 11), (12, 24)]
    starts, ends = open_reading_frames(seq, GeneticCode(11), min_length=10)  # stop codon included in the length
    assert list(zip(starts.tolist(), ends.tolist())) == [(12, 24)]
    assert open_reading_frames("AT", GeneticCode(11), 3)[0].size == 0
    # U reads as T (as the grammar reads it): the same ORFs from the RNA spelling, in either case
    rna = seq.replace("T", "U")
    for spelling in (rna, rna.lower()):
        got = open_reading_frames(spelling, GeneticCode(11), min_length=9)
        assert list(zip(*(a.tolist() for a in got))) == [(2, 11), (12, 24)]


def test_start_log_probs_are_a_softmax_within_each_orf():
    logits, ends = np.array([1.0, 2.0, 3.0, -5.0, 0.5]), np.array([10, 10, 10, 40, 40])
    p = np.exp(start_log_probs(logits, ends))
    assert p[:3].sum() == pytest.approx(1) and p[3:].sum() == pytest.approx(1) and p[2] > p[1] > p[0]


def test_length_scores_weigh_the_shortest_candidate_and_the_upstream_extension_apart():
    starts, ends = np.array([0, 30, 90, 10, 40]), np.array([300, 300, 300, 400, 400])
    # ORF ending at 300: shortest candidate 90 (210 nt at 0.2), starts 0 and 30 lie 90 and 60 nt upstream of it
    assert length_scores(starts, ends, 0.2, 0.1).tolist() == pytest.approx([51, 48, 42, 75, 72])
    assert length_scores(starts, ends, 0.2, 0.2) == pytest.approx(0.2 * (ends - starts))  # one prior: x length
    assert length_scores(starts[:0], ends[:0], 0.2, 0.1).shape == (0,)


def test_selection_is_the_best_total_with_bounded_overlaps():
    lo, hi = np.array([1, 90, 50, 300]), np.array([120, 200, 250, 400])
    # 1-120 and 90-200 share 31 nt: allowed with max_overlap 60, not with 20; 50-250 overlaps 1-120 by 71 nt
    assert _best_compatible_set(lo, hi, np.array([5.0, 5.0, 9.0, 1.0]), (60, 60, 60)) == [0, 1, 3]
    assert _best_compatible_set(lo, hi, np.array([5.0, 5.0, 9.0, 1.0]), (20, 20, 20)) == [2, 3]
    assert _best_compatible_set(lo, hi, np.array([5.0, 5.0, 11.0, 1.0]), (60, 60, 60)) == [2, 3]


def test_overlap_limits_depend_on_which_ends_meet():
    # 1-300 then 201-500: 100 nt shared; 1-300 then 250-280 lies inside it
    lo, hi, score = np.array([1, 201, 250]), np.array([300, 500, 280]), np.array([5.0, 6.0, 50.0])
    same, tails, heads = np.array([True, True, True]), np.array([True, False, True]), np.array([False, True, False])
    limits = (60, 150, 0)  # same strand 60, 3' ends (-> <-) 150, 5' ends (<- ->) none
    assert _best_compatible_set(lo[:2], hi[:2], score[:2], limits, same[:2]) == [1]
    assert _best_compatible_set(lo[:2], hi[:2], score[:2], limits, tails[:2]) == [0, 1]
    assert _best_compatible_set(lo[:2], hi[:2], score[:2], limits, heads[:2]) == [1]
    # a gene inside another is never called with it, however much overlap the limits allow
    assert _best_compatible_set(lo, hi, score, (1000, 1000, 1000), same) == [2]
    assert _best_compatible_set(lo[:0], hi[:0], score[:0], limits) == []
    settings = AnnotationSettings(max_overlap=60, max_divergent_overlap=0)
    assert overlap_limits(settings) == (60, 60, 0)


def oracle_head(genes, n):
    """(n, 7) log-probabilities that read the reference's own labels with 90% confidence."""
    labels = coding_frame_labels(genes, n)
    logp = np.full((n, 7), np.log(0.1 / 6), dtype=np.float32)
    logp[np.arange(n), labels] = np.log(0.9)
    return logp


def test_with_the_reference_frames_as_head_the_decoder_finds_the_reference_genes(tmp_path):
    fa, gff = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 60_000)
    fasta = FastaFile(fa)
    seq = fasta.fetch("NC_000913.3", 0, 60_000)
    ref = [g for g in read_gff3(gff)[0] if any(t.cds for t in g.transcripts)]
    flat = {"+": np.zeros(len(seq)), "-": np.zeros(len(seq))}  # no start preference: the head alone places starts
    head_only = AnnotationSettings(head_weight=1, length_prior=0, start_weight=0, gene_bias=20)
    genes = decode_orfs(seq, oracle_head(ref, len(seq)), flat, head_only, "NC_000913.3")
    scores = evaluate(genes, ref)
    assert {g.strand for g in genes} == {"+", "-"} and all(g.seqid == "NC_000913.3" for g in genes)
    # 53 of the 57 genes exactly, no false gene elsewhere: the 4 misses overlap another gene by hundreds of nt
    # (b0011/b0012 on opposite strands), where one label per base cannot tell both genes' frames
    assert scores["gene"].f1 > 0.9 and scores["stop"].f1 > 0.9, scores["gene"]
    # the same DNA read as its reverse complement: the mirrored genes, as well found
    mirrored = reverse_complement_genes(ref, len(seq))
    rc_genes = decode_orfs(reverse_complement(seq), oracle_head(mirrored, len(seq)), flat, head_only, "NC_000913.3")
    assert evaluate(rc_genes, mirrored)["gene"].f1 > 0.9


def test_called_genes_are_scored_candidates_above_zero(tmp_path):
    """`scored_candidates` is what the selection chooses from: every called gene is one of them, with its score,
    and so is every reference gene of the slice that an ORF holds whole."""
    fa, gff = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 30_000)
    seq = FastaFile(fa).fetch("NC_000913.3", 0, 30_000)
    ref = [g for g in read_gff3(gff)[0] if any(t.cds for t in g.transcripts)]
    flat = {"+": np.zeros(len(seq)), "-": np.zeros(len(seq))}
    settings = AnnotationSettings(head_weight=1, length_prior=0, start_weight=0, gene_bias=20)
    head = oracle_head(ref, len(seq))
    c = scored_candidates(seq, head, flat, settings)
    scored = {("+" if p else "-", int(lo), int(hi)): float(sc) for lo, hi, p, sc in zip(c.lo, c.hi, c.plus, c.score)}
    genes = decode_orfs(seq, head, flat, settings, "NC_000913.3")
    assert genes and all(scored[(g.strand, g.start, g.end)] > 0 for g in genes)
    assert [round(scored[(g.strand, g.start, g.end)], 1) for g in genes] == [g.score for g in genes]
    whole = [g for g in ref if 1 < g.start and g.end < len(seq)]
    assert sum((g.strand, g.start, g.end) in scored for g in whole) >= 0.9 * len(whole)
    assert c.subset(c.score > 0).score.min() > 0 and len(c.subset(c.plus).lo) == int(c.plus.sum())


def test_a_head_that_reads_nothing_as_coding_calls_no_gene_unless_the_length_prior_outweighs_it():
    seq = "ATG" + "AAA" * 100 + "TAA"
    logp = np.log(np.full((len(seq), 7), 0.01, dtype=np.float32))
    logp[:, 0] = np.log(0.94)  # log-odds -4.5 per nt against every codon position
    flat = {"+": np.zeros(len(seq)), "-": np.zeros(len(seq))}
    assert decode_orfs(seq, logp, flat, AnnotationSettings(head_weight=1, length_prior=0, gene_bias=20)) == []
    # without the head (the network-free baseline) the 306-nt ORF is worth 0.3 x 306 > 80 nats
    # (closed ends: frame 3 of this toy sequence holds no stop, and a gene the record's ends cut would win)
    network_free = AnnotationSettings(head_weight=0, length_prior=0.3, gene_bias=80, closed_ends=True)
    genes = decode_orfs(seq, logp, flat, network_free)
    assert [(g.strand, g.start, g.end) for g in genes] == [("+", 1, 306)]
    # network-free decoding need not be handed a head's reading at all
    assert decode_orfs(seq, None, flat, network_free) == genes
    with pytest.raises(ValueError, match="needs the coding-frame head"):
        decode_orfs(seq, None, flat, AnnotationSettings(head_weight=1))
    with pytest.raises(ValueError, match="shape"):
        decode_orfs(seq, logp[:10], {"+": np.zeros(10), "-": np.zeros(10)}, AnnotationSettings())


def test_edge_reading_frames_are_the_candidates_a_records_ends_cut():
    # frame 1: GCC ATG AAA TAA GGG ATG CCC AAA; frame 2: CCA TGA ...; frame 3: no stop at all
    seq, code = "GCCATGAAATAAGGGATGCCCAAA", GeneticCode(11)
    starts, ends, open_start, open_end = edge_reading_frames(seq, code, min_length=6)
    assert list(zip(starts.tolist(), ends.tolist(), open_start.tolist(), open_end.tolist())) == [
        (1, 7, True, False),  # frame 2, begun beyond the 5' end, up to its first stop (TGA at 4)
        (0, 12, True, False),  # frame 1, begun beyond the 5' end, besides its ATG at 3 (a complete ORF)
        (2, 23, True, True),  # frame 3 runs off both ends
        (15, 24, False, True)]  # the ATG after frame 1's last stop, running off the 3' end
    assert open_reading_frames(seq, code, 6)[0].tolist() == [3]
    # a frame whose first codon is a start codon: the uncut candidate is that gene already
    assert 0 not in edge_reading_frames("ATGAAATAA", code, 6)[0].tolist()
    assert [len(a) for a in edge_reading_frames("AT", code, 0)] == [0, 0, 0, 0]


def test_genes_cut_by_a_records_ends_come_out_partial_on_whole_codons(tmp_path):
    fa, gff = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 60_000)
    full = FastaFile(fa).fetch("NC_000913.3", 0, 60_000)
    ref = [g for g in read_gff3(gff)[0] if any(t.cds for t in g.transcripts)]
    head = oracle_head(ref, len(full))
    # a record that begins 301 nt into a long + gene and ends 200 nt before the 5' end of a long - gene
    left = next(g for g in ref if g.strand == "+" and g.end - g.start > 1200 and g.start > 5_000)
    right = next(g for g in ref if g.strand == "-" and g.end - g.start > 1200 and g.start > left.end + 20_000)
    lo, hi = left.start - 1 + 301, right.end - 200  # 0-based [lo, hi)
    seq = full[lo:hi]
    flat = {"+": np.zeros(len(seq)), "-": np.zeros(len(seq))}
    settings = AnnotationSettings(head_weight=1, length_prior=0, start_weight=0, gene_bias=20)
    genes = decode_orfs(seq, head[lo:hi], flat, settings, "cut")
    first, last = genes[0], genes[-1]
    # the + gene's first whole codon inside the record, to its own stop; the - gene from its stop to the record's
    # last whole codon of its frame (its 5' end lies beyond the record's 3' end)
    assert (first.strand, first.start, first.end) == ("+", 1 + (-301) % 3, left.end - lo)
    assert first.transcripts[0].partial_left and not first.transcripts[0].partial_right
    assert (last.strand, last.start) == ("-", right.start - lo) and last.transcripts[0].partial_right
    assert (last.end - last.start + 1) % 3 == 0 and len(seq) - last.end < 3
    inner = [g for g in genes if g is not first and g is not last]
    assert inner and not any(t.partial_left or t.partial_right for g in inner for t in g.transcripts)
    whole = [replace(g, seqid="cut") for g in genes_in_window(GeneIndex(ref), lo, hi - lo)
             if not any(t.partial_left or t.partial_right for t in g.transcripts)]
    assert evaluate(inner, whole)["gene"].f1 > 0.9
    # closed ends call the genes wholly inside alike and nothing partial: the cut + gene's stop gets a start
    # codon inside the record instead, a wrong gene
    closed = decode_orfs(seq, head[lo:hi], flat, replace(settings, closed_ends=True), "cut")
    assert all(g in closed for g in inner) and not any(t.partial_left or t.partial_right
                                                        for g in closed for t in g.transcripts)
    assert [g.start for g in closed if g.strand == "+" and g.end == first.end] != [first.start]
    # a scaffold's gap (60 Ns) inside a gene found whole: no gene across it, the gene's two sides called partial
    whole_gene = next(g for g in inner if g.strand == "+" and g.end - g.start > 900)
    gap = whole_gene.start - 1 + 400  # 0-based, on the record
    gapped = seq[:gap] + "N" * 60 + seq[gap + 60:]
    sides = decode_orfs(gapped, head[lo:hi], flat, settings, "cut")
    at_gap = [(g.start, g.end, g.transcripts[0].partial_left, g.transcripts[0].partial_right) for g in sides
              if g.strand == "+" and whole_gene.start <= g.start <= g.end <= whole_gene.end]
    first_after = gap + 60 + (whole_gene.start - 1 - gap - 60) % 3  # 0-based: the gene's first codon past the gap
    assert at_gap == [(whole_gene.start, gap - (gap - whole_gene.start + 1) % 3, False, True),
                      (first_after + 1, whole_gene.end, True, False)]
    assert not any(g.start <= gap + 60 and g.end > gap for g in sides)


def test_no_gene_spans_an_assembly_gap():
    gene = "ATG" + "GCT" * 200 + "TAA"  # a 606-nt ORF: worth 0.3 x 606 - 80 nats with the length prior alone
    settings = AnnotationSettings(head_weight=0, length_prior=0.3, gene_bias=80, closed_ends=True)

    def called(seq):
        flat = {"+": np.zeros(len(seq)), "-": np.zeros(len(seq))}
        return [(g.start, g.end) for g in decode_orfs(seq, None, flat, settings)]

    assert called("C" * 30 + gene + "C" * 30) == [(31, 636)]
    # 50 Ns inside it: a scaffold's gap, and a gene across it is no evidence of anything; 49 are read through
    assert called("C" * 30 + gene[:300] + "N" * 50 + gene[300:] + "C" * 30) == []
    assert called("C" * 30 + gene[:300] + "N" * 48 + gene[300:] + "C" * 30) == [(31, 684)]
    # a record of Ns alone runs off both ends in every frame, and still calls nothing
    assert decode_orfs("N" * 3000, None, {"+": np.zeros(3000), "-": np.zeros(3000)},
                       replace(settings, closed_ends=False)) == []


@pytest.mark.parametrize("bad, message", [({"edge_start_logit": float("nan")}, "`edge_start_logit` must be a finite"),
                                          ({"gene_bias": float("inf")}, "`gene_bias` must be a finite"),
                                          ({"length_prior": float("nan")}, "`length_prior` must be a finite"),
                                          ({"max_convergent_overlap": -1}, "`max_convergent_overlap` must be >= 0")])
def test_settings_refuse_what_would_silently_decode_nothing(bad, message):
    with pytest.raises(ValueError, match=message):
        AnnotationSettings(**bad)
