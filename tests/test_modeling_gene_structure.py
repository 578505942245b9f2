import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from genefinder.models.configuration_gene_structure import GeneStructureConfig
from genefinder.models.modeling_gene_structure import (
    GeneStructureForTokenClassification,
    GeneStructureModel,
    encode_dna,
    reverse_complement_ids,
)
from genefinder.formats.windows import reverse_complement

MIXERS = ["lstm", "transformer"]


def tiny(mixer: str, **kwargs) -> GeneStructureForTokenClassification:
    torch.manual_seed(0)
    config = GeneStructureConfig(mixer=mixer, conv_channels=8, conv_layers=2, conv_kernel=5, pool=3, hidden_size=16,
                                 num_mixer_layers=2, num_attention_heads=2, intermediate_size=16, **kwargs)
    return GeneStructureForTokenClassification(config).eval()


def random_dna(n: int, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list("ACGTacgtN"), n))


def test_encode_dna_ids_and_reverse_complement():
    assert encode_dna("ACGTNacgtnRuU").tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 4, 8, 3]
    dna = random_dna(200)
    assert np.array_equal(reverse_complement_ids(encode_dna(dna)), encode_dna(reverse_complement(dna)))


@pytest.mark.parametrize("mixer", MIXERS)
@pytest.mark.parametrize("length", [1, 7, 30, 101])
def test_logits_have_one_row_per_nucleotide_for_any_length(mixer, length):
    model = tiny(mixer)
    ids = torch.from_numpy(encode_dna(random_dna(length)).astype(np.int64))[None].repeat(2, 1)
    out = model(ids)
    assert out.logits.shape == (2, length, 9)
    assert torch.isfinite(out.logits).all() and out.loss is None


@pytest.mark.parametrize("mixer", MIXERS)
def test_loss_is_class_weighted_and_ignores_masked_positions(mixer):
    weights = [1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 1.5, 1.5]
    model = tiny(mixer, class_weights=weights)
    ids = torch.from_numpy(encode_dna(random_dna(40)).astype(np.int64))[None]
    labels = torch.randint(0, 9, (1, 40), generator=torch.Generator().manual_seed(1))
    labels[0, :10] = -100
    out = model(ids, labels=labels)
    logp = torch.log_softmax(out.logits[0, 10:], -1)
    y = labels[0, 10:]
    w = torch.tensor(weights)[y]
    expected = -(w * logp[torch.arange(30), y]).sum() / w.sum()
    assert torch.allclose(out.loss, expected, atol=1e-5)
    out.loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_soft_mask_channel_can_be_switched_off():
    dna = random_dna(60)
    upper, lower = (torch.from_numpy(encode_dna(s).astype(np.int64))[None] for s in (dna.upper(), dna.lower()))
    with_mask, without = tiny("lstm"), tiny("lstm", use_soft_mask=False)
    assert not torch.allclose(with_mask(upper).logits, with_mask(lower).logits)
    assert torch.equal(without(upper).logits, without(lower).logits)


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="`mixer` must be one of"):
        GeneStructureConfig(mixer="gru")
    with pytest.raises(ValueError, match="`conv_kernel` must be an odd"):
        GeneStructureConfig(conv_kernel=8)
    with pytest.raises(ValueError, match="`class_weights` must be 9"):
        GeneStructureConfig(class_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="`hidden_size` .* heads of even size"):
        GeneStructureConfig(mixer="transformer", hidden_size=12, num_attention_heads=4)


@pytest.mark.parametrize("mixer", MIXERS)
def test_save_and_load_give_the_same_logits(tmp_path, mixer):
    model = tiny(mixer, class_weights=[1.0] + [2.0] * 8)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    again = GeneStructureForTokenClassification.from_pretrained(tmp_path).eval()
    ids = torch.from_numpy(encode_dna(random_dna(50)).astype(np.int64))[None]
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())
    torch.testing.assert_close(model(ids).logits, again(ids).logits, atol=1e-6, rtol=0)  # equal up to kernel choice
    assert again.config.class_weights == model.config.class_weights
    assert again.config.model_type == "genefinder_gene_structure"


def test_hub_folder_loads_in_a_fresh_process_without_the_package(tmp_path):
    model = tiny("transformer")
    folder = tmp_path / "hub"
    model.save_pretrained(folder)
    moved = tmp_path / "elsewhere"
    folder.rename(moved)
    dna = random_dna(40)
    expected = model.predict_log_probs(dna, chunk=16, overlap=4)
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        sys.modules["genefinder"] = None  # the installed package must not be what loads
        from transformers import AutoModel, AutoModelForTokenClassification
        base = AutoModel.from_pretrained({str(moved)!r}, trust_remote_code=True)
        model = AutoModelForTokenClassification.from_pretrained({str(moved)!r}, trust_remote_code=True)
        print(type(base).__name__, type(model).__name__)
        np.save({str(tmp_path / "out.npy")!r}, model.predict_log_probs({dna!r}, chunk=16, overlap=4))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().splitlines()[-1] == "GeneStructureModel GeneStructureForTokenClassification"
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6)


@pytest.mark.parametrize("mixer", MIXERS)
def test_predict_log_probs_whole_record_when_it_fits_one_chunk(mixer):
    model = tiny(mixer)
    dna = random_dna(45)
    out = model.predict_log_probs(dna, chunk=100, overlap=10)
    assert out.shape == (45, 9) and out.dtype == np.float32
    np.testing.assert_allclose(np.exp(out).sum(1), 1.0, atol=1e-5)
    ids = torch.from_numpy(encode_dna(dna).astype(np.int64))[None]
    np.testing.assert_allclose(out, torch.log_softmax(model(ids).logits, -1)[0].detach().numpy(), atol=1e-6)


@pytest.mark.parametrize("length", [100, 131, 260])
def test_predict_log_probs_takes_each_position_from_the_chunk_where_it_is_farthest_from_a_cut(length):
    model = tiny("lstm")
    dna, chunk, overlap = random_dna(length, seed=length), 40, 10
    out = model.predict_log_probs(dna, chunk=chunk, overlap=overlap, batch_size=3)
    assert out.shape == (length, 9)
    ids = encode_dna(dna).astype(np.int64)
    starts = sorted(set(range(0, length - chunk + 1, chunk - overlap)) | {length - chunk})
    chunks = {s: torch.log_softmax(model(torch.from_numpy(ids[s:s + chunk])[None]).logits, -1)[0].detach().numpy()
              for s in starts}

    def distance(p: int, s: int) -> int:  # to the nearest cut; a record end is no cut
        left = p - s if s > 0 else chunk
        right = s + chunk - 1 - p if s + chunk < length else chunk
        return min(left, right)

    for p in range(length):
        holding = [s for s in starts if s <= p < s + chunk]
        best = max(distance(p, s) for s in holding)
        assert any(np.allclose(out[p], chunks[s][p - s], atol=1e-5) for s in holding if distance(p, s) >= best - 1)


def test_predict_log_probs_checks_its_arguments():
    with pytest.raises(ValueError, match="0 <= overlap < chunk"):
        tiny("lstm").predict_log_probs("ACGT", chunk=10, overlap=10)
