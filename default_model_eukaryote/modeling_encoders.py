"""genefinder's DNA encoders, implemented natively with the upstream state_dict key names.

Two encoders share one interface, `forward(input_ids, attention_mask=None) -> (B, L, E)`:

- `DNABert2Encoder` (`encoder_type="dnabert2"`): DNABERT-2 (Zhou et al. 2023, "DNABERT-2: Efficient Foundation
  Model and Benchmark for Multi-Species Genome", arXiv:2306.15006), the MosaicBERT recipe: BERT without position
  embeddings, a symmetric ALiBi bias (Press et al. 2022) computed for any length, post-LN, GEGLU MLP, BPE tokens.
  Follows `bert_layers.py` of zhihan1996/DNABERT-2-117M (its padded PyTorch attention path).
- `AidoEncoder` (`encoder_type="aido"`): AIDO.DNA (Ellington et al. 2024, "Accurate and General DNA
  Representations Emerge from Genome Foundation Models at Scale", NeurIPS 2024 AIDrugX workshop), model_type
  `rnabert` in genbio-ai/ModelGenerator: single-nucleotide tokens, pre-LN, rotary positions, SwiGLU MLP.

Inside an upstream checkpoint both live under the `bert.` prefix and their MLM heads under `cls.`; a model that
stores an encoder as `self.bert` and a head as `self.cls` has exactly the upstream key names.
`load_upstream_encoder` loads an upstream checkpoint folder. Upstream remote code does not run on transformers 5
(removed helpers, old Triton kernels), hence these native versions. Attention goes through
`torch.nn.functional.scaled_dot_product_attention` ("sdpa", default) or a readable reference ("eager").

Attention memory is linear in L: the bias (ALiBi, key padding) is kept in O(L) form (`AttentionBias`) and
`attend` materialises it for one block of C queries at a time, (B, H, C, L), whenever a whole (B, H, L, L)
tensor would exceed `ATTENTION_BLOCK_ELEMENTS`. Without a bias, SDPA runs unblocked (its flash kernel never
holds the (L, L) scores). Each query still attends to all L keys, so blocking changes no result.

Shape legend: B batch, L sequence length (tokens), H attention heads, D head dim, E hidden size (= H * D),
C queries per attention block, I intermediate size, V vocabulary size.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn
from transformers import initialization as init

from .configuration_encoders import GeneFinderEncoderConfig
from .modeling_rope import GeneFinderCLEXDynamics, GeneFinderRotaryEmbedding, apply_rotary_pos_emb

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------------------------
# Attention functions: q, k, v (B, H, L, D) -> (B, H, L, D)
# ----------------------------------------------------------------------------------------------------------------
def eager_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias_or_mask: torch.Tensor | None = None,
    dropout: float = 0.0,
    training: bool = False,
) -> torch.Tensor:
    """Readable reference: softmax(q k^T / sqrt(D) + bias) v.

    `bias_or_mask` broadcasts to (B, H, L, L): an additive float bias (ALiBi, padding), a bool mask (True =
    attend), or None.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, L, L)
    if bias_or_mask is not None:
        if bias_or_mask.dtype == torch.bool:
            scores = scores.masked_fill(~bias_or_mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + bias_or_mask
    probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)  # (B, H, L, L)
    probs = F.dropout(probs, p=dropout, training=training)
    return probs @ v  # (B, H, L, D)


def sdpa_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias_or_mask: torch.Tensor | None = None,
    dropout: float = 0.0,
    training: bool = False,
) -> torch.Tensor:
    """The same computation through `scaled_dot_product_attention` (fused kernels; flash when there is no bias)."""
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias_or_mask, dropout_p=dropout if training else 0.0)


ATTENTION_FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {"eager": eager_attention, "sdpa": sdpa_attention}


def _check_attn_implementation(name: str) -> str:
    if name not in ATTENTION_FUNCTIONS:
        raise ValueError(f"`attn_implementation` must be one of {tuple(ATTENTION_FUNCTIONS)}, got {name!r}")
    return name


def padding_bias(attention_mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """(B, L) mask, 1 = token and 0 = padding -> additive (B, 1, 1, L) bias: 0 to attend, dtype's min to ignore.

    The dtype's minimum rather than -inf keeps a fully padded row finite (uniform attention over padding) instead
    of NaN. Only keys are masked: outputs at padded positions are computed but meaningless.
    """
    if attention_mask is None:
        return None
    keep = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, L)
    return torch.zeros(keep.shape, dtype=dtype, device=attention_mask.device).masked_fill(~keep, torch.finfo(dtype).min)


# One query block's materialised bias or eager scores, (B, H, C, L), holds at most this many elements
# (2^24 = 64 MiB in fp32): large enough that a block is tens of milliseconds of matmul on CPU, small enough that
# a 64k-token window with 4 heads needs ~200 MiB of bias (table + one padded block), not 64 GiB.
ATTENTION_BLOCK_ELEMENTS = 2**24
MIN_QUERY_BLOCK = 64  # fewer queries per block only adds Python overhead; memory is then 64 * L, still linear


class AttentionBias:
    """What an encoder adds to the attention scores, in O(L) form; `rows` materialises one block of queries.

    The bias is DNABERT-2's ALiBi (`alibi=True`), a key padding mask (from `attention_mask`, when something
    is padded), both, or neither. Neither depends on anything but positions and the (B, L) mask, so nothing
    of size (L, L) is built until `rows(start, stop)` asks for the (B | 1, H | 1, C, L) bias of queries
    start..stop-1 against all L keys. `query_block` forces C (tests); None picks it with `query_block_size`.

    One object serves every layer of a forward pass, so what it builds is built once: the whole bias when one
    block covers all queries (as upstream), else a Toeplitz table of ALiBi rows, (1, H, C, 2L - 1), of which
    every block's rows are a view (-slope |i - j| depends on j - i only). On CPU, writing a fresh 64 MiB bias
    per block and layer costs about half as much as the attention itself (page faults), the views nothing.
    """

    def __init__(
        self,
        num_heads: int,
        length: int,
        dtype: torch.dtype,
        device: torch.device,
        alibi: bool = False,
        attention_mask: torch.Tensor | None = None,
        query_block: int | None = None,
    ):
        self.num_heads, self.length, self.dtype, self.device, self.alibi = num_heads, length, dtype, device, alibi
        self.query_block = query_block
        self.padding = None  # (B, 1, 1, L) additive, only when some key is padding
        if attention_mask is not None and not bool(attention_mask.bool().all()):
            self.padding = padding_bias(attention_mask, dtype)
        self._whole: torch.Tensor | None = None  # (1 | B, H, L, L) when one block covers every query
        self._table: torch.Tensor | None = None  # (1, H, C, 2L - 1): ALiBi rows of query block 0, shifted
        self._buffer: torch.Tensor | None = None  # (B, H, C, L) reused for padded rows when autograd is off

    def rows(self, start: int, stop: int) -> torch.Tensor | None:
        """The bias of queries [start, stop) against all keys: (1, H, C, L), (B, 1, 1, L), (B, H, C, L) or None."""
        if not self.alibi:
            return self.padding  # (B, 1, 1, L): the same for every query
        L, C, min_value = self.length, stop - start, torch.finfo(self.dtype).min
        if start == 0 and stop == L:
            if self._whole is None:
                bias = alibi_bias(self.num_heads, L, self.device, self.dtype)  # (1, H, L, L)
                if self.padding is not None:  # as (bias + padding).clamp(min): the dtype's minimum, never -inf
                    bias = bias.masked_fill(self.padding < 0, min_value)  # (B, H, L, L)
                self._whole = bias
            return self._whole
        if self._table is None or self._table.size(2) < C:
            # table[h, i, t] = -slope_h |t - (L - 1) - i|, so table[:, :, :C, L-1-start : 2L-1-start] holds the
            # rows of queries start + i: -slope_h |j - (start + i)| for keys j = 0..L-1.
            self._table = alibi_bias(self.num_heads, 2 * L - 1, self.device, self.dtype, L - 1, L - 1 + C)
        bias = self._table[:, :, :C, L - 1 - start : 2 * L - 1 - start]  # (1, H, C, L), a view
        if self.padding is None:
            return bias
        keep, masked = self.padding == 0, bias.new_full((), min_value)  # (B, 1, 1, L), a scalar
        if torch.is_grad_enabled():  # autograd may keep the result: a fresh tensor
            return torch.where(keep, bias, masked)  # (B, H, C, L)
        if self._buffer is None or self._buffer.size(2) < C:
            self._buffer = torch.empty(self.padding.size(0), self.num_heads, C, L, dtype=self.dtype, device=self.device)
        return torch.where(keep, bias, masked, out=self._buffer[:, :, :C])  # (B, H, C, L)

    def query_block_size(self, batch: int, implementation: str) -> int:
        """C: all L queries at once unless a (B, H, L, L) tensor (ALiBi bias, or eager's scores) would exceed
        `ATTENTION_BLOCK_ELEMENTS`; then as many queries as fit in it, at least `MIN_QUERY_BLOCK`."""
        L = self.length
        if self.query_block is not None:
            return max(1, min(self.query_block, L))
        if not self.alibi and implementation != "eager":
            return L  # SDPA with no mask or a (B, 1, 1, L) key mask never holds (L, L) scores
        per_query = batch * self.num_heads * L  # elements of one query row of the bias / scores
        if per_query * L <= ATTENTION_BLOCK_ELEMENTS:
            return L
        return min(L, max(MIN_QUERY_BLOCK, ATTENTION_BLOCK_ELEMENTS // per_query))


def attend(
    implementation: str,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias: AttentionBias,
    dropout: float = 0.0,
    training: bool = False,
) -> torch.Tensor:
    """Attention of q, k, v (B, H, L, D) under `bias`, one block of C queries at a time -> (B, H, L, D).

    A block's queries attend to all L keys with the block's own rows of the bias, so every softmax row is the
    one the unblocked computation has. With gradients, each block is recomputed in the backward pass
    (activation checkpointing) so that only q, k, v are kept, not each block's (B, H, C, L) bias and
    probabilities; blocked attention with dropout draws its masks per block (a different random stream).
    """
    attention = ATTENTION_FUNCTIONS[implementation]
    L = q.size(2)
    C = bias.query_block_size(q.size(0), implementation)
    if C >= L:
        return attention(q, k, v, bias.rows(0, L), dropout, training)

    def block(q_block: torch.Tensor, k: torch.Tensor, v: torch.Tensor, start: int) -> torch.Tensor:
        return attention(q_block, k, v, bias.rows(start, start + q_block.size(2)), dropout, training)

    if not (torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)):
        out = q.new_empty(q.shape)  # (B, H, L, D)
        for start in range(0, L, C):
            out[:, :, start : start + C] = block(q[:, :, start : start + C], k, v, start)
        return out
    blocks = []  # keep only q, k, v for backward: each block is recomputed there
    for start in range(0, L, C):
        q_block = q[:, :, start : start + C]  # (B, H, C, D)
        blocks.append(torch.utils.checkpoint.checkpoint(block, q_block, k, v, start, use_reentrant=False))
    return torch.cat(blocks, dim=2)  # (B, H, L, D)


# ----------------------------------------------------------------------------------------------------------------
# DNABERT-2: ALiBi, embeddings -> [attention -> post-LN -> GEGLU -> post-LN] x N
# ----------------------------------------------------------------------------------------------------------------
def alibi_slopes(num_heads: int) -> list[float]:
    """ALiBi head slopes as MosaicBERT/DNABERT-2 compute them (a geometric series; for a head count that is not a
    power of two, the closest lower power's slopes followed by every other slope of the next power)."""

    def power_of_2_slopes(n: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(num_heads).is_integer():
        return power_of_2_slopes(num_heads)
    closest = 2 ** math.floor(math.log2(num_heads))
    return power_of_2_slopes(closest) + alibi_slopes(2 * closest)[0::2][: num_heads - closest]


def alibi_bias(
    num_heads: int,
    length: int,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    start: int = 0,
    stop: int | None = None,
) -> torch.Tensor:
    """Symmetric ALiBi bias -slope_h * |i - j| of queries i in [start, stop) against keys j in [0, length):
    shape (1, H, C, L), C = stop - start (all L rows by default), for any length (computed, never stored)."""
    stop = length if stop is None else stop
    position = torch.arange(length, device=device, dtype=torch.float32)  # exact integers up to 2^24
    distance = (position[None, :] - position[start:stop, None]).abs_()  # (C, L)
    slopes = torch.tensor(alibi_slopes(num_heads), device=device, dtype=torch.float32)  # (H,)
    return (distance * -slopes[:, None, None]).to(dtype)[None]  # (1, H, C, L)


class DNABert2Embeddings(nn.Module):
    """Token + token-type embeddings, LayerNorm, dropout. No position embeddings: ALiBi carries position."""

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.LongTensor, token_type_ids: torch.LongTensor | None = None) -> torch.Tensor:
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)  # (B, L, E)
        return self.dropout(self.LayerNorm(embeddings))


class DNABert2SelfAttention(nn.Module):
    """Multi-head attention with one fused q/k/v projection `Wqkv` (E -> 3E, laid out q | k | v, heads inside)."""

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.dropout_prob = config.attention_probs_dropout_prob
        self.attn_implementation = "sdpa"

    def forward(self, hidden_states: torch.Tensor, bias: AttentionBias) -> torch.Tensor:
        B, L, E = hidden_states.shape
        qkv = self.Wqkv(hidden_states).view(B, L, 3, self.num_heads, self.head_dim)  # (B, L, 3, H, D)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, H, L, D)
        out = attend(self.attn_implementation, q, k, v, bias, self.dropout_prob, self.training)  # (B, H, L, D)
        return out.transpose(1, 2).reshape(B, L, E)


class DNABert2SelfOutput(nn.Module):
    """Output projection, dropout, residual, then LayerNorm (post-LN)."""

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class DNABert2Attention(nn.Module):
    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.self = DNABert2SelfAttention(config)
        self.output = DNABert2SelfOutput(config)

    def forward(self, hidden_states: torch.Tensor, bias: AttentionBias) -> torch.Tensor:
        return self.output(self.self(hidden_states, bias), hidden_states)


class DNABert2GatedMLP(nn.Module):
    """GEGLU: one projection E -> 2I; the first half is the gate: wo(gelu(gate) * up), then residual and post-LN."""

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.intermediate_size = config.intermediate_size
        self.gated_layers = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.act = nn.GELU(approximate="none")
        self.wo = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        gate, up = self.gated_layers(hidden_states).split(self.intermediate_size, dim=-1)  # 2 x (B, L, I)
        out = self.wo(self.dropout(self.act(gate) * up))  # (B, L, E)
        return self.layernorm(out + hidden_states)


class DNABert2Layer(nn.Module):
    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.attention = DNABert2Attention(config)
        self.mlp = DNABert2GatedMLP(config)

    def forward(self, hidden_states: torch.Tensor, bias: AttentionBias) -> torch.Tensor:
        return self.mlp(self.attention(hidden_states, bias))


class DNABert2LayerStack(nn.Module):
    """Holds the layers under `encoder.layer.N`, upstream's names; `DNABert2Encoder.forward` runs them."""

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.layer = nn.ModuleList(DNABert2Layer(config) for _ in range(config.num_hidden_layers))


class _EncoderBase(nn.Module):
    """What both encoders share: the attention switch, gradient checkpointing, the layer loop."""

    gradient_checkpointing: bool

    def _setup(self, config: GeneFinderEncoderConfig, attn_implementation: str | None) -> None:
        self.config = config
        self.hidden_size = config.hidden_size
        self.gradient_checkpointing = False  # transformers' gradient_checkpointing_enable() sets this flag
        self.query_block: int | None = None  # queries per attention block; None: automatic (`AttentionBias`)
        if attn_implementation is None:
            configured = getattr(config, "_attn_implementation", None)
            # transformers' other names (flash_attention_2, ...) have no kernel for a float bias here: use SDPA.
            attn_implementation = configured if configured in ATTENTION_FUNCTIONS else "sdpa"
        self.attn_implementation = attn_implementation
        self.apply(functools.partial(init_encoder_weights, initializer_range=config.initializer_range))

    @property
    def attn_implementation(self) -> str:
        return self._attn_implementation

    @attn_implementation.setter
    def attn_implementation(self, value: str) -> None:
        self._attn_implementation = _check_attn_implementation(value)
        for module in self.modules():
            if module is not self and hasattr(module, "attn_implementation"):
                module.attn_implementation = value

    def _run_layers(self, hidden_states: torch.Tensor, *layer_args) -> torch.Tensor:
        for layer in self.encoder.layer:
            if self.gradient_checkpointing and self.training:
                checkpoint = getattr(self, "_gradient_checkpointing_func", None) or functools.partial(
                    torch.utils.checkpoint.checkpoint, use_reentrant=False
                )
                hidden_states = checkpoint(layer.__call__, hidden_states, *layer_args)
            else:
                hidden_states = layer(hidden_states, *layer_args)
        return hidden_states


class DNABert2Encoder(_EncoderBase):
    """DNABERT-2's `bert` module without the pooler: embeddings + post-LN layers -> last hidden state (B, L, E).

    Upstream builds the ALiBi bias once per call, (1, H, L, L), or (B, H, L, L) with a padding mask: 1.1 GB at
    B=8, H=12, L=1700 in fp32 and quadratic in L. Here that happens only while it fits
    `ATTENTION_BLOCK_ELEMENTS`; longer inputs attend in blocks of C queries whose bias rows are views of one
    (1, H, C, 2L - 1) table (`AttentionBias`, `attend`), so memory is linear in L and the values are the same.
    A bias that is never materialised at all would need FlexAttention.
    """

    def __init__(self, config: GeneFinderEncoderConfig, attn_implementation: str | None = None):
        super().__init__()
        if config.encoder_type != "dnabert2":
            raise ValueError(f"DNABert2Encoder needs encoder_type='dnabert2', got {config.encoder_type!r}")
        self.embeddings = DNABert2Embeddings(config)
        self.encoder = DNABert2LayerStack(config)
        self._setup(config, attn_implementation)

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
    ) -> torch.Tensor:
        hidden_states = self.embeddings(input_ids, token_type_ids)  # (B, L, E)
        bias = AttentionBias(self.config.num_attention_heads, input_ids.size(1), hidden_states.dtype,
                             hidden_states.device, alibi=True, attention_mask=attention_mask,
                             query_block=self.query_block)
        return self._run_layers(hidden_states, bias)


class DNABert2PredictionHeadTransform(nn.Module):
    """dense -> GELU -> LayerNorm. Upstream hard-codes eps 1e-12 here; we read `layer_norm_eps` (1e-12 there)."""

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = nn.GELU(approximate="none")
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.act(self.dense(hidden_states)))


class DNABert2LMPredictionHead(nn.Module):
    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.transform = DNABert2PredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)  # weight tied to word_embeddings, own bias

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden_states))


class _MLMHead(nn.Module):
    """Upstream's `cls` module: hidden states (B, L, E) -> token logits (B, L, V).

    Pass the encoder's `word_embeddings` to tie `predictions.decoder.weight` to it, as upstream does; a
    PreTrainedModel can instead tie through `_tied_weights_keys`. Subclasses name their prediction head.
    """

    prediction_head: type[nn.Module]

    def __init__(self, config: GeneFinderEncoderConfig, word_embeddings: nn.Embedding | None = None):
        super().__init__()
        self.predictions = self.prediction_head(config)
        self.apply(functools.partial(init_encoder_weights, initializer_range=config.initializer_range))
        if word_embeddings is not None:
            self.predictions.decoder.weight = word_embeddings.weight

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.predictions(hidden_states)


class DNABert2MLMHead(_MLMHead):
    prediction_head = DNABert2LMPredictionHead


# ----------------------------------------------------------------------------------------------------------------
# AIDO.DNA: embeddings -> [x + attn(LN(x)); x + SwiGLU(LN(x))] x N -> final LN; rotary q/k
# ----------------------------------------------------------------------------------------------------------------
class AidoRMSNorm(nn.Module):
    """RMSNorm as upstream's `RnaRMSNorm` (Llama's): weight only, computed in fp32. AIDO.DNA itself uses LayerNorm."""

    def __init__(self, hidden_size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.eps = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        x = hidden_states.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(hidden_states.dtype)


def _aido_norm(config: GeneFinderEncoderConfig) -> nn.Module:
    if config.normalization_type == "RMSNorm":
        return AidoRMSNorm(config.hidden_size, eps=config.layer_norm_eps)
    return nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)


class AidoEmbeddings(nn.Module):
    """Token embeddings and dropout only: no token types, no positions (rotary), no LayerNorm (pre-LN layers)."""

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.LongTensor) -> torch.Tensor:
        return self.dropout(self.word_embeddings(input_ids))  # (B, L, E)


class AidoSelfAttention(nn.Module):
    """Separate q/k/v projections; rotary positions on q and k."""

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        E, bias = config.hidden_size, config.add_linear_bias
        self.query = nn.Linear(E, E, bias=bias)
        self.key = nn.Linear(E, E, bias=bias)
        self.value = nn.Linear(E, E, bias=bias)
        self.dropout_prob = config.attention_probs_dropout_prob
        self.attn_implementation = "sdpa"

    def forward(
        self, hidden_states: torch.Tensor, bias: AttentionBias, cos: torch.Tensor, sin: torch.Tensor
    ) -> torch.Tensor:
        B, L, E = hidden_states.shape
        q = self.query(hidden_states).view(B, L, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, L, D)
        k = self.key(hidden_states).view(B, L, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, L, D)
        v = self.value(hidden_states).view(B, L, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, L, D)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        out = attend(self.attn_implementation, q, k, v, bias, self.dropout_prob, self.training)  # (B, H, L, D)
        return out.transpose(1, 2).reshape(B, L, E)


class AidoSelfOutput(nn.Module):
    """Output projection, dropout, residual add (no norm: the layers are pre-LN)."""

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size, bias=config.add_linear_bias)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return residual + self.dropout(self.dense(hidden_states))


class AidoAttention(nn.Module):
    """x + attention(LN(x)); the pre-attention norm is `attention.ln` upstream."""

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.ln = _aido_norm(config)
        self.self = AidoSelfAttention(config)
        self.output = AidoSelfOutput(config)

    def forward(
        self, hidden_states: torch.Tensor, bias: AttentionBias, cos: torch.Tensor, sin: torch.Tensor
    ) -> torch.Tensor:
        return self.output(self.self(self.ln(hidden_states), bias, cos, sin), hidden_states)


class AidoMLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        E, I, bias = config.hidden_size, config.intermediate_size, config.add_linear_bias
        self.gate_proj = nn.Linear(E, I, bias=bias)
        self.up_proj = nn.Linear(E, I, bias=bias)
        self.down_proj = nn.Linear(I, E, bias=bias)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(hidden_states)) * self.up_proj(hidden_states))


class AidoLayer(nn.Module):
    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.attention = AidoAttention(config)
        self.ln = _aido_norm(config)
        self.mlp = AidoMLP(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self, hidden_states: torch.Tensor, bias: AttentionBias, cos: torch.Tensor, sin: torch.Tensor
    ) -> torch.Tensor:
        hidden_states = self.attention(hidden_states, bias, cos, sin)
        return hidden_states + self.dropout(self.mlp(self.ln(hidden_states)))


class AidoLayerStack(nn.Module):
    """Holds `encoder.layer.N` and the final norm `encoder.ln`; `AidoEncoder.forward` runs them."""

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.layer = nn.ModuleList(AidoLayer(config) for _ in range(config.num_hidden_layers))
        self.ln = _aido_norm(config)


class AidoEncoder(_EncoderBase):
    """AIDO.DNA's `bert` module: embeddings + pre-LN rotary layers + final norm -> (B, L, E).

    Positions are 0..L-1 for every row (right padding leaves real positions unchanged), as upstream. The rotary
    module (`modeling_rope`) reads `config.rope_parameters`, so scaled RoPE types extend the context.
    """

    def __init__(self, config: GeneFinderEncoderConfig, attn_implementation: str | None = None):
        super().__init__()
        if config.encoder_type != "aido":
            raise ValueError(f"AidoEncoder needs encoder_type='aido', got {config.encoder_type!r}")
        self.embeddings = AidoEmbeddings(config)
        self.encoder = AidoLayerStack(config)
        self.rotary_emb = GeneFinderRotaryEmbedding(
            config.hidden_size // config.num_attention_heads,
            config.rope_parameters,
            config.max_position_embeddings,
        )
        self._setup(config, attn_implementation)

    def forward(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        hidden_states = self.embeddings(input_ids)  # (B, L, E)
        L = input_ids.size(1)
        positions = torch.arange(L, device=input_ids.device)[None]  # (1, L)
        cos, sin = self.rotary_emb(positions, seq_len=L)  # (1, L, D) each
        cos, sin = cos.to(hidden_states.dtype), sin.to(hidden_states.dtype)
        bias = AttentionBias(self.config.num_attention_heads, L, hidden_states.dtype, hidden_states.device,
                             attention_mask=attention_mask, query_block=self.query_block)  # key padding only
        hidden_states = self._run_layers(hidden_states, bias, cos, sin)
        return self.encoder.ln(hidden_states)


class AidoPredictionHeadTransform(nn.Module):
    """dense (always with bias, as upstream) -> GELU -> norm of `normalization_type` (key name `LayerNorm`)."""

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = nn.GELU(approximate="none")
        self.LayerNorm = _aido_norm(config)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.act(self.dense(hidden_states)))


class AidoLMPredictionHead(nn.Module):
    """transform -> decoder (no bias, weight tied to word_embeddings) + a separate output bias `bias`.

    Upstream aliases `decoder.bias` to `bias`; here the bias is added explicitly, so only `bias` is stored.
    """

    def __init__(self, config: GeneFinderEncoderConfig):
        super().__init__()
        self.transform = AidoPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden_states)) + self.bias


class AidoMLMHead(_MLMHead):
    prediction_head = AidoLMPredictionHead


# ----------------------------------------------------------------------------------------------------------------
# Building, initializing and loading
# ----------------------------------------------------------------------------------------------------------------
def build_encoder(
    config: GeneFinderEncoderConfig, attn_implementation: str | None = None
) -> DNABert2Encoder | AidoEncoder:
    """The encoder `config.encoder_type` names; both expose `hidden_size` and `forward(input_ids, attention_mask)`."""
    if config.encoder_type == "dnabert2":
        return DNABert2Encoder(config, attn_implementation)
    if config.encoder_type == "aido":
        return AidoEncoder(config, attn_implementation)
    raise ValueError(f"`encoder_type` must be 'dnabert2' or 'aido', got {config.encoder_type!r}")


def build_mlm_head(
    config: GeneFinderEncoderConfig, word_embeddings: nn.Embedding | None = None
) -> DNABert2MLMHead | AidoMLMHead:
    """The MLM head (upstream `cls`) for `config.encoder_type`, tied to `word_embeddings` when given."""
    head_class = DNABert2MLMHead if config.encoder_type == "dnabert2" else AidoMLMHead
    return head_class(config, word_embeddings)


def init_encoder_weights(module: nn.Module, initializer_range: float) -> None:
    """BERT-style init of one module (call it from `PreTrainedModel._init_weights`, or through `Module.apply`).

    Linear and Embedding weights ~ N(0, initializer_range), biases and the padding embedding row 0, norms 1/0,
    rotary frequency buffers recomputed, CLEX's drift as CLEX starts it (so a checkpoint trained without CLEX loads
    into a CLEX model as NTK scaling, not with uninitialised memory).
    Uses `transformers.initialization`, which leaves weights already loaded from a checkpoint untouched.
    """
    if isinstance(module, nn.Linear):
        init.normal_(module.weight, mean=0.0, std=initializer_range)
        if module.bias is not None:
            init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        init.normal_(module.weight, mean=0.0, std=initializer_range)
        if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        init.ones_(module.weight)
        init.zeros_(module.bias)
    elif isinstance(module, AidoRMSNorm):
        init.ones_(module.weight)
    elif isinstance(module, AidoLMPredictionHead):
        init.zeros_(module.bias)
    elif isinstance(module, GeneFinderCLEXDynamics):  # its own init: CLEX starts as NTK (drift g = 0)
        init.kaiming_uniform_(module.up_proj, a=math.sqrt(5))
        init.zeros_(module.down_proj)
    elif isinstance(module, GeneFinderRotaryEmbedding):
        module.reset_buffers()  # non-persistent frequency buffers come back empty from meta-device loading


# Keys some upstream checkpoints carry that a gene finder does not use; dropped on load and logged.
UPSTREAM_IGNORED_KEYS = (
    "bert.pooler.dense.weight",  # DNABERT-2's BertModel pooler (CLS -> dense -> tanh), unused here
    "bert.pooler.dense.bias",
    "bert.embeddings.position_ids",  # index buffers that some transformers versions saved
    "bert.embeddings.token_type_ids",
    "bert.rotary_pos_emb.inv_freq",  # AIDO: recomputed; upstream drops it on load as well
)
# Keys a checkpoint may omit because they are tied: the decoder weight is the word embedding matrix.
UPSTREAM_TIED_KEYS = ("cls.predictions.decoder.weight",)


def _read_upstream_weights(folder: str) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint folder: model.safetensors or pytorch_model.bin, or their sharded index."""

    def load_file(path: str) -> dict[str, torch.Tensor]:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file as load_safetensors  # a dependency of transformers

            return load_safetensors(path, device="cpu")
        return torch.load(path, map_location="cpu", weights_only=True)

    for name in ("model.safetensors", "pytorch_model.bin"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return load_file(path)
        index = path + ".index.json"
        if os.path.isfile(index):
            with open(index, encoding="utf-8") as handle:
                shards = sorted(set(json.load(handle)["weight_map"].values()))
            state_dict: dict[str, torch.Tensor] = {}
            for shard in shards:
                state_dict.update(load_file(os.path.join(folder, shard)))
            return state_dict
    raise ValueError(f"{folder}: no model.safetensors or pytorch_model.bin (nor a sharded index) in this folder")


def _one_line_keys(keys: set[str], shown: int = 5) -> str:
    listed = ", ".join(sorted(keys)[:shown])
    return f"{listed}, ... ({len(keys)} in all)" if len(keys) > shown else listed


def load_upstream_encoder(
    folder_or_state_dict: str | os.PathLike | Mapping[str, torch.Tensor],
    encoder_type: str,
    config: GeneFinderEncoderConfig | Mapping | None = None,
    attn_implementation: str | None = None,
) -> tuple[GeneFinderEncoderConfig, DNABert2Encoder | AidoEncoder, DNABert2MLMHead | AidoMLMHead | None]:
    """Load an upstream DNABERT-2 or AIDO.DNA checkpoint: `(config, encoder, mlm_head or None)`.

    `folder_or_state_dict` is a folder with config.json and model.safetensors / pytorch_model.bin (sharded or not;
    .bin files are read with `weights_only=True`), or an upstream-named state_dict, which then needs `config`
    (ours or an upstream config dict). `bert.*` keys go to the encoder, `cls.*` keys to the MLM head, which is
    built only when the checkpoint has one. The tied `cls.predictions.decoder.weight` may be absent (if present
    it must equal the word embeddings); `UPSTREAM_IGNORED_KEYS` are dropped. Any other missing or unexpected key,
    or a shape that disagrees with the config, raises a one-line `ValueError`.
    """
    if isinstance(folder_or_state_dict, Mapping):
        source = "state_dict"
        state_dict = dict(folder_or_state_dict)
        if config is None:
            raise ValueError("load_upstream_encoder: `config` is required when loading from a state_dict")
    else:
        source = os.fspath(folder_or_state_dict)
        if config is None:
            config = GeneFinderEncoderConfig.from_upstream_config(source, encoder_type)
        state_dict = _read_upstream_weights(source)
    if not isinstance(config, GeneFinderEncoderConfig):
        config = GeneFinderEncoderConfig.from_upstream_config(config, encoder_type)
    if config.encoder_type != encoder_type:
        raise ValueError(f"{source}: config has encoder_type={config.encoder_type!r}, expected {encoder_type!r}")

    ignored = {key for key in state_dict if key in UPSTREAM_IGNORED_KEYS}
    for key in ignored:
        del state_dict[key]
    if encoder_type == "aido" and "cls.predictions.decoder.bias" in state_dict:
        # Upstream aliases decoder.bias to predictions.bias; either name (or both, equal) may be saved.
        alias = state_dict.pop("cls.predictions.decoder.bias")
        bias = state_dict.setdefault("cls.predictions.bias", alias)
        if not torch.equal(bias, alias):
            raise ValueError(f"{source}: cls.predictions.bias and cls.predictions.decoder.bias differ")
    tied_weight = state_dict.pop("cls.predictions.decoder.weight", None)

    encoder = build_encoder(config, attn_implementation)
    has_head = tied_weight is not None or any(key.startswith("cls.") for key in state_dict)
    head = build_mlm_head(config, encoder.embeddings.word_embeddings) if has_head else None
    expected = {f"bert.{key}": value for key, value in encoder.state_dict().items()}
    if head is not None:
        expected.update({f"cls.{key}": value for key, value in head.state_dict().items()})
    for key in UPSTREAM_TIED_KEYS:
        expected.pop(key, None)

    missing, unexpected = set(expected) - set(state_dict), set(state_dict) - set(expected)
    if ignored:
        logger.info("%s: ignored upstream keys not used by genefinder: %s", source, sorted(ignored))
    if missing or unexpected:
        logger.error("%s: missing keys %s; unexpected keys %s", source, sorted(missing), sorted(unexpected))
        raise ValueError(
            f"{source}: not an upstream {encoder_type} checkpoint for this config: "
            f"{len(missing)} missing key(s) [{_one_line_keys(missing)}], "
            f"{len(unexpected)} unexpected key(s) [{_one_line_keys(unexpected)}]"
        )
    for key, tensor in state_dict.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise ValueError(
                f"{source}: {key} has shape {tuple(tensor.shape)} in the checkpoint but {tuple(expected[key].shape)} "
                f"from the config"
            )

    encoder.load_state_dict({key[len("bert."):]: value for key, value in state_dict.items() if key.startswith("bert.")})
    if head is not None:
        result = head.load_state_dict(
            {key[len("cls."):]: value for key, value in state_dict.items() if key.startswith("cls.")}, strict=False
        )
        assert set(result.missing_keys) <= {"predictions.decoder.weight"} and not result.unexpected_keys
        if tied_weight is not None and not torch.equal(
            tied_weight.to(encoder.embeddings.word_embeddings.weight.dtype), encoder.embeddings.word_embeddings.weight
        ):
            raise ValueError(
                f"{source}: cls.predictions.decoder.weight differs from bert.embeddings.word_embeddings.weight; "
                "an untied MLM decoder is not supported"
            )
    return config, encoder, head
