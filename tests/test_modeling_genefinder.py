import subprocess
import sys
import textwrap

import pytest
import torch

from genefinder.configuration_genefinder import GeneFinderConfig
from genefinder.formats.features import CDSPart, Gene, Transcript
from genefinder.modeling_genefinder import GeneFinderForConditionalGeneration
from genefinder.tokenization_gff import GFFTokenizer
from genefinder.train import enable_activation_checkpointing

ENCODERS = {
    "aido": {"encoder_type": "aido", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
             "intermediate_size": 64},
    "dnabert2": {"encoder_type": "dnabert2", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "intermediate_size": 64, "vocab_size": 4096},
}


def tiny(encoder="aido", **kw) -> GeneFinderForConditionalGeneration:
    torch.manual_seed(0)
    cfg = GeneFinderConfig(encoder_config=ENCODERS[encoder], d_model=32, decoder_layers=2, decoder_attention_heads=4,
                           decoder_ffn_dim=64, **kw)
    return GeneFinderForConditionalGeneration(cfg).eval()


def window_batch(n=2, length=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(5, 9, (n, length), generator=g)  # AIDO ids of A G C T


def labels_for(tok, length):
    genes = [Gene("+", (Transcript("mRNA", cds=(CDSPart(10, 99, 0),)),)),
             Gene("-", (Transcript("mRNA", cds=(CDSPart(120, length, 1),), partial_right=True),))]
    return torch.tensor([tok.encode_genes(genes)] * 2)


def test_logits_cover_words_and_every_nucleotide():
    model, tok = tiny(), GFFTokenizer()
    ids = window_batch(length=300)
    labels = labels_for(tok, 300)
    out = model(input_ids=ids, labels=labels)
    assert out.logits.shape == (2, labels.size(1), tok.n_words + 300) and torch.isfinite(out.loss)


def test_coding_frame_head_adds_its_weighted_loss_only_when_asked():
    from genefinder.decoding.coding_frames import coding_frame_labels

    tok = GFFTokenizer()
    assert tiny().coding_head is None
    model = tiny(coding_frame_loss_coef=0.5)
    ids, labels = window_batch(length=300), labels_for(tok, 300)
    genes = tok.decode_genes(labels[0].tolist())
    frames = torch.from_numpy(coding_frame_labels(genes, 300)).expand(2, -1).clone()
    frames[1, 250:] = -100  # ignored positions
    plain = model(input_ids=ids, labels=labels)
    aided = model(input_ids=ids, labels=labels, coding_labels=frames)
    assert plain.coding_loss is None and aided.coding_logits.shape == (2, 300, 7)
    assert torch.allclose(aided.loss, plain.loss + 0.5 * aided.coding_loss)
    assert 1.5 < aided.coding_loss.item() < 2.5  # ~ln 7 before training
    with pytest.raises(ValueError, match="coding_frame_loss_coef"):
        GeneFinderConfig(coding_frame_loss_coef=-1)


def test_coding_convolutions_read_the_frame_from_a_wider_context():
    """coding_head_layers adds dilated convolutions before the head. They start as the identity (a model
    initialised from a linear-head checkpoint reads as that head did); trained, a key up to their reach from a
    nucleotide changes its logits (the linear head reads each key alone), and other windows' keys never do."""
    model = tiny(coding_frame_loss_coef=1.0, coding_head_layers=3).eval()  # reach +-2 x (1 + 3 + 9) = 26 nt
    keys = torch.randn(2, 100, 32)
    assert torch.equal(model.coding_frame_logits(keys), model.coding_head(keys).float())
    with torch.no_grad():
        for conv in model.coding_convs.convs:
            conv.weight.normal_(std=0.1)
    moved = keys.clone()
    moved[0, 70] += 1.0
    base, changed = model.coding_frame_logits(keys), model.coding_frame_logits(moved)
    assert base.shape == (2, 100, 7)
    differs = (base - changed).abs().amax(-1)[0] > 0
    assert differs[50].item() and not differs[40].item() and torch.equal(base[1], changed[1])
    linear = tiny(coding_frame_loss_coef=1.0)
    assert linear.coding_convs is None and linear.coding_frame_logits(keys).shape == (2, 100, 7)
    with pytest.raises(ValueError, match="coding_head_layers"):
        GeneFinderConfig(coding_head_layers=2)  # no coding-frame head to put them before


def test_padding_positions_cannot_be_pointed_at():
    model = tiny()
    ids = window_batch(length=100)
    ids[1, 60:] = 0  # second window is 60 nt long
    out = model(input_ids=ids, attention_mask=(ids != 0).long(), decoder_input_ids=torch.ones(2, 1, dtype=torch.long))
    n_words = model.config.gff_vocab_size
    assert (out.logits[1, 0, n_words + 60:] < -1e30).all() and (out.logits[0, 0, n_words:] > -1e30).all()


def test_a_coordinate_vocabulary_names_only_its_positions_and_embeds_them_itself(tmp_path):
    """The measured alternative to the pointer (docs/results/coordinate_heads.md): one learned row per position up to
    max_coordinates. Beyond them every logit is the lowest (it cannot name them, at any window length); a
    fed-back coordinate reads its own embedding, not the DNA's key; it trains and saves like the pointer model."""
    tok = GFFTokenizer()
    model = tiny(coordinate_head="vocabulary", max_coordinates=160)
    assert model.pointer_query is None and model.coordinate_logits.out_features == 160
    n_words = model.config.gff_vocab_size
    short = model(input_ids=window_batch(length=150), labels=labels_for(tok, 150))
    assert short.logits.shape[-1] == n_words + 150 and torch.isfinite(short.loss)
    long = model(input_ids=window_batch(length=300), decoder_input_ids=torch.ones(2, 1, dtype=torch.long))
    assert (long.logits[:, :, n_words + 160:] < -1e30).all() and (long.logits[:, :, n_words:n_words + 160] > -1e30).all()
    # a fed-back coordinate (position 21, id n_words + 20): the pointer embeds the key of the nucleotide it names,
    # the vocabulary its own row whatever the keys
    coordinate, keys = torch.tensor([[1, n_words + 20]] * 2), torch.randn(2, 150, 32)
    assert torch.equal(tiny()._embed_decoder_inputs(coordinate, keys)[:, 1], keys[:, 20])
    assert torch.equal(model._embed_decoder_inputs(coordinate, keys)[:, 1],
                       model.coordinate_embed.weight[20].expand(2, -1))
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    ids, labels = window_batch(length=150), labels_for(tok, 150)
    first = model(input_ids=ids, labels=labels).loss.item()
    for _ in range(20):
        loss = model(input_ids=ids, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    model.eval().save_pretrained(tmp_path)
    again = GeneFinderForConditionalGeneration.from_pretrained(tmp_path).eval()
    assert again.config.coordinate_head == "vocabulary"
    assert torch.equal(again(input_ids=ids, labels=labels).logits, model(input_ids=ids, labels=labels).logits)
    with pytest.raises(ValueError, match="max_coordinates"):
        GeneFinderConfig(coordinate_head="vocabulary")
    with pytest.raises(ValueError, match="coordinate_head"):
        GeneFinderConfig(coordinate_head="digits")


@pytest.mark.parametrize("encoder", ["aido", "dnabert2"])
def test_a_few_steps_fit_one_batch(encoder):
    model, tok = tiny(encoder).train(), GFFTokenizer()
    ids, labels = window_batch(length=150), labels_for(tok, 150)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = model(input_ids=ids, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


@pytest.mark.parametrize("kwargs", [{"do_sample": False}, {"num_beams": 3}, {"do_sample": True, "top_k": 5}])
def test_cached_generation_equals_uncached(kwargs):
    model, ids = tiny(), window_batch()
    torch.manual_seed(1)
    cached = model.generate(input_ids=ids, max_new_tokens=12, use_cache=True, **kwargs)
    torch.manual_seed(1)
    uncached = model.generate(input_ids=ids, max_new_tokens=12, use_cache=False, **kwargs)
    assert torch.equal(cached, uncached)


def test_gradient_checkpointing_gives_the_same_gradients():
    tok = GFFTokenizer()
    grads = []
    for checkpointing in (False, True):
        model = tiny().train()
        if checkpointing:
            enable_activation_checkpointing(model)  # as train.py turns it on
            assert model.gradient_checkpointing
        model(input_ids=window_batch(length=150), labels=labels_for(tok, 150)).loss.backward()
        grads.append(model.word_head.weight.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_bf16_forward_runs():
    model = tiny().to(torch.bfloat16)
    out = model(input_ids=window_batch(), decoder_input_ids=torch.ones(2, 3, dtype=torch.long))
    assert torch.isfinite(out.logits).all()


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="`d_model` .* divisible by `decoder_attention_heads`"):
        GeneFinderConfig(d_model=30, decoder_attention_heads=4)
    with pytest.raises(ValueError, match="`nucleotide_conv_width` must be odd"):
        GeneFinderConfig(nucleotide_conv_width=8)


@pytest.mark.slow
def test_hub_folder_loads_in_a_fresh_process_without_the_package(tmp_path):
    from genefinder.configuration_genefinder import GeneFinderConfig as Cfg

    model, tok = tiny(), GFFTokenizer()
    assert Cfg().auto_map["AutoModelForSeq2SeqLM"] == "modeling_genefinder.GeneFinderForConditionalGeneration"
    folder = tmp_path / "hub"
    model.save_pretrained(folder)  # writes the remote code, flat
    tok.save_pretrained(folder)
    assert (folder / "model.safetensors").exists() and not list(folder.glob("*.bin"))
    assert (folder / "modeling_genefinder.py").is_file() and (folder / "fasta.py").is_file()
    moved = tmp_path / "elsewhere"
    folder.rename(moved)
    ids = window_batch()
    expected = model.generate(input_ids=ids, max_new_tokens=10, do_sample=False).tolist()
    code = textwrap.dedent(f"""
        import sys, torch
        sys.modules["genefinder"] = None  # the installed package must not be what loads
        from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM, AutoTokenizer
        folder = {str(moved)!r}
        cfg = AutoConfig.from_pretrained(folder, trust_remote_code=True)
        AutoModel.from_pretrained(folder, trust_remote_code=True)
        model = AutoModelForSeq2SeqLM.from_pretrained(folder, trust_remote_code=True).eval()
        tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
        ids = torch.tensor({ids.tolist()})
        print(type(cfg).__name__, type(model).__name__, type(tok).__name__)
        print(model.generate(input_ids=ids, max_new_tokens=10, do_sample=False).tolist())
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert res.returncode == 0, res.stderr[-3000:]
    names, generated = res.stdout.strip().splitlines()[-2:]
    assert names.split() == ["GeneFinderConfig", "GeneFinderForConditionalGeneration", "GFFTokenizer"]
    assert eval(generated) == expected
