"""`genefinder annotate --eukaryote` and `pipeline("gene-finding")` with a gene-structure model folder, on real DNA
(two slices of a human chr16 fragment, one record each, written as one FASTA).

The model is tiny and untrained, so the genes it calls are arbitrary; what is tested is the path: the decoder's
rules hold in the written GFF3 and proteins, a resumed run writes the same bytes, the pipeline loaded from the
folder alone (fresh process, trust_remote_code) calls the same genes, and bad input gets one-line errors."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from genefinder.annotation.gene_structure_annotation import GeneStructureAnnotator
from genefinder.cli import main
from genefinder.decoding.genetic_code import GeneticCode
from genefinder.formats.fasta import FastaFile
from genefinder.formats.gff3 import read_gff3
from genefinder.models.configuration_gene_structure import GeneStructureConfig
from genefinder.models.modeling_gene_structure import GeneStructureForTokenClassification

from real_data import write_slice

SEQID = "chr16_from_186964"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A tiny gene-structure model with decoding penalties of its own in config.json."""
    torch.manual_seed(0)
    config = GeneStructureConfig(conv_channels=8, conv_layers=2, conv_kernel=5, pool=3, hidden_size=16,
                                 num_mixer_layers=1, decoding={"gene_start": -2.0, "min_single_exon_cds": 120})
    model = GeneStructureForTokenClassification(config).eval()
    with torch.no_grad():  # lean towards coding classes, so that the untrained model calls genes at all
        model.classifier.bias[:] = torch.tensor([0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5])
    path = tmp_path_factory.mktemp("model") / "eukaryote"
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("genome")
    fasta, _ = write_slice(tmp, "hsapiens_chr16_fragment", SEQID, 60_000)
    lines = fasta.read_text().splitlines()
    second = "".join(lines[1:])[30_000:]  # a second record: the slice's second half, soft-masked
    path = tmp / "two_records.fa"
    path.write_text("\n".join(lines[:1 + 500]) + "\n>second\n" + second.lower() + "\n")
    return path


def annotate(genome, folder, out, *extra):
    return main(["annotate", str(genome), "--model", str(folder), "-o", str(out), *extra])


@pytest.fixture(scope="module")
def annotated(genome, folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "pred.gff3"
    assert annotate(genome, folder, out, "--proteins", str(out.with_suffix(".faa"))) == 0
    return out


def test_the_gff3_holds_valid_spliced_gene_models_of_both_records(annotated, genome):
    genes, report = read_gff3(annotated)
    assert {g.seqid for g in genes} == {SEQID, "second"} and len(genes) >= 4
    text = annotated.read_text()
    assert "#!genefinder-run decoding=gene-structure" in text and "gene_start=-2 " in text  # the folder's penalties
    assert "min_single_exon_cds=120" in text
    assert text.count("\texon\t") == text.count("\tCDS\t") == sum(len(g.transcripts[0].cds) for g in genes)
    fa = FastaFile(str(genome))
    code = GeneticCode(1)
    for g in genes:
        (t,) = g.transcripts
        seq = "".join(fa.fetch(g.seqid, c.start - 1, c.end) for c in t.cds).upper()
        if g.strand == "-":
            seq = seq[::-1].translate(str.maketrans("ACGTN", "TGCAN"))
        if 1 < g.start and g.end < fa.length(g.seqid):  # a gene cut by the record's end is partial
            protein = code.translate(seq)
            assert len(seq) % 3 == 0 and protein[0] == "M" and protein.index("*") == len(protein) - 1
            if len(t.cds) == 1:
                assert len(seq) >= 120


def test_proteins_are_the_translations_of_the_written_genes(annotated):
    proteins = annotated.with_suffix(".faa").read_text().split(">")[1:]
    genes, _ = read_gff3(annotated)
    assert len(proteins) == len(genes)
    assert all("*" not in "".join(p.splitlines()[1:]) for p in proteins)


def test_a_resumed_run_writes_the_same_bytes(annotated, genome, folder, tmp_path, monkeypatch):
    out = tmp_path / "pred.gff3"
    whole = GeneStructureAnnotator.annotate

    def stop_at_second(self, seqid, dna, progress=None):
        if seqid == "second":
            raise KeyboardInterrupt
        return whole(self, seqid, dna, progress)

    monkeypatch.setattr(GeneStructureAnnotator, "annotate", stop_at_second)
    assert annotate(genome, folder, out) != 0  # "genefinder: interrupted"
    partial = tmp_path / "pred.gff3.partial.0.jsonl"
    assert not out.exists() and [json.loads(line)["seqid"] for line in partial.read_text().splitlines()] == [SEQID]
    monkeypatch.setattr(GeneStructureAnnotator, "annotate", whole)
    assert annotate(genome, folder, out, "--resume") == 0
    assert out.read_text() == annotated.read_text() and not partial.exists()


def test_the_pipeline_from_the_folder_alone_calls_the_same_genes(annotated, genome, folder, tmp_path):
    code = textwrap.dedent(f"""
        import sys
        sys.modules["genefinder"] = None  # the installed package must not be what loads
        from transformers import pipeline
        finder = pipeline("gene-finding", model={str(folder)!r}, trust_remote_code=True)
        print(finder({str(genome)!r})["gff3"])
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    body = [line for line in res.stdout.splitlines() if line and not line.startswith("#")]
    expected = [line for line in annotated.read_text().splitlines() if line and not line.startswith("#")]
    assert body == expected


def test_a_bacterial_table_is_a_one_line_error(genome, folder, tmp_path, capsys):
    assert annotate(genome, folder, tmp_path / "x.gff3", "--genetic-code", "11") == 0  # the flag's default reads 1
    assert annotate(genome, folder, tmp_path / "y.gff3", "--genetic-code", "4") == 2
    assert "standard code (table 1), not table 4" in capsys.readouterr().err
    assert not (tmp_path / "y.gff3").exists()


def test_a_damaged_decoding_section_is_a_one_line_error(folder, genome, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in folder.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    config = json.loads((broken / "config.json").read_text())
    config["decoding"] = {"gene_start": -1.0, "splice_bonus": 2.0}
    (broken / "config.json").write_text(json.dumps(config))
    assert annotate(genome, broken, tmp_path / "z.gff3") == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "splice_bonus" in err[0] and str(broken) in err[0]
    assert not (tmp_path / "z.gff3").exists()


def test_a_missing_model_folder_is_a_one_line_error(genome, tmp_path, capsys):
    assert main(["annotate", str(genome), "--eukaryote", "--model", str(tmp_path / "nope"), "-o",
                 str(tmp_path / "o.gff3")]) == 2
    assert "not found" in capsys.readouterr().err
