"""GeneStructureConfig: the settings of the per-nucleotide eukaryotic gene-structure network.

The network (modeling_gene_structure.py) reads DNA at 1 nt, pools by `pool` nt, mixes the pooled sequence with
a bidirectional LSTM (`mixer="lstm"`, as Tiberius, Gabriel et al. 2024) or rotary-position transformer layers
(`mixer="transformer"`), upsamples back to 1 nt with a skip from the 1-nt convolution features, and scores
`num_labels` gene-structure classes per nucleotide (`training/gene_structure_labels.py` names them).
"""

from __future__ import annotations

from transformers import PretrainedConfig

MIXERS = ("lstm", "transformer")
GENE_STRUCTURE_LABELS = ("non-coding", "+1", "+2", "+3", "-1", "-2", "-3", "+intron", "-intron")


class GeneStructureConfig(PretrainedConfig):
    model_type = "genefinder_gene_structure"

    def __init__(
        self,
        conv_channels: int = 64,  # C: width of the 1-nt convolution stem and of the per-nt head
        conv_layers: int = 3,  # 1-nt convolutions before pooling (Tiberius uses 3)
        conv_kernel: int = 9,  # odd, so 'same' padding is symmetric; 9 nt spans three codons
        pool: int = 9,  # nt per pooled position: a multiple of 3 keeps codon phase inside one pooled step
        mixer: str = "lstm",  # "lstm" (bidirectional LSTM) or "transformer" (rotary self-attention)
        hidden_size: int = 128,  # H: width of the pooled sequence (both LSTM directions together)
        num_mixer_layers: int = 2,  # LSTM or transformer layers over the pooled sequence
        num_attention_heads: int = 4,  # transformer mixer only
        intermediate_size: int = 256,  # transformer mixer only: SwiGLU width
        rope_theta: float = 10000.0,  # transformer mixer only: rotary base over pooled positions
        dropout: float = 0.0,  # after the stem and the mixer; CPU runs see each window about once
        class_weights: list[float] | None = None,  # cross-entropy weight per class; None = all 1
        use_soft_mask: bool = True,  # read lowercase (soft-masked repeats) as a 6th input channel
        decoding: dict | None = None,  # GeneStructureDecodingParams fields tuned for this model; None = defaults
        **kwargs,
    ):
        kwargs.setdefault("id2label", dict(enumerate(GENE_STRUCTURE_LABELS)))
        kwargs.setdefault("auto_map", {
            "AutoConfig": "configuration_gene_structure.GeneStructureConfig",
            "AutoModel": "modeling_gene_structure.GeneStructureModel",
            "AutoModelForTokenClassification": "modeling_gene_structure.GeneStructureForTokenClassification",
        })
        # `pipeline("gene-finding", model=folder, trust_remote_code=True)` finds its class here, as for the
        # bacterial gene finder: one pipeline reads either kind of model folder.
        kwargs.setdefault("custom_pipelines", {"gene-finding": {
            "impl": "pipeline_genefinder.GeneFindingPipeline", "pt": ["AutoModelForTokenClassification"], "tf": [],
            "type": "text"}})
        super().__init__(**kwargs)
        for name, value in (("conv_channels", conv_channels), ("conv_layers", conv_layers), ("pool", pool),
                            ("hidden_size", hidden_size), ("num_mixer_layers", num_mixer_layers),
                            ("num_attention_heads", num_attention_heads), ("intermediate_size", intermediate_size)):
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}")
        if not (isinstance(conv_kernel, int) and conv_kernel >= 1 and conv_kernel % 2 == 1):
            raise ValueError(f"`conv_kernel` must be an odd integer >= 1, got {conv_kernel!r}")
        if mixer not in MIXERS:
            raise ValueError(f"`mixer` must be one of {MIXERS}, got {mixer!r}")
        if mixer == "lstm" and hidden_size % 2:
            raise ValueError(f"`hidden_size` must be even for the bidirectional LSTM, got {hidden_size}")
        if mixer == "transformer" and (hidden_size % num_attention_heads or (hidden_size // num_attention_heads) % 2):
            raise ValueError(f"`hidden_size` ({hidden_size}) must split into `num_attention_heads` "
                             f"({num_attention_heads}) heads of even size")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}")
        if class_weights is not None and (len(class_weights) != self.num_labels or min(class_weights) <= 0):
            raise ValueError(f"`class_weights` must be {self.num_labels} positive numbers, got {class_weights!r}")
        self.conv_channels, self.conv_layers, self.conv_kernel = conv_channels, conv_layers, conv_kernel
        self.pool = pool
        self.mixer, self.hidden_size, self.num_mixer_layers = mixer, hidden_size, num_mixer_layers
        self.num_attention_heads, self.intermediate_size = num_attention_heads, intermediate_size
        self.rope_theta = rope_theta
        self.dropout = dropout
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self.use_soft_mask = use_soft_mask
        self.decoding = dict(decoding or {})
