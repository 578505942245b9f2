"""genefinder errors: each kind of mistake lands in its class (real B. subtilis genes from the bundled example)."""

from dataclasses import replace
from pathlib import Path

from genefinder.evaluation.error_analysis import analyse, render
from genefinder.formats.features import CDSPart
from genefinder.formats.gff3 import read_gff3

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "bsubtilis_best7003_1-200000.gff3.gz"


def _coding():
    genes, _ = read_gff3(EXAMPLE)
    return [g for g in genes if any(t.cds for t in g.transcripts)]


def _with_cds(g, start, end):
    t = g.transcripts[0]
    return replace(g, transcripts=(replace(t, cds=(CDSPart(start, end, 0),)),))


def test_reference_against_itself_is_all_found():
    ref = _coding()
    result = analyse(ref, ref)
    assert result["reference"] == {"found": len(ref)} and result["predicted"] == {"true": len(ref)}


def test_each_mistake_has_its_class():
    ref = _coding()
    plus = next(g for g in ref if g.strand == "+" and g.end - g.start > 900)
    minus = next(g for g in ref if g.strand == "-")
    c = plus.transcripts[0].cds[0]
    shorter = _with_cds(plus, c.start + 3, c.end)  # start moved downstream: same stop, shorter gene
    shadow = replace(_with_cds(plus, c.start, c.start + 299), strand="-")  # opposite strand inside `plus`
    far = _with_cds(plus, 10**6, 10**6 + 299)  # nowhere near a reference gene
    pred = [g for g in ref if g not in (plus, minus)] + [shorter, shadow, far]
    result = analyse(pred, ref)
    assert result["reference"]["found"] == len(ref) - 2
    assert result["reference"]["wrong start, predicted downstream"] == 1
    assert sum(v for k, v in result["reference"].items() if k.startswith("missed")) == 1
    assert result["predicted"]["wrong start"] == 1
    assert result["predicted"]["false: opposite strand"] == 1
    assert result["predicted"]["false: intergenic, 300-899 nt"] == 1
    assert "| found |" in render("x", result)


def test_a_call_inside_a_reference_pseudogene_is_named_so():
    ref = _coding()
    g = ref[0]
    far = _with_cds(g, 10**6, 10**6 + 299)
    half_in = [(g.seqid, 10**6 + 150, 10**6 + 5000)]  # 150 of its 300 nt
    assert analyse([far], ref, half_in)["predicted"] == {"false: in a reference pseudogene": 1}
    assert analyse([far], ref, [(g.seqid, 10**6 + 151, 10**6 + 5000)])["predicted"] == {
        "false: intergenic, 300-899 nt": 1}
    assert analyse([far], ref, [("elsewhere", 1, 10**7)])["predicted"] == {"false: intergenic, 300-899 nt": 1}
