"""Self-training: hexamer indexing, the per-ORF sums, and on real DNA that a genome's own statistics tell the
reading frame of unseen genes and lift network-free ORF decoding without any reference."""

import numpy as np
import pytest
import torch

from genefinder.annotation.annotation import AnnotationSettings
from genefinder.decoding.genetic_code import GeneticCode
from genefinder.decoding.orf_decoding import decode_orfs
from genefinder.decoding.strands import Strand, record_strands
from genefinder.evaluation.evaluation import evaluate
from genefinder.formats.fasta import FastaFile
from genefinder.formats.gff3 import read_gff3
from genefinder.prokaryotes.self_training import CodingStatistics, in_frame_positions, refit_start_scorer
from genefinder.prokaryotes.start_sites import StartSiteScorer, ranking, strand_examples
from real_data import write_slice


def hexamer_ids(seq: str) -> np.ndarray:
    return Strand(seq, GeneticCode(11), 60).hexamers


def strands_of(seq: str):
    return record_strands(seq, GeneticCode(11), 60)


def test_hexamer_ids_are_base4_tcag_digits_and_minus_one_over_unknown_bases():
    ids = hexamer_ids("TTTTTTCgNTTTTTT")
    assert ids[0] == 0  # TTTTTT
    assert ids[1] == 1  # TTTTTC: the last digit is C = 1
    assert ids[2] == 4 * 1 + 3  # TTTTCG (lowercase read as G = 3)
    assert (ids[3:9] == -1).all() and ids[9] == 0  # every hexamer holding the N
    assert hexamer_ids("ACGTA").size == 0


def test_in_frame_positions_step_by_codon_from_the_start_to_the_last_sense_codon():
    got = in_frame_positions(np.array([0, 100]), np.array([12, 109]))
    assert got.tolist() == [0, 3, 6, 100, 103]


def test_orf_scores_are_the_sums_over_in_frame_hexamers():
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 500)) + "NNN" + "".join(rng.choice(list("ACGTacgt"), 200))
    stats = CodingStatistics(rng.normal(size=4096), 0)
    starts = rng.integers(0, 600, 50)
    ends = starts + 3 * rng.integers(2, 30, 50)
    ids = hexamer_ids(seq)
    brute = [sum(stats.scores[ids[p]] for p in range(a, e - 5, 3) if ids[p] >= 0) for a, e in zip(starts, ends)]
    np.testing.assert_allclose(stats.orf_scores(ids, starts, ends), brute)


@pytest.fixture(scope="module")
def ecoli_300k(tmp_path_factory):
    fa, gff = write_slice(tmp_path_factory.mktemp("st"), "ecoli_k12_mg1655", "NC_000913.3", 300_000)
    ref = [g for g in read_gff3(gff)[0] if any(t.cds for t in g.transcripts)]
    return FastaFile(fa).fetch("NC_000913.3", 0, 300_000), ref


def test_statistics_from_one_half_tell_the_frame_of_the_other_halfs_genes(ecoli_300k):
    seq, ref = ecoli_300k
    stats = CodingStatistics.fit([(strands_of(seq[:150_000]), [g for g in ref if g.end <= 150_000])])
    unseen = [g for g in ref if g.start > 150_000 and g.strand == "+"]
    a, e = np.array([g.start - 1 for g in unseen]), np.array([g.end for g in unseen])
    ids = hexamer_ids(seq)
    own, shifted = stats.orf_scores(ids, a, e), [stats.orf_scores(ids, a + k, e + k) for k in (1, 2)]
    assert len(unseen) > 50 and np.mean((own > shifted[0]) & (own > shifted[1])) > 0.9


def test_statistics_from_little_dna_stay_near_zero(ecoli_300k):
    seq, ref = ecoli_300k
    small = CodingStatistics.fit([(strands_of(seq[:3_000]), [g for g in ref if g.end <= 3_000])])
    large = CodingStatistics.fit([(strands_of(seq), ref)])
    assert small.n_genes >= 1 and np.abs(small.scores).max() < 0.5 < np.abs(large.scores).max()


def test_self_training_on_the_input_lifts_network_free_decoding(ecoli_300k):
    """No head, no start scorer, no reference: the first pass's own genes teach the second which ORFs code."""
    seq, ref = ecoli_300k
    n = len(seq)
    nothing, flat = np.zeros((n, 7), np.float32), {"+": np.zeros(n), "-": np.zeros(n)}
    settings = AnnotationSettings(head_weight=0, length_prior=0.3, start_weight=0, gene_bias=80, hexamer_weight=1)
    first = decode_orfs(seq, nothing, flat, settings, "NC_000913.3")
    second = decode_orfs(seq, nothing, flat, settings, "NC_000913.3", hexamers=CodingStatistics.fit([(strands_of(seq), first)]))
    before, after = evaluate(first, ref)["stop"].f1, evaluate(second, ref)["stop"].f1
    assert after > before + 0.02, (before, after)


def test_start_refit_learns_the_inputs_starts_and_stays_near_the_model_scorer(ecoli_300k):
    seq, ref = ecoli_300k
    blank = StartSiteScorer(20, 6)  # a scorer with no preference: every start of an ORF equally likely
    learned = refit_start_scorer(blank, [(strands_of(seq), ref)], l2=1e-3)
    assert learned is not blank and learned.filter.weight.abs().sum() > 0
    # it ranks the true start first within its ORF for most forward-strand genes (ties count as misses: 0 before)
    forward = [(g.start - 1, g.end) for g in ref if g.strand == "+"]
    ex = strand_examples(strands_of(seq)[0], forward, {"all": (0, len(seq))}, learned)["all"]
    with torch.no_grad():
        placed = float(ranking(torch.einsum("mck,ck->m", ex.contexts, learned.filter.weight[0]), ex)[1])
    assert ex.n_orfs > 100 and placed > 0.6, placed
    # a strong pull keeps the model's scorer; no called gene keeps it as it is
    pulled = refit_start_scorer(learned, [(strands_of(seq), ref[:20])], l2=1e4)
    assert torch.allclose(pulled.filter.weight, learned.filter.weight, atol=1e-3)
    assert refit_start_scorer(learned, [(strands_of(seq[:1000]), [])], l2=0.01) is learned


def test_start_refits_stop_at_a_scorer_that_refits_to_itself(ecoli_300k, monkeypatch):
    """On 20 kb the called genes settle before the fourth round: the refits stop there, and one more round from
    where they stopped gives the very same scorer, so the rounds skipped would have changed nothing."""
    import genefinder.annotation.annotation as annotation
    from genefinder.commands.annotate_cli import load_model

    seq = ecoli_300k[0][:20_000]
    model = load_model(None, "cpu", network_free=True)[0]
    settings = AnnotationSettings(decoding="orf", min_self_training_nt=0)
    fits = []
    monkeypatch.setattr(annotation, "refit_start_scorer", lambda *a: fits.append(1) or refit_start_scorer(*a))
    annotator = annotation.GeneFinderAnnotator(model, None, None, settings)
    annotator.self_train(lambda: [seq])
    assert 1 < len(fits) < settings.start_refit_rounds
    strands = annotator.strands(seq)
    genes = decode_orfs(seq, None, annotator.start_logits(strands), settings, hexamers=annotator.hexamers,
                        strands=strands)
    again = refit_start_scorer(model.start_scorer, [(strands, genes)], settings.start_refit_l2)
    assert torch.equal(again.filter.weight, annotator.start_scorer.filter.weight)
