"""The context-extension study's pieces: every method is a valid `rope_parameters`, a checkpoint trained with plain
RoPE loads under each (CLEX's missing drift starts as NTK, not as uninitialised memory), and the held-out scorer
predicts the same targets at every context length."""

import sys
from pathlib import Path

import pytest
import torch

from genefinder.models.configuration_encoders import GeneFinderEncoderConfig
from genefinder.models.modeling_genefinder_encoder import GeneFinderForMaskedLM
from genefinder.models.modeling_rope import GeneFinderRotaryEmbedding, validate_rope_parameters
from genefinder.tokenization.processing_encoder import EncoderInputs
from real_data import genome

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments" / "context_extension"))
from downstream import load_with_rope, network_free_reference, score_windows, score_windows_orf  # noqa: E402
from heldout_mlm import HeldoutSet, draw_heldout_set, score  # noqa: E402
from methods import METHODS, longrope_factors, rope_parameters  # noqa: E402

pytestmark = pytest.mark.slow  # the context-extension experiment's scripts (experiments/), not the product

TRAINED = 64
TINY = dict(encoder_type="aido", hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=TRAINED)


@pytest.fixture(scope="module")
def base_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("mlm")
    GeneFinderForMaskedLM(GeneFinderEncoderConfig(**TINY)).save_pretrained(path)
    return path


@pytest.mark.parametrize("method", METHODS)
def test_every_method_is_a_valid_config_and_loads_a_plain_rope_checkpoint(method, base_checkpoint):
    rope = rope_parameters(method, 16.0, TRAINED, 10_000.0, n_freq=8, longrope_shape=2.0)
    validate_rope_parameters(rope)
    model = GeneFinderForMaskedLM.from_pretrained(base_checkpoint, rope_parameters=rope).eval()
    assert model.config.rope_parameters["rope_type"] == rope["rope_type"]
    ids = torch.randint(5, 9, (1, 16 * TRAINED), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(ids).logits
    assert torch.isfinite(logits).all()
    if method == "clex":  # drift g = 0 at the start: CLEX is NTK scaling until it is trained
        assert torch.count_nonzero(model.bert.rotary_emb.clex.down_proj) == 0


def test_longrope_factors_keep_high_frequencies_and_interpolate_low_ones():
    lam = longrope_factors(16.0, 8, 1.0)
    assert lam[0] == 1.0 and lam[-1] == pytest.approx(16.0) and lam == sorted(lam)
    GeneFinderRotaryEmbedding(16, rope_parameters("longrope", 16.0, TRAINED, 1e4, 8), TRAINED)  # lengths fit


def test_scorer_predicts_the_same_targets_at_every_length(base_checkpoint):
    fasta, _ = genome("bsubtilis_best7003")
    heldout = draw_heldout_set(str(fasta), 2, 4 * TRAINED, 0.15, seed=3)
    assert all(len(r) == 4 * TRAINED and set(r) <= set("ACGT") for r in heldout.regions)
    assert draw_heldout_set(str(fasta), 2, 4 * TRAINED, 0.15, seed=3).regions == heldout.regions  # seeded
    model = GeneFinderForMaskedLM.from_pretrained(base_checkpoint)
    inputs = EncoderInputs(model.config)
    results = {n: score(model, inputs, heldout, n, batch_size=3) for n in (TRAINED, 2 * TRAINED, 4 * TRAINED)}
    assert len({r["targets"] for r in results.values()}) == 1
    assert results[TRAINED]["targets"] == sum(int(m.sum()) for m in heldout.masks)
    # one chunk of the whole region scored directly gives the 4L number
    direct = score(model, inputs, HeldoutSet(heldout.regions, heldout.masks), 4 * TRAINED, batch_size=1)
    assert direct["loss"] == pytest.approx(results[4 * TRAINED]["loss"], rel=1e-5)
    assert all(0 < r["loss"] < 5 and 0 <= r["accuracy"] <= 1 for r in results.values())


def test_downstream_runs_a_gene_finder_under_a_method_and_scores_each_window(tmp_path):
    """The downstream view loads a plain-RoPE gene finder under another method (the config's rope_parameters,
    nothing else) and scores annotation of a real region at W and 2W against its reference genes."""
    from genefinder.configuration_genefinder import GeneFinderConfig
    from genefinder.evaluation.evaluation import Region
    from genefinder.modeling_genefinder import GeneFinderForConditionalGeneration
    from genefinder.annotation.region_annotation import GenomeRegion

    torch.manual_seed(0)
    encoder = TINY | {"max_position_embeddings": 512}
    GeneFinderForConditionalGeneration(GeneFinderConfig(encoder_config=encoder, d_model=32, decoder_layers=1,
                                                        decoder_attention_heads=2, decoder_ffn_dim=64)
                                       ).save_pretrained(tmp_path)
    rope = rope_parameters("yarn", 16.0, 512, 10_000.0, n_freq=8)
    model, _, _ = load_with_rope(tmp_path, rope)
    assert model.config.encoder_config.rope_parameters["rope_type"] == "yarn"
    assert model.encoder.dna.rotary_emb.rope_type == "yarn"
    fasta, gff = genome("ecoli_k12_mg1655")
    heldout = GenomeRegion(fasta, gff, Region("NC_000913.3", 4_200_001, 4_203_000))
    scores = score_windows(tmp_path, rope, heldout, 512, [1, 2])
    assert list(scores) == ["512", "1024"]
    r = heldout.region
    inside = sum(g.seqid == r.seqid and r.start <= g.start and g.end <= r.end for g in heldout.reference)
    for s in scores.values():
        assert set(s) == {"gene_f1", "stop_f1", "start_f1", "base_f1", "predicted", "reference", "seconds"}
        assert s["reference"] == inside >= 1  # the region's own reference genes, whatever the window
        assert s["predicted"] >= 1  # the grammar lets even an untrained decoder write whole genes
        # a gene right to the nucleotide has its stop and its start right too
        assert 0 <= s["gene_f1"] <= min(s["stop_f1"], s["start_f1"]) <= 1 and 0 < s["base_f1"] <= 1


def test_orf_downstream_reads_the_head_over_each_window_and_scores_its_accuracy(tmp_path):
    """ORF decoding with a gene finder's coding-frame head (and a start scorer) at W and 2W under a method: gene
    scores per window, the head's accuracy per nucleotide against the region's reference frames, and the
    encoder-free reference row."""
    from genefinder.configuration_genefinder import GeneFinderConfig
    from genefinder.evaluation.evaluation import Region
    from genefinder.modeling_genefinder import GeneFinderForConditionalGeneration
    from genefinder.annotation.region_annotation import GenomeRegion

    torch.manual_seed(0)
    config = GeneFinderConfig(encoder_config=TINY | {"max_position_embeddings": 512}, d_model=32, decoder_layers=1,
                              decoder_attention_heads=2, decoder_ffn_dim=64, coding_frame_loss_coef=1.0,
                              start_site_context=[10, 5], start_site_motifs=[])
    GeneFinderForConditionalGeneration(config).save_pretrained(tmp_path)
    fasta, gff = genome("ecoli_k12_mg1655")
    heldout = GenomeRegion(fasta, gff, Region("NC_000913.3", 4_200_001, 4_206_000))
    scores = score_windows_orf(tmp_path, rope_parameters("ntk", 16.0, 512, 10_000.0, n_freq=8), heldout, 512, [1, 2])
    assert list(scores) == ["512", "1024"]
    for s in scores.values():
        assert s["reference"] >= 3 and 0 <= s["gene_f1"] <= 1 and 0 < s["frame_accuracy"] < 1
    reference = network_free_reference(tmp_path, heldout)
    assert reference["reference"] == scores["512"]["reference"] and "frame_accuracy" not in reference


def test_a_region_beyond_its_record_is_a_one_line_error():
    from genefinder.formats.errors import GeneFinderInputError
    from genefinder.evaluation.evaluation import Region
    from genefinder.annotation.region_annotation import GenomeRegion

    fasta, gff = genome("ecoli_k12_mg1655")
    with pytest.raises(GeneFinderInputError, match="ends beyond NC_000913.3"):
        GenomeRegion(fasta, gff, Region("NC_000913.3", 4_600_001, 9_000_000)).genome
    with pytest.raises(GeneFinderInputError, match="no sequence named 'chrX'"):
        GenomeRegion(fasta, gff, Region("chrX", 1, 100)).genome


def test_context_use_report_sets_the_encoder_gain_from_context_against_the_5_percent_target(tmp_path):
    """The report's context-use page: one row per context, and its verdict follows the numbers (an encoder that
    gains under 5% from context cannot rank the methods by the 5% target; one that gains more can)."""
    from report import _write_context_use

    def results(short_loss):
        cell = lambda loss: {"loss": loss, "accuracy": 0.3, "targets": 100}  # noqa: E731
        return {"meta": {"config": "configs/x.yaml", "trained_length": 1024},
                "context_use": {"16": cell(short_loss), "256": cell(1.30), "1024": cell(1.28)},
                "zero_shot": {"none": {"1024": cell(1.28), "16384": cell(1.30)},
                              "yarn": {"1024": cell(1.29), "16384": cell(1.29)}}}

    _write_context_use(results(1.31), ["1024", "16384"], tmp_path, "study.py")
    text = (tmp_path / "context_extension_context_use.md").read_text()
    assert "| 16 | 1.3100 |" in text and "| 1,024 | 1.2800 |" in text and "+2.3%" in text
    assert "cannot tell the methods apart" in text and "+0.0% to +1.6%" in text
    # gain over ln 4 = 1.3863: none keeps 0.0863 of 0.1063, YaRN 0.0963 of 0.0963 (listed first)
    assert text.index("| YaRN | 0.0963 | 0.0963 | 100% |") < text.index("| no scaling | 0.1063 | 0.0863 | 81% |")
    assert "from YaRN (100%) to no scaling (81%); by the loss ratio at 16L, 2 of 2 are within" in text
    assert "after the same short fine-tune" not in text
    tuned = results(1.38) | {"finetuned": {"yarn": {"1024": {"loss": 1.29}, "16384": {"loss": 1.2863}}}}
    _write_context_use(tuned, ["1024", "16384"], tmp_path, "study.py")
    text = (tmp_path / "context_extension_context_use.md").read_text()
    assert "does use context" in text
    assert text.index("after the same short fine-tune") < text.index("| YaRN | 0.0963 | 0.1000 | 104% |")
