"""benchmarks/paired_bootstrap.py: the genome as it is scores as `evaluate` does, identical predictions differ by
nothing in every sample, a prediction that finds more of the same genes is ahead in every sample, and bad
arguments or files that share no seqid get one line."""

import subprocess
import sys
from pathlib import Path

import pytest

from genefinder.evaluation.evaluation import evaluate
from genefinder.formats.features import CDSPart, Gene, Transcript

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "paired_bootstrap.py"
sys.path.insert(0, str(SCRIPT.parent))
import paired_bootstrap as bootstrap  # noqa: E402

pytestmark = pytest.mark.slow  # a benchmark's statistics tooling (benchmarks/), not the product


def gene(start: int, end: int, strand: str = "+", seqid: str = "chr") -> Gene:
    return Gene(strand, (Transcript("mRNA", cds=(CDSPart(start, end, 0),)),), seqid=seqid)


# 40 reference genes, 1 kb apart over 40 kb, on two records
REF = [gene(1000 * i + 1, 1000 * i + 900, "+" if i % 2 else "-", "chr" if i < 20 else "plasmid") for i in range(40)]


def test_the_genome_as_it_is_scores_as_evaluate_does():
    # A: 30 exact, 5 with a wrong start (stop right), 2 false; B: 25 exact, 10 wrong starts, 6 false. A block
    # per gene (46): only a draw missing all 9 blocks where their gene level differs (~5e-5 a sample) ties
    def with_start_off(g, by):  # the 5' end moved, the 3' end kept
        lo, hi = g.start, g.end
        return gene(lo + by, hi, g.strand, g.seqid) if g.strand == "+" else gene(lo, hi - by, g.strand, g.seqid)

    false = [gene(50_000 + 1000 * i, 50_300 + 1000 * i) for i in range(6)]
    a = REF[:30] + [with_start_off(g, 30) for g in REF[30:35]] + false[:2]
    b = REF[:25] + [with_start_off(g, 30) for g in REF[25:35]] + false
    rows = {d.level: d for d in bootstrap.paired_bootstrap(REF, a, b, block=1000, samples=200)}
    for level in ("gene", "stop"):
        assert rows[level].f1_a == pytest.approx(evaluate(a, REF)[level].f1)
        assert rows[level].f1_b == pytest.approx(evaluate(b, REF)[level].f1)
    assert rows["gene"].difference > rows["stop"].difference > 0  # B's extra wrong starts cost it genes, not stops
    assert 0 < rows["gene"].low <= rows["gene"].difference <= rows["gene"].high and rows["gene"].a_at_least_b == 1


def test_identical_predictions_differ_by_nothing():
    a = REF[:33] + [gene(60_001, 60_300)]
    for d in bootstrap.paired_bootstrap(REF, a, list(a), block=3000, samples=100, seed=1):
        assert d.f1_a == d.f1_b and d.low == d.high == 0 and d.a_at_least_b == 1


def test_bad_arguments_get_one_line(tmp_path):
    missing = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "no.gff3"), "a", "b"],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "not found" in missing.stderr
    zero = subprocess.run([sys.executable, str(SCRIPT), "r", "a", "b", "--samples", "0"], capture_output=True,
                          text=True)
    assert zero.returncode == 2 and "--samples must be >= 1" in zero.stderr
    row = "{}\tt\tgene\t1\t900\t.\t+\t.\tID=g\n{}\tt\tCDS\t1\t900\t.\t+\t0\tParent=g\n"
    for name, seqid in (("ref", "chr"), ("a", "chr"), ("b", "contig_1")):
        (tmp_path / f"{name}.gff3").write_text("##gff-version 3\n" + row.format(seqid, seqid))
    apart = subprocess.run([sys.executable, str(SCRIPT), *(str(tmp_path / f"{n}.gff3") for n in ("ref", "a", "b"))],
                           capture_output=True, text=True)
    assert apart.returncode == 2 and apart.stderr.count("\n") == 1 and "no seqid in common" in apart.stderr
    (tmp_path / "empty.gff3").write_text("")
    empty = subprocess.run([sys.executable, str(SCRIPT), *(str(tmp_path / "empty.gff3") for _ in range(3))],
                           capture_output=True, text=True)
    assert empty.returncode == 2 and empty.stderr.splitlines()[-1].endswith("no coding genes to score against")
    assert "Traceback" not in empty.stderr
