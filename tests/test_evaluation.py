"""genefinder evaluate: hand-computed small cases for every level, inputs and errors, the E. coli self-test,
and the baseline script's format conversion and markdown sections."""

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from real_data import genome, write_slice

from genefinder.cli import main
from genefinder.evaluation.evaluation import LEVELS, Region, evaluate_files, parse_region
from genefinder.formats.errors import GeneFinderInputError

HERE = Path(__file__).resolve().parent


def gff(tmp_path, name, genes, seqid="chr"):
    """genes: (strand, [(start, end), ...]) prokaryote-style, or (strand, [[segments], [segments]]) for
    a gene with several transcripts (gene -> mRNA -> CDS)."""
    lines = ["##gff-version 3"]
    for i, (strand, cds) in enumerate(genes, start=1):
        transcripts = cds if isinstance(cds[0], list) else [cds]
        lo = min(s for t in transcripts for s, _ in t)
        hi = max(e for t in transcripts for _, e in t)
        lines.append(f"{seqid}\tt\tgene\t{lo}\t{hi}\t.\t{strand}\t.\tID=g{i}")
        for j, t in enumerate(transcripts, start=1):
            tid = f"g{i}.t{j}"
            lines.append(f"{seqid}\tt\tmRNA\t{t[0][0]}\t{t[-1][1]}\t.\t{strand}\t.\tID={tid};Parent=g{i}")
            for s, e in t:
                lines.append(f"{seqid}\tt\tCDS\t{s}\t{e}\t.\t{strand}\t0\tID={tid}.cds;Parent={tid}")
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


REF = [("+", [(101, 400)]), ("-", [(501, 800)]), ("+", [(1001, 1300)])]


def scores(tmp_path, pred, ref=REF, region=None):
    report = evaluate_files(gff(tmp_path, "pred.gff3", pred), gff(tmp_path, "ref.gff3", ref), region)
    return {lv: report.scores[lv] for lv in LEVELS}


def rates(s):
    return (s.sensitivity, s.precision)


def test_perfect_prediction_is_one_everywhere(tmp_path):
    s = scores(tmp_path, REF)
    for level in LEVELS:
        assert (s[level].sensitivity, s[level].precision, s[level].f1) == (1.0, 1.0, 1.0), level
    assert (s["base"].n_ref, s["exon"].n_ref, s["gene"].n_ref, s["start"].n_ref) == (900, 3, 3, 3)


def test_one_wrong_start_on_plus_strand(tmp_path):
    s = scores(tmp_path, [("+", [(131, 400)]), REF[1], REF[2]])
    assert (s["base"].n_ref, s["base"].n_pred, s["base"].tp_ref) == (900, 870, 870)
    assert rates(s["base"]) == (870 / 900, 1.0)
    assert rates(s["exon"]) == rates(s["gene"]) == (2 / 3, 2 / 3)
    assert rates(s["stop"]) == (1.0, 1.0)
    assert (s["start"].n_ref, s["start"].tp_ref, s["start"].n_pred, s["start"].tp_pred) == (3, 2, 3, 2)


def test_minus_strand_start_is_the_right_end(tmp_path):
    wrong_start = scores(tmp_path, [REF[0], ("-", [(501, 770)]), REF[2]])  # 5' end of a - gene = its end
    assert rates(wrong_start["stop"]) == (1.0, 1.0) and wrong_start["start"].tp_ref == 2
    wrong_stop = scores(tmp_path, [REF[0], ("-", [(531, 800)]), REF[2]])  # 3' end = its start
    assert rates(wrong_stop["stop"]) == (2 / 3, 2 / 3)
    assert (wrong_stop["start"].n_ref, wrong_stop["start"].tp_ref) == (2, 2)  # only stop-matched genes count


def test_one_missed_gene(tmp_path):
    s = scores(tmp_path, REF[:2])
    assert rates(s["base"]) == (600 / 900, 1.0)
    assert rates(s["exon"]) == rates(s["gene"]) == rates(s["stop"]) == (2 / 3, 1.0)
    assert s["gene"].f1 == pytest.approx(0.8)
    assert (s["start"].n_ref, s["start"].sensitivity) == (2, 1.0)


def test_false_positive_on_the_other_strand(tmp_path):
    s = scores(tmp_path, [*REF, ("-", [(101, 400)])])  # same bases as g1, opposite strand: no credit
    assert (s["base"].n_pred, s["base"].tp_pred) == (1200, 900)
    assert rates(s["base"]) == (1.0, 0.75)
    assert rates(s["exon"]) == rates(s["gene"]) == rates(s["stop"]) == (1.0, 0.75)
    assert (s["start"].n_pred, s["start"].precision) == (3, 1.0)


def test_multi_exon_gene_with_one_wrong_exon(tmp_path):
    ref = [("+", [(101, 200), (301, 400), (501, 600)])]
    s = scores(tmp_path, [("+", [(101, 200), (311, 400), (501, 600)])], ref)  # shifted acceptor of exon 2
    assert (s["base"].n_ref, s["base"].n_pred, s["base"].tp_ref) == (300, 290, 290)
    assert rates(s["exon"]) == (2 / 3, 2 / 3)
    assert rates(s["gene"]) == (0.0, 0.0) and s["gene"].f1 == 0.0
    assert rates(s["stop"]) == (1.0, 1.0) and rates(s["start"]) == (1.0, 1.0)  # outer ends are right


def test_base_level_by_hand(tmp_path):
    ref = [("+", [(1, 100)]), ("+", [(51, 150)]), ("-", [(201, 300)])]  # + union 1-150 (150), - 100: 250
    pred = [("+", [(91, 200)]), ("-", [(251, 350)]), ("-", [(1, 100)])]  # + 110, - 200: 310
    s = scores(tmp_path, pred, ref)["base"]
    # + overlap 91-150 = 60, - overlap 251-300 = 50; the - prediction over + reference bases earns nothing
    assert (s.n_ref, s.n_pred, s.tp_ref, s.tp_pred) == (250, 310, 110, 110)
    assert s.f1 == pytest.approx(2 * (110 / 250) * (110 / 310) / (110 / 250 + 110 / 310))


def test_gene_found_through_any_transcript_and_exons_counted_once(tmp_path):
    ref = [("+", [[(101, 400)], [(131, 400)]])]  # alternative starts, as RefSeq E. coli has
    s = scores(tmp_path, [("+", [(131, 400)]), ("+", [(131, 400)])], ref)  # a duplicated prediction
    assert (s["gene"].n_ref, s["gene"].tp_ref, s["gene"].n_pred, s["gene"].tp_pred) == (1, 1, 2, 2)
    assert (s["exon"].n_ref, s["exon"].n_pred, s["exon"].tp_ref) == (2, 1, 1)  # distinct segments
    assert rates(s["start"]) == (1.0, 1.0)


def test_region_counts_features_inside_and_bases_inside(tmp_path):
    ref = [("+", [(101, 400)]), ("+", [(1001, 1300)]), ("-", [(1201, 1500)])]
    pred = [*ref, ("+", [(2001, 2100)])]
    region = Region("chr", 1, 1250)
    s = scores(tmp_path, pred, ref, region)
    assert (s["base"].n_ref, s["base"].n_pred) == (300 + 250 + 50, 600)
    assert (s["exon"].n_ref, s["gene"].n_ref, s["gene"].n_pred) == (1, 1, 1)
    assert all(s[lv].f1 == 1.0 for lv in LEVELS)
    s = scores(tmp_path, [("+", [(101, 400)]), ("+", [(1001, 1330)])], ref, region)  # changes past the edge
    assert (s["base"].tp_ref, s["base"].n_ref) == (550, 600) and s["gene"].f1 == 1.0


def test_parse_region():
    assert parse_region("NC_000913.3:1,001-2,000") == Region("NC_000913.3", 1001, 2000)
    assert parse_region("HLA:A:5-9") == Region("HLA:A", 5, 9)
    for bad in ("chr1", "chr1:5", "chr1:9-5", "chr1:0-5"):
        with pytest.raises(GeneFinderInputError, match="--region"):
            parse_region(bad)


def test_empty_prediction_scores_zero(tmp_path):
    path = tmp_path / "empty.gff3"
    path.write_text("##gff-version 3\n")
    report = evaluate_files(path, gff(tmp_path, "ref.gff3", REF))
    assert report.scores["gene"].sensitivity == 0.0 and report.scores["gene"].precision is None
    assert report.scores["gene"].f1 == 0.0 and "no coding genes" in " ".join(report.warnings)


def test_missing_file_is_one_line_error(tmp_path, capsys):
    ref = gff(tmp_path, "ref.gff3", REF)
    assert main(["evaluate", str(tmp_path / "nope.gff3"), str(ref)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.gff3" in err and "not found" in err
    assert main(["evaluate", str(tmp_path), str(ref)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "prediction GFF3 path is a folder" in err


def test_seqids_that_do_not_match(tmp_path, capsys):
    ref = gff(tmp_path, "ref.gff3", REF)
    other = gff(tmp_path, "other.gff3", REF, seqid="Chromosome")
    with pytest.raises(GeneFinderInputError, match="no seqid in common"):
        evaluate_files(other, ref)
    both = tmp_path / "both.gff3"  # chr genes plus 3 genes on a seqid the reference lacks
    both.write_text(gff(tmp_path, "a.gff3", REF).read_text() + "".join(
        l.replace("ID=g", "ID=x").replace("Parent=g", "Parent=x") + "\n"
        for l in other.read_text().splitlines()[1:]))
    assert main(["evaluate", str(both), str(ref)]) == 0
    out, err = capsys.readouterr()
    assert "3 predicted genes lie on 1 seqids" in err and "'Chromosome': 3" in err
    assert "gene" in out and "0.5000" in out  # precision 3/6 at gene level


def test_json_and_table_output_report_pseudogenes(tmp_path, capsys):
    ref = gff(tmp_path, "ref.gff3", REF)
    with open(ref, "a") as fh:
        fh.write("chr\tt\tpseudogene\t2001\t2300\t.\t+\t.\tID=p1\n"
                 "chr\tt\tCDS\t2001\t2300\t.\t+\t0\tID=p1.cds;Parent=p1\n")
    pred = gff(tmp_path, "pred.gff3", REF)
    assert main(["evaluate", str(pred), str(ref), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert all(data[lv]["f1"] == 1.0 and {"sensitivity", "precision", "n_ref", "n_pred"} <= data[lv].keys()
               for lv in LEVELS)
    assert data["gene"]["n_ref"] == 3 and data["inputs"]["ref_pseudogene_rows_skipped"] == 1
    assert data["inputs"]["ref_rows_under_pseudogenes_skipped"] == 1
    assert main(["evaluate", str(pred), str(ref), "--region", "chr:1-1000"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:4] == ["level", "sensitivity", "precision", "F1"]
    assert "left out 1 pseudogene rows + 1 rows under pseudogenes" in table and "in chr:1-1000" in table


AUGUSTUS_GFF3 = """##gff-version 3
# This output was generated with AUGUSTUS (version 3.5.0).
# start gene g1
chr\tAUGUSTUS\tgene\t101\t600\t0.9\t+\t.\tID=g1
chr\tAUGUSTUS\ttranscript\t101\t600\t0.9\t+\t.\tID=g1.t1;Parent=g1
chr\tAUGUSTUS\tstart_codon\t101\t103\t.\t+\t0\tParent=g1.t1
chr\tAUGUSTUS\tintron\t201\t300\t1\t+\t.\tParent=g1.t1
chr\tAUGUSTUS\tCDS\t101\t200\t1\t+\t0\tID=g1.t1.cds;Parent=g1.t1
chr\tAUGUSTUS\texon\t101\t200\t.\t+\t.\tParent=g1.t1
chr\tAUGUSTUS\tCDS\t301\t600\t1\t+\t2\tID=g1.t1.cds;Parent=g1.t1
chr\tAUGUSTUS\texon\t301\t600\t.\t+\t.\tParent=g1.t1
chr\tAUGUSTUS\tstop_codon\t598\t600\t.\t+\t0\tParent=g1.t1
# protein sequence = [MKV]
# end gene g1
"""


def test_augustus_gff3_is_read_as_it_is(tmp_path):
    pred = tmp_path / "augustus.gff3"
    pred.write_text(AUGUSTUS_GFF3)
    report = evaluate_files(pred, gff(tmp_path, "ref.gff3", [("+", [(101, 200), (301, 600)])]))
    assert all(report.scores[lv].f1 == 1.0 for lv in LEVELS) and not report.warnings


def _baselines():
    """benchmarks/ is a folder of scripts, not a package: load baselines.py by path (once)."""
    name = "genefinder_benchmarks_baselines"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE.parent / "benchmarks" / "baselines.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the file executes
        spec.loader.exec_module(module)
    return sys.modules[name]


PRODIGAL_GFF = """##gff-version  3
# Sequence Data: seqnum=1;seqlen=2000;seqhdr="chr"
chr\tProdigal_v2.6.3\tCDS\t101\t400\t12.3\t+\t0\tID=1_1;partial=00;start_type=ATG;conf=99.9;
chr\tProdigal_v2.6.3\tCDS\t501\t800\t10.1\t-\t0\tID=1_2;partial=00;start_type=GTG;conf=99.9;
"""


def test_prodigal_output_needs_and_gets_a_gene_hierarchy(tmp_path):
    raw, converted = tmp_path / "prodigal.gff", tmp_path / "prodigal.gff3"
    raw.write_text(PRODIGAL_GFF)
    ref = gff(tmp_path, "ref.gff3", REF)
    _baselines().prodigal_to_gff3(raw, converted)
    report = evaluate_files(converted, ref)
    assert report.pred_coding_genes == 2 and rates(report.scores["gene"]) == (2 / 3, 1.0)
    if shutil.which("gt"):  # the conversion is valid GFF3
        assert subprocess.run(["gt", "gff3validator", str(converted)], capture_output=True).returncode == 0


def test_markdown_sections_are_replaced_not_duplicated(tmp_path):
    b = _baselines()
    md = tmp_path / "baselines.md"
    section = "<!-- baselines:{0} -->\n## {0} {1}\n<!-- /baselines:{0} -->\n"
    b.write_markdown(md, "ecoli", section.format("ecoli", "v1"))
    b.write_markdown(md, "worm", section.format("worm", "v1"))
    b.write_markdown(md, "ecoli", section.format("ecoli", "v2"))
    text = md.read_text()
    assert text.startswith(b.HEADER) and text.count("<!-- baselines:ecoli -->") == 1
    assert "ecoli v2" in text and "ecoli v1" not in text and text.index("ecoli v2") < text.index("worm v1")


# ------------------------------------------------------------------------------------------- real data

def test_ecoli_refseq_against_itself_is_perfect():
    _, annotation = genome("ecoli_k12_mg1655")
    report = evaluate_files(annotation, annotation)
    assert all(report.scores[lv].f1 == 1.0 for lv in LEVELS)
    # 4,494 `gene` rows - 206 RNA genes = 4,288 coding genes; the 145 `pseudogene` rows are left out
    assert report.scores["gene"].n_ref == report.scores["stop"].n_ref == 4288
    assert report.ref_pseudogenes == 145 and report.ref_noncoding_genes == 206
    assert report.scores["exon"].n_ref == 4301  # + alternative-start transcripts and the prfB frameshift


@pytest.mark.skipif(not shutil.which("prodigal"), reason="Debian prodigal not installed (apt-get install prodigal)")
def test_prodigal_on_a_real_slice_scores_like_prodigal(tmp_path):
    b = _baselines()
    fasta, ref = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 300_000)
    work = tmp_path / "work"
    work.mkdir()
    g = b.decompress_fasta(fasta, work / "genome.fa")
    run = b.run_prodigal(g, 11, work)
    assert g.length == 300_000 and not run.note
    report = evaluate_files(work / "prodigal.gff3", ref, Region("NC_000913.3", 1, 300_000))
    assert report.scores["stop"].f1 > 0.9 and report.scores["gene"].f1 > 0.8
