"""`--genetic-code auto`: table 4 for a Mycoplasma genome, table 11 for the closest table-11 genome (S. aureus:
AT-rich, few TGA stops), and the CLI annotating exactly as with the chosen table given."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from real_data import write_slice

from genefinder.annotation.annotation import AnnotationSettings
from genefinder.commands.annotate_cli import MIN_DENSITY_NT, load_model
from genefinder.formats.fasta import FastaFile
from genefinder.prokaryotes.genetic_code_choice import AUTO_MARGIN, choose_genetic_code


def _choice(tmp_path, genome, seqid):
    fa, _ = write_slice(tmp_path, genome, seqid, 50_000)
    seq = FastaFile(str(fa)).fetch(seqid, 0, 50_000)
    return choose_genetic_code(load_model(None, "cpu", network_free=True)[0], AnnotationSettings(decoding="orf"),
                               lambda: [seq])


def test_a_mycoplasma_genome_reads_tga_as_tryptophan(tmp_path):
    code, scores = _choice(tmp_path, "mgenitalium_g37", "Chromosome")
    assert code == 4 and scores[4] > 1.5 * scores[11]


def test_an_at_rich_table_11_genome_keeps_table_11(tmp_path):
    code, scores = _choice(tmp_path, "saureus_502a", "Chromosome")
    assert code == 11 and scores[4] < AUTO_MARGIN * scores[11]


def _annotate(*args):
    return subprocess.run([sys.executable, "-m", "genefinder.cli", "annotate", *map(str, args)], capture_output=True,
                          text=True)


@pytest.mark.slow
def test_auto_annotates_as_the_chosen_table_does_and_bad_values_are_one_line(tmp_path):
    fa, _ = write_slice(tmp_path, "mgenitalium_g37", "Chromosome", 60_000)
    auto = _annotate(fa, "-o", tmp_path / "auto.gff3", "--genetic-code", "auto", "--proteins", tmp_path / "auto.faa")
    assert auto.returncode == 0, auto.stderr
    assert "genetic code auto: table 4" in auto.stderr
    given = _annotate(fa, "-o", tmp_path / "four.gff3", "--genetic-code", "4", "--proteins", tmp_path / "four.faa")
    assert given.returncode == 0, given.stderr
    assert (tmp_path / "auto.faa").read_bytes() == (tmp_path / "four.faa").read_bytes()
    auto_lines, four_lines = ((tmp_path / f"{n}.gff3").read_text().splitlines() for n in ("auto", "four"))
    assert [x for x in auto_lines if not x.startswith("#!")] == [x for x in four_lines if not x.startswith("#!")]
    run = next(x for x in auto_lines if x.startswith("#!genefinder-run "))  # the provenance says how
    assert "genetic_code=4 " in run and "chosen by --genetic-code auto" in run
    eukaryote = _annotate(fa, "-o", tmp_path / "e.gff3", "--genetic-code", "auto", "--eukaryote")
    assert eukaryote.returncode == 2 and eukaryote.stderr.count("\n") == 1 and "auto" in eukaryote.stderr
    word = _annotate(fa, "-o", tmp_path / "w.gff3", "--genetic-code", "four")
    assert word.returncode == 2 and "table number or auto" in word.stderr


@pytest.mark.slow
def test_genes_covering_little_under_table_11_get_a_warning(tmp_path):
    """M. genitalium (580 kb) under table 11 is warned; 500 kb of E. coli and the bundled example (200 kb of B.
    subtilis, rRNA-rich: genes cover 73% of it, but it is under MIN_DENSITY_NT) are not."""
    example = Path(__file__).resolve().parents[1] / "examples" / "bsubtilis_best7003_1-200000.fna.gz"
    cases = [(write_slice(tmp_path, "mgenitalium_g37", "Chromosome", 580_000)[0], True),
             (write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", MIN_DENSITY_NT)[0], False), (example, False)]
    for i, (fa, warned) in enumerate(cases):
        res = _annotate(fa, "-o", tmp_path / f"{i}.gff3")
        assert res.returncode == 0, res.stderr
        assert ("try --genetic-code auto" in res.stderr) == warned, res.stderr


@pytest.mark.slow
def test_no_density_warning_once_auto_has_chosen(tmp_path):
    """--genetic-code auto weighed table 4 already, so keeping table 11 on a genome of sparse genes is not warned:
    600 kb of E. coli beside 400 kb of random DNA (genes cover well under 75%) is warned under table 11 as given,
    and not once auto has kept 11."""
    ecoli = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 600_000)[0]
    noise = "".join(np.random.default_rng(0).choice(list("ACGT"), 400_000))
    fa = tmp_path / "sparse.fa"
    fa.write_text(ecoli.read_text() + ">noise\n" + "\n".join(noise[i:i + 80] for i in range(0, len(noise), 80)) + "\n")
    given = _annotate(fa, "-o", tmp_path / "given.gff3")
    assert given.returncode == 0 and "try --genetic-code auto" in given.stderr, given.stderr
    auto = _annotate(fa, "-o", tmp_path / "auto.gff3", "--genetic-code", "auto")
    assert auto.returncode == 0 and "genetic code auto: table 11" in auto.stderr, auto.stderr
    assert "warning: genes cover" not in auto.stderr
