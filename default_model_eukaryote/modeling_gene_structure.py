"""The per-nucleotide gene-structure network: DNA -> log-probabilities of 9 gene-structure classes per nt.

Architecture (Tiberius, Gabriel et al., Bioinformatics 2024; Helixer, Holst et al. 2023, pool the same way):

    ids (B, L) -> one-hot A C G T N + soft-mask channel (B, L, 6)
      -> `conv_layers` x [Conv1d(kernel) -> GELU -> LayerNorm] at 1 nt        (B, L, C)   = skip
      -> reshape by `pool` nt and Linear                                       (B, L/p, H)
      -> mixer: bidirectional LSTM, or pre-LN rotary transformer layers        (B, L/p, H)
      -> Linear and reshape back to 1 nt, concatenated with the skip           (B, L, 2C)
      -> Linear -> GELU                                                        (B, L, C)   = last_hidden_state
      -> head Linear                                                           (B, L, 9)   = logits

Any length works: the input is padded with N to a multiple of `pool` and the output cut back. Both strands come
out of one pass (classes 1-3/7 are '+', 4-6/8 are '-'). `predict_log_probs` runs a whole record of any length in
overlapping chunks, so memory stays bounded.

Shape legend: B batch, L nucleotides, P = L / pool pooled positions, C conv channels, H hidden size, K classes.

Input ids (`encode_dna`): A C G T N = 0-4, the same soft-masked (lowercase) = 5-9.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput, TokenClassifierOutput

from .configuration_encoders import GeneFinderEncoderConfig
from .configuration_gene_structure import GeneStructureConfig
from .modeling_encoders import AidoLayer, AttentionBias
from .modeling_rope import GeneFinderRotaryEmbedding

# Per-nucleotide input ids: A C G T N = 0-4 uppercase, 5-9 soft-masked (lowercase); U reads as T, IUPAC codes as N.
_ENCODE = np.full(256, 4, dtype=np.int8)
for _i, _b in enumerate("ACGT"):
    _ENCODE[ord(_b)], _ENCODE[ord(_b.lower())] = _i, _i + 5
_ENCODE[ord("U")], _ENCODE[ord("u")] = 3, 8
_ENCODE[[c for c in range(ord("a"), ord("z") + 1) if _ENCODE[c] == 4]] = 9
_COMPLEMENT_ID = np.array([3, 2, 1, 0, 4, 8, 7, 6, 5, 9], dtype=np.int8)
N_ID = 4


def encode_dna(dna: str) -> np.ndarray:
    """(L,) int8 input ids of a DNA string (any case; letters other than ACGTU read as N)."""
    return _ENCODE[np.frombuffer(dna.encode("ascii"), dtype=np.uint8)]


def reverse_complement_ids(ids: np.ndarray) -> np.ndarray:
    """Ids of the reverse complement, soft-masking kept."""
    return _COMPLEMENT_ID[ids[::-1]]


class GeneStructureConvStem(nn.Module):
    """1-nt features: `conv_layers` x [Conv1d -> GELU -> LayerNorm], the first from the 6 input channels."""

    def __init__(self, config: GeneStructureConfig):
        super().__init__()
        C, k = config.conv_channels, config.conv_kernel
        self.convs = nn.ModuleList(nn.Conv1d(6 if i == 0 else C, C, k, padding=k // 2)
                                   for i in range(config.conv_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(C) for _ in range(config.conv_layers))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features.transpose(1, 2)  # (B, 6, L)
        for conv, norm in zip(self.convs, self.norms):
            x = norm(F.gelu(conv(x)).transpose(1, 2)).transpose(1, 2)  # (B, C, L)
        return x.transpose(1, 2)  # (B, L, C)


class GeneStructureLSTMMixer(nn.Module):
    def __init__(self, config: GeneStructureConfig):
        super().__init__()
        self.lstm = nn.LSTM(config.hidden_size, config.hidden_size // 2, num_layers=config.num_mixer_layers,
                            batch_first=True, bidirectional=True, dropout=config.dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.lstm(hidden_states)[0]  # (B, P, H)


class GeneStructureTransformerMixer(nn.Module):
    """Pre-LN rotary transformer layers over pooled positions (the AIDO encoder's `modeling_encoders.AidoLayer`)."""

    def __init__(self, config: GeneStructureConfig):
        super().__init__()
        layer_config = GeneFinderEncoderConfig(
            encoder_type="aido", vocab_size=16, hidden_size=config.hidden_size,
            num_hidden_layers=config.num_mixer_layers, num_attention_heads=config.num_attention_heads,
            intermediate_size=config.intermediate_size, hidden_dropout_prob=config.dropout,
            rope_parameters={"rope_type": "default", "rope_theta": config.rope_theta}, max_position_embeddings=1 << 20)
        self.num_heads = config.num_attention_heads
        self.layers = nn.ModuleList(AidoLayer(layer_config) for _ in range(config.num_mixer_layers))
        self.norm = nn.LayerNorm(config.hidden_size)
        self.rotary = GeneFinderRotaryEmbedding(config.hidden_size // config.num_attention_heads,
                                                layer_config.rope_parameters, layer_config.max_position_embeddings)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        P = hidden_states.size(1)
        cos, sin = self.rotary(torch.arange(P, device=hidden_states.device), seq_len=P)  # (1, P, hd) each
        cos, sin = cos.to(hidden_states.dtype), sin.to(hidden_states.dtype)
        bias = AttentionBias(self.num_heads, P, hidden_states.dtype, hidden_states.device)  # no mask: all real
        for layer in self.layers:
            hidden_states = layer(hidden_states, bias, cos, sin)
        return self.norm(hidden_states)  # (B, P, H)


MIXER_CLASSES = {"lstm": GeneStructureLSTMMixer, "transformer": GeneStructureTransformerMixer}


class GeneStructurePreTrainedModel(PreTrainedModel):
    config_class = GeneStructureConfig
    base_model_prefix = "gene_structure"
    main_input_name = "input_ids"
    _no_split_modules = []

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, GeneFinderRotaryEmbedding):
            module.reset_buffers()  # non-persistent frequency buffers come back empty from meta-device loading

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Also writes, flat, the remote code config.json's `auto_map` and `custom_pipelines` name."""
        super().save_pretrained(save_directory, *args, **kwargs)
        from .remote_code import HUB_FILES, write_remote_code

        write_remote_code(save_directory, HUB_FILES)


class GeneStructureModel(GeneStructurePreTrainedModel):
    """DNA ids (B, L) -> per-nucleotide features (B, L, C) in `last_hidden_state`."""

    def __init__(self, config: GeneStructureConfig):
        super().__init__(config)
        C, H, p = config.conv_channels, config.hidden_size, config.pool
        self.stem = GeneStructureConvStem(config)
        self.pool_proj = nn.Linear(p * C, H)
        self.mixer = MIXER_CLASSES[config.mixer](config)
        self.unpool_proj = nn.Linear(H, p * C)
        self.merge = nn.Linear(2 * C, C)
        self.dropout = nn.Dropout(config.dropout)
        self.post_init()

    def input_features(self, input_ids: torch.LongTensor) -> torch.Tensor:
        """(B, L) ids -> (B, L, 6): one-hot A C G T N, then 1.0 where soft-masked (0 when `use_soft_mask` is off)."""
        bases = F.one_hot(input_ids % 5, 5).float()  # (B, L, 5)
        masked = (input_ids >= 5).float().unsqueeze(-1) * float(self.config.use_soft_mask)  # (B, L, 1)
        return torch.cat((bases, masked), dim=-1)

    def forward(self, input_ids: torch.LongTensor, **kwargs) -> BaseModelOutput:
        B, L = input_ids.shape
        p, C = self.config.pool, self.config.conv_channels
        padded = F.pad(input_ids, (0, -L % p), value=N_ID)  # (B, P * p)
        P = padded.size(1) // p
        skip = self.stem(self.input_features(padded))  # (B, P * p, C)
        hidden = self.dropout(self.pool_proj(skip.reshape(B, P, p * C)))  # (B, P, H)
        hidden = self.dropout(self.mixer(hidden))  # (B, P, H)
        up = self.unpool_proj(hidden).reshape(B, P * p, C)  # (B, P * p, C)
        out = F.gelu(self.merge(torch.cat((up, skip), dim=-1)))  # (B, P * p, C)
        return BaseModelOutput(last_hidden_state=out[:, :L])  # (B, L, C)


class GeneStructureForTokenClassification(GeneStructurePreTrainedModel):
    """Per-nucleotide class logits (B, L, 9); `labels` (B, L) with -100 where the loss mask is 0."""

    def __init__(self, config: GeneStructureConfig):
        super().__init__(config)
        self.gene_structure = GeneStructureModel(config)
        self.classifier = nn.Linear(config.conv_channels, config.num_labels)
        self.post_init()

    def class_weights(self, device: torch.device | None = None) -> torch.Tensor:
        """(K,) float32 cross-entropy weights from the config, made per call (no buffer for loading to restore)."""
        return torch.tensor(self.config.class_weights or [1.0] * self.config.num_labels, dtype=torch.float32,
                            device=device)

    def forward(self, input_ids: torch.LongTensor, labels: torch.LongTensor | None = None,
                **kwargs) -> TokenClassifierOutput:
        hidden = self.gene_structure(input_ids).last_hidden_state  # (B, L, C)
        logits = self.classifier(hidden)  # (B, L, K)
        loss = None
        if labels is not None:  # class-weighted mean over trusted nucleotides (sum of w_y * CE / sum of w_y)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), labels.reshape(-1),
                                   weight=self.class_weights(logits.device), ignore_index=-100)
        return TokenClassifierOutput(loss=loss, logits=logits)

    @torch.no_grad()
    def predict_log_probs(self, dna: str, chunk: int = 9999, overlap: int = 999, batch_size: int = 8,
                          progress: Callable[[int], None] | None = None) -> np.ndarray:
        """(len(dna), 9) float32 log-probabilities of a whole record of any length, forward strand.

        The record is cut into chunks of `chunk` nt overlapping by `overlap` nt; each position is taken from the
        chunk where it lies farthest from a cut (the split sits in the middle of each overlap), so every position
        sees at least overlap / 2 nt of context on both sides unless it is near the record's ends. Memory is
        bounded by `batch_size` chunks. Lowercase reads as soft-masked; N and other IUPAC codes as N.
        `progress(n)` is called after each batch with the n nucleotides it settled.
        """
        if chunk < 1 or not 0 <= overlap < chunk:
            raise ValueError(f"need chunk >= 1 and 0 <= overlap < chunk, got chunk={chunk} overlap={overlap}")
        was_training = self.training
        self.eval()
        ids = encode_dna(dna)
        L = len(ids)
        out = np.zeros((L, self.config.num_labels), dtype=np.float32)
        if L == 0:
            return out
        starts = list(range(0, max(L - chunk, 0) + 1, chunk - overlap))
        if starts[-1] + chunk < L:
            starts.append(L - chunk)
        device = next(self.parameters()).device
        for b in range(0, len(starts), batch_size):
            group = starts[b:b + batch_size]
            batch = torch.from_numpy(np.stack([ids[s:s + chunk] for s in group]).astype(np.int64)).to(device)
            log_probs = F.log_softmax(self(batch).logits.float(), dim=-1).cpu().numpy()  # (b, chunk, K)
            for i, s in enumerate(group):
                j = b + i
                keep_lo = 0 if j == 0 else (starts[j - 1] + chunk + s) // 2  # middle of the overlap with j - 1
                keep_hi = L if j == len(starts) - 1 else (s + chunk + starts[j + 1]) // 2
                out[keep_lo:keep_hi] = log_probs[i, keep_lo - s:keep_hi - s]
                if progress is not None:
                    progress(keep_hi - keep_lo)
        self.train(was_training)
        return out
