"""benchmarks/heldout_summary.py: each genome's row is paired_bootstrap's on that genome alone, the pooled row
counts every genome's genes once with records of the same name kept apart, and the verdict reads the interval."""

import sys
from pathlib import Path

import pytest

from genefinder.formats.features import CDSPart, Gene, Transcript
from genefinder.formats.gff3 import write_gff3

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import heldout_summary  # noqa: E402
import paired_bootstrap  # noqa: E402

pytestmark = pytest.mark.slow  # a benchmark's report tooling (benchmarks/), not the product


def gene(start: int, end: int, strand: str = "+") -> Gene:
    return Gene(strand, (Transcript("mRNA", cds=(CDSPart(start, end, 0),)),), seqid="chr")


REF = [gene(1000 * i + 1, 1000 * i + 900, "+" if i % 2 else "-") for i in range(40)]


def write(path: Path, genes: list[Gene]) -> str:
    with open(path, "w") as fh:
        write_gff3(fh, genes, {"chr": 50_000}, eukaryote=False)
    return str(path)


def test_rows_pool_and_verdicts(tmp_path, capsys):
    one_a, one_b = REF[:38], REF[:30]  # genome 1: A finds 8 more genes than B
    two_a, two_b = REF[:20], REF[:20]  # genome 2 (same seqid "chr"): identical predictions
    args = ["--names", "A", "B", "--block", "1000", "--samples", "300", "--out-md", str(tmp_path / "s.md")]
    for name, a, b in (("one", one_a, one_b), ("two", two_a, two_b)):
        ref = write(tmp_path / f"{name}_ref.gff3", REF)
        args += ["--genome", name, ref, write(tmp_path / f"{name}_a.gff3", a), write(tmp_path / f"{name}_b.gff3", b)]
    assert heldout_summary.main(args) == 0
    text = (tmp_path / "s.md").read_text()
    lines = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    alone = {d.level: d for d in paired_bootstrap.paired_bootstrap(REF, one_a, one_b, 1000, 300)}
    assert f"{alone['gene'].f1_a:.4f} / {alone['gene'].f1_b:.4f}" in lines["one"] and "**above**" in lines["one"]
    assert "+0.0000 (+0.0000 .. +0.0000), **level**" in lines["two"]
    assert lines["all 2 pooled"].split(" | ")[1] == "80"  # 40 reference genes per genome: the two "chr"s not merged
    assert f"| {2 * 58 / (80 + 58):.4f} / " in lines["all 2 pooled"]  # A: 38 + 20 of 80, 58 predicted
    assert capsys.readouterr().out == text


def test_a_name_twice_is_refused(tmp_path, capsys):
    ref = write(tmp_path / "ref.gff3", REF)
    try:
        heldout_summary.main(["--genome", "x", ref, ref, ref, "--genome", "x", ref, ref, ref])
    except SystemExit as exit_:
        assert exit_.code == 2 and "own NAME" in capsys.readouterr().err
    else:
        raise AssertionError("a repeated NAME was accepted")
