"""GeneFinderForMaskedLM / ForSequenceClassification / EncoderModel on tiny configs (hidden 32, 2 layers), and
processing_encoder.EncoderInputs on a real E. coli slice."""

import subprocess
import sys
import textwrap

import pytest
import torch

from genefinder.formats.fasta import FastaFile
from genefinder.models.configuration_encoders import GeneFinderEncoderConfig
from genefinder.models.modeling_genefinder_encoder import (GeneFinderEncoderModel, GeneFinderForMaskedLM,
                                                           GeneFinderForSequenceClassification, mean_pool)
from genefinder.tokenization.processing_encoder import EncoderInputs
from genefinder.tokenization.tokenization_dna import load_dnabert2_tokenizer
from real_data import reference, write_slice

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
KINDS = {"aido": dict(encoder_type="aido"), "codon": dict(encoder_type="aido", kmer=3),
         "dnabert2": dict(encoder_type="dnabert2")}


def tiny_config(kind="aido", **kw) -> GeneFinderEncoderConfig:
    return GeneFinderEncoderConfig(**TINY, **KINDS[kind], **kw)


def processor(config):
    if config.encoder_type != "dnabert2":
        return EncoderInputs(config, None)
    return EncoderInputs(config, load_dnabert2_tokenizer(reference("dnabert2", "tokenizer.json")))


@pytest.fixture(scope="module")
def ecoli_pieces(tmp_path_factory):
    fa, _ = write_slice(tmp_path_factory.mktemp("ecoli"), "ecoli_k12_mg1655", "NC_000913.3", 3000)
    seq = FastaFile(fa, cache_dir=tmp_path_factory.mktemp("cache")).fetch("NC_000913.3", 0, 3000)
    return [seq[0:300], seq[1000:1180], seq[2000:2090]]


@pytest.mark.parametrize("kind", list(KINDS))
def test_mlm_shapes_and_loss_ignores_unlabelled_positions(kind, ecoli_pieces):
    torch.manual_seed(0)
    config = tiny_config(kind)
    model, inputs = GeneFinderForMaskedLM(config).eval(), processor(config)
    batch = inputs(ecoli_pieces)
    masked, labels = inputs.mask_tokens(batch["input_ids"], batch["attention_mask"], 0.15,
                                        torch.Generator().manual_seed(1))
    out = model(masked, batch["attention_mask"], labels=labels)
    assert out.logits.shape == (*batch["input_ids"].shape, config.vocab_size)
    keep = labels != -100
    expected = torch.nn.functional.cross_entropy(out.logits[keep], labels[keep])
    assert torch.allclose(out.loss, expected, atol=1e-6)
    assert keep.any() and not (keep & ~inputs.maskable(batch["input_ids"], batch["attention_mask"])).any()
    # weights are tied, as upstream
    assert model.cls.predictions.decoder.weight.data_ptr() == model.bert.embeddings.word_embeddings.weight.data_ptr()


def test_mlm_state_dict_has_upstream_key_names():
    keys = set(GeneFinderForMaskedLM(tiny_config("dnabert2")).state_dict())
    assert "bert.encoder.layer.0.attention.self.Wqkv.weight" in keys and "cls.predictions.decoder.bias" in keys
    assert all(k.startswith(("bert.", "cls.")) for k in keys)


def test_masking_follows_the_generator_only(ecoli_pieces):
    inputs = processor(tiny_config())
    batch = inputs(ecoli_pieces)
    draws = [inputs.mask_tokens(batch["input_ids"], batch["attention_mask"], 0.15, torch.Generator().manual_seed(7))
             for _ in range(2)]
    torch.manual_seed(123)  # global RNG must not matter
    assert torch.equal(draws[0][0], draws[1][0]) and torch.equal(draws[0][1], draws[1][1])
    labels = draws[0][1]
    frac = (labels != -100).sum() / batch["attention_mask"].sum()
    assert 0.08 < frac < 0.25


@pytest.mark.parametrize("kind", list(KINDS))
def test_mean_pooling_ignores_padding(kind, ecoli_pieces):
    torch.manual_seed(0)
    config = tiny_config(kind, num_labels=3)
    model, inputs = GeneFinderForSequenceClassification(config).eval(), processor(config)
    padded = inputs(ecoli_pieces)
    with torch.no_grad():
        together = model.embed(**padded)
        for row, seq in enumerate(ecoli_pieces):
            alone = model.embed(**inputs([seq]))
            assert torch.allclose(together[row], alone[0], atol=1e-5), kind
        out = model(**padded, labels=torch.tensor([0, 2, 1]))
    assert out.logits.shape == (3, 3) and torch.isfinite(out.loss)


def test_mean_pool_by_hand():
    states = torch.arange(12.0).view(1, 4, 3)
    assert mean_pool(states, torch.tensor([[1, 1, 0, 0]])).tolist() == [[1.5, 2.5, 3.5]]


def test_codon_config_rules():
    assert tiny_config("codon").vocab_size == 72
    with pytest.raises(ValueError, match="`kmer`=3 needs encoder_type='aido'"):
        GeneFinderEncoderConfig(**TINY, encoder_type="dnabert2", kmer=3)
    with pytest.raises(ValueError, match="`kmer` must be one of"):
        GeneFinderEncoderConfig(**TINY, encoder_type="aido", kmer=2)


def test_save_load_round_trip(tmp_path, ecoli_pieces):
    torch.manual_seed(0)
    config = tiny_config(num_labels=2, id2label={0: "coding", 1: "noncoding"})
    model, inputs = GeneFinderForSequenceClassification(config).eval(), processor(config)
    model.save_pretrained(tmp_path / "m")
    assert (tmp_path / "m" / "modeling_genefinder_encoder.py").is_file()
    back = GeneFinderForSequenceClassification.from_pretrained(tmp_path / "m").eval()
    assert back.config.id2label == {0: "coding", 1: "noncoding"}
    batch = inputs(ecoli_pieces)
    with torch.no_grad():
        assert torch.allclose(model(**batch).logits, back(**batch).logits, atol=1e-6)
        bare = GeneFinderEncoderModel.from_pretrained(tmp_path / "m").eval()
        assert torch.allclose(bare.embed(**batch), model.embed(**batch), atol=1e-6)


@pytest.mark.slow
def test_hub_folder_loads_in_a_fresh_process_without_the_package(tmp_path):
    torch.manual_seed(0)
    model = GeneFinderForMaskedLM(tiny_config("codon")).eval()
    folder = tmp_path / "hub"
    model.save_pretrained(folder)
    ids = torch.randint(5, 69, (2, 20), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(ids).logits.sum().item()
    code = textwrap.dedent(f"""
        import sys, torch
        sys.modules["genefinder"] = None  # the installed package must not be what loads
        from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification
        folder = {str(folder)!r}
        AutoModel.from_pretrained(folder, trust_remote_code=True)
        AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)
        model = AutoModelForMaskedLM.from_pretrained(folder, trust_remote_code=True).eval()
        with torch.no_grad():
            print(type(model).__name__, model(torch.tensor({ids.tolist()})).logits.sum().item())
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert res.returncode == 0, res.stderr[-3000:]
    name, value = res.stdout.strip().splitlines()[-1].split()
    assert name == "GeneFinderForMaskedLM" and float(value) == pytest.approx(expected, rel=1e-5)
