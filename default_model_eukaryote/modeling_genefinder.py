"""GeneFinderForConditionalGeneration: a DNA encoder, a GFF decoder, and a pointer head that names positions.

Reading order: nucleotide keys -> window encoder -> decoder attention -> decoder layer -> decoder -> the seq2seq model.

The encoder (modeling_encoders.py: DNABERT-2 or AIDO.DNA, chosen by `config.encoder_config.encoder_type`)
turns DNA tokens into states. Coordinates in the GFF tokens are pointers (tokenization_gff.py), so the model
needs one *key* per nucleotide of the window: the state of the DNA token that holds the nucleotide, plus an
embedding of the nucleotide's offset inside that token (BPE tokens span several nt), plus a convolution over
the bases around it (so "this is the T of a TAA" is visible at 1-nt resolution whatever the token size).
The output distribution at each step is over `[GFF words] + [nucleotides of the window]`: word logits from a
linear layer, coordinate logits from a scaled dot product of the decoder state with the nucleotide keys.
A coordinate token fed back to the decoder is embedded as its nucleotide key, so the decoder sees *what* it
pointed at. Nothing bounds the window length: a model trained on 8 kb windows names positions in 128 kb ones.
`config.coordinate_head = "vocabulary"` swaps this for the alternative it was measured against
(docs/results/coordinate_heads.md): a fixed coordinate vocabulary of `max_coordinates` learned rows.

Shape legend: B batch, L DNA tokens, N nucleotides in the window, T GFF tokens, E encoder width,
D decoder width, H heads, hd head dim, V = gff words + N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.modeling_outputs import ModelOutput, Seq2SeqLMOutput

from .configuration_genefinder import GeneFinderConfig
from .modeling_encoders import build_encoder, init_encoder_weights
from .modeling_rope import GeneFinderRotaryEmbedding, apply_rotary_pos_emb
from .start_sites import StartSiteScorer

NUCLEOTIDE_VOCAB = 16  # AIDO.DNA character ids (tokenization_dna.DNACharTokenizer), padded like AIDO's vocabulary


@dataclass
class GeneFinderEncoderOutput(ModelOutput):
    """What the decoder needs from a window; every field is expanded together for beam search."""

    last_hidden_state: torch.FloatTensor | None = None  # (B, L, E)
    nucleotide_keys: torch.FloatTensor | None = None  # (B, N, D)
    nucleotide_mask: torch.BoolTensor | None = None  # (B, N) True where the window has a nucleotide


@dataclass
class GeneFinderSeq2SeqOutput(Seq2SeqLMOutput):
    """BART's seq2seq output plus the auxiliary coding-frame head's, when `coding_labels` were given."""

    coding_loss: torch.FloatTensor | None = None  # mean cross-entropy over the labelled nucleotides
    coding_logits: torch.FloatTensor | None = None  # (B, N, 7): classes of coding_frames.FRAME_CLASSES


class GeneFinderNucleotideKeys(nn.Module):
    """One pointer key per nucleotide: token state + offset-in-token embedding + local base context."""

    def __init__(self, config: GeneFinderConfig):
        super().__init__()
        e, d = config.encoder_config.hidden_size, config.d_model
        self.token_proj = nn.Linear(e, d)
        self.offset_embed = nn.Embedding(config.max_token_length, d)
        self.base_embed = nn.Embedding(NUCLEOTIDE_VOCAB, 64)
        self.base_conv = nn.Conv1d(64, d, config.nucleotide_conv_width, padding=config.nucleotide_conv_width // 2)
        self.norm = nn.LayerNorm(d)

    def forward(self, token_states, nucleotide_ids, nucleotide_to_token, nucleotide_offset):
        # token_states (B, L, E); nucleotide_ids, nucleotide_to_token, nucleotide_offset (B, N)
        index = nucleotide_to_token.unsqueeze(-1).expand(-1, -1, token_states.size(-1))  # (B, N, E)
        keys = self.token_proj(torch.gather(token_states, 1, index))  # (B, N, D)
        keys = keys + self.offset_embed(nucleotide_offset.clamp(max=self.offset_embed.num_embeddings - 1))
        context = self.base_conv(self.base_embed(nucleotide_ids).transpose(1, 2)).transpose(1, 2)  # (B, N, D)
        return self.norm(keys + context)


class GeneFinderWindowEncoder(nn.Module):
    """The DNA encoder (`dna`, upstream key names inside) plus the nucleotide keys: all `generate` runs once."""

    main_input_name = "input_ids"

    def __init__(self, config: GeneFinderConfig):
        super().__init__()
        self.dna = build_encoder(config.encoder_config)
        self.nucleotide_keys = GeneFinderNucleotideKeys(config)

    def forward(self, input_ids, attention_mask=None, nucleotide_ids=None, nucleotide_to_token=None,
                nucleotide_offset=None, **kwargs) -> GeneFinderEncoderOutput:
        states = self.dna(input_ids, attention_mask=attention_mask)  # (B, L, E)
        if nucleotide_ids is None:
            nucleotide_ids = input_ids
        if nucleotide_to_token is None:
            nucleotide_to_token = torch.arange(nucleotide_ids.size(1), device=input_ids.device).expand_as(nucleotide_ids)
        if nucleotide_offset is None:
            nucleotide_offset = torch.zeros_like(nucleotide_ids)
        keys = self.nucleotide_keys(states, nucleotide_ids, nucleotide_to_token, nucleotide_offset)
        return GeneFinderEncoderOutput(last_hidden_state=states, nucleotide_keys=keys,
                                       nucleotide_mask=nucleotide_ids != 0)


class GeneFinderAttention(nn.Module):
    """Multi-head attention for the decoder: causal self-attention (rotary) or cross-attention to the encoder."""

    def __init__(self, config: GeneFinderConfig, layer_idx: int, is_cross_attention: bool):
        super().__init__()
        d, kv_in = config.d_model, (config.encoder_config.hidden_size if is_cross_attention else config.d_model)
        self.num_heads, self.head_dim = config.decoder_attention_heads, d // config.decoder_attention_heads
        self.q_proj, self.o_proj = nn.Linear(d, d), nn.Linear(d, d)
        self.k_proj, self.v_proj = nn.Linear(kv_in, d), nn.Linear(kv_in, d)
        self.layer_idx, self.is_cross_attention, self.dropout = layer_idx, is_cross_attention, config.dropout

    def _heads(self, x):
        return x.view(x.size(0), x.size(1), self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, T, hd)

    def forward(self, hidden_states, key_value_states=None, key_padding_mask=None, rotary=None, past_key_values=None):
        q = self._heads(self.q_proj(hidden_states))
        if self.is_cross_attention:
            cache = past_key_values.cross_attention_cache if past_key_values is not None else None
            if past_key_values is not None and past_key_values.is_updated.get(self.layer_idx):
                k, v = cache.layers[self.layer_idx].keys, cache.layers[self.layer_idx].values
            else:
                k, v = self._heads(self.k_proj(key_value_states)), self._heads(self.v_proj(key_value_states))
                if cache is not None:
                    k, v = cache.update(k, v, self.layer_idx)
                    past_key_values.is_updated[self.layer_idx] = True
            mask = None if key_padding_mask is None else key_padding_mask[:, None, None, :]  # (B, 1, 1, L)
            causal = False
        else:
            k, v = self._heads(self.k_proj(hidden_states)), self._heads(self.v_proj(hidden_states))
            q, k = apply_rotary_pos_emb(q, k, *rotary)
            if past_key_values is not None:
                k, v = past_key_values.self_attention_cache.update(k, v, self.layer_idx)
            t_q, t_k = q.size(2), k.size(2)
            causal, mask = t_q > 1 and t_q == t_k, None
            if t_q > 1 and t_q != t_k:  # a chunk after a cache: query i sees keys up to its own position
                mask = torch.ones(t_q, t_k, dtype=torch.bool, device=q.device).tril(t_k - t_q)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                             dropout_p=self.dropout if self.training else 0.0)  # (B, H, T, hd)
        return self.o_proj(out.transpose(1, 2).reshape(hidden_states.shape))


class GeneFinderDecoderLayer(nn.Module):
    """Pre-LN block: x + SelfAttn(LN x); x + CrossAttn(LN x, encoder); x + MLP(LN x)."""

    def __init__(self, config: GeneFinderConfig, layer_idx: int):
        super().__init__()
        d = config.d_model
        self.self_attn_layer_norm, self.self_attn = nn.LayerNorm(d), GeneFinderAttention(config, layer_idx, False)
        self.cross_attn_layer_norm, self.cross_attn = nn.LayerNorm(d), GeneFinderAttention(config, layer_idx, True)
        self.final_layer_norm = nn.LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, config.decoder_ffn_dim), nn.Linear(config.decoder_ffn_dim, d)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, encoder_states, encoder_mask, rotary, past_key_values):
        x = x + self.dropout(self.self_attn(self.self_attn_layer_norm(x), rotary=rotary, past_key_values=past_key_values))
        x = x + self.dropout(self.cross_attn(self.cross_attn_layer_norm(x), encoder_states, encoder_mask,
                                             past_key_values=past_key_values))
        return x + self.dropout(self.fc2(F.gelu(self.fc1(self.final_layer_norm(x)))))


class GeneFinderPreTrainedModel(PreTrainedModel):
    config_class = GeneFinderConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["GeneFinderDecoderLayer"]

    @torch.no_grad()
    def _init_weights(self, module):
        std = self.config.initializer_range
        if getattr(module, "zero_init", False):  # residual branches that must start as the identity
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.Linear, nn.Conv1d)):
            nn.init.normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        else:
            init_encoder_weights(module, std)


class CodingFrameConvolutions(nn.Module):
    """Dilated residual convolutions over the pointer keys (config.coding_head_layers): layer i sees +-2 x 3^i
    nucleotides, so four layers read ~160 nt, enough codons to tell the reading frame; pre-norm, GELU, residual,
    with zero-initialised convolutions, so the stack starts as the identity: a model initialised from a
    checkpoint with the linear head starts with that head's reading, and training only adds to it."""

    def __init__(self, d_model: int, layers: int, kernel: int = 5):
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(layers))
        self.convs = nn.ModuleList(nn.Conv1d(d_model, d_model, kernel, padding=(kernel // 2) * 3 ** i, dilation=3 ** i)
                                   for i in range(layers))
        for conv in self.convs:
            conv.zero_init = True

    def forward(self, keys: torch.Tensor) -> torch.Tensor:
        x = keys
        for norm, conv in zip(self.norms, self.convs):
            x = x + conv(F.gelu(norm(x)).transpose(1, 2)).transpose(1, 2)
        return x


class GeneFinderForConditionalGeneration(GeneFinderPreTrainedModel, GenerationMixin):
    """DNA window -> GFF tokens. Inputs follow BART (`input_ids`, `attention_mask`, `decoder_input_ids`,
    `labels` with -100 ignored) plus the window's nucleotides for the pointer keys:

    - `nucleotide_ids` (B, N): AIDO.DNA character ids of the window (0 = padding). Defaults to `input_ids`
      for single-nucleotide encoders.
    - `nucleotide_to_token` (B, N): index of the DNA token holding each nucleotide; `nucleotide_offset` (B, N):
      the nucleotide's offset inside it. Default: nucleotide i is token i (single-nucleotide encoders, no
      [CLS]). For BPE, `tokenization_dna.encode_bpe`'s offsets give both.
    """

    def __init__(self, config: GeneFinderConfig):
        super().__init__(config)
        self.encoder = GeneFinderWindowEncoder(config)
        self.embed_words = nn.Embedding(config.gff_vocab_size, config.d_model)
        self.rotary = GeneFinderRotaryEmbedding(config.d_model // config.decoder_attention_heads,
                                                {"rope_type": "default", "rope_theta": 10000.0}, 4096)
        self.layers = nn.ModuleList([GeneFinderDecoderLayer(config, i) for i in range(config.decoder_layers)])
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.word_head = nn.Linear(config.d_model, config.gff_vocab_size)
        if config.coordinate_head == "vocabulary":  # one learned output row and input embedding per position
            self.pointer_query = None
            self.coordinate_logits = nn.Linear(config.d_model, config.max_coordinates)
            self.coordinate_embed = nn.Embedding(config.max_coordinates, config.d_model)
        else:
            self.pointer_query = nn.Linear(config.d_model, config.d_model)
            self.coordinate_logits = self.coordinate_embed = None
        # training aid (config.coding_frame_loss_coef): the frame of every nucleotide from its pointer key
        self.coding_head = nn.Linear(config.d_model, 7) if config.coding_frame_loss_coef > 0 else None
        layers = getattr(config, "coding_head_layers", 0)
        self.coding_convs = CodingFrameConvolutions(config.d_model, layers) if layers else None
        # ORF decoding's start placement (config.start_site_context), fitted after training: start_site_training.py
        self.start_scorer = StartSiteScorer.from_config(config)
        self.gradient_checkpointing = False
        self.post_init()

    def get_encoder(self):
        return self.encoder

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Also writes the remote code, flat, pipeline included: every saved folder carries its working demo."""
        super().save_pretrained(save_directory, *args, **kwargs)
        from .remote_code import HUB_FILES, write_remote_code

        write_remote_code(save_directory, HUB_FILES)

    def _embed_decoder_inputs(self, ids, keys):
        """Words through the embedding table, coordinates as the key of the nucleotide they point at (or, with a
        coordinate vocabulary, through its embedding table)."""
        n_words = self.config.gff_vocab_size
        is_pos = ids >= n_words
        words = self.embed_words(ids.clamp(max=n_words - 1))  # (B, T, D)
        pos = (ids - n_words).clamp(min=0, max=keys.size(1) - 1)
        if self.coordinate_embed is not None:
            pointed = self.coordinate_embed(pos.clamp(max=self.coordinate_embed.num_embeddings - 1))
        else:
            pointed = torch.gather(keys, 1, pos.unsqueeze(-1).expand(-1, -1, keys.size(-1)))  # (B, T, D)
        return torch.where(is_pos.unsqueeze(-1), pointed, words)

    def _coordinate_logits(self, x, keys):
        """(B, T, N) logits of the window's N positions: the pointer's scaled dot product with the nucleotide
        keys, or the coordinate vocabulary's rows (positions beyond `max_coordinates` get the lowest logit)."""
        if self.pointer_query is not None:
            return self.pointer_query(x) @ keys.transpose(1, 2) / math.sqrt(keys.size(-1))
        rows, n = self.coordinate_logits(x), keys.size(1)  # (B, T, max_coordinates)
        if n <= rows.size(-1):
            return rows[..., :n]
        return F.pad(rows, (0, n - rows.size(-1)), value=torch.finfo(rows.dtype).min)

    def forward(self, input_ids=None, attention_mask=None, nucleotide_ids=None, nucleotide_to_token=None,
                nucleotide_offset=None, decoder_input_ids=None, decoder_attention_mask=None, encoder_outputs=None,
                past_key_values: Cache | None = None, labels=None, use_cache=None, coding_labels=None,
                cache: Cache | None = None, **kwargs) -> GeneFinderSeq2SeqOutput:
        """`coding_labels` (B, N): coding_frames classes per nucleotide, -100 ignored; with a coding head they add
        `config.coding_frame_loss_coef` x their cross-entropy to the loss (training only; generation skips it).
        `cache` is `past_key_values` under the name transformers >= 5.24 passes it by (generation would otherwise
        start a fresh cache at every step and see only the newest token)."""
        past_key_values = cache if past_key_values is None else past_key_values
        if encoder_outputs is None:
            encoder_outputs = self.encoder(input_ids, attention_mask, nucleotide_ids, nucleotide_to_token,
                                           nucleotide_offset)
        if decoder_input_ids is None:
            if labels is None:
                raise ValueError("pass `decoder_input_ids` or `labels`")
            decoder_input_ids = self._shift_right(labels)
        use_cache = use_cache if use_cache is not None else (self.config.use_cache and not self.training)
        if use_cache and past_key_values is None:
            past_key_values = EncoderDecoderCache(DynamicCache(), DynamicCache())
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        keys = encoder_outputs.nucleotide_keys
        x = self._embed_decoder_inputs(decoder_input_ids, keys)  # (B, T, D)
        positions = torch.arange(past, past + x.size(1), device=x.device)
        rotary = self.rotary(positions, seq_len=past + x.size(1))
        enc_mask = attention_mask.bool() if attention_mask is not None else None
        for layer in self.layers:
            if self.gradient_checkpointing and self.training:
                x = self._gradient_checkpointing_func(layer.__call__, x, encoder_outputs.last_hidden_state, enc_mask,
                                                      rotary, None)
            else:
                x = layer(x, encoder_outputs.last_hidden_state, enc_mask, rotary, past_key_values)
        x = self.final_layer_norm(x)
        word_logits = self.word_head(x)  # (B, T, n_words)
        pointer_logits = self._coordinate_logits(x, keys)  # (B, T, N)
        pointer_logits = pointer_logits.masked_fill(~encoder_outputs.nucleotide_mask[:, None, :],
                                                    torch.finfo(pointer_logits.dtype).min)
        logits = torch.cat([word_logits, pointer_logits], dim=-1).float()  # (B, T, V)
        loss = coding_loss = coding_logits = None
        if labels is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1), ignore_index=-100)
        if coding_labels is not None and self.coding_head is not None:
            coding_logits = self.coding_frame_logits(keys)  # (B, N, 7)
            coding_loss = F.cross_entropy(coding_logits.view(-1, 7), coding_labels.reshape(-1), ignore_index=-100)
            if loss is not None:
                loss = loss + self.config.coding_frame_loss_coef * coding_loss
        return GeneFinderSeq2SeqOutput(loss=loss, logits=logits, past_key_values=past_key_values if use_cache else None,
                                       encoder_last_hidden_state=encoder_outputs.last_hidden_state,
                                       coding_loss=coding_loss, coding_logits=coding_logits)

    def coding_frame_logits(self, nucleotide_keys: torch.Tensor) -> torch.Tensor:
        """(B, N, 7) float logits of `coding_frames.FRAME_CLASSES` per nucleotide (needs a coding-frame head)."""
        x = nucleotide_keys if self.coding_convs is None else self.coding_convs(nucleotide_keys)
        return self.coding_head(x).float()

    def _shift_right(self, labels):
        shifted = labels.new_full(labels.shape, self.config.pad_token_id)
        shifted[:, 1:] = labels[:, :-1].masked_fill(labels[:, :-1] == -100, self.config.pad_token_id)
        shifted[:, 0] = self.config.decoder_start_token_id
        return shifted
