"""GeneFinderConfig: every setting of the gene-finding encoder-decoder in one place.

The encoder's settings live in a sub-config (`GeneFinderEncoderConfig`, upstream field names so a
DNABERT-2 or AIDO.DNA config.json maps over); the decoder's are flat fields in BART's naming. The GFF word
vocabulary is fixed by tokenization_gff.WORDS; coordinate tokens are pointers into the window, so the
output size is `gff_vocab_size + window length` and no field here bounds the window (unless
`coordinate_head` is "vocabulary", the alternative the pointer head was measured against).
"""

from __future__ import annotations

from transformers import PretrainedConfig

from .configuration_encoders import GeneFinderEncoderConfig
from .tokenization_gff import WORDS

COORDINATE_HEADS = ("pointer", "vocabulary")


class GeneFinderConfig(PretrainedConfig):
    r"""Configuration of `GeneFinderForConditionalGeneration`.

    Args:
        encoder_config: a `GeneFinderEncoderConfig` or its dict (`encoder_type` "dnabert2" or "aido").
        d_model: decoder width.
        decoder_layers, decoder_attention_heads, decoder_ffn_dim: decoder depth, heads and MLP width.
        dropout: dropout in the decoder and the pointer head.
        nucleotide_conv_width: receptive field (nt) of the convolution that gives every nucleotide its local
            sequence context (codons, splice sites) for the pointer keys, whatever the encoder's token size.
        max_token_length: longest DNA token in nucleotides (1 for single-nucleotide encoders, DNABERT-2's
            BPE tokens are shorter than 32); sizes the offset-within-token embedding of the pointer keys.
        genetic_code: NCBI translation table used by grammar-constrained decoding (11 bacteria, 4
            Mycoplasma, 1 eukaryotes).
        gff_vocab_size: number of GFF words (coordinates come after them). Set from the tokenizer.
        trained_window: length (nt) of the windows the model was trained on, set by train.py; `genefinder
            annotate` and the pipeline use it as their default window (longer ones work, untrained).
        coding_frame_loss_coef: weight of an auxiliary training loss: every nucleotide's pointer key predicts
            its coding frame (`coding_frames.py`: non-coding, or codon position 1-3 on '+' or '-'). Dense
            supervision (thousands of labels per window against tens of GFF tokens) that teaches the encoder
            coding potential and strand, which the GFF tokens alone teach slowly. 0 (default) builds no head;
            like Mixtral's `router_aux_loss_coef`, it is read by `forward` when `coding_labels` are given.
        coding_head_layers: dilated residual convolutions (dilation 1, 3, 9, ...; kernel 5) over the pointer keys
            before the coding-frame head. The keys see a few nucleotides each; the reading frame is a property of
            hundreds, so a linear head alone reads it poorly. 0
            (default) is that linear head alone; the layers are added after it in the state dict, so a
            checkpoint with the linear head initialises a model with layers (`init_from`).
        coordinate_head: how coordinate tokens are scored and embedded. "pointer" (default): a dot product of the
            decoder state with each nucleotide's key, and a fed-back coordinate is embedded as the key it points
            at, so the head reads the DNA it names and no window is too long for it. "vocabulary": a fixed
            coordinate vocabulary, one learned output row and input embedding per window position up to
            `max_coordinates`, as a text model would have; it cannot name a later position. Kept as the
            measured alternative (docs/results/coordinate_heads.md, experiments/coordinate_heads/).
        max_coordinates: positions the "vocabulary" head names (the training window); unused by "pointer".
        start_site_context: `[upstream, downstream]` nt around a start codon read by the start-site scorer
            (`start_sites.py`) that ORF decoding uses to place starts; None (default) builds no scorer. Its
            weights are fitted after training by `genefinder fit-starts`.
        start_site_motifs: k-mer lengths of the Shine-Dalgarno tracks the start-site scorer reads beside the
            one-hot DNA (`start_sites.shine_dalgarno_tracks`); None or [] (default) reads the DNA alone.
        start_site_detectors: `[number, width in nt]` of the motif detectors (a convolutional layer) the
            start-site scorer adds to its linear filter (`StartSiteScorer(detectors=...)`); None (default): the
            linear filter alone.
    """

    model_type = "genefinder"
    sub_configs = {"encoder_config": GeneFinderEncoderConfig}
    attribute_map = {"num_hidden_layers": "decoder_layers", "hidden_size": "d_model",
                     "num_attention_heads": "decoder_attention_heads"}

    def __init__(
        self,
        encoder_config: dict | GeneFinderEncoderConfig | None = None,
        d_model: int = 256,
        decoder_layers: int = 4,
        decoder_attention_heads: int = 4,
        decoder_ffn_dim: int = 1024,
        dropout: float = 0.0,
        nucleotide_conv_width: int = 9,
        max_token_length: int = 32,
        genetic_code: int = 11,
        gff_vocab_size: int = len(WORDS),
        initializer_range: float = 0.02,
        pad_token_id: int = 0,
        bos_token_id: int = 1,
        eos_token_id: int = 2,
        decoder_start_token_id: int = 1,
        is_encoder_decoder: bool = True,
        tie_word_embeddings: bool = False,
        use_cache: bool = True,
        trained_window: int | None = None,
        coding_frame_loss_coef: float = 0.0,
        coding_head_layers: int = 0,
        coordinate_head: str = "pointer",
        max_coordinates: int | None = None,
        start_site_context: list[int] | None = None,
        start_site_motifs: list[int] | None = None,
        start_site_detectors: list[int] | None = None,
        **kwargs,
    ):
        # Both Auto classes resolve to the one model; register_for_auto_class would record only the last one.
        kwargs.setdefault("auto_map", {
            "AutoConfig": "configuration_genefinder.GeneFinderConfig",
            "AutoModel": "modeling_genefinder.GeneFinderForConditionalGeneration",
            "AutoModelForSeq2SeqLM": "modeling_genefinder.GeneFinderForConditionalGeneration",
        })
        # `pipeline("gene-finding", model=folder, trust_remote_code=True)` finds its class here.
        kwargs.setdefault("custom_pipelines", {"gene-finding": {
            "impl": "pipeline_genefinder.GeneFindingPipeline", "pt": ["AutoModelForSeq2SeqLM"], "tf": [],
            "type": "text"}})
        if encoder_config is None:
            encoder_config = GeneFinderEncoderConfig(encoder_type="aido", hidden_size=256, num_hidden_layers=4,
                                                     num_attention_heads=4, intermediate_size=1024)
        elif isinstance(encoder_config, dict):
            encoder_config = GeneFinderEncoderConfig(**encoder_config)
        if encoder_config.kmer != 1:
            raise ValueError(f"`encoder_config.kmer` must be 1 for the gene finder (its pointer head names single "
                             f"nucleotides), got kmer={encoder_config.kmer}")
        self.encoder_config = encoder_config
        for name, value in (("d_model", d_model), ("decoder_layers", decoder_layers),
                            ("decoder_attention_heads", decoder_attention_heads), ("decoder_ffn_dim", decoder_ffn_dim),
                            ("nucleotide_conv_width", nucleotide_conv_width), ("max_token_length", max_token_length)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}")
        if d_model % decoder_attention_heads:
            raise ValueError(f"`d_model` ({d_model}) must be divisible by `decoder_attention_heads` "
                             f"({decoder_attention_heads})")
        if nucleotide_conv_width % 2 == 0:
            raise ValueError(f"`nucleotide_conv_width` must be odd (centred on the nucleotide), got {nucleotide_conv_width}")
        if gff_vocab_size != len(WORDS):
            raise ValueError(f"`gff_vocab_size` is {gff_vocab_size} but this tokenizer has {len(WORDS)} GFF words; "
                             "load the model with the code saved beside it")
        self.d_model = d_model
        self.decoder_layers = decoder_layers
        self.decoder_attention_heads = decoder_attention_heads
        self.decoder_ffn_dim = decoder_ffn_dim
        self.dropout = dropout
        self.nucleotide_conv_width = nucleotide_conv_width
        self.max_token_length = max_token_length
        self.genetic_code = genetic_code
        self.gff_vocab_size = gff_vocab_size
        self.vocab_size = gff_vocab_size  # the fixed part of the output; coordinates follow it
        self.initializer_range = initializer_range
        self.use_cache = use_cache
        self.trained_window = trained_window
        if coding_frame_loss_coef < 0:
            raise ValueError(f"`coding_frame_loss_coef` must be >= 0, got {coding_frame_loss_coef}")
        self.coding_frame_loss_coef = coding_frame_loss_coef
        if coding_head_layers < 0 or (coding_head_layers and not coding_frame_loss_coef):
            raise ValueError(f"`coding_head_layers` must be >= 0 and needs `coding_frame_loss_coef` > 0, got "
                             f"{coding_head_layers} with coefficient {coding_frame_loss_coef}")
        self.coding_head_layers = coding_head_layers
        if coordinate_head not in COORDINATE_HEADS:
            raise ValueError(f"`coordinate_head` must be one of {list(COORDINATE_HEADS)}, got {coordinate_head!r}")
        if coordinate_head == "vocabulary" and (not isinstance(max_coordinates, int) or max_coordinates < 1):
            raise ValueError(f"a \"vocabulary\" coordinate head needs `max_coordinates` (the positions it names, "
                             f"e.g. the training window) as a positive integer, got {max_coordinates!r}")
        self.coordinate_head = coordinate_head
        self.max_coordinates = max_coordinates
        if start_site_context is not None and (len(start_site_context) != 2 or min(start_site_context) < 0):
            raise ValueError(f"`start_site_context` must be [upstream, downstream] nt >= 0, got {start_site_context}")
        self.start_site_context = None if start_site_context is None else [int(n) for n in start_site_context]
        if start_site_motifs and (start_site_context is None or min(start_site_motifs) < 1):
            raise ValueError(f"`start_site_motifs` must be k-mer lengths >= 1 and needs `start_site_context`, got "
                             f"{start_site_motifs} with context {start_site_context}")
        self.start_site_motifs = [int(k) for k in start_site_motifs or []]
        if start_site_detectors is not None and (start_site_context is None or len(start_site_detectors) != 2
                                                 or start_site_detectors[0] < 1 or start_site_detectors[1] % 2 == 0):
            raise ValueError("`start_site_detectors` must be [number >= 1, odd width in nt] and needs "
                             f"`start_site_context`, got {start_site_detectors} with context {start_site_context}")
        self.start_site_detectors = None if start_site_detectors is None else [int(n) for n in start_site_detectors]
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id,
                         decoder_start_token_id=decoder_start_token_id, is_encoder_decoder=is_encoder_decoder,
                         tie_word_embeddings=tie_word_embeddings, **kwargs)
