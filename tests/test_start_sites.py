"""The start-site scorer and its fitting (`genefinder fit-starts`), then ORF decoding end to end through the CLI."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from genefinder.configuration_genefinder import GeneFinderConfig
from genefinder.datasets_scripts.build_dataset import GenomeSource
from genefinder.decoding.genetic_code import GeneticCode
from genefinder.decoding.orfs import open_reading_frames
from genefinder.decoding.strands import Strand, record_strands
from genefinder.formats.fasta import FastaFile
from genefinder.formats.gff3 import read_gff3
from genefinder.modeling_genefinder import GeneFinderForConditionalGeneration
from genefinder.prokaryotes.self_training import refit_start_scorer
from genefinder.prokaryotes.start_site_training import accuracy, genome_examples
from genefinder.prokaryotes.start_sites import StartExamples, StartSiteScorer, fit, fit_detectors, strand_examples
from genefinder.tokenization_gff import GFFTokenizer
from real_data import write_slice


def test_the_score_at_p_reads_the_dna_around_a_codon_at_p():
    scorer = StartSiteScorer(upstream=2, downstream=1)  # reads [p - 2, p + 4)
    with torch.no_grad():
        scorer.filter.weight.zero_()
        scorer.filter.weight[0, 2, 0] = 10.0  # G two bases before the codon
        scorer.filter.weight[0, 0, 2] = 1.0  # A as the codon's first base
        scorer.filter.weight[0, 3, 5] = 100.0  # T right after the codon
    scores = scorer.score("GCATGT")
    assert scores.tolist() == [100.0, 0.0, 111.0, 0.0, 0.0, 0.0]  # at 0 only the T three bases on counts
    assert scorer.score("NNATGT").tolist()[2] == 101.0  # unknown bases add nothing


@pytest.mark.parametrize("detectors", [0, 3])
def test_scores_at_chosen_positions_equal_the_convolution_there(detectors):
    """ORF decoding scores only start codons, by table lookup instead of the convolution (and the detectors
    in chunks): the same numbers; and the contexts the scorer is fitted on give the same numbers too."""
    torch.manual_seed(0)
    scorer = StartSiteScorer(upstream=12, downstream=5, motif_lengths=(4, 6), detectors=detectors, detector_width=5)
    for weight in scorer.parameters():
        torch.nn.init.normal_(weight)
    seq = "NNaggaggTTATGCCGnrTAAGGAGGTGAATGTTGuGGCCGGAGGN" * 2
    at = np.array([0, 1, 10, 30, 50, len(seq) - 3, len(seq) - 1])
    full = scorer.score(seq)
    assert np.allclose(scorer.score(seq, at), full[at], atol=1e-5)
    assert np.allclose(scorer.score(seq, at, chunk=3), full[at], atol=1e-5)
    assert scorer.score(seq, at[:0]).shape == (0,)
    a, e = open_reading_frames(seq, GeneticCode(11), 6)
    ends = np.unique(e)
    genes = [(int(a[e == end][0]), int(end)) for end in ends]  # each ORF's first start codon as the true one
    examples = strand_examples(Strand(seq, GeneticCode(11), 6), genes, {"all": (0, len(seq))}, scorer)["all"]
    starts = a[np.isin(e, ends)]  # every candidate of those ORFs, in the examples' order
    assert len(starts) >= 3 and examples.contexts.shape == (len(starts), 6, scorer.span)
    assert scorer.span == 20 + 2 * (2 if detectors else 0)
    with torch.no_grad():
        assert np.allclose(scorer.context_logits(examples.contexts).numpy(), full[starts], atol=1e-5)


def test_shine_dalgarno_tracks_mark_the_pieces_of_the_binding_site_by_length():
    tracks = StartSiteScorer(8, 0, motif_lengths=(3, 6)).encode("ccAGGAGGuTTTTGGAN")[4:]
    # 3-mers: AGG at 2 and 5, GGA at 3, GAG at 4, GGT at 6 (u reads as T); GGA at 13, just before the N
    assert torch.nonzero(tracks[0]).flatten().tolist() == [2, 3, 4, 5, 6, 13]
    assert torch.nonzero(tracks[1]).flatten().tolist() == [2, 3]  # AGGAGG, GGAGGT; nothing runs past the end
    scorer = StartSiteScorer(upstream=8, downstream=0, motif_lengths=(6,))
    with torch.no_grad():
        scorer.filter.weight.zero_()
        scorer.filter.weight[0, 4, 0] = 5.0  # a 6-mer of the binding site starting 8 nt before the codon
    assert scorer.encode("AGGAGGTTATG").shape == (5, 11)
    assert scorer.score("AGGAGGTTATG").tolist()[8] == 5.0 and scorer.score("AGGTGGTTATG").tolist()[8] == 0.0
    with pytest.raises(ValueError, match="motif lengths must be 1-11 nt"):
        StartSiteScorer(8, 0, motif_lengths=(12,))
    with pytest.raises(ValueError, match="start_site_motifs"):
        GeneFinderConfig(start_site_motifs=[4])  # tracks without a context


@pytest.fixture(scope="module")
def ecoli_slice(tmp_path_factory):
    return write_slice(tmp_path_factory.mktemp("ecoli"), "ecoli_k12_mg1655", "NC_000913.3", 600_000)


@pytest.mark.slow
def test_fitted_on_train_blocks_it_places_held_out_starts_better_than_the_longest_orf(ecoli_slice):
    fa, gff = ecoli_slice
    source, code = GenomeSource(str(fa), str(gff), "ecoli"), GeneticCode(11)
    examples = genome_examples(source, code, 60, StartSiteScorer(30, 12))
    train = StartExamples.concat(examples["train"])
    held_out = StartExamples.concat(examples["validation"] + examples["test"])
    assert train.n_orfs > 400 and held_out.n_orfs > 80 and int(held_out.true.sum()) == held_out.n_orfs
    assert held_out.contexts.shape[1:] == (4, 45)
    scorer = StartSiteScorer(30, 12)
    with torch.no_grad():
        scorer.filter.weight.zero_()
    sizes = torch.bincount(held_out.group)
    # a constant scorer places only the starts of ORFs with a single candidate (ties are misses)
    assert accuracy(scorer, held_out)[0] == pytest.approx(float((sizes == 1).float().mean()))
    fit(scorer, train)
    acc, longest = accuracy(scorer, held_out)
    # alone it is a modest start model (ORF decoding adds the coding-frame head's evidence): on 109 held-out
    # ORFs it places 73% of starts against the longest-ORF rule's 70%
    assert acc > longest + 0.02, (acc, longest)


@pytest.mark.slow
def test_motif_detectors_fit_deterministically_and_the_refit_moves_only_the_linear_filter(ecoli_slice):
    fa, gff = ecoli_slice
    shape = StartSiteScorer(30, 12, (4, 5, 6), detectors=4)
    examples = genome_examples(GenomeSource(str(fa), str(gff), "ecoli"), GeneticCode(11), 60, shape)
    train = StartExamples.concat(examples["train"])
    fitted = []
    for _ in range(2):
        scorer = shape.blank()
        linear_loss = fit(scorer, train)
        loss = fit_detectors(scorer, train, epochs=5)
        fitted.append(scorer)
    assert all(torch.equal(a, b) for a, b in zip(fitted[0].state_dict().values(), fitted[1].state_dict().values()))
    with torch.no_grad():
        detected = fitted[0].detector_part(train.contexts)
    assert detected.abs().max() > 0 and loss < linear_loss * 1.05, (loss, linear_loss)
    seq = FastaFile(fa).fetch("NC_000913.3", 0, 600_000)
    genes = [g for g in read_gff3(gff)[0] if any(t.cds for t in g.transcripts)]
    refit = refit_start_scorer(fitted[0], [(record_strands(seq, GeneticCode(11), 60), genes)], l2=1e-3)
    assert refit is not fitted[0] and not torch.equal(refit.filter.weight, fitted[0].filter.weight)
    for name in ("detectors.weight", "detectors.bias", "detector_filter.weight"):
        assert torch.equal(refit.state_dict()[name], fitted[0].state_dict()[name])


@pytest.fixture(scope="module")
def model_with_parts(tmp_path_factory, ecoli_slice):
    """A tiny model with a coding-frame head that reads every base as coding in every frame (so ORF decoding
    calls the long ORFs), then `genefinder fit-starts` on it."""
    torch.manual_seed(0)
    cfg = GeneFinderConfig(encoder_config={"encoder_type": "aido", "hidden_size": 32, "num_hidden_layers": 1,
                                           "num_attention_heads": 2, "intermediate_size": 64},
                           d_model=32, decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64,
                           coding_frame_loss_coef=1.0)
    root = tmp_path_factory.mktemp("fit")
    model = GeneFinderForConditionalGeneration(cfg)
    with torch.no_grad():
        model.coding_head.bias.copy_(torch.tensor([0.0, 2, 2, 2, 2, 2, 2]))
    model.save_pretrained(root / "plain")
    GFFTokenizer().save_pretrained(root / "plain")
    fa, gff = ecoli_slice
    res = genefinder("fit-starts", root / "plain", "--fasta", fa, "--gff", gff, "--out", root / "fitted")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "validation ORFs" in res.stdout and "start accuracy" in res.stdout
    return root


def genefinder(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "genefinder.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


@pytest.mark.slow
def test_fit_starts_without_genes_to_learn_from_is_a_one_line_error(tmp_path, model_with_parts):
    fa = tmp_path / "g.fa"
    fa.write_text(">chr\n" + "ACGT" * 500 + "\n")
    gff = tmp_path / "g.gff3"
    gff.write_text("##gff-version 3\n")
    res = genefinder("fit-starts", model_with_parts / "plain", "--fasta", fa, "--gff", gff, "--out", tmp_path / "o")
    assert res.returncode == 2 and "Traceback" not in res.stderr and not (tmp_path / "o").exists()
    last = res.stderr.splitlines()[-1]
    assert last.startswith(f"genefinder: error: {gff}: no complete reference gene"), last


@pytest.mark.slow
def test_fit_starts_writes_a_model_that_loads_with_its_scorer(model_with_parts):
    model = GeneFinderForConditionalGeneration.from_pretrained(model_with_parts / "fitted")
    assert model.config.start_site_context == [50, 20] and model.start_scorer.filter.weight.abs().sum() > 0
    assert model.config.start_site_motifs == [4, 5, 6] and model.start_scorer.filter.weight.shape == (1, 7, 73)
    assert GeneFinderForConditionalGeneration.from_pretrained(model_with_parts / "plain").start_scorer is None
    again = genefinder("fit-starts", model_with_parts / "plain", "--fasta", "x.fa", "--gff", "x.gff3",
                       "--out", model_with_parts / "fitted")
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "output folder exists" in again.stderr
    negative = genefinder("fit-starts", model_with_parts / "plain", "--fasta", "x.fa", "--gff", "x.gff3",
                          "--out", model_with_parts / "never", "--context", "-1", "3")
    assert negative.returncode == 2 and negative.stderr.strip() == \
        "genefinder: error: --context must be >= 0 nt each side, got -1 3"
    too_long = genefinder("fit-starts", model_with_parts / "plain", "--fasta", "x.fa", "--gff", "x.gff3",
                          "--out", model_with_parts / "never", "--motifs", "4", "12")
    assert too_long.returncode == 2 and too_long.stderr.strip() == \
        "genefinder: error: --motifs: Shine-Dalgarno motif lengths must be 1-11 nt, got [4, 12]"


@pytest.mark.slow
def test_annotate_decodes_orfs_resumes_and_refuses_orf_decoding_without_a_scorer(tmp_path, model_with_parts):
    fa, _ = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 9000)
    common = ["--set", "window=2048", "--set", "overlap=512", "--device", "cpu"]
    out = tmp_path / "a.gff3"
    res = genefinder("annotate", fa, "-o", out, "--model", model_with_parts / "fitted", *common, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "annotate (orf" in res.stderr  # auto picked ORF decoding
    assert "self-training on" in res.stderr  # after the network-free passes that fit the input's hexamer statistics
    genes, _ = read_gff3(out)
    assert genes and all(len(g.transcripts[0].cds) == 1 and 1 <= g.start <= g.end <= 9000 for g in genes)
    # an interrupted run (its partial file emptied) resumes to the same bytes
    first = out.read_text()
    out.unlink()
    (tmp_path / "a.gff3.partial.0.jsonl").write_text("")
    res = genefinder("annotate", fa, "-o", out, "--model", model_with_parts / "fitted", "--resume", *common,
                     cwd=tmp_path)
    assert res.returncode == 0 and out.read_text() == first
    res = genefinder("annotate", fa, "-o", tmp_path / "b.gff3", "--model", model_with_parts / "fitted",
                     "--set", "head_weight=-1", *common, cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.strip() == "genefinder: error: `head_weight` must be >= 0, got -1.0"
    res = genefinder("annotate", fa, "-o", tmp_path / "b.gff3", "--model", model_with_parts / "fitted",
                     "--set", "upstream_prior=-0.1", *common, cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.strip() == \
        "genefinder: error: `upstream_prior` must be >= 0, got -0.1"
    res = genefinder("annotate", fa, "-o", tmp_path / "b.gff3", "--model", model_with_parts / "fitted",
                     "--set", "self_training_rounds=0", *common, cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.strip() == \
        "genefinder: error: `self_training_rounds` must be >= 1, got 0"
    res = genefinder("annotate", fa, "-o", tmp_path / "b.gff3", "--model", model_with_parts / "fitted",
                     "--set", "self_training_min_length=-1", *common, cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.strip() == \
        "genefinder: error: `self_training_min_length` must be >= 0 nt, got -1"
    # without self-training, and with the network's coding-frame head: no first pass, the same kind of output
    res = genefinder("annotate", fa, "-o", tmp_path / "s.gff3", "--model", model_with_parts / "fitted",
                     "--set", "hexamer_weight=0", "--set", "refit_starts=false", "--set", "head_weight=0.1",
                     *common, cwd=tmp_path)
    assert res.returncode == 0 and "self-training" not in res.stderr, res.stderr[-2000:]
    assert all(len(g.transcripts[0].cds) == 1 for g in read_gff3(tmp_path / "s.gff3")[0])
    res = genefinder("annotate", fa, "-o", tmp_path / "b.gff3", "--model", model_with_parts / "plain",
                     "--set", "decoding=orf", *common, cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.splitlines()[-1].startswith("genefinder: error: ORF decoding needs") and "fit-starts" in res.stderr
    assert not (tmp_path / "b.gff3").exists()


@pytest.mark.slow
def test_fit_starts_with_motif_detectors_and_annotate_reads_them(tmp_path, model_with_parts, ecoli_slice):
    fa, gff = ecoli_slice
    even = genefinder("fit-starts", model_with_parts / "plain", "--fasta", fa, "--gff", gff, "--out", tmp_path / "x",
                      "--detectors", "2", "--detector-width", "4")
    assert even.returncode == 2 and even.stderr.strip() == \
        "genefinder: error: --detectors must be >= 0 and --detector-width odd, got 2 and 4"
    res = genefinder("fit-starts", model_with_parts / "plain", "--fasta", fa, "--gff", gff, "--out", tmp_path / "d",
                     "--context", "30", "12", "--detectors", "2", "--detector-width", "5")
    assert res.returncode == 0, res.stderr[-2000:]
    model = GeneFinderForConditionalGeneration.from_pretrained(tmp_path / "d")
    assert model.config.start_site_detectors == [2, 5] and model.start_scorer.detectors.weight.shape == (2, 7, 5)
    assert model.start_scorer.detector_filter.weight.abs().sum() > 0  # fitted, not the zeros it starts from
    small, _ = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 9000)
    res = genefinder("annotate", small, "-o", tmp_path / "a.gff3", "--model", tmp_path / "d", "--device", "cpu",
                     cwd=tmp_path)
    assert res.returncode == 0 and "self-training on" in res.stderr, res.stderr[-2000:]
    assert all(len(g.transcripts[0].cds) == 1 for g in read_gff3(tmp_path / "a.gff3")[0])


@pytest.mark.slow
def test_each_start_refit_round_decodes_with_the_last_refit_and_pulls_towards_the_model_scorer(
        monkeypatch, model_with_parts, ecoli_slice):
    from genefinder.annotation import annotation
    from genefinder.processing_genefinder import GeneFinderInputs

    model = GeneFinderForConditionalGeneration.from_pretrained(model_with_parts / "fitted")
    seq = FastaFile(ecoli_slice[0]).fetch("NC_000913.3", 0, 60_000)
    rounds = []

    def recording_refit(prior, records, *args):
        records = list(records)  # decoded now, with the annotator's scorer of this moment
        rounds.append((prior, annotator.start_scorer, records))
        return refit_start_scorer(prior, records, *args)

    monkeypatch.setattr(annotation, "refit_start_scorer", recording_refit)
    settings = annotation.AnnotationSettings(decoding="orf", start_refit_rounds=3)
    annotator = annotation.GeneFinderAnnotator(model, GFFTokenizer(), GeneFinderInputs("aido"), settings)
    annotator.self_train(lambda: [seq])
    assert len(rounds) == 3 and all(prior is model.start_scorer for prior, _, _ in rounds)
    assert rounds[0][1] is model.start_scorer and rounds[1][1] is not model.start_scorer
    assert rounds[2][1] is not rounds[1][1]

    def spans(records):
        return [[(g.strand, g.start, g.end) for g in genes] for _, genes in records]

    # a round that calls the very genes the last refit was fitted on ends the refits and keeps that refit (the
    # refit would give it again); any other round's refit replaces it
    settled = spans(rounds[2][2]) == spans(rounds[1][2])
    assert (annotator.start_scorer is rounds[2][1]) == settled
    assert all(genes for _, _, records in rounds for _, genes in records)
    with pytest.raises(ValueError, match="`start_refit_rounds` must be >= 1, got 0"):
        annotation.AnnotationSettings(start_refit_rounds=0)


@pytest.mark.slow
def test_passes_over_a_record_read_its_strands_once_and_decode_as_fresh_strands_would(
        monkeypatch, model_with_parts, ecoli_slice):
    from genefinder.annotation import annotation
    from genefinder.processing_genefinder import GeneFinderInputs

    model = GeneFinderForConditionalGeneration.from_pretrained(model_with_parts / "fitted")
    seq = FastaFile(ecoli_slice[0]).fetch("NC_000913.3", 0, 60_000)
    reads = []
    monkeypatch.setattr(annotation, "record_strands", lambda *a: reads.append(a) or record_strands(*a))
    settings = annotation.AnnotationSettings(decoding="orf", start_refit_rounds=2)
    genes = []
    for cap in (annotation.MAX_CACHED_NT, 0):  # kept between passes, or read anew by each (over the cap)
        monkeypatch.setattr(annotation, "MAX_CACHED_NT", cap)
        annotator = annotation.GeneFinderAnnotator(model, GFFTokenizer(), GeneFinderInputs("aido"), settings)
        annotator.self_train(lambda: [seq])
        genes.append(annotator.annotate_record("NC_000913.3", len(seq), lambda s, e: seq[s:e])[0].genes)
    assert len(reads) == 1 + 4  # once; then once per pass: hexamers, two refits, the real one
    assert genes[0] == genes[1] and len(genes[0]) > 20
