"""Configuration of genefinder's DNA encoders: DNABERT-2-compatible (`dnabert2`) or AIDO.DNA-style (`aido`).

`GeneFinderEncoderConfig` keeps the upstream field names (`hidden_size`, `num_hidden_layers`, `layer_norm_eps`,
...), so an upstream config.json maps over field for field; `from_upstream_config` does that mapping and drops what
we do not use (`auto_map`, `architectures`, `alibi_starting_size`, ...). Fields left as `None` take the default of
their encoder type (table `_ENCODER_DEFAULTS`), and the resolved value is what gets saved, so a config survives
`to_json_string` / `from_dict` unchanged.

Upstream sources the defaults and the mapping follow:
- DNABERT-2-117M (Zhou et al. 2023), model_type `bert`: config.json of zhihan1996/DNABERT-2-117M.
- AIDO.DNA (Ellington et al. 2024), model_type `rnabert`: `RNABertConfig` in genbio-ai/ModelGenerator
  (modelgenerator/huggingface_models/rnabert) and the config.json of genbio-ai/AIDO.DNA-300M.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

from transformers import PretrainedConfig

ENCODER_TYPES = ("dnabert2", "aido")
NORMALIZATION_TYPES = ("LayerNorm", "RMSNorm")
KMER_SIZES = (1, 3)  # 1: one token per nucleotide; 3: non-overlapping codons (tokenization_dna.DNAKmerTokenizer)
KMER_VOCAB_SIZE = 72  # 5 specials + 64 codons = 69 ids, padded to a multiple of 8 like AIDO pads 11 ids to 16

# Encoder-only models (modeling_genefinder_encoder.py) load from a saved folder through these Auto classes.
ENCODER_AUTO_MAP = {
    "AutoConfig": "configuration_encoders.GeneFinderEncoderConfig",
    "AutoModel": "modeling_genefinder_encoder.GeneFinderEncoderModel",
    "AutoModelForMaskedLM": "modeling_genefinder_encoder.GeneFinderForMaskedLM",
    "AutoModelForSequenceClassification": "modeling_genefinder_encoder.GeneFinderForSequenceClassification",
}

# Per-encoder defaults for the fields whose signature default is `None`.
_ENCODER_DEFAULTS: dict[str, dict[str, Any]] = {
    "dnabert2": {
        "vocab_size": 4096,  # the published BPE vocabulary
        "hidden_dropout_prob": 0.1,  # DNABERT-2-117M config.json
        "layer_norm_eps": 1e-12,  # BERT's value, kept by DNABERT-2
        "pad_token_id": 3,  # [PAD] in DNABERT-2's tokenizer ([UNK]=0 [CLS]=1 [SEP]=2 [PAD]=3 [MASK]=4)
        "max_position_embeddings": 512,  # training length in tokens; ALiBi imposes no hard limit
    },
    "aido": {
        "vocab_size": 16,  # AIDO pads its vocabulary to 16; ids 0..10 are used (PAD MASK CLS SEP UNK A G C T U N)
        "hidden_dropout_prob": 0.0,  # AIDO.DNA configs
        "layer_norm_eps": 1e-5,  # pre-LN transformers use 1e-5
        "pad_token_id": 0,  # [PAD]
        "max_position_embeddings": 4000,  # AIDO.DNA's context; the rotary base length for scaled RoPE types
        "normalization_type": "LayerNorm",  # AIDO.DNA uses LayerNorm; some AIDO.RNA models use RMSNorm
        "add_linear_bias": True,  # AIDO.DNA-300M/7B: every attention and SwiGLU Linear has a bias
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},  # upstream RoPE base is fixed at 10000
    },
}

# Fields that only the AIDO encoder reads; they must stay `None` for `dnabert2`.
_AIDO_ONLY_FIELDS = ("normalization_type", "add_linear_bias", "rope_parameters")

# Upstream config.json fields that map one to one onto ours.
_COMMON_UPSTREAM_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "layer_norm_eps",
    "initializer_range",
    "max_position_embeddings",
    "pad_token_id",
)
_UPSTREAM_MODEL_TYPES = {"dnabert2": "bert", "aido": "rnabert"}


def _check_rope_parameters(rope: Any) -> None:
    """`rope_parameters` rules: a dict with a `rope_type`, a positive `rope_theta` when given, then the per-type
    rules of the rotary module (imported here, not at the top, so the config stays importable without torch)."""
    if not isinstance(rope, dict) or not isinstance(rope.get("rope_type", "default"), str):
        raise ValueError(f"`rope_parameters` must be a dict with a 'rope_type' string, got rope_parameters={rope!r}")
    theta = rope.get("rope_theta", 10000.0)
    if not isinstance(theta, (int, float)) or isinstance(theta, bool) or not theta > 0:
        raise ValueError(f"`rope_parameters['rope_theta']` must be a positive number, got rope_theta={theta!r}")
    from .modeling_rope import validate_rope_parameters

    validate_rope_parameters(rope)


class GeneFinderEncoderConfig(PretrainedConfig):
    r"""Configuration of one DNA encoder (`encoder_type="dnabert2"` or `"aido"`).

    Args:
        encoder_type: `"dnabert2"` (BERT + ALiBi + GEGLU, post-LN, BPE tokens) or `"aido"` (pre-LN, RoPE, SwiGLU,
            single-nucleotide tokens).
        vocab_size: token vocabulary (default 4096 for dnabert2, 16 for aido).
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size: the usual transformer sizes.
        hidden_dropout_prob: dropout on embeddings and residual branches (default 0.1 dnabert2, 0.0 aido).
        attention_probs_dropout_prob: dropout on attention probabilities.
        layer_norm_eps: epsilon of every normalization layer (default 1e-12 dnabert2, 1e-5 aido).
        type_vocab_size: token type (segment) vocabulary; only dnabert2 has token type embeddings.
        initializer_range: standard deviation of the normal initializer.
        rope_parameters: aido only; transformers 5.x format, e.g. `{"rope_type": "default", "rope_theta": 10000.0}`
            or `{"rope_type": "linear", "factor": 4.0, "rope_theta": 10000.0}`.
        max_position_embeddings: the length the encoder was trained at (tokens). Not a hard limit for either
            encoder (ALiBi and RoPE are computed for any length); scaled RoPE types read it as the original length.
        pad_token_id: id of the padding token (default 3 dnabert2, 0 aido).
        normalization_type: aido only, `"LayerNorm"` (AIDO.DNA) or `"RMSNorm"`.
        add_linear_bias: aido only, whether q/k/v, attention output and SwiGLU projections have a bias.
        kmer: aido only; 1 = one token per nucleotide (AIDO.DNA), 3 = one token per non-overlapping codon
            (vocab_size then defaults to 72: 5 specials + 64 codons, padded), for codon-level models.
        tie_word_embeddings: the MLM head's output matrix is the word embedding matrix (as upstream).
        num_labels / id2label / label2id (PretrainedConfig's): classes of `GeneFinderForSequenceClassification`.
    """

    model_type = "genefinder_encoder"

    def __init__(
        self,
        encoder_type: str = "dnabert2",
        vocab_size: int | None = None,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_dropout_prob: float | None = None,
        attention_probs_dropout_prob: float = 0.0,
        layer_norm_eps: float | None = None,
        type_vocab_size: int = 2,
        initializer_range: float = 0.02,
        rope_parameters: dict | None = None,
        max_position_embeddings: int | None = None,
        pad_token_id: int | None = None,
        normalization_type: str | None = None,
        add_linear_bias: bool | None = None,
        kmer: int = 1,
        tie_word_embeddings: bool = True,
        **kwargs,
    ):
        if encoder_type not in ENCODER_TYPES:
            raise ValueError(f"`encoder_type` must be one of {ENCODER_TYPES}, got {encoder_type!r}")
        given = {
            "vocab_size": vocab_size,
            "hidden_dropout_prob": hidden_dropout_prob,
            "layer_norm_eps": layer_norm_eps,
            "pad_token_id": pad_token_id,
            "max_position_embeddings": max_position_embeddings,
            "normalization_type": normalization_type,
            "add_linear_bias": add_linear_bias,
            "rope_parameters": rope_parameters,
        }
        if encoder_type == "dnabert2":
            for name in _AIDO_ONLY_FIELDS:
                if given[name] is not None:
                    raise ValueError(
                        f"`{name}` is only used by encoder_type='aido', got {name}={given[name]!r} for 'dnabert2'"
                    )
        if kmer not in KMER_SIZES:
            raise ValueError(f"`kmer` must be one of {KMER_SIZES}, got kmer={kmer!r}")
        if kmer != 1 and encoder_type != "aido":
            raise ValueError(f"`kmer`={kmer} needs encoder_type='aido' (dnabert2 has its own BPE vocabulary)")
        defaults = _ENCODER_DEFAULTS[encoder_type]
        if kmer == 3:
            defaults = defaults | {"vocab_size": KMER_VOCAB_SIZE}
        # `AutoModelForMaskedLM.from_pretrained(folder, trust_remote_code=True)` finds its class here.
        kwargs.setdefault("auto_map", dict(ENCODER_AUTO_MAP))
        resolved = {}
        for name, value in given.items():
            value = defaults.get(name) if value is None else value
            resolved[name] = dict(value) if isinstance(value, Mapping) else value  # never alias a caller's dict
        self.encoder_type = encoder_type
        self.vocab_size = resolved["vocab_size"]
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_dropout_prob = resolved["hidden_dropout_prob"]
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.layer_norm_eps = resolved["layer_norm_eps"]
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.max_position_embeddings = resolved["max_position_embeddings"]
        self.normalization_type = resolved["normalization_type"]
        self.add_linear_bias = resolved["add_linear_bias"]
        self.kmer = kmer
        # transformers standardizes `rope_parameters` in `__post_init__` (fills `rope_type`/`rope_theta`) when the
        # attribute exists, and would invent a default dict for dnabert2, so dnabert2's None is set afterwards.
        if encoder_type == "aido":
            # Checked before transformers standardizes it, whose own checks raise KeyError, not ValueError.
            _check_rope_parameters(resolved["rope_parameters"])
            self.rope_parameters = resolved["rope_parameters"]
        super().__init__(pad_token_id=resolved["pad_token_id"], tie_word_embeddings=tie_word_embeddings, **kwargs)
        if encoder_type == "dnabert2":
            self.rope_parameters = None
        self._check_encoder_fields()

    # ----------------------------------------------------------------------------------------------------------
    def _check_encoder_fields(self) -> None:
        """Raise `ValueError` naming the field and value of the first rule this config breaks."""

        def positive_int(name: str) -> None:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"`{name}` must be a positive integer, got {name}={value!r}")

        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "type_vocab_size", "max_position_embeddings"):
            positive_int(name)
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"`hidden_size` must be divisible by `num_attention_heads`, got hidden_size={self.hidden_size} "
                f"and num_attention_heads={self.num_attention_heads}"
            )
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(f"`{name}` must be in [0, 1), got {name}={value!r}")
        for name in ("layer_norm_eps", "initializer_range"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
                raise ValueError(f"`{name}` must be a positive number, got {name}={value!r}")
        pad = self.pad_token_id
        if not isinstance(pad, int) or isinstance(pad, bool) or not 0 <= pad < self.vocab_size:
            raise ValueError(
                f"`pad_token_id` must be an id in [0, vocab_size={self.vocab_size}), got pad_token_id={pad!r}"
            )
        if self.encoder_type == "aido":
            if self.normalization_type not in NORMALIZATION_TYPES:
                raise ValueError(
                    f"`normalization_type` must be one of {NORMALIZATION_TYPES}, got normalization_type="
                    f"{self.normalization_type!r}"
                )
            if not isinstance(self.add_linear_bias, bool):
                raise ValueError(f"`add_linear_bias` must be a bool, got add_linear_bias={self.add_linear_bias!r}")
            head_dim = self.hidden_size // self.num_attention_heads
            if head_dim % 2:
                raise ValueError(
                    f"rotary positions need an even head dimension: hidden_size={self.hidden_size} / "
                    f"num_attention_heads={self.num_attention_heads} = {head_dim}"
                )
            _check_rope_parameters(self.rope_parameters)

    # ----------------------------------------------------------------------------------------------------------
    @classmethod
    def from_upstream_config(
        cls, path_or_dict: str | os.PathLike | Mapping[str, Any], encoder_type: str, **overrides
    ) -> GeneFinderEncoderConfig:
        """Read an upstream config.json (DNABERT-2's `bert`, AIDO's `rnabert`) into a `GeneFinderEncoderConfig`.

        `path_or_dict` is a checkpoint folder, a config.json path, or the parsed dict. Unused upstream fields
        (`auto_map`, `architectures`, `alibi_starting_size`, `use_cache`, ...) are dropped; fields describing an
        architecture we do not implement raise `ValueError`. `overrides` are applied last (e.g. dropout).

        Two deliberate departures, both documented here:
        - dnabert2: `pad_token_id` becomes 3, the [PAD] id of DNABERT-2's tokenizer. The published config says 0
          (BertConfig's default, which is [UNK] in that vocabulary); it only ever set the embedding's
          `padding_idx`, so outputs are unchanged.
        - aido: `seq_len_interpolation_factor` (linear position interpolation) becomes
          `rope_parameters={"rope_type": "linear", "factor": f}`, the same arithmetic in transformers' format.
        """
        if encoder_type not in ENCODER_TYPES:
            raise ValueError(f"`encoder_type` must be one of {ENCODER_TYPES}, got {encoder_type!r}")
        source = "<dict>"
        if isinstance(path_or_dict, Mapping):
            upstream = dict(path_or_dict)
        else:
            source = os.fspath(path_or_dict)
            if os.path.isdir(source):
                source = os.path.join(source, "config.json")
            with open(source, encoding="utf-8") as handle:
                upstream = json.load(handle)

        model_type = upstream.get("model_type")
        expected = _UPSTREAM_MODEL_TYPES[encoder_type]
        if model_type is not None and model_type != expected:
            raise ValueError(
                f"{source}: `model_type` must be {expected!r} for encoder_type={encoder_type!r}, got {model_type!r}"
            )

        def require(field: str, allowed: tuple, default: Any) -> None:
            value = upstream.get(field, default)
            if value not in allowed:
                raise ValueError(f"{source}: unsupported upstream `{field}`={value!r} (supported: {allowed})")

        fields = {name: upstream[name] for name in _COMMON_UPSTREAM_FIELDS if upstream.get(name) is not None}
        if encoder_type == "dnabert2":
            require("hidden_act", ("gelu",), "gelu")
            fields["pad_token_id"] = 3
            if upstream.get("type_vocab_size") is not None:
                fields["type_vocab_size"] = upstream["type_vocab_size"]
        else:
            require("hidden_act", ("swiglu",), "swiglu")
            require("position_embedding_type", ("rope",), "rope")
            require("rotary_percent", (1.0, 1), 1.0)
            require("normalization_type", NORMALIZATION_TYPES, "RMSNorm")
            fields["normalization_type"] = upstream.get("normalization_type", "RMSNorm")  # RNABertConfig's default
            fields["add_linear_bias"] = bool(upstream.get("add_linear_bias", True))
            factor = upstream.get("seq_len_interpolation_factor")
            rope = {"rope_type": "default", "rope_theta": 10000.0}
            if factor is not None:
                rope = {"rope_type": "linear", "factor": float(factor), "rope_theta": 10000.0}
            fields["rope_parameters"] = rope
        fields.update(overrides)
        return cls(encoder_type=encoder_type, **fields)
