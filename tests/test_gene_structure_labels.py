import numpy as np
import pytest

from genefinder.decoding.coding_frames import FRAME_CLASSES
from genefinder.formats.features import CDSPart, Gene, Transcript
from genefinder.formats.gff3 import read_gff3
from genefinder.formats.fasta import FastaFile
from genefinder.formats.windows import reverse_complement, reverse_complement_genes
from genefinder.training.gene_structure_labels import (
    GENE_STRUCTURE_CLASSES,
    REVERSE_COMPLEMENT_CLASS,
    chosen_transcript,
    gene_structure_labels,
    gene_structure_mask,
)

from real_data import genome


def mrna(*cds: tuple[int, int, int]) -> Transcript:
    return Transcript(kind="mRNA", cds=tuple(CDSPart(*c) for c in cds))


def gene(strand: str, *transcripts: Transcript) -> Gene:
    return Gene(strand=strand, transcripts=transcripts)


def test_classes_are_the_contract_order():
    assert GENE_STRUCTURE_CLASSES == ("non-coding", "+1", "+2", "+3", "-1", "-2", "-3", "+intron", "-intron")
    assert GENE_STRUCTURE_CLASSES[:7] == FRAME_CLASSES


def test_plus_gene_with_an_intron():
    # CDS 3..7 (phase 0) and 11..14 (phase 1: 5 nt before it leave one base of the codon to finish)
    labels = gene_structure_labels([gene("+", mrna((3, 7, 0), (11, 14, 1)))], 16)
    assert labels.dtype == np.int8
    assert labels.tolist() == [0, 0, 1, 2, 3, 1, 2, 7, 7, 7, 3, 1, 2, 3, 0, 0]


def test_minus_gene_reads_codons_from_the_high_end():
    labels = gene_structure_labels([gene("-", mrna((2, 4, 0), (8, 13, 0)))], 14)
    # piece 8..13 on '-': 13, 12, 11 are codon positions 1, 2, 3 (then 10, 9, 8); piece 2..4 is the last codon
    assert labels.tolist() == [0, 6, 5, 4, 8, 8, 8, 6, 5, 4, 6, 5, 4, 0]


def test_longest_cds_transcript_is_the_one_labelled():
    short, long = mrna((1, 6, 0)), mrna((1, 3, 0), (7, 12, 0))
    assert chosen_transcript(gene("+", short, long)) is long
    labels = gene_structure_labels([gene("+", short, long)], 12)
    assert labels[3:6].tolist() == [7, 7, 7]


def test_cds_wins_over_another_genes_intron():
    host = gene("+", mrna((1, 3, 0), (40, 42, 0)))
    nested = gene("-", mrna((10, 15, 0)))
    labels = gene_structure_labels([nested, host], 45)  # order does not matter for CDS over intron
    assert set(labels[9:15].tolist()) <= {4, 5, 6} and labels[5] == 7 and labels[20] == 7


def test_non_coding_genes_are_class_0():
    rna = Gene(strand="+", transcripts=(Transcript(kind="ncRNA", exons=((2, 9),)),))
    assert not gene_structure_labels([rna], 10).any()


def test_reverse_complemented_annotation_gives_swapped_reversed_labels():
    genes = [gene("+", mrna((5, 10, 0), (20, 31, 2)), mrna((5, 10, 0))), gene("-", mrna((40, 48, 1), (60, 66, 0)))]
    length = 70
    forward = gene_structure_labels(genes, length)
    flipped = gene_structure_labels(reverse_complement_genes(genes, length), length)
    assert np.array_equal(flipped, REVERSE_COMPLEMENT_CLASS[forward[::-1]])
    assert (forward == 7).any() and (flipped == 8).any()


def orf_dna(length: int, cds: list[tuple[int, int]], protein_dna: str) -> str:
    """A sequence of `length` A's with `protein_dna` written into the 1-based CDS pieces in order."""
    seq, k = list("A" * length), 0
    for s, e in cds:
        for p in range(s, e + 1):
            seq[p - 1] = protein_dna[k]
            k += 1
    return "".join(seq)


def test_mask_keeps_a_clean_gene_and_drops_broken_ones():
    cds = [(3, 8), (13, 18)]  # ATG AAA | CCC TAA
    dna = orf_dna(30, cds, "ATGAAACCCTAA")
    good = gene("+", mrna((3, 8, 0), (13, 18, 0)))
    assert gene_structure_mask([good], dna).all()
    internal_stop = orf_dna(30, cds, "ATGTAACCCTAA")
    assert not gene_structure_mask([good], internal_stop)[2:18].any()
    frameshift = gene("+", mrna((3, 8, 0), (13, 17, 0)))
    mask = gene_structure_mask([frameshift], dna)
    assert not mask[2:17].any() and mask[17:].all() and mask[:2].all()


def test_mask_of_a_minus_gene_reads_the_reverse_complement():
    dna = reverse_complement(orf_dna(30, [(3, 8), (13, 18)], "ATGAAACCCTAA"))  # now on '-' at 13..18, 23..28
    minus = gene("-", mrna((13, 18, 0), (23, 28, 0)))
    assert gene_structure_mask([minus], dna).all()
    assert not gene_structure_mask([gene("-", mrna((13, 18, 0), (23, 28, 1)))], dna)[12:28].any()


def test_mask_drops_pseudogenes_isoform_disagreement_and_far_flanks():
    dna = orf_dna(60, [(21, 26), (31, 36)], "ATGAAACCCTAA")
    two = gene("+", mrna((21, 26, 0), (31, 36, 0)), mrna((21, 26, 0), (31, 33, 0)))  # the second ends 3 nt early
    mask = gene_structure_mask([two], dna, pseudogenes=[(2, 4)])
    assert mask[1:4].tolist() == [0, 0, 0] and mask[0] == 1
    assert not mask[33:36].any() and mask[20:33].all()  # CDS in one isoform only: ignored; shared: kept
    flank = gene_structure_mask([two], dna, annotated_flank=5)
    assert not flank[:15].any() and flank[15:20].all() and flank[36:41].all() and not flank[41:].any()


def test_real_annotation_starts_and_splice_sites():
    """H. sapiens chr16 fragment: each chosen CDS starts at ATG labelled codon
    position 1 on its strand, and introns begin with GT."""
    fasta_path, gff_path = genome("hsapiens_chr16_fragment")
    genes, _ = read_gff3(gff_path)
    fasta = FastaFile(fasta_path)
    name = fasta.names[0]
    dna = fasta.fetch(name, 0, fasta.length(name)).upper()
    labels = gene_structure_labels(genes, len(dna))
    mask = gene_structure_mask(genes, dna)
    assert mask.mean() > 0.9
    coding = [(g, chosen_transcript(g)) for g in genes if chosen_transcript(g) is not None]
    assert len(coding) == 8  # 9 loci, one of them only non-coding transcripts
    for g, t in coding:
        if g.strand == "+":
            assert dna[t.cds[0].start - 1:t.cds[0].start + 2] == "ATG" and labels[t.cds[0].start - 1] == 1
        else:
            assert reverse_complement(dna[t.cds[-1].end - 3:t.cds[-1].end]) == "ATG" and labels[t.cds[-1].end - 1] == 4
    plus_intron_starts = np.flatnonzero((labels[1:] == 7) & (labels[:-1] != 7)) + 1
    minus_intron_ends = np.flatnonzero((labels[:-1] == 8) & (labels[1:] != 8))
    assert len(plus_intron_starts) and len(minus_intron_ends)
    assert np.mean([dna[i:i + 2] == "GT" for i in plus_intron_starts]) > 0.95
    assert np.mean([dna[i - 1:i + 1] == "AC" for i in minus_intron_ends]) > 0.95  # GT on '-'


@pytest.mark.parametrize("strand", ["+", "-"])
def test_cut_genes_keep_their_frame(strand):
    whole = gene(strand, mrna((5, 16, 0)))
    labels = gene_structure_labels([whole], 20)
    assert np.array_equal(gene_structure_labels([whole], 10), labels[:10])
