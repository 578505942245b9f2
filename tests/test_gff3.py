import io
import shutil
import subprocess

import pytest
from real_data import DATA, genome

from genefinder.formats.errors import GeneFinderInputError
from genefinder.formats.features import CDSPart, Gene, Transcript
from genefinder.formats.gff3 import read_gff3, write_gff3

ALL_GENOMES = sorted(p.name for p in DATA.glob("*") if (p / "annotation.gff3.gz").exists())


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_GENOMES)
def test_every_shared_annotation_reads(name):
    genes, report = read_gff3(genome(name)[1])
    coding = [t for g in genes for t in g.transcripts if t.is_coding]
    # whole genomes and the 1,608-record KOG set hold thousands of coding transcripts; the small fragments 14-200
    assert len(coding) >= (200 if report.genes >= 1000 else 10) and report.genes == len(genes)
    for g in genes:
        for t in g.transcripts:
            assert all(c.start <= c.end for c in t.cds) and list(t.cds) == sorted(t.cds)


def test_ecoli_hierarchy_pseudogenes_and_frameshift():
    genes, report = read_gff3(genome("ecoli_k12_mg1655")[1])
    by_id = {g.id: g for g in genes}
    prfb = by_id["gene-b2891"].transcripts[0]  # programmed frameshift: one CDS in two pieces
    assert prfb.kind == "mRNA" and prfb.cds == (CDSPart(3035184, 3036206, 0), CDSPart(3036208, 3036282, 0))
    assert by_id["gene-b0001"].transcripts[0].cds == (CDSPart(190, 255, 0),)
    assert "gene-b0218" not in by_id  # yafU is a pseudogene
    assert report.skipped["pseudogene"] == 145
    assert len(report.pseudogenes) == 145 and ("NC_000913.3", 238746, 239084) in report.pseudogenes


def test_eukaryote_isoforms_utrs_and_phases():
    genes, _ = read_gff3(genome("celegans_1pct")[1])
    multi = [g for g in genes if len(g.transcripts) > 1]
    assert multi, "C. elegans slice has genes with several isoforms"
    utr = [t for g in genes for t in g.transcripts if t.exons and t.cds]
    assert utr, "transcripts with UTRs keep their exons"


def gff(tmp_path, body: str):
    p = tmp_path / "x.gff3"
    p.write_text("##gff-version 3\n" + body)
    return p


@pytest.mark.parametrize("body, line, words", [
    ("chr\tsrc\tgene\t1\t100\t.\t+\t.\n", 2, "expected 9 tab-separated columns, found 8"),
    ("chr\tsrc\tgene\tone\t100\t.\t+\t.\tID=g\n", 2, "start/end must be integers"),
    ("chr\tsrc\tgene\t50\t10\t.\t+\t.\tID=g\n", 2, "need 1 <= start <= end"),
    ("chr\tsrc\tgene\t1\t99\t.\t+\t.\tID=g\nchr\tsrc\tCDS\t1\t99\t.\t+\t.\tParent=g\n", 3, "CDS phase must be 0, 1 or 2"),
    ("chr\tsrc\tCDS\t1\t99\t.\t+\t0\tParent=nowhere\n", 2, "Parent 'nowhere' of this CDS is not defined"),
    ("chr\tsrc\tgene\t1\t99\t.\tx\t.\tID=g\n", 2, "strand must be"),
    ("chr\tsrc\tgene\t1\t99\t.\t+\t.\tID\n", 2, "is not key=value"),
])
def test_malformed_lines_name_file_and_line(tmp_path, body, line, words):
    p = gff(tmp_path, body)
    with pytest.raises(GeneFinderInputError) as err:
        read_gff3(p)
    assert str(err.value).startswith(f"{p}:{line}: ") and words in str(err.value)


def test_unknown_types_are_skipped_and_counted(tmp_path):
    genes, report = read_gff3(gff(tmp_path, "chr\tsrc\tgene\t1\t99\t.\t+\t.\tID=g\n"
                                  "chr\tsrc\tCDS\t1\t99\t.\t+\t0\tParent=g\n"
                                  "chr\tsrc\tweird_thing\t5\t9\t.\t+\t.\tID=w\n"
                                  "chr\tsrc\texon\t5\t9\t.\t+\t.\tParent=w\n"))
    assert len(genes) == 1 and report.skipped["weird_thing"] == 1 and report.skipped["exon under skipped weird_thing"] == 1


def sample_genes() -> list[Gene]:
    return [
        Gene("+", (Transcript("mRNA", cds=(CDSPart(10, 99, 0),)),), seqid="chr1"),
        Gene("-", (Transcript("mRNA", exons=((150, 220), (300, 400)), cds=(CDSPart(160, 220, 0), CDSPart(300, 380, 0))),
                   Transcript("mRNA", cds=(CDSPart(310, 380, 0),), partial_right=True)), seqid="chr1"),
        Gene("+", (Transcript("tRNA", exons=((500, 572),)),), seqid="chr1"),
        Gene("+", (Transcript("mRNA", cds=(CDSPart(1, 60, 2),), partial_left=True),), seqid="chr;2"),
    ]


@pytest.mark.parametrize("eukaryote", [False, True])
def test_write_then_read_gives_the_same_genes(tmp_path, eukaryote):
    genes = sample_genes()
    out = io.StringIO()
    write_gff3(out, genes, {"chr1": 1000, "chr;2": 500}, eukaryote=eukaryote)
    p = tmp_path / "out.gff3"
    p.write_text(out.getvalue())
    back, _ = read_gff3(p)
    key = lambda g: (g.seqid, g.start)  # noqa: E731
    # Partial flags are window notions: GFF3 carries them as attributes, the reader does not restore them.
    strip = lambda g: Gene(g.strand, tuple(Transcript(t.kind, t.exons, t.cds) for t in g.transcripts))  # noqa: E731
    assert [strip(g) for g in sorted(back, key=key)] == [strip(g) for g in sorted(genes, key=key)]
    assert [g.seqid for g in sorted(back, key=key)] == ["chr1"] * 3 + ["chr;2"]


@pytest.mark.skipif(shutil.which("gt") is None, reason="genometools not installed (apt-get install genometools)")
@pytest.mark.parametrize("eukaryote", [False, True])
def test_writer_output_passes_gt_gff3validator(tmp_path, eukaryote):
    out = tmp_path / "out.gff3"
    with open(out, "w") as fh:
        write_gff3(fh, sample_genes(), {"chr1": 1000, "chr;2": 500}, eukaryote=eukaryote,
                   pragmas=("processor genefinder test", "genefinder-run decoding=orf"))
    res = subprocess.run(["gt", "gff3validator", str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert out.read_text().splitlines()[3:5] == ["#!processor genefinder test", "#!genefinder-run decoding=orf"]
    with pytest.raises(ValueError, match="one line"):
        write_gff3(io.StringIO(), [], {}, eukaryote=eukaryote, pragmas=("two\nlines",))


@pytest.mark.skipif(shutil.which("gt") is None, reason="genometools not installed (apt-get install genometools)")
def test_real_annotation_rewritten_passes_gt_gff3validator(tmp_path):
    genes, _ = read_gff3(genome("celegans_1pct")[1])
    out = tmp_path / "ce.gff3"
    lengths = {"I": 200_000, "II": 200_000, "III": 200_000, "IV": 200_000, "V": 250_000, "X": 200_000, "MtDNA": 14_000}
    genes = [g for g in genes if g.end <= lengths.get(g.seqid, 0)]
    with open(out, "w") as fh:
        write_gff3(fh, genes, lengths, eukaryote=True)
    res = subprocess.run(["gt", "gff3validator", str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_orphan_cds_rows_are_genes_of_their_own(tmp_path):
    """Prodigal writes CDS rows with an ID and no Parent."""
    genes, _ = read_gff3(gff(tmp_path, "chr\tProdigal\tCDS\t10\t99\t5.1\t+\t0\tID=1_1;partial=00\n"
                                       "chr\tProdigal\tCDS\t200\t290\t3.0\t-\t0\tID=1_2;partial=00\n"))
    assert [(g.strand, g.transcripts[0].cds) for g in genes] == [("+", (CDSPart(10, 99, 0),)),
                                                                ("-", (CDSPart(200, 290, 0),))]


def test_wormbase_pseudogenes_are_counted():
    _, report = read_gff3(genome("celegans_1pct")[1])
    assert report.skipped["pseudogene"] > 0
