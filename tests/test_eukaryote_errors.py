"""genefinder errors --eukaryote: each kind of mistake lands in its class, on real spliced genes of both strands
(the RefSeq models of a human chr16 fragment: 8 coding genes, 3 with several transcripts, 1 non-coding)."""

from dataclasses import replace

import pytest

from genefinder.cli import main
from genefinder.evaluation.eukaryote_errors import TABLES, analyse, render
from genefinder.evaluation.evaluation import Region
from genefinder.formats.features import CDSPart
from genefinder.formats.gff3 import read_gff3, write_gff3

from real_data import genome


@pytest.fixture(scope="module")
def human():
    genes, report = read_gff3(genome("hsapiens_chr16_fragment")[1])
    assert report.pseudogenes == []  # the false-gene tests rely on it
    return {g.id: g for g in genes}


def _coding(genes):
    return [g for g in genes.values() if any(t.cds for t in g.transcripts)]


def _chain(g):
    (t,) = g.transcripts
    return [(c.start, c.end) for c in t.cds]


def _with_chain(g, chain, **changes):
    t = g.transcripts[0]
    return replace(g, transcripts=(replace(t, exons=(), cds=tuple(CDSPart(s, e, 0) for s, e in chain)),), **changes)


def _errors(result, heading):
    return {k: v for k, v in result[heading].items() if k != "correct"}


def _all_correct(result, n_ref_genes):
    assert all(set(result[h]) == {"correct"} for h in TABLES)
    assert result["reference genes"]["correct"] == n_ref_genes


def test_reference_against_itself_is_all_correct(human):
    ref = list(human.values())
    _all_correct(analyse(ref, ref), 8)  # locus9 (non-coding) left out; several transcripts count once
    worms, _ = read_gff3(genome("celegans_smallgenes")[1])
    _all_correct(analyse(worms, worms), sum(any(t.cds for t in g.transcripts) for g in worms))


def test_a_gene_is_correct_when_any_of_its_transcripts_is(human):
    locus3 = human["locus3"]
    one = replace(locus3, transcripts=locus3.transcripts[:1])
    result = analyse([one if g is locus3 else g for g in human.values()], list(human.values()))
    assert result["reference genes"] == {"correct": 8} and result["predicted genes"] == {"correct": 8}
    assert _errors(result, "predicted CDS segments") == {}


def _move_end(chain, strand, which):
    """`chain` with one end moved 3 nt into its segment: the start codon or donor of the first CDS piece, the
    acceptor of the second, the stop codon of the last."""
    order = list(range(len(chain))) if strand == "+" else list(range(len(chain)))[::-1]
    piece = {"start": order[0], "donor": order[0], "acceptor": order[1], "stop": order[-1]}[which]
    s, e = chain[piece]
    assert e - s > 6
    five_end = which in ("start", "acceptor")
    if (strand == "+") == five_end:
        s += 3
    else:
        e -= 3
    return chain[:piece] + [(s, e)] + chain[piece + 1:]


@pytest.mark.parametrize("which", ["start", "acceptor", "donor", "stop"])
@pytest.mark.parametrize("gene_id", ["locus4", "locus7"])  # on '+' and on '-'
def test_one_end_moved_is_named_on_the_genes_strand(human, gene_id, which):
    g = human[gene_id]
    moved = _with_chain(g, _move_end(_chain(g), g.strand, which))
    result = analyse([moved if x is g else x for x in human.values()], list(human.values()))
    for heading in ("reference CDS segments", "predicted CDS segments"):
        assert _errors(result, heading) == {f"wrong {which}": 1}
    assert _errors(result, "reference genes") == {"structure wrong": 1}
    assert _errors(result, "predicted genes") == {"structure wrong": 1}


def test_both_ends_moved(human):
    g = human["locus4"]
    (s, e), *rest = _chain(g)
    result = analyse([_with_chain(g, [(s + 3, e - 3), *rest])], [g])
    assert _errors(result, "reference CDS segments") == {"both ends wrong": 1}


def test_a_dropped_exon_is_missed(human):
    g = human["locus8"]
    chain = _chain(g)
    result = analyse([_with_chain(g, chain[:5] + chain[6:]) if x is g else x for x in human.values()],
                     list(human.values()))
    assert _errors(result, "reference CDS segments") == {"missed": 1}
    assert _errors(result, "predicted CDS segments") == {}
    assert _errors(result, "reference genes") == {"structure wrong": 1}


def test_an_intron_added_inside_an_exon(human):
    g = human["locus4"]
    (s, e), *rest = _chain(g)
    result = analyse([_with_chain(g, [(s, s + 20), (s + 40, e), *rest])], [g])
    assert _errors(result, "reference CDS segments") == {"each end right, in different segments": 1}
    assert _errors(result, "predicted CDS segments") == {"wrong donor": 1, "wrong acceptor": 1}


@pytest.mark.parametrize("pair", [("locus4", "locus5"), ("locus7", "locus8")])  # neighbours on '+', on '-'
def test_two_neighbours_in_one_prediction_are_merged(human, pair):
    a, b = (human[i] for i in pair)
    merged = _with_chain(a, _chain(a) + _chain(b))
    result = analyse([merged] + [g for g in human.values() if g not in (a, b)], list(human.values()))
    assert result["reference genes"] == {"correct": 6, "merged": 2}
    assert result["predicted genes"] == {"correct": 6, "merges reference genes": 1}
    assert all(set(result[h]) == {"correct"} for h in ("reference CDS segments", "predicted CDS segments"))


def test_one_gene_in_two_predictions_is_split(human):
    g = human["locus8"]
    chain = _chain(g)
    pieces = [_with_chain(g, chain[:6]), _with_chain(g, chain[6:])]
    result = analyse([x for x in human.values() if x is not g] + pieces, list(human.values()))
    assert result["reference genes"] == {"correct": 7, "split": 1}
    assert result["predicted genes"] == {"correct": 7, "piece of a split gene": 2}
    assert _errors(result, "reference CDS segments") == {}


def test_a_missing_gene_is_missed(human):
    result = analyse([g for g in human.values() if g.id != "locus7"], list(human.values()))
    assert _errors(result, "reference genes") == {"missed": 1}
    assert _errors(result, "reference CDS segments") == {"missed": len(_chain(human["locus7"]))}


def test_false_genes_by_what_they_overlap(human):
    ref = list(human.values())
    g = human["locus4"]  # 93,643..96,040 on '+'; nothing is annotated in 165,714..180,420
    far = _with_chain(g, [(s + 76_000, e + 76_000) for s, e in _chain(g)])
    shadow = _with_chain(g, _chain(g), strand="-")
    result = analyse(ref + [far, shadow], ref)
    assert _errors(result, "predicted genes") == {"false: intergenic": 1, "false: opposite strand": 1}
    assert _errors(result, "predicted CDS segments") == {"false": 2 * len(_chain(g))}
    assert _errors(result, "reference genes") == {}
    decayed = [(g.seqid, far.start + 10, far.start + 20)]
    assert _errors(analyse(ref + [far], ref, decayed), "predicted genes") == {"false: in a reference pseudogene": 1}
    elsewhere = [("other", far.start, far.end)]
    assert _errors(analyse(ref + [far], ref, elsewhere), "predicted genes") == {"false: intergenic": 1}


def test_region_keeps_what_lies_wholly_inside(human):
    ref = list(human.values())
    g = human["locus4"]
    region = Region(g.seqid, 93_000, 101_000)  # locus4 and locus5
    result = analyse(ref, ref, region=region)
    assert result["reference genes"] == {"correct": 2}
    assert result["reference CDS segments"] == {"correct": len(_chain(g)) + len(_chain(human["locus5"]))}


def test_render_lists_every_class_with_its_share(human):
    ref = list(human.values())
    text = render("x", analyse(ref[1:], ref))
    assert text.startswith("### x\n")
    for heading, classes in TABLES.items():
        assert f"| {heading} | n | share |" in text
        assert all(f"| {k} |" in text for k in classes)
    assert "| missed | 1 | 12.5% |" in text  # one of 8 reference genes


def test_cli_errors_eukaryote(human, tmp_path, capsys):
    ref_genes = list(human.values())
    g = human["locus7"]
    lengths = {g.seqid: 210_155}
    paths = {}
    for name, genes in (("ref", ref_genes), ("pred", [x for x in ref_genes if x is not g])):
        paths[name] = tmp_path / f"{name}.gff3"
        with open(paths[name], "w") as out:
            write_gff3(out, genes, lengths, eukaryote=True)
    assert main(["errors", "--eukaryote", "--name", "drop", str(paths["pred"]), str(paths["ref"])]) == 0
    text = capsys.readouterr().out
    assert "### drop" in text and "| missed | 1 | 12.5% |" in text
    region = f"--region={g.seqid}:93000-101000"
    assert main(["errors", "--eukaryote", region, str(paths["pred"]), str(paths["ref"])]) == 0
    assert "| correct | 2 | 100.0% |" in capsys.readouterr().out
    assert main(["errors", region, str(paths["pred"]), str(paths["ref"])]) == 2  # --region needs --eukaryote


def test_counts_add_up_to_the_units(human):
    ref = list(human.values())
    result = analyse(ref[2:], ref)
    segments = {(c.start, c.end) for g in _coding(human) for t in g.transcripts for c in t.cds}
    assert sum(result["reference CDS segments"].values()) == len(segments)
    assert sum(result["reference genes"].values()) == 8
