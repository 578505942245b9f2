"""The pre-trained coding library: its GC mixing, its file, its counts on real genes, and that a short real input
annotated with it beats self-training on that input alone."""

import os
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from real_data import DATA, genome, write_slice

from genefinder.annotation.annotation import AnnotationSettings, GeneFinderAnnotator
from genefinder.commands.annotate_cli import load_model
from genefinder.datasets_scripts.build_dataset import GenomeSource
from genefinder.decoding.genetic_code import GeneticCode
from genefinder.decoding.strands import N_HEXAMERS
from genefinder.evaluation.evaluation import evaluate
from genefinder.formats.errors import GeneFinderInputError
from genefinder.formats.fasta import FastaFile
from genefinder.formats.gff3 import read_gff3
from genefinder.formats.windows import shift_genes
from genefinder.prokaryotes.coding_library import LIBRARY_FILE, CodingLibrary, gc_content, short_input_gc
from genefinder.prokaryotes.coding_library_training import train_block_records
from genefinder.prokaryotes.self_training import in_frame_positions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def toy_library(gcs=(0.3, 0.5, 0.7), seed=0) -> CodingLibrary:
    rng = np.random.default_rng(seed)
    k = len(gcs)
    return CodingLibrary(tuple(f"g{i}" for i in range(k)), np.array(gcs), rng.integers(0, 50, (k, N_HEXAMERS)),
                         rng.integers(0, 500, (k, N_HEXAMERS)), 11)


def test_gc_mixing_is_linear_between_the_bracketing_genomes_and_nearest_outside():
    lib = toy_library((0.5, 0.3, 0.7))  # not sorted by GC: the weights follow GC, not the order
    np.testing.assert_allclose(lib.weights_at(0.4), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(lib.weights_at(0.65), [0.25, 0.0, 0.75])
    np.testing.assert_allclose(lib.weights_at(0.1), [0.0, 1.0, 0.0])
    np.testing.assert_allclose(lib.weights_at(0.9), [0.0, 0.0, 1.0])
    np.testing.assert_allclose(CodingLibrary(("one",), np.array([0.4]), lib.coding[:1], lib.background[:1], 11)
                               .weights_at(0.6), [1.0])


def test_statistics_at_a_library_genomes_gc_are_its_own_smoothed_log_odds():
    lib = toy_library()
    c, b = lib.coding[1] + 1, lib.background[1] + 1
    np.testing.assert_allclose(lib.statistics_at(0.5).scores, np.log(c / c.sum()) - np.log(b / b.sum()))
    assert lib.without("g1").names == ("g0", "g2")


def test_a_short_inputs_gc_is_read_and_a_long_one_is_not_read_whole():
    def records():
        yield "GGCC" * 10
        yield "AT" * 10
        raise AssertionError("read beyond the limit")

    assert short_input_gc(iter(["GGCC" * 10, "ATNN" * 5]), 100) == pytest.approx(40 / 50)
    assert short_input_gc(records(), 50) is None  # 60 nt reach the limit: the rest is never asked for
    assert short_input_gc(iter([]), 0) is None and short_input_gc(iter([]), 10) == 0.5


def test_the_library_file_round_trips_and_a_damaged_one_is_one_line(tmp_path):
    lib = toy_library()
    assert CodingLibrary.from_folder(str(tmp_path)) is None
    lib.save(str(tmp_path))
    back = CodingLibrary.from_folder(str(tmp_path))
    assert back.names == lib.names and back.genetic_code == 11
    np.testing.assert_array_equal(back.coding, lib.coding)
    np.testing.assert_array_equal(back.background, lib.background)
    np.testing.assert_allclose(back.gc, lib.gc)
    folder = tmp_path / "model"
    shutil.copytree(os.path.join(ROOT, "default_model"), folder, symlinks=True)
    (folder / LIBRARY_FILE).write_bytes(b"not safetensors")
    with pytest.raises(GeneFinderInputError, match="cannot read the coding library") as err:
        load_model(str(folder), "cpu", network_free=True)
    assert LIBRARY_FILE in str(err.value) and "\n" not in str(err.value)


def test_counts_are_every_in_frame_hexamer_of_the_train_blocks_genes_and_both_strands(tmp_path):
    fa, gff = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 60_000)
    code = GeneticCode(11)
    (strands, genes), = train_block_records(GenomeSource(str(fa), str(gff), "ecoli"), code, 60)
    assert len(strands[0]) == 48_000  # the train block: the first 80%
    assert genes and all(g.end <= 48_000 for g in genes)
    lib = CodingLibrary.count([("ecoli", [(strands, genes)])], 11)
    assert lib.background.sum() == 2 * (48_000 - 5)
    cds = [g.transcripts[0].cds[0] for g in genes]
    assert lib.coding.sum() == sum((c.end - c.start + 1 - 3) // 3 for c in cds)
    assert lib.gc[0] == pytest.approx(gc_content([strands[0].seq])[1])
    ids = strands[0].hexamers  # the first + gene's start hexamer is counted
    first = next(c for g, c in zip(genes, cds) if g.strand == "+")
    assert lib.coding[0, ids[in_frame_positions(np.array([first.start - 1]), np.array([first.end]))[0]]] >= 1


def _alone(model, settings, pieces):
    genes = []
    for name, seq in pieces:
        annotator = GeneFinderAnnotator(model, None, None, settings)
        annotator.self_train(lambda: [seq])
        assert annotator.pretrained_statistics == (settings.min_self_training_nt > len(seq))
        genes += [replace(g, seqid=name)
                  for g in annotator.annotate_record(name, len(seq), lambda a, b: seq[a:b])[0].genes]
    return genes


@pytest.mark.slow
def test_short_held_out_inputs_are_annotated_better_with_the_library_than_self_trained(tmp_path):
    """Eight 5-kb pieces of the held-out B. subtilis genome, each annotated as an input of its own: the shipped
    library (training genomes only) against self-training on the 5 kb alone."""
    genome("bsubtilis_best7003")
    fa, gff = write_slice(tmp_path, "bsubtilis_best7003", "Chromosome", 400_000)
    seq = FastaFile(str(fa)).fetch("Chromosome", 0, 400_000)
    ref_all = read_gff3(str(gff))[0]
    pieces, ref = [], []
    for i, start in enumerate(range(0, 400_000, 50_000)):
        name = f"piece{i}"
        pieces.append((name, seq[start:start + 5_000]))
        ref += [replace(g, seqid=name) for g in shift_genes([g for g in ref_all if start < g.start and
                                                             g.end <= start + 5_000], -start)]
    model = load_model(None, "cpu", network_free=True)[0]
    assert model.coding_library is not None and "bsubtilis_best7003" not in model.coding_library.names
    base = AnnotationSettings(decoding="orf")
    assert base.min_self_training_nt > 5_000
    library = evaluate(_alone(model, base, pieces), ref)
    own = evaluate(_alone(model, AnnotationSettings(decoding="orf", min_self_training_nt=0), pieces), ref)
    assert library["gene"].f1 > own["gene"].f1 + 0.03 and library["stop"].f1 > own["stop"].f1


@pytest.mark.slow
def test_fit_coding_library_writes_into_the_folder_once(tmp_path):
    fa, gff = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 60_000)
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(os.path.join(ROOT, "default_model", "config.json"), folder)
    cmd = [sys.executable, "-m", "genefinder.cli", "fit-coding-library", str(folder), "--fasta", str(fa), "--gff",
           str(gff)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert CodingLibrary.from_folder(str(folder)).names == (fa.parent.name,)
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 2 and "--overwrite" in again.stderr and again.stderr.count("\n") == 1
    wrong = subprocess.run(cmd + ["--overwrite", "--genetic-code", "4"], capture_output=True, text=True)
    assert wrong.returncode == 2 and "genetic code 4" in wrong.stderr
    no_genes = tmp_path / "none.gff3"
    no_genes.write_text("##gff-version 3\n")
    before = (folder / LIBRARY_FILE).read_bytes()
    empty = subprocess.run(cmd[:-1] + [str(no_genes), "--overwrite"], capture_output=True, text=True)
    assert empty.returncode == 2 and "no complete single-CDS reference gene" in empty.stderr
    assert empty.stderr.count("\n") == 1 and (folder / LIBRARY_FILE).read_bytes() == before  # left as it was


@pytest.mark.slow
def test_the_shipped_library_is_the_training_genomes_train_blocks():
    lib = CodingLibrary.from_folder(os.path.join(ROOT, "default_model"))
    assert lib.names == ("ecoli_k12_mg1655", "saureus_502a", "ccrescentus_cb15") and lib.genetic_code == 11
    if not (DATA / "ecoli_k12_mg1655").exists():
        pytest.skip("../shared/data not found")
    fa, gff = genome("ecoli_k12_mg1655")
    recount = CodingLibrary.count([("e", train_block_records(GenomeSource(str(fa), str(gff), "e"), GeneticCode(11),
                                                               60))], 11)
    np.testing.assert_array_equal(recount.coding[0], lib.coding[0])
    np.testing.assert_array_equal(recount.background[0], lib.background[0])


@pytest.mark.slow
def test_independent_records_get_the_genes_each_gets_as_a_file_of_its_own(tmp_path):
    """Two 30-kb pieces of different genomes (GC 0.44 and 0.67) in one FASTA: with --independent-records each
    gets exactly the GFF3 rows it gets annotated alone (the library, its own start refit), not what the two
    self-trained on together give."""
    pieces = {}
    for genome, seqid in (("bsubtilis_best7003", "Chromosome"), ("ccrescentus_cb15", "Chromosome")):
        fa, _ = write_slice(tmp_path, genome, seqid, 30_000)
        pieces[genome] = FastaFile(str(fa)).fetch(seqid, 0, 30_000)
    both = tmp_path / "both.fa"
    both.write_text("".join(f">{name}\n{seq}\n" for name, seq in pieces.items()))

    def rows(*args):
        out = tmp_path / "out.gff3"
        res = subprocess.run([sys.executable, "-m", "genefinder.cli", "annotate", *map(str, args), "-o", str(out)],
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        return [line for line in out.read_text().splitlines() if not line.startswith("#")]

    alone = []
    for name, seq in pieces.items():
        single = tmp_path / f"{name}.fa"
        single.write_text(f">{name}\n{seq}\n")
        alone += rows(single)
    assert rows(both, "--independent-records") == alone
    provenance = (tmp_path / "out.gff3").read_text()
    assert "#!genefinder-run decoding=orf genetic_code=11 records=independent" in provenance
    assert rows(both) != alone  # 60 kb together: self-trained on both, as one genome
