import pytest
from real_data import genome

from genefinder.formats.fasta import FastaFile
from genefinder.formats.features import CDSPart, Gene, Transcript
from genefinder.formats.gff3 import read_gff3
from genefinder.formats.windows import (GeneIndex, genes_in_window, reverse_complement, reverse_complement_genes,
                                        window_starts)

STOPS_11 = {"TAA", "TAG", "TGA"}
STARTS_11 = {"ATG", "GTG", "TTG", "CTG", "ATT", "ATC", "ATA"}


@pytest.mark.parametrize("length, window, stride", [(10, 4, 2), (10, 4, 3), (4, 8, 4), (8192 * 3 + 1, 8192, 4096)])
def test_windows_cover_the_record_and_end_at_its_end(length, window, stride):
    starts = window_starts(length, window, stride)
    covered = set()
    for s in starts:
        covered.update(range(s, min(s + window, length)))
    assert covered == set(range(length)) and min(starts[-1] + window, length) == length
    assert all(b - a <= stride for a, b in zip(starts, starts[1:]))


def test_window_arguments_are_checked():
    with pytest.raises(ValueError, match="stride"):
        window_starts(100, 10, 20)


def in_frame_codons(dna: str, cds: CDSPart, strand: str) -> list[str]:
    piece = dna[cds.start - 1:cds.end]
    if strand == "-":
        piece = reverse_complement(piece)
    piece = piece[cds.phase:].upper()
    return [piece[i:i + 3] for i in range(0, len(piece) - 2, 3)]


@pytest.mark.parametrize("orientation", ["+", "-"])
def test_cut_genes_keep_their_reading_frame(orientation):
    """Real E. coli windows: whole genes start and stop on codons; cut genes keep the frame via the phase."""
    fasta, gff = genome("ecoli_k12_mg1655")
    fa, genes = FastaFile(fasta), read_gff3(gff)[0]
    index = GeneIndex([g for g in genes if g.seqid == "NC_000913.3"])
    whole = cut = 0
    for start in window_starts(400_000, 8192, 4096):
        dna = fa.fetch("NC_000913.3", start, start + 8192)
        w_genes = genes_in_window(index, start, 8192)
        if orientation == "-":
            dna, w_genes = reverse_complement(dna), reverse_complement_genes(w_genes, 8192)
        for g in w_genes:
            t = g.transcripts[0]
            if len(t.cds) != 1:
                continue
            codons = in_frame_codons(dna, t.cds[0], g.strand)
            five_cut, three_cut = ((t.partial_left, t.partial_right) if g.strand == "+"
                                   else (t.partial_right, t.partial_left))
            assert not STOPS_11 & set(codons[:-1]), (start, g)
            if not five_cut and not three_cut:
                whole += 1
                assert codons[0] in STARTS_11 and codons[-1] in STOPS_11 and t.cds[0].phase == 0
            elif five_cut and not three_cut:
                cut += 1
                assert codons[-1] in STOPS_11
    assert whole > 300 and cut > 20


def test_reverse_complement_twice_is_identity():
    g = [Gene("+", (Transcript("mRNA", exons=((5, 20), (30, 60)), cds=(CDSPart(10, 20, 0), CDSPart(30, 50, 1)),
                               partial_left=True),))]
    once = reverse_complement_genes(g, 100)
    assert once[0].strand == "-" and once[0].transcripts[0].partial_right
    assert once[0].transcripts[0].cds == (CDSPart(51, 71, 1), CDSPart(81, 91, 0))
    assert reverse_complement_genes(once, 100) == g
    assert reverse_complement(reverse_complement("ACGTRYKMacgtn")) == "ACGTRYKMacgtn"
