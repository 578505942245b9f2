"""benchmarks/debian_genomes.py: a GenBank CDS of several parts (a programmed frameshift) is phased in
transcription order, on either strand, from its /codon_start."""

import sys
from pathlib import Path

import pytest

from genefinder.formats.features import CDSPart

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import debian_genomes as debian_genome  # noqa: E402

pytestmark = pytest.mark.slow  # a benchmark's data tooling (benchmarks/), not the product


def test_one_part_is_phase_zero_or_its_codon_start():
    g = debian_genome.cds_model([(10, 309)], "+", 1, "c")
    assert g.transcripts[0].cds == (CDSPart(10, 309, 0),) and g.seqid == "c" and g.strand == "+"
    cut = debian_genome.cds_model([(1, 299)], "+", 3, "c", cut_left=True)
    assert cut.transcripts[0].cds == (CDSPart(1, 299, 2),) and cut.transcripts[0].partial_left


def test_frameshift_parts_are_phased_in_transcription_order():
    # E. coli prfB: 3035184..3036206 (1,023 nt = 341 codons), then 3036208..3036282 read on in frame +1
    plus = debian_genome.cds_model([(3035184, 3036206), (3036208, 3036282)], "+", 1, "c")
    assert plus.transcripts[0].cds == (CDSPart(3035184, 3036206, 0), CDSPart(3036208, 3036282, 0))
    # a first part of 100 nt leaves 1 nt of a codon: the second part owes 2 nt to finish it (phase 2)
    plus = debian_genome.cds_model([(1, 100), (100, 399)], "+", 1, "c")
    assert [c.phase for c in plus.transcripts[0].cds] == [0, 2]
    # on '-' transcription runs from the high part to the low one; parts come out in coordinate order
    minus = debian_genome.cds_model([(500, 599), (100, 399)], "-", 1, "c")
    assert minus.transcripts[0].cds == (CDSPart(100, 399, 2), CDSPart(500, 599, 0))
