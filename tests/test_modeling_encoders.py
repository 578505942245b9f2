"""Tests for configuration_encoders.py and modeling_encoders.py (tiny configs: hidden 32, 2 layers, 4 heads).

The upstream key names, config fields and forward passes below are written out independently of our modules,
from DNABERT-2's `bert_layers.py` (zhihan1996/DNABERT-2-117M) and AIDO's `modeling_rnabert.py`
(genbio-ai/ModelGenerator), so a renamed key or a changed formula in our code fails here.
"""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from genefinder.models.configuration_encoders import ENCODER_AUTO_MAP, GeneFinderEncoderConfig
from genefinder.models.modeling_encoders import (
    AidoEncoder,
    AidoMLMHead,
    DNABert2Encoder,
    DNABert2MLMHead,
    AttentionBias,
    alibi_bias,
    alibi_slopes,
    build_encoder,
    build_mlm_head,
    eager_attention,
    load_upstream_encoder,
    sdpa_attention,
)

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
E, NL, H, I = 32, 2, 4, 64
D = E // H

# ----------------------------------------------------------------------------------------------------------------
# Upstream config.json files, tiny. DNABERT-2: the fields of DNABERT-2-117M's config.json; AIDO: AIDO.DNA-300M's.
# ----------------------------------------------------------------------------------------------------------------
DNABERT2_UPSTREAM_CONFIG = {
    "_name_or_path": "zhihan1996/DNABERT-2-117M",
    "alibi_starting_size": 512,
    "architectures": ["BertForMaskedLM"],
    "attention_probs_dropout_prob": 0.0,
    "auto_map": {
        "AutoConfig": "configuration_bert.BertConfig",
        "AutoModel": "bert_layers.BertModel",
        "AutoModelForMaskedLM": "bert_layers.BertForMaskedLM",
        "AutoModelForSequenceClassification": "bert_layers.BertForSequenceClassification",
    },
    "classifier_dropout": None,
    "gradient_checkpointing": False,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": E,
    "initializer_range": 0.02,
    "intermediate_size": I,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": H,
    "num_hidden_layers": NL,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "torch_dtype": "float32",
    "transformers_version": "4.29.2",
    "type_vocab_size": 2,
    "use_cache": True,
    "vocab_size": 4096,
}

AIDO_UPSTREAM_CONFIG = {
    "add_linear_bias": True,
    "architectures": ["RNABertForMaskedLM"],
    "attention_probs_dropout_prob": 0.0,
    "hidden_act": "swiglu",
    "hidden_dropout_prob": 0.0,
    "hidden_size": E,
    "initializer_range": 0.02,
    "intermediate_size": I,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 4000,
    "model_type": "rnabert",
    "normalization_type": "LayerNorm",
    "num_attention_heads": H,
    "num_hidden_layers": NL,
    "pad_token_id": 0,
    "position_embedding_type": "rope",
    "rotary_percent": 1.0,
    "seq_len_interpolation_factor": None,
    "tokenizer_type": "BertWordPieceLowerCase",
    "torch_dtype": "float32",
    "transformers_version": "4.38.0.dev0",
    "type_vocab_size": 2,
    "use_cache": True,
    "vocab_size": 16,
}

# ----------------------------------------------------------------------------------------------------------------
# Upstream state_dict key names with their shapes in symbols ({n} = layer index).
# ----------------------------------------------------------------------------------------------------------------
DNABERT2_KEYS = {
    "bert.embeddings.word_embeddings.weight": ("V", "E"),
    "bert.embeddings.token_type_embeddings.weight": ("T", "E"),
    "bert.embeddings.LayerNorm.weight": ("E",),
    "bert.embeddings.LayerNorm.bias": ("E",),
    "bert.encoder.layer.{n}.attention.self.Wqkv.weight": ("3E", "E"),
    "bert.encoder.layer.{n}.attention.self.Wqkv.bias": ("3E",),
    "bert.encoder.layer.{n}.attention.output.dense.weight": ("E", "E"),
    "bert.encoder.layer.{n}.attention.output.dense.bias": ("E",),
    "bert.encoder.layer.{n}.attention.output.LayerNorm.weight": ("E",),
    "bert.encoder.layer.{n}.attention.output.LayerNorm.bias": ("E",),
    "bert.encoder.layer.{n}.mlp.gated_layers.weight": ("2I", "E"),
    "bert.encoder.layer.{n}.mlp.wo.weight": ("E", "I"),
    "bert.encoder.layer.{n}.mlp.wo.bias": ("E",),
    "bert.encoder.layer.{n}.mlp.layernorm.weight": ("E",),
    "bert.encoder.layer.{n}.mlp.layernorm.bias": ("E",),
}
DNABERT2_HEAD_KEYS = {
    "cls.predictions.transform.dense.weight": ("E", "E"),
    "cls.predictions.transform.dense.bias": ("E",),
    "cls.predictions.transform.LayerNorm.weight": ("E",),
    "cls.predictions.transform.LayerNorm.bias": ("E",),
    "cls.predictions.decoder.bias": ("V",),
}


def aido_keys(layer_norm: bool, linear_bias: bool) -> dict:
    """AIDO's keys: norms have a bias only as LayerNorm (RMSNorm: weight only); Linears per `add_linear_bias`."""
    keys = {"bert.embeddings.word_embeddings.weight": ("V", "E")}
    norms = ["bert.encoder.layer.{n}.attention.ln", "bert.encoder.layer.{n}.ln", "bert.encoder.ln"]
    linears = {
        "bert.encoder.layer.{n}.attention.self.query": ("E", "E"),
        "bert.encoder.layer.{n}.attention.self.key": ("E", "E"),
        "bert.encoder.layer.{n}.attention.self.value": ("E", "E"),
        "bert.encoder.layer.{n}.attention.output.dense": ("E", "E"),
        "bert.encoder.layer.{n}.mlp.gate_proj": ("I", "E"),
        "bert.encoder.layer.{n}.mlp.up_proj": ("I", "E"),
        "bert.encoder.layer.{n}.mlp.down_proj": ("E", "I"),
    }
    for name in norms:
        keys[f"{name}.weight"] = ("E",)
        if layer_norm:
            keys[f"{name}.bias"] = ("E",)
    for name, shape in linears.items():
        keys[f"{name}.weight"] = shape
        if linear_bias:
            keys[f"{name}.bias"] = shape[:1]
    return keys


def aido_head_keys(layer_norm: bool) -> dict:
    keys = {
        "cls.predictions.bias": ("V",),
        "cls.predictions.transform.dense.weight": ("E", "E"),  # always with bias upstream
        "cls.predictions.transform.dense.bias": ("E",),
        "cls.predictions.transform.LayerNorm.weight": ("E",),
    }
    if layer_norm:
        keys["cls.predictions.transform.LayerNorm.bias"] = ("E",)
    return keys


def expand(patterns: dict, dims: dict) -> dict:
    """{pattern: symbolic shape} -> {key: shape} for every layer."""
    out = {}
    for pattern, shape in patterns.items():
        size = tuple(dims[s] for s in shape)
        for n in range(NL) if "{n}" in pattern else [None]:
            out[pattern.format(n=n)] = size
    return out


def random_weights(shapes: dict, seed: int) -> dict:
    """Non-trivial random tensors: norms near 1, everything else N(0, 0.2)."""
    g = torch.Generator().manual_seed(seed)
    weights = {}
    for key, shape in shapes.items():
        value = 0.2 * torch.randn(shape, generator=g)
        is_norm_weight = key.endswith("weight") and any(n in key for n in ("LayerNorm", "layernorm", "ln."))
        weights[key] = 1.0 + value if is_norm_weight else value
    return weights


def dnabert2_dims(config: dict) -> dict:
    return {"V": config["vocab_size"], "E": E, "3E": 3 * E, "I": I, "2I": 2 * I, "T": config["type_vocab_size"]}


def write_checkpoint(folder, config: dict, weights: dict, fmt: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    if fmt == "safetensors":
        save_file({k: v.contiguous() for k, v in weights.items()}, str(folder / "model.safetensors"))
    else:
        torch.save(weights, folder / "pytorch_model.bin")


# ----------------------------------------------------------------------------------------------------------------
# Reference forward passes, transcribed from the upstream code on the upstream-named tensors.
# ----------------------------------------------------------------------------------------------------------------
def reference_dnabert2(w: dict, input_ids, attention_mask, eps=1e-12):
    """bert_layers.py (padded PyTorch path): -10000 key mask + ALiBi, post-LN, GEGLU with the first half gated."""
    B, L = input_ids.shape
    ln = lambda x, p: F.layer_norm(x, (E,), w[p + ".weight"], w[p + ".bias"], eps)  # noqa: E731
    x = w["bert.embeddings.word_embeddings.weight"][input_ids] + w["bert.embeddings.token_type_embeddings.weight"][0]
    x = ln(x, "bert.embeddings.LayerNorm")
    extended = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
    slopes = torch.tensor([1 / 4, 1 / 16, 1 / 64, 1 / 256])  # ALiBi, 4 heads: 2^(-8/4 * h), h = 1..4
    relative = (torch.arange(L)[None, :] - torch.arange(L)[:, None]).abs()
    bias = extended + (slopes[:, None, None] * -relative)[None]
    for n in range(NL):
        p = f"bert.encoder.layer.{n}."
        qkv = (x @ w[p + "attention.self.Wqkv.weight"].T + w[p + "attention.self.Wqkv.bias"]).view(B, L, 3, H, D)
        q, k, v = qkv[:, :, 0].permute(0, 2, 1, 3), qkv[:, :, 1].permute(0, 2, 3, 1), qkv[:, :, 2].permute(0, 2, 1, 3)
        probs = torch.softmax(q @ k / math.sqrt(D) + bias, dim=-1)
        attn = (probs @ v).permute(0, 2, 1, 3).reshape(B, L, E)
        dense = attn @ w[p + "attention.output.dense.weight"].T + w[p + "attention.output.dense.bias"]
        x = ln(dense + x, p + "attention.output.LayerNorm")
        h = x @ w[p + "mlp.gated_layers.weight"].T
        h = F.gelu(h[:, :, :I]) * h[:, :, I:]
        x = ln(h @ w[p + "mlp.wo.weight"].T + w[p + "mlp.wo.bias"] + x, p + "mlp.layernorm")
    return x


def reference_dnabert2_mlm(w: dict, hidden):
    h = F.gelu(hidden @ w["cls.predictions.transform.dense.weight"].T + w["cls.predictions.transform.dense.bias"])
    h = F.layer_norm(h, (E,), w["cls.predictions.transform.LayerNorm.weight"],
                     w["cls.predictions.transform.LayerNorm.bias"], 1e-12)
    return h @ w["bert.embeddings.word_embeddings.weight"].T + w["cls.predictions.decoder.bias"]


def reference_aido(w: dict, input_ids, attention_mask, layer_norm=True, eps=1e-5):
    """modeling_rnabert.py: pre-LN, Megatron rotary (base 10000, rotate_half), 2-D pad mask, SwiGLU, final norm."""
    B, L = input_ids.shape

    def norm(x, p):
        if layer_norm:
            return F.layer_norm(x, (E,), w[p + ".weight"], w[p + ".bias"], eps)
        return w[p + ".weight"] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    def linear(x, p):
        return x @ w[p + ".weight"].T + w.get(p + ".bias", 0.0)

    def rotate(t):
        t1, t2 = t.chunk(2, dim=-1)
        return t * cos + torch.cat((-t2, t1), dim=-1) * sin

    inv_freq = 1.0 / (10000 ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
    freqs = torch.outer(torch.arange(L, dtype=torch.float32), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)  # (L, D)
    cos, sin = emb.cos(), emb.sin()
    m = attention_mask.float()
    masked = ((m[:, None, :] * m[:, :, None]) < 0.5)[:, None]  # (B, 1, L, L), True = masked
    extended = masked * torch.finfo(torch.float).min
    x = w["bert.embeddings.word_embeddings.weight"][input_ids]
    for n in range(NL):
        p = f"bert.encoder.layer.{n}."
        h = norm(x, p + "attention.ln")
        q, k, v = (linear(h, p + f"attention.self.{name}").view(B, L, H, D).transpose(1, 2)
                   for name in ("query", "key", "value"))
        probs = torch.softmax(rotate(q) @ rotate(k).transpose(-1, -2) / math.sqrt(D) + extended, dim=-1)
        probs = probs.masked_fill(extended < -1e-5, 0.0)
        x = x + linear((probs @ v).transpose(1, 2).reshape(B, L, E), p + "attention.output.dense")
        h = norm(x, p + "ln")
        x = x + linear(F.silu(linear(h, p + "mlp.gate_proj")) * linear(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    return norm(x, "bert.encoder.ln")


def reference_aido_mlm(w: dict, hidden, layer_norm=True):
    h = F.gelu(hidden @ w["cls.predictions.transform.dense.weight"].T + w["cls.predictions.transform.dense.bias"])
    if layer_norm:
        h = F.layer_norm(h, (E,), w["cls.predictions.transform.LayerNorm.weight"],
                         w["cls.predictions.transform.LayerNorm.bias"], 1e-5)
    else:
        h = w["cls.predictions.transform.LayerNorm.weight"] * h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-5)
    return h @ w["bert.embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]


def batch(vocab_size: int, lengths=(23, 15), low=5, seed=0):
    """Right-padded input_ids (pad id 0, as both reference masks ignore the id) and the (B, L) mask."""
    g = torch.Generator().manual_seed(seed)
    L = max(lengths)
    ids = torch.randint(low, vocab_size, (len(lengths), L), generator=g)
    mask = torch.zeros(len(lengths), L, dtype=torch.long)
    for row, n in enumerate(lengths):
        mask[row, :n] = 1
    return ids.masked_fill(mask == 0, 0), mask


def tiny_config(encoder_type: str, **overrides) -> GeneFinderEncoderConfig:
    return GeneFinderEncoderConfig(encoder_type=encoder_type, **{**TINY, **overrides})


# ----------------------------------------------------------------------------------------------------------------
# Loading upstream checkpoints
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_dnabert2_upstream_checkpoint_loads_and_matches_reference(tmp_path, fmt):
    shapes = expand({**DNABERT2_KEYS, **DNABERT2_HEAD_KEYS}, dnabert2_dims(DNABERT2_UPSTREAM_CONFIG))
    weights = random_weights(shapes, seed=1)
    saved = dict(weights)
    if fmt == "bin":  # torch.save of upstream's full state_dict also holds the tied decoder weight and the pooler
        saved["cls.predictions.decoder.weight"] = weights["bert.embeddings.word_embeddings.weight"]
        saved["bert.pooler.dense.weight"] = torch.randn(E, E)
        saved["bert.pooler.dense.bias"] = torch.randn(E)
    write_checkpoint(tmp_path / "dnabert2", DNABERT2_UPSTREAM_CONFIG, saved, fmt)

    config, encoder, head = load_upstream_encoder(tmp_path / "dnabert2", "dnabert2")
    assert isinstance(encoder, DNABert2Encoder) and isinstance(head, DNABert2MLMHead)
    assert config.pad_token_id == 3 and config.vocab_size == 4096 and config.hidden_dropout_prob == 0.1
    assert head.predictions.decoder.weight is encoder.embeddings.word_embeddings.weight  # tied
    loaded = {f"bert.{k}": v for k, v in encoder.state_dict().items()}
    loaded.update({f"cls.{k}": v for k, v in head.state_dict().items() if k != "predictions.decoder.weight"})
    assert set(loaded) == set(weights)
    assert all(torch.equal(loaded[key], weights[key]) for key in weights)

    encoder.eval()
    ids, mask = batch(4096)
    with torch.no_grad():
        hidden = encoder(ids, mask)
        logits = head(hidden)
    expected = reference_dnabert2(weights, ids, mask)
    real = mask.bool()
    torch.testing.assert_close(hidden[real], expected[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits[real], reference_dnabert2_mlm(weights, expected)[real], atol=1e-4, rtol=1e-5)

    rebuilt = build_encoder(config).eval()  # a module built from the same weights gives identical outputs
    rebuilt.load_state_dict({k[len("bert."):]: v for k, v in weights.items() if k.startswith("bert.")})
    with torch.no_grad():
        assert torch.equal(rebuilt(ids, mask), hidden)


@pytest.mark.parametrize(
    "fmt, layer_norm, linear_bias, alias_bias",
    [("safetensors", True, True, False), ("bin", True, True, True), ("safetensors", False, False, False)],
    ids=["aido-dna-layernorm", "bin-with-decoder-bias-alias", "rmsnorm-no-bias"],
)
def test_aido_upstream_checkpoint_loads_and_matches_reference(tmp_path, fmt, layer_norm, linear_bias, alias_bias):
    upstream = {**AIDO_UPSTREAM_CONFIG, "normalization_type": "LayerNorm" if layer_norm else "RMSNorm",
                "add_linear_bias": linear_bias}
    dims = {"V": 16, "E": E, "I": I}
    weights = random_weights(expand({**aido_keys(layer_norm, linear_bias), **aido_head_keys(layer_norm)}, dims), 2)
    saved = dict(weights)
    if alias_bias:  # upstream's decoder.bias is the same Parameter as predictions.bias; torch.save keeps both
        saved["cls.predictions.decoder.bias"] = weights["cls.predictions.bias"]
        saved["cls.predictions.decoder.weight"] = weights["bert.embeddings.word_embeddings.weight"]
    write_checkpoint(tmp_path / "aido", upstream, saved, fmt)

    config, encoder, head = load_upstream_encoder(tmp_path / "aido", "aido")
    assert isinstance(encoder, AidoEncoder) and isinstance(head, AidoMLMHead)
    assert config.normalization_type == upstream["normalization_type"]
    assert config.add_linear_bias is linear_bias and config.layer_norm_eps == 1e-5 and config.pad_token_id == 0
    assert config.rope_parameters["rope_type"] == "default" and config.rope_parameters["rope_theta"] == 10000.0
    loaded = {f"bert.{k}": v for k, v in encoder.state_dict().items()}
    loaded.update({f"cls.{k}": v for k, v in head.state_dict().items() if k != "predictions.decoder.weight"})
    assert set(loaded) == set(weights)
    assert all(torch.equal(loaded[key], weights[key]) for key in weights)

    encoder.eval()
    ids, mask = batch(11)
    with torch.no_grad():
        hidden = encoder(ids, mask)
        logits = head(hidden)
    expected = reference_aido(weights, ids, mask, layer_norm)
    real = mask.bool()
    torch.testing.assert_close(hidden[real], expected[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits[real], reference_aido_mlm(weights, expected, layer_norm)[real],
                               atol=1e-4, rtol=1e-5)


def test_our_state_dict_names_are_exactly_upstream():
    """No stored ALiBi or rotary tables: the encoders' state_dicts are the upstream key sets, nothing more."""
    dnabert2 = build_encoder(tiny_config("dnabert2"))
    head = build_mlm_head(dnabert2.config, dnabert2.embeddings.word_embeddings)
    ours = {f"bert.{k}" for k in dnabert2.state_dict()} | {f"cls.{k}" for k in head.state_dict()}
    upstream = set(expand({**DNABERT2_KEYS, **DNABERT2_HEAD_KEYS}, dnabert2_dims(DNABERT2_UPSTREAM_CONFIG)))
    assert ours == upstream | {"cls.predictions.decoder.weight"}

    aido = build_encoder(tiny_config("aido"))
    head = build_mlm_head(aido.config, aido.embeddings.word_embeddings)
    ours = {f"bert.{k}" for k in aido.state_dict()} | {f"cls.{k}" for k in head.state_dict()}
    upstream = set(expand({**aido_keys(True, True), **aido_head_keys(True)}, {"V": 16, "E": E, "I": I}))
    assert ours == upstream | {"cls.predictions.decoder.weight"}


def test_encoder_only_checkpoint_gives_no_head():
    config = GeneFinderEncoderConfig.from_upstream_config(DNABERT2_UPSTREAM_CONFIG, "dnabert2")
    weights = random_weights(expand(DNABERT2_KEYS, dnabert2_dims(DNABERT2_UPSTREAM_CONFIG)), seed=3)
    loaded_config, encoder, head = load_upstream_encoder(weights, "dnabert2", config=config)
    assert head is None and loaded_config is config
    assert torch.equal(encoder.embeddings.word_embeddings.weight, weights["bert.embeddings.word_embeddings.weight"])


def test_loader_rejects_missing_unexpected_and_misshapen_keys(tmp_path):
    dims = dnabert2_dims(DNABERT2_UPSTREAM_CONFIG)
    weights = random_weights(expand({**DNABERT2_KEYS, **DNABERT2_HEAD_KEYS}, dims), seed=4)
    config = DNABERT2_UPSTREAM_CONFIG

    extra = {**weights, "bert.encoder.layer.2.mlp.wo.weight": torch.zeros(E, I)}  # a third layer: config says 2
    with pytest.raises(ValueError, match=r"1 unexpected key\(s\) \[bert\.encoder\.layer\.2\.mlp\.wo\.weight\]") as err:
        load_upstream_encoder(extra, "dnabert2", config=config)
    assert "\n" not in str(err.value)

    missing = {k: v for k, v in weights.items() if k != "bert.encoder.layer.1.mlp.wo.bias"}
    with pytest.raises(ValueError, match=r"1 missing key\(s\) \[bert\.encoder\.layer\.1\.mlp\.wo\.bias\]"):
        load_upstream_encoder(missing, "dnabert2", config=config)

    misshapen = {**weights, "bert.encoder.layer.0.mlp.wo.bias": torch.zeros(E + 1)}
    with pytest.raises(ValueError, match=r"bert\.encoder\.layer\.0\.mlp\.wo\.bias has shape \(33,\)"):
        load_upstream_encoder(misshapen, "dnabert2", config=config)

    untied = {**weights, "cls.predictions.decoder.weight": torch.zeros(4096, E)}
    with pytest.raises(ValueError, match="untied MLM decoder"):
        load_upstream_encoder(untied, "dnabert2", config=config)

    with pytest.raises(ValueError, match="`config` is required"):
        load_upstream_encoder(weights, "dnabert2")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="no model.safetensors or pytorch_model.bin"):
        load_upstream_encoder(tmp_path / "empty", "dnabert2")
    with pytest.raises(ValueError, match="`model_type` must be 'rnabert'"):
        load_upstream_encoder(tmp_path / "empty", "aido")


# ----------------------------------------------------------------------------------------------------------------
# Attention, padding, length, checkpointing, dtype
# ----------------------------------------------------------------------------------------------------------------
def test_attention_functions_agree():
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(2, H, 9, D, generator=g) for _ in range(3))
    bias = torch.randn(2, H, 9, 9, generator=g)
    keep = torch.rand(2, 1, 1, 9, generator=g) > 0.3
    keep[..., 0] = True
    for mask in (None, bias, keep):
        torch.testing.assert_close(sdpa_attention(q, k, v, mask), eager_attention(q, k, v, mask), atol=1e-5, rtol=0)


@pytest.mark.parametrize("encoder_type", ["dnabert2", "aido"])
@pytest.mark.parametrize("padded", [False, True])
def test_sdpa_matches_eager(encoder_type, padded):
    torch.manual_seed(6)
    encoder = build_encoder(tiny_config(encoder_type)).eval()
    assert encoder.attn_implementation == "sdpa"
    ids, mask = batch(encoder.config.vocab_size, lengths=(19, 11) if padded else (19, 19))
    with torch.no_grad():
        sdpa = encoder(ids, mask if padded else None)
        encoder.attn_implementation = "eager"
        eager = encoder(ids, mask if padded else None)
    assert encoder.encoder.layer[1].attention.self.attn_implementation == "eager"
    torch.testing.assert_close(sdpa, eager, atol=1e-5, rtol=0)
    eager_built = build_encoder(encoder.config, attn_implementation="eager")
    assert eager_built.encoder.layer[0].attention.self.attn_implementation == "eager"
    with pytest.raises(ValueError, match="attn_implementation"):
        encoder.attn_implementation = "flash_attention_3"


@pytest.mark.parametrize("encoder_type", ["dnabert2", "aido"])
def test_padding_invariance(encoder_type):
    """Appending padding, or batching with a longer sequence, leaves the outputs at real positions unchanged."""
    torch.manual_seed(7)
    encoder = build_encoder(tiny_config(encoder_type)).eval()
    pad = encoder.config.pad_token_id
    ids, _ = batch(encoder.config.vocab_size, lengths=(17,))
    with torch.no_grad():
        alone = encoder(ids)
        padded_ids = torch.cat([ids, torch.full((1, 9), pad)], dim=1)
        padded_mask = torch.cat([torch.ones(1, 17), torch.zeros(1, 9)], dim=1)
        padded = encoder(padded_ids, padded_mask)
        longer = torch.randint(5, encoder.config.vocab_size, (1, 26))
        both = encoder(torch.cat([padded_ids, longer]), torch.cat([padded_mask, torch.ones(1, 26)]))
    torch.testing.assert_close(padded[:, :17], alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(both[:1, :17], alone, atol=1e-5, rtol=0)


def test_alibi_slopes_and_bias():
    assert alibi_slopes(8) == [2.0**-i for i in range(1, 9)]  # ALiBi paper: 1/2, 1/4, ..., 1/256
    assert alibi_slopes(4) == [2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8]
    # 12 heads (DNABERT-2): the 8 slopes of 8 heads, then every other slope of 16 heads, 2^-(k/2) for k = 1, 3, 5, 7
    expected_12 = [2.0**-i for i in range(1, 9)] + [2.0 ** -(k / 2) for k in (1, 3, 5, 7)]
    assert alibi_slopes(12) == pytest.approx(expected_12, rel=1e-12)
    assert len(alibi_slopes(6)) == 6 and alibi_slopes(6)[:4] == alibi_slopes(4)

    bias = alibi_bias(12, 40)
    assert bias.shape == (1, 12, 40, 40)
    assert torch.equal(bias, bias.transpose(-1, -2))  # symmetric
    assert torch.all(bias.diagonal(dim1=-2, dim2=-1) == 0)
    i, j = torch.meshgrid(torch.arange(40), torch.arange(40), indexing="ij")
    for h, slope in enumerate(expected_12):
        torch.testing.assert_close(bias[0, h], -slope * (i - j).abs().float(), atol=1e-5, rtol=1e-6)


def test_dnabert2_runs_past_any_maximum_length():
    torch.manual_seed(8)
    encoder = build_encoder(tiny_config("dnabert2")).eval()
    assert encoder.config.max_position_embeddings == 512
    assert not list(encoder.buffers())  # ALiBi is computed per call, never stored
    ids = torch.randint(5, 4096, (1, 3000))
    with torch.no_grad():
        out = encoder(ids)
    assert out.shape == (1, 3000, E) and torch.isfinite(out).all()
    with torch.no_grad():  # the first 64 tokens see the same bias rows as in a 64-token input, so only the far
        short = encoder(ids[:, :64])  # context changes them: attention is global, the values must differ a little
    assert not torch.allclose(out[:, :64], short)


# ----------------------------------------------------------------------------------------------------------------
# Query-blocked attention: memory linear in L, results unchanged
# ----------------------------------------------------------------------------------------------------------------
def test_alibi_bias_rows_are_slices_of_the_full_bias():
    full = alibi_bias(4, 50)
    assert torch.equal(alibi_bias(4, 50, start=13, stop=29), full[:, :, 13:29])
    assert alibi_bias(4, 50, start=45, stop=50).shape == (1, 4, 5, 50)
    mask = torch.ones(2, 50, dtype=torch.long)
    mask[1, 31:] = 0
    min_ = torch.finfo(torch.float32).min
    expected = (full + torch.where(mask.bool(), 0.0, min_)[:, None, None, :]).clamp(min=min_)
    for grad in (True, False):  # with autograd a fresh tensor per block; without, one reused buffer
        for attention_mask, whole in ((None, full), (mask, expected)):  # what the unblocked encoder used to build
            bias = AttentionBias(4, 50, torch.float32, torch.device("cpu"), alibi=True, attention_mask=attention_mask)
            with torch.set_grad_enabled(grad):
                for start in range(0, 50, 16):  # blocks of 16 rows, the last one of 2: views of one table
                    rows = bias.rows(start, min(start + 16, 50))
                    assert torch.equal(rows, whole[:, :, start : start + 16].expand_as(rows))
                    assert rows.shape == (whole.size(0), 4, min(16, 50 - start), 50)
                assert torch.equal(bias.rows(0, 50), whole)
    cpu = torch.device("cpu")
    assert AttentionBias(4, 50, torch.float32, cpu, attention_mask=mask).rows(0, 7).shape == (2, 1, 1, 50)
    assert AttentionBias(4, 50, torch.float32, cpu, attention_mask=torch.ones(2, 50)).rows(0, 7) is None


def test_query_block_size_is_automatic_and_linear(monkeypatch):
    import genefinder.models.modeling_encoders as me

    def size(length, alibi=True, implementation="sdpa", batch=1, heads=4):
        return AttentionBias(heads, length, torch.float32, torch.device("cpu"), alibi=alibi).query_block_size(
            batch, implementation)

    budget = me.ATTENTION_BLOCK_ELEMENTS
    assert size(1024) == 1024  # a whole (1, 4, 1024, 1024) bias fits the budget: one block, as before
    for length in (4096, 16384, 65536, 262144):
        C = size(length)
        assert C < length and C * 4 * length <= max(budget, me.MIN_QUERY_BLOCK * 4 * length)
    assert size(65536, alibi=False) == 65536  # SDPA with no bias: the fused kernel is linear by itself
    assert size(65536, alibi=False, implementation="eager") < 65536  # eager's scores are blocked
    assert size(4096, batch=8) < size(4096, batch=1)  # the budget covers the whole batch
    monkeypatch.setattr(me, "ATTENTION_BLOCK_ELEMENTS", 1000)
    assert size(300) == me.MIN_QUERY_BLOCK


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("encoder_type", ["dnabert2", "aido"])
def test_blocked_attention_gives_the_unblocked_outputs_and_grads(encoder_type, padded, implementation):
    """Queries in blocks of 5 (the last one of 3) against all keys == all 23 queries at once, forward and backward."""
    torch.manual_seed(12)
    config = tiny_config(encoder_type, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    encoder = build_encoder(config, attn_implementation=implementation).train()
    ids, mask = batch(encoder.config.vocab_size, lengths=(23, 14) if padded else (23, 23))
    mask = mask if padded else None
    weight = torch.randn(2, 23, E)

    def run(query_block):
        encoder.query_block = query_block
        encoder.zero_grad()
        out = encoder(ids, mask)
        (out * weight).sum().backward()
        return out.detach(), {name: p.grad.clone() for name, p in encoder.named_parameters() if p.grad is not None}

    whole, whole_grads = run(None)
    blocked, blocked_grads = run(5)
    torch.testing.assert_close(blocked, whole, atol=1e-5, rtol=0)
    assert whole_grads.keys() == blocked_grads.keys() and len(whole_grads) > 10
    for name in whole_grads:
        torch.testing.assert_close(blocked_grads[name], whole_grads[name], atol=1e-5, rtol=1e-4, msg=name)
    with torch.no_grad():  # and without autograd (no per-block recomputation)
        torch.testing.assert_close(encoder(ids, mask), whole, atol=1e-5, rtol=0)


@pytest.mark.parametrize("encoder_type", ["dnabert2", "aido"])
def test_automatic_blocks_never_build_an_l_by_l_tensor(encoder_type, monkeypatch):
    """With a small budget, every bias handed to the attention function has at most C query rows, and the
    output equals the unblocked one; eager (whose scores are (.., C, L) then) likewise."""
    import genefinder.models.modeling_encoders as me

    torch.manual_seed(13)
    encoder = build_encoder(tiny_config(encoder_type)).eval()
    ids, mask = batch(encoder.config.vocab_size, lengths=(97, 80))
    with torch.no_grad():
        expected = {impl: None for impl in ("sdpa", "eager")}
        for impl in expected:
            encoder.attn_implementation = impl
            expected[impl] = encoder(ids, mask)

    seen = []
    for impl, function in list(me.ATTENTION_FUNCTIONS.items()):
        def recording(q, k, v, bias_or_mask=None, *args, _function=function):
            seen.append((q.size(2), None if bias_or_mask is None else tuple(bias_or_mask.shape)))
            return _function(q, k, v, bias_or_mask, *args)

        monkeypatch.setitem(me.ATTENTION_FUNCTIONS, impl, recording)
    monkeypatch.setattr(me, "ATTENTION_BLOCK_ELEMENTS", 2 * 4 * 97 * 16)  # 16 query rows of (B=2, H=4, L=97)
    monkeypatch.setattr(me, "MIN_QUERY_BLOCK", 1)
    for impl in ("sdpa", "eager"):
        seen.clear()
        encoder.attn_implementation = impl
        with torch.no_grad():
            out = encoder(ids, mask)
        torch.testing.assert_close(out, expected[impl], atol=1e-5, rtol=0)
        blocked = encoder_type == "dnabert2" or impl == "eager"  # AIDO + SDPA: a (B, 1, 1, L) key mask, unblocked
        assert all(rows <= (16 if blocked else 97) for rows, _ in seen)
        assert len(seen) == NL * (7 if blocked else 1)  # ceil(97 / 16) blocks per layer
        for rows, shape in seen:
            assert shape[-1] == 97 and shape[-2] in (rows, 1)  # never (.., L, L) unless L rows were asked for


def test_blocked_attention_under_gradient_checkpointing():
    """Per-block recomputation nested inside the layer-level checkpoint gives the plain gradients."""
    torch.manual_seed(14)
    encoder = build_encoder(tiny_config("dnabert2")).train()
    ids, mask = batch(encoder.config.vocab_size, lengths=(23, 18))
    weight = torch.randn(2, 23, E) * mask[..., None]  # a random projection: |post-LN output|^2 has ~zero gradient

    def grads(checkpointing, query_block):
        encoder.gradient_checkpointing, encoder.query_block = checkpointing, query_block
        encoder.zero_grad()
        torch.manual_seed(15)  # the same hidden-dropout masks: checkpointing restores the RNG when it recomputes
        (encoder(ids, mask) * weight).sum().backward()
        return {name: p.grad.clone() for name, p in encoder.named_parameters() if p.grad is not None}

    plain = grads(False, None)
    nested = grads(True, 4)
    for name in plain:
        torch.testing.assert_close(nested[name], plain[name], atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("encoder_type", ["dnabert2", "aido"])
def test_gradient_checkpointing_gives_the_same_grads(encoder_type):
    config = tiny_config(encoder_type, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    torch.manual_seed(9)
    encoder = build_encoder(config).train()
    ids, mask = batch(config.vocab_size)

    # A random projection: after DNABERT-2's final LayerNorm the sum of squares is nearly constant, which
    # would leave only rounding noise to compare.
    projection = torch.randn(config.hidden_size, generator=torch.Generator().manual_seed(12))

    def grads():
        encoder.zero_grad()
        torch.manual_seed(10)  # same dropout masks; checkpointing restores the RNG when it recomputes
        ((encoder(ids, mask) @ projection) * mask).pow(2).sum().backward()
        return {name: p.grad.clone() for name, p in encoder.named_parameters() if p.grad is not None}

    plain = grads()
    encoder.gradient_checkpointing = True
    checkpointed = grads()
    assert plain.keys() == checkpointed.keys() and len(plain) > 10
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("encoder_type", ["dnabert2", "aido"])
def test_bf16_forward(encoder_type):
    torch.manual_seed(11)
    encoder = build_encoder(tiny_config(encoder_type)).eval()
    ids, mask = batch(encoder.config.vocab_size)
    with torch.no_grad():
        reference = encoder(ids, mask)
        out = encoder.to(torch.bfloat16)(ids, mask)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    real = mask.bool()
    similarity = F.cosine_similarity(out[real].float(), reference[real], dim=-1)
    assert similarity.min() > 0.99


def test_mlm_heads_tie_to_word_embeddings():
    for encoder_type in ("dnabert2", "aido"):
        encoder = build_encoder(tiny_config(encoder_type))
        head = build_mlm_head(encoder.config, encoder.embeddings.word_embeddings)
        assert head.predictions.decoder.weight is encoder.embeddings.word_embeddings.weight
        ids, _ = batch(encoder.config.vocab_size, lengths=(5,))
        assert head(encoder(ids)).shape == (1, 5, encoder.config.vocab_size)


def test_init_follows_initializer_range():
    encoder = build_encoder(tiny_config("dnabert2", hidden_size=64, initializer_range=0.05))
    wqkv = encoder.encoder.layer[0].attention.self.Wqkv
    assert wqkv.weight.std().item() == pytest.approx(0.05, rel=0.1)
    assert torch.all(wqkv.bias == 0)
    assert torch.all(encoder.embeddings.word_embeddings.weight[encoder.config.pad_token_id] == 0)
    assert torch.all(encoder.encoder.layer[0].mlp.layernorm.weight == 1)
    aido = build_encoder(tiny_config("aido", normalization_type="RMSNorm"))
    assert torch.all(aido.encoder.ln.weight == 1) and aido.encoder.ln.__class__.__name__ == "AidoRMSNorm"


# ----------------------------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(encoder_type="dnabert2"),
        dict(encoder_type="aido"),
        dict(encoder_type="aido", normalization_type="RMSNorm", add_linear_bias=False),
        dict(encoder_type="aido", rope_parameters={"rope_type": "yarn", "factor": 4.0,
                                                   "original_max_position_embeddings": 1024}),
        dict(encoder_type="aido", rope_parameters={"rope_type": "linear", "factor": 2.0}, attn_implementation="eager"),
    ],
)
def test_config_json_round_trip(tmp_path, kwargs):
    config = GeneFinderEncoderConfig(**{**TINY, **kwargs})
    again = GeneFinderEncoderConfig.from_dict(json.loads(config.to_json_string()))
    assert again.to_dict() == config.to_dict()
    assert again.to_json_string() == config.to_json_string()
    config.save_pretrained(tmp_path)
    reloaded = GeneFinderEncoderConfig.from_pretrained(tmp_path)
    assert reloaded.to_dict() == config.to_dict()
    assert all(not isinstance(key, int) for key in json.loads(config.to_json_string()))


def test_config_defaults_per_encoder_type():
    dnabert2, aido = GeneFinderEncoderConfig(), GeneFinderEncoderConfig(encoder_type="aido")
    assert (dnabert2.vocab_size, dnabert2.pad_token_id, dnabert2.layer_norm_eps) == (4096, 3, 1e-12)
    assert dnabert2.rope_parameters is None and dnabert2.normalization_type is None
    assert (aido.vocab_size, aido.pad_token_id, aido.layer_norm_eps, aido.hidden_dropout_prob) == (16, 0, 1e-5, 0.0)
    assert aido.rope_parameters == {"rope_type": "default", "rope_theta": 10000.0}
    assert aido.normalization_type == "LayerNorm" and aido.add_linear_bias is True


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(encoder_type="bert"), r"`encoder_type` must be one of .* got 'bert'"),
        (dict(hidden_size=30), r"`hidden_size` must be divisible by `num_attention_heads`.*hidden_size=30"),
        (dict(num_hidden_layers=0), r"`num_hidden_layers` must be a positive integer, got num_hidden_layers=0"),
        (dict(hidden_dropout_prob=1.5), r"`hidden_dropout_prob` must be in \[0, 1\), got hidden_dropout_prob=1.5"),
        (dict(layer_norm_eps=0.0), r"`layer_norm_eps` must be a positive number, got layer_norm_eps=0.0"),
        (dict(pad_token_id=4096), r"`pad_token_id` must be an id in \[0, vocab_size=4096\), got pad_token_id=4096"),
        (dict(rope_parameters={"rope_type": "default"}), r"`rope_parameters` is only used by encoder_type='aido'"),
        (dict(encoder_type="aido", normalization_type="BatchNorm"),
         r"`normalization_type` must be one of .* got normalization_type='BatchNorm'"),
        (dict(encoder_type="aido", hidden_size=36), r"even head dimension.*= 9"),
        (dict(encoder_type="aido", rope_parameters={"rope_type": "yarn"}), r"original_max_position_embeddings|factor"),
        (dict(encoder_type="aido", rope_parameters={"rope_type": "warp", "rope_theta": 1e4}), r"rope_type.*'warp'"),
    ],
)
def test_config_validation_errors_name_field_and_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GeneFinderEncoderConfig(**{**TINY, **kwargs})


def test_from_upstream_config_maps_fields(tmp_path):
    dnabert2 = GeneFinderEncoderConfig.from_upstream_config({**DNABERT2_UPSTREAM_CONFIG, "hidden_size": 768,
                                                             "num_attention_heads": 12, "num_hidden_layers": 12,
                                                             "intermediate_size": 3072}, "dnabert2")
    assert (dnabert2.hidden_size, dnabert2.num_attention_heads, dnabert2.intermediate_size) == (768, 12, 3072)
    assert dnabert2.pad_token_id == 3  # DNABERT-2 tokenizer's [PAD], not the config's BertConfig default 0
    as_dict = dnabert2.to_dict()
    for dropped in ("architectures", "alibi_starting_size", "position_embedding_type", "hidden_act"):
        assert as_dict.get(dropped) is None
    assert as_dict["auto_map"] == ENCODER_AUTO_MAP  # ours: upstream's would send AutoModel to DNABERT-2's remote code

    folder = tmp_path / "aido"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**AIDO_UPSTREAM_CONFIG, "seq_len_interpolation_factor": 4}))
    aido = GeneFinderEncoderConfig.from_upstream_config(folder, "aido", hidden_dropout_prob=0.05)
    assert aido.rope_parameters["rope_type"] == "linear" and aido.rope_parameters["factor"] == 4.0
    assert aido.max_position_embeddings == 4000 and aido.hidden_dropout_prob == 0.05
    rms = GeneFinderEncoderConfig.from_upstream_config(
        {k: v for k, v in AIDO_UPSTREAM_CONFIG.items() if k != "normalization_type"}, "aido")
    assert rms.normalization_type == "RMSNorm"  # RNABertConfig's default when the field is absent

    with pytest.raises(ValueError, match=r"`model_type` must be 'bert'.*got 'rnabert'"):
        GeneFinderEncoderConfig.from_upstream_config(AIDO_UPSTREAM_CONFIG, "dnabert2")
    with pytest.raises(ValueError, match=r"unsupported upstream `rotary_percent`=0.5"):
        GeneFinderEncoderConfig.from_upstream_config({**AIDO_UPSTREAM_CONFIG, "rotary_percent": 0.5}, "aido")
    with pytest.raises(ValueError, match=r"unsupported upstream `hidden_act`='relu'"):
        GeneFinderEncoderConfig.from_upstream_config({**DNABERT2_UPSTREAM_CONFIG, "hidden_act": "relu"}, "dnabert2")
