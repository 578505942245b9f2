"""slice-genome: the region's bases and its whole genes, shifted to region coordinates, byte-reproducibly."""

import gzip

import pytest

from genefinder.datasets_scripts.slice_genome import parse_region, slice_genome
from genefinder.formats.errors import GeneFinderInputError
from genefinder.formats.gff3 import read_gff3
from genefinder.formats.windows import reverse_complement
from real_data import genome


def _read(path):
    with gzip.open(path, "rt") as fh:
        lines = fh.read().splitlines()
    return lines[0], "".join(lines[1:])


def test_genes_keep_their_codons_in_region_coordinates(tmp_path):
    fasta, gff = genome("bsubtilis_best7003")
    out_fa, out_gff, n = slice_genome(str(fasta), str(gff), "Chromosome", 100_001, 160_000, str(tmp_path / "s"))
    header, seq = _read(out_fa)
    assert header.startswith(">Chromosome_100001-160000 ") and len(seq) == 60_000
    genes, _ = read_gff3(out_gff)
    assert len(genes) == n > 40
    for g in genes:
        assert g.seqid == "Chromosome_100001-160000" and 1 <= g.start <= g.end <= 60_000
        for t in g.transcripts:
            if not t.cds:
                continue
            cds = "".join(seq[c.start - 1:c.end] for c in t.cds)
            cds = cds if g.strand == "+" else reverse_complement(cds)
            assert cds[:3] in {"ATG", "GTG", "TTG"} and cds[-3:] in {"TAA", "TAG", "TGA"}, g


def test_same_command_writes_identical_bytes(tmp_path):
    fasta, gff = genome("bsubtilis_best7003")
    a = slice_genome(str(fasta), str(gff), "Chromosome", 1, 20_000, str(tmp_path / "a"))
    b = slice_genome(str(fasta), str(gff), "Chromosome", 1, 20_000, str(tmp_path / "b"))
    assert a[0].read_bytes() == b[0].read_bytes() and a[1].read_bytes() == b[1].read_bytes()


def test_bad_regions_are_one_line_errors(tmp_path):
    fasta, gff = genome("bsubtilis_best7003")
    with pytest.raises(GeneFinderInputError, match="not in the FASTA"):
        slice_genome(str(fasta), str(gff), "chr9", 1, 10, str(tmp_path / "x"))
    with pytest.raises(GeneFinderInputError, match="start <= end"):
        slice_genome(str(fasta), str(gff), "Chromosome", 10, 5, str(tmp_path / "x"))
    with pytest.raises(GeneFinderInputError, match="SEQID:START-END"):
        parse_region("Chromosome:10")
    assert parse_region("chr1:1,000-2,000") == ("chr1", 1000, 2000)


def test_bundled_example_is_what_the_readme_command_writes(tmp_path):
    """examples/ holds a slice of the held-out genome: rebuilding it from ../shared/data gives the same bytes."""
    from pathlib import Path

    fasta, gff = genome("bsubtilis_best7003")
    bundled = Path(__file__).resolve().parents[1] / "examples" / "bsubtilis_best7003_1-200000"
    out_fa, out_gff, _ = slice_genome(str(fasta), str(gff), "Chromosome", 1, 200_000, str(tmp_path / "e"))
    assert out_fa.read_bytes() == Path(f"{bundled}.fna.gz").read_bytes()
    assert out_gff.read_bytes() == Path(f"{bundled}.gff3.gz").read_bytes()
