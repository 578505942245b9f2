"""Coding-frame labels (the auxiliary head's targets): hand-made genes, then every gene of a real E. coli slice."""

import numpy as np

from genefinder.decoding.coding_frames import coding_frame_labels, frame_agreement
from genefinder.formats.fasta import FastaFile
from genefinder.formats.features import CDSPart, Gene, Transcript, phase_after
from genefinder.formats.gff3 import read_gff3
from genefinder.formats.windows import reverse_complement
from real_data import write_slice

STOPS = {"TAA", "TAG", "TGA"}


def gene(strand, *pieces, **flags):
    return Gene(strand, (Transcript("mRNA", cds=tuple(CDSPart(*p) for p in pieces), **flags),))


def test_codon_positions_on_both_strands_and_outside():
    labels = coding_frame_labels([gene("+", (4, 12, 0)), gene("-", (15, 20, 0))], 22)
    assert labels.tolist() == [0, 0, 0, 1, 2, 3, 1, 2, 3, 1, 2, 3, 0, 0, 6, 5, 4, 6, 5, 4, 0, 0]


def test_phase_of_a_cut_piece_sets_its_frame():
    # phase 1 on '+': the first base ends a codon; on '-' the phase counts from the high (5') end
    assert coding_frame_labels([gene("+", (1, 7, 1), partial_left=True)], 7).tolist() == [3, 1, 2, 3, 1, 2, 3]
    assert coding_frame_labels([gene("-", (1, 7, 2), partial_left=True)], 7).tolist() == [5, 4, 6, 5, 4, 6, 5]


def test_frame_runs_across_an_intron():
    first = (3, 10, 0)  # 8 nt: codons 1-2 then two bases of the third
    second = (21, 27, phase_after(8, 0))
    labels = coding_frame_labels([gene("+", first, second)], 30)
    assert labels[2:10].tolist() == [1, 2, 3, 1, 2, 3, 1, 2] and (labels[10:20] == 0).all()
    assert labels[20:27].tolist() == [3, 1, 2, 3, 1, 2, 3]


def test_pieces_beyond_the_window_are_clipped():
    assert coding_frame_labels([gene("+", (5, 40, 0))], 9).tolist() == [0, 0, 0, 0, 1, 2, 3, 1, 2]


def test_frame_agreement_counts_the_cds_nucleotides_read_in_the_genes_frame():
    g = gene("+", (4, 12, 0))
    truth = coding_frame_labels([g], 20)
    assert frame_agreement(g, truth) == 1.0
    shifted = truth.copy()
    shifted[3:6] = [4, 5, 6]  # one codon read on the other strand
    assert frame_agreement(g, shifted) == 6 / 9 and frame_agreement(g, np.zeros(20, dtype=int)) == 0.0
    assert frame_agreement(Gene("+", (Transcript("tRNA", exons=((2, 9),)),)), truth) == 0.0


def test_real_genes_read_their_codons_in_frame(tmp_path):
    """On E. coli's first 60 kb, every CDS read along its labels' codon position 1 meets its only in-frame
    stop at the end: labels and reading frame agree for the genes of both strands."""
    fa, gff = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 60_000)
    fasta = FastaFile(fa)
    dna = fasta.fetch("NC_000913.3", 0, fasta.length("NC_000913.3"))
    coding = [g for g in read_gff3(gff)[0] if any(t.cds for t in g.transcripts)]
    strands = set()
    for g in coding:
        labels = coding_frame_labels([g], len(dna))
        piece = g.transcripts[0].cds[0]
        seq, lab = dna[piece.start - 1:piece.end], labels[piece.start - 1:piece.end]
        if g.strand == "-":
            seq, lab = reverse_complement(seq), lab[::-1] - 3
        assert lab.tolist() == [1, 2, 3] * (len(seq) // 3)
        codons = [seq[i:i + 3] for i in np.flatnonzero(lab == 1)]
        assert codons[-1] in STOPS and not STOPS & set(codons[:-1]), (g.strand, piece)
        strands.add(g.strand)
    assert len(coding) > 40 and strands == {"+", "-"}
