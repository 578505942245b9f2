"""The coordinate-head comparison's scorer (experiments/coordinate_heads/compare.py) on real E. coli windows: a head
that puts the reference coordinate on top scores 1, a vocabulary cannot name positions past its rows, and the
report covers every run at every window."""

import sys
from pathlib import Path

import datasets
import pytest
import torch

from genefinder.configuration_genefinder import GeneFinderConfig
from genefinder.datasets_scripts.build_dataset import GenomeSource, build_dataset
from genefinder.modeling_genefinder import GeneFinderForConditionalGeneration
from genefinder.processing_genefinder import GeneFinderInputs
from real_data import write_slice

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments" / "coordinate_heads"))
from compare import teacher_forced  # noqa: E402

pytestmark = pytest.mark.slow  # the coordinate-head experiment's script (experiments/), not the product

W = 256


def model(head: str) -> GeneFinderForConditionalGeneration:
    torch.manual_seed(0)
    enc = dict(encoder_type="aido", hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    return GeneFinderForConditionalGeneration(GeneFinderConfig(
        encoder_config=enc, d_model=32, decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64,
        coordinate_head=head, max_coordinates=W)).eval()


@pytest.fixture(scope="module")
def validation(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ecoli")
    fa, gff = write_slice(tmp, "ecoli_k12_mg1655", "NC_000913.3", 60_000)
    out = {}
    for w in (W, 2 * W):
        build_dataset([GenomeSource(str(fa), str(gff), "ecoli")], str(tmp / f"w{w}"), window=w, stride=w // 2,
                      val_fraction=0.2)
        out[w] = datasets.load_from_disk(str(tmp / f"w{w}"))["validation"]
    return out


def test_a_head_that_ranks_the_reference_first_scores_one_and_a_vocabulary_cannot_name_past_its_rows(validation):
    inputs = GeneFinderInputs("aido", None)
    pointer, vocabulary = model("pointer"), model("vocabulary")
    untrained = teacher_forced(pointer, validation[W], inputs, max_windows=24, batch=8)
    assert untrained["coordinates"] > 20 and untrained["windows"] == 24
    assert 0 < untrained["interior_share"] < 1 and untrained["coordinate_accuracy"] < 0.5

    class Oracle(torch.nn.Module):  # logits one-hot on the reference token at each step
        config = pointer.config

        def forward(self, labels, **kw):
            out = pointer(labels=labels, **kw)
            best = torch.nn.functional.one_hot(labels.clamp(min=0), out.logits.shape[-1]).float() * 50
            return type(out)(logits=best)

    perfect = teacher_forced(Oracle(), validation[W], inputs, max_windows=24, batch=8)
    assert perfect["coordinate_accuracy"] == perfect["coordinate_accuracy_grammar"] == 1.0
    assert perfect["interior_accuracy_grammar"] == 1.0 and perfect["word_accuracy"] == 1.0
    assert perfect["coordinate_ce_grammar"] < 1e-6
    at_w = teacher_forced(vocabulary, validation[W], inputs, max_windows=24, batch=8)
    twice = teacher_forced(vocabulary, validation[2 * W], inputs, max_windows=24, batch=8)
    assert at_w["beyond_vocabulary"] == 0 and 0.2 < twice["beyond_vocabulary"] < 0.8
    assert teacher_forced(pointer, validation[2 * W], inputs, max_windows=24, batch=8)["beyond_vocabulary"] == 0
