"""Rotary position embeddings (RoPE) with the scalings that let genefinder's encoder run past its trained context.

One module, `GeneFinderRotaryEmbedding`, configured by a transformers 5.x `rope_parameters` dict, turns positions
into the `cos`/`sin` tables that `apply_rotary_pos_emb` rotates queries and keys with (Llama's `rotate_half`
convention). `rope_type` selects how the rotary frequencies are scaled:

- `default`  plain RoPE (Su et al. 2021, arXiv:2104.09864): inv_freq_i = theta^(-2i/d).
- `linear`   Position Interpolation (Chen et al. 2023, arXiv:2306.15595): positions / factor.
- `ntk`      static NTK-aware scaling (bloc97, 2023): theta' = theta * factor^(d/(d-2)).
- `dynamic`  dynamic NTK (emozilla, 2023): theta grows with the current length past the trained one.
- `yarn`     YaRN (Peng et al. 2023, arXiv:2309.00071): NTK-by-parts plus attention temperature 0.1 ln s + 1.
- `longrope` LongRoPE (Ding et al. 2024, arXiv:2402.13753): searched per-frequency factors, short and long sets.
- `gene`     GeNE (Li & Zhang, Findings of ACL 2024, "Context Length Extension via Generalized Extrapolation
             Scale"): a random extension scale per training batch, fixed at inference.
- `clex`     CLEX (Chen et al., ICLR 2024, arXiv:2310.16450): frequencies follow a learned ODE over the scale.

`linear`, `dynamic`, `yarn` and `longrope` are computed by `transformers.modeling_rope_utils.ROPE_INIT_FUNCTIONS`,
so they match transformers exactly; `default`, `ntk`, `gene` and `clex` are computed here. Only `clex` has
parameters; every other type keeps its frequencies in non-persistent buffers, so a checkpoint's state_dict is the
same whichever of them is selected.

Shape legend: B batch, L positions, nh heads, hd head_dim, d rotary dim (= hd * partial_rotary_factor),
F = d // 2 rotary frequencies.

Partial rotary (`partial_rotary_factor` < 1): the F frequencies are padded with zeros up to hd // 2, so `cos`/`sin`
always span the whole head and `apply_rotary_pos_emb` needs no slicing. Channel pairs (i, i + hd/2) with i < F
rotate; the others get cos = 1, sin = 0 and pass through. This is transformers' `proportional` layout, a fixed
permutation of head channels away from GPT-NeoX's "rotate the first d channels" layout, and equivalent to it for a
model trained with it.

Usage, once per forward pass (all layers share the tables, as in Llama; `gene` and `clex` draw one scale per call):

    rope = GeneFinderRotaryEmbedding(64, {"rope_type": "yarn", "factor": 16.0,
                                          "original_max_position_embeddings": 1024}, 16384)
    cos, sin = rope(position_ids)                             # (B, L, hd) each, float32
    q, k = apply_rotary_pos_emb(q, k, cos, sin)               # q, k: (B, nh, L, hd)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from .errors import GeneFinderInputError

# --------------------------------------------------------------------------------------------------------------------
# rope_parameters: which fields each rope_type takes

_COMMON_FIELDS = frozenset({"rope_type", "type", "rope_theta", "partial_rotary_factor"})  # "type": pre-5.x alias
_YARN_OPTIONS = frozenset({"attention_factor", "beta_fast", "beta_slow", "mscale", "mscale_all_dim", "truncate"})
_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {  # rope_type: (required, optional) beyond the common ones
    "default": (frozenset(), frozenset({"original_max_position_embeddings"})),
    "linear": (frozenset({"factor"}), frozenset({"original_max_position_embeddings"})),
    "ntk": (frozenset({"factor"}), frozenset({"original_max_position_embeddings"})),
    "dynamic": (frozenset({"factor"}), frozenset({"original_max_position_embeddings"})),
    "yarn": (frozenset({"factor", "original_max_position_embeddings"}), _YARN_OPTIONS),
    "longrope": (
        frozenset({"short_factor", "long_factor", "original_max_position_embeddings"}),
        frozenset({"factor", "attention_factor"}),
    ),
    "gene": (frozenset({"factor", "original_max_position_embeddings"}), frozenset({"num_rotations"})),
    "clex": (frozenset({"factor", "original_max_position_embeddings"}), frozenset({"param_factor", "act", "time_dt"})),
}
ROPE_TYPES = tuple(_FIELDS)

DEFAULT_ROPE_THETA = 10_000.0  # transformers' RotaryEmbeddingConfigMixin.default_theta
GENE_NUM_ROTATIONS = 3.0  # GeNE: pairs turning fewer times than this over the trained length are fully interpolated
CLEX_PARAM_FACTOR = 1  # CLEX: hidden width of the drift MLP = param_factor * d
CLEX_ACT = "tanh"  # CLEX's released configs use tanh
CLEX_TIME_DT = 0.1  # RK4 step over the scale t; the analytic NTK part is not integrated, so 0.1 is ample (see tests)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate_rope_parameters(rope_parameters: dict) -> None:
    """Check a `rope_parameters` dict; raise `GeneFinderInputError` (a `ValueError`) naming the field and the value.

    Fields set to None count as absent, as transformers writes unset options. Lengths of `short_factor` and
    `long_factor` depend on the head size and are checked by `GeneFinderRotaryEmbedding`.
    """
    if not isinstance(rope_parameters, dict):
        raise GeneFinderInputError(f"`rope_parameters` must be a dict, got {type(rope_parameters).__name__}")
    params = {key: value for key, value in rope_parameters.items() if value is not None}
    rope_type = params.get("rope_type", params.get("type", "default"))
    if not isinstance(rope_type, str) or rope_type not in _FIELDS:
        raise GeneFinderInputError(
            f"rope_parameters['rope_type'] must be one of {', '.join(ROPE_TYPES)}, got {rope_type!r}"
        )
    required, optional = _FIELDS[rope_type]
    missing = sorted(required - params.keys())
    if missing:
        raise GeneFinderInputError(f"rope_parameters['{missing[0]}'] is required for rope_type '{rope_type}'")
    unknown = sorted(params.keys() - required - optional - _COMMON_FIELDS)
    if unknown:
        raise GeneFinderInputError(
            f"rope_parameters['{unknown[0]}'] is not a field of rope_type '{rope_type}' "
            f"(allowed: {', '.join(sorted(required | optional | _COMMON_FIELDS))})"
        )

    def check(key: str, ok, rule: str) -> None:
        if key in params and not ok(params[key]):
            raise GeneFinderInputError(
                f"rope_parameters['{key}'] must be {rule} for rope_type '{rope_type}', got {params[key]!r}"
            )

    check("rope_theta", lambda v: _is_number(v) and v > 1, "a number > 1")
    check("partial_rotary_factor", lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]")
    check("factor", lambda v: _is_number(v) and v >= 1, "a number >= 1")
    check(
        "original_max_position_embeddings", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "an integer >= 1",
    )
    check("attention_factor", lambda v: _is_number(v) and v > 0, "a number > 0")
    check("beta_fast", lambda v: _is_number(v) and v > 0, "a number > 0")
    check("beta_slow", lambda v: _is_number(v) and v > 0, "a number > 0")
    check("beta_fast", lambda v: v > params.get("beta_slow", 1), "greater than beta_slow (default 1)")
    check("beta_slow", lambda v: v < params.get("beta_fast", 32), "smaller than beta_fast (default 32)")
    check("mscale", _is_number, "a number")
    check("mscale_all_dim", _is_number, "a number")
    check("truncate", lambda v: isinstance(v, bool), "true or false")
    for key in ("short_factor", "long_factor"):
        check(key, lambda v: isinstance(v, (list, tuple)) and len(v) > 0 and all(_is_number(x) and x > 0 for x in v),
              "a non-empty list of numbers > 0")
    check("num_rotations", lambda v: _is_number(v) and v > 0, "a number > 0")
    check("param_factor", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1")
    check("act", lambda v: v in ("tanh", "silu"), "'tanh' or 'silu'")
    check("time_dt", lambda v: _is_number(v) and v > 0, "a number > 0")


# --------------------------------------------------------------------------------------------------------------------
# frequencies


def _default_inv_freq(theta: float, dim: int) -> torch.Tensor:
    """inv_freq_i = theta^(-2i/d), i = 0 .. d/2 - 1, in float32 on the CPU."""
    return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).to(torch.float32) / dim))  # (F,)


class _RopeInitConfig:
    """The attributes transformers' `ROPE_INIT_FUNCTIONS` read from a model config (see their docstrings).

    `rope_parameters` arrives complete (rope_type, rope_theta, partial_rotary_factor, original_max_position_embeddings
    filled in), so `standardize_rope_params`, which the functions call first, has nothing left to do.
    """

    def __init__(self, rope_parameters: dict, head_dim: int, max_position_embeddings: int):
        self.rope_parameters = rope_parameters
        self.head_dim = head_dim
        self.hidden_size, self.num_attention_heads = head_dim, 1  # read by some functions before `head_dim`
        self.max_position_embeddings = max_position_embeddings

    def standardize_rope_params(self) -> None:
        pass


class GeneFinderCLEXDynamics(nn.Module):
    """The learned drift of CLEX's ODE: a two-layer MLP from the current log inverse frequencies to their change.

    CLEX writes the log inverse frequencies z(t) at scale t (t = sequence length / trained length) as the solution
    of dz/dt = ntk'(t) + g(z(t)) from z(1) = log(theta^(-2i/d)). Here ntk'(t) = -(2i/(d-2)) / t is the derivative
    of static NTK scaling's log frequencies at factor t, so with g = 0 the solution is exactly `ntk` at factor t,
    and g, this module, learns the correction. `down_proj` starts at zero, so training starts from NTK scaling.
    """

    def __init__(self, num_freqs: int, hidden_size: int, act: str, rope_theta: float):
        super().__init__()
        self.up_proj = nn.Parameter(torch.empty(hidden_size, num_freqs))  # (H, F), as nn.Linear stores it
        self.down_proj = nn.Parameter(torch.empty(num_freqs, hidden_size))  # (F, H)
        self.act = nn.Tanh() if act == "tanh" else nn.SiLU()
        self.input_scale = 1.0 / math.log(rope_theta)  # log inverse frequencies span [-log theta, 0]: bring to O(1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.up_proj, a=math.sqrt(5))  # nn.Linear's default
        nn.init.zeros_(self.down_proj)  # g = 0 at the start: CLEX begins as NTK scaling

    def forward(self, log_inv_freq: torch.Tensor) -> torch.Tensor:
        """(F,) log inverse frequencies -> (F,) learned part of their derivative over the scale t."""
        hidden = self.act(F.linear(log_inv_freq * self.input_scale, self.up_proj.float()))  # (H,)
        return F.linear(hidden, self.down_proj.float())  # (F,)


class GeneFinderRotaryEmbedding(nn.Module):
    """Positions -> `cos`, `sin` tables for `apply_rotary_pos_emb`, scaled as `rope_parameters['rope_type']` says.

    Args:
        head_dim: size of one attention head (hd); the rotary dim is `int(head_dim * partial_rotary_factor)`.
        rope_parameters: transformers 5.x dict, e.g. `{"rope_type": "yarn", "factor": 16.0, "rope_theta": 1e4,
            "original_max_position_embeddings": 1024}`; checked by `validate_rope_parameters`, never modified.
        max_position_embeddings: the model's maximum length. It stands in for a missing
            `original_max_position_embeddings` (as transformers does) and gives longrope its factor when none is set.

    Scale-dependent types read the current length from `forward`'s `seq_len` (default: max position + 1).
    `gene` and `clex` draw a random scale in training mode (from torch's global CPU generator, so
    `torch.manual_seed` reproduces it) and use a fixed rule in eval mode; the scale of the last call is kept in
    `last_scale` for logging.
    """

    def __init__(self, head_dim: int, rope_parameters: dict, max_position_embeddings: int):
        super().__init__()
        validate_rope_parameters(rope_parameters)
        if not (isinstance(head_dim, int) and head_dim >= 2 and head_dim % 2 == 0):
            raise GeneFinderInputError(f"`head_dim` must be an even integer >= 2, got {head_dim!r}")
        if not (isinstance(max_position_embeddings, int) and max_position_embeddings >= 1):
            raise GeneFinderInputError(
                f"`max_position_embeddings` must be an integer >= 1, got {max_position_embeddings!r}"
            )
        params = {key: value for key, value in rope_parameters.items() if value is not None and key != "type"}
        params["rope_type"] = rope_parameters.get("rope_type") or rope_parameters.get("type") or "default"
        params.setdefault("rope_theta", DEFAULT_ROPE_THETA)
        params.setdefault("partial_rotary_factor", 1.0)
        params.setdefault("original_max_position_embeddings", max_position_embeddings)
        self.rope_parameters = params  # our completed copy; the caller's dict is left as it was
        self.rope_type: str = params["rope_type"]
        self.head_dim = head_dim
        self.rotary_dim = int(head_dim * params["partial_rotary_factor"])  # d, as transformers computes it
        self.max_position_embeddings = max_position_embeddings
        self.original_max_position_embeddings: int = params["original_max_position_embeddings"]
        self.factor = float(params.get("factor", 1.0))
        min_dim = 4 if self.rope_type in ("ntk", "dynamic", "clex") else 2  # d/(d-2) needs d > 2
        if self.rotary_dim < min_dim or self.rotary_dim % 2:
            raise GeneFinderInputError(
                f"rope_parameters['partial_rotary_factor'] = {params['partial_rotary_factor']} gives rotary dim "
                f"{self.rotary_dim} for head_dim {head_dim}; rope_type '{self.rope_type}' needs an even "
                f"dim >= {min_dim}"
            )
        for key in ("short_factor", "long_factor"):
            if key in params and len(params[key]) != self.rotary_dim // 2:
                raise GeneFinderInputError(
                    f"rope_parameters['{key}'] must have rotary_dim / 2 = {self.rotary_dim // 2} entries, "
                    f"got {len(params[key])}"
                )
        self.attention_scaling = 1.0
        self.last_scale = 1.0
        if self.rope_type == "clex":
            self.clex = GeneFinderCLEXDynamics(
                self.rotary_dim // 2,
                params.get("param_factor", CLEX_PARAM_FACTOR) * self.rotary_dim,
                params.get("act", CLEX_ACT),
                params["rope_theta"],
            )
        self.reset_buffers()

    # ---- buffers --------------------------------------------------------------------------------------------------

    def _init_config(self, max_position_embeddings: int | None = None) -> _RopeInitConfig:
        return _RopeInitConfig(
            self.rope_parameters, self.head_dim, max_position_embeddings or self.max_position_embeddings
        )

    @torch.no_grad()
    def reset_buffers(self) -> None:
        """(Re)compute the frequency buffers in float32 on the buffers' device.

        Called by `__init__` and after every `.to()`/`.half()`/`to_empty()` (so casting the model to bf16 does not
        round the frequencies). A model loaded through transformers' meta-device path must call it from its
        `_init_weights`, because non-persistent buffers come back from loading uninitialised.
        """
        # first call: the default device, so that building the model under `torch.device("meta")` stays on meta
        device = self.inv_freq.device if "inv_freq" in self._buffers else torch.empty(0).device
        with torch.device("cpu"):  # computed on the CPU whatever the ambient default device is
            buffers = self._compute_buffers()
        for name, value in buffers.items():
            self.register_buffer(name, value.to(device=device, dtype=torch.float32), persistent=False)

    def _compute_buffers(self) -> dict[str, torch.Tensor]:
        theta, d, rope_type = self.rope_parameters["rope_theta"], self.rotary_dim, self.rope_type
        original = self.original_max_position_embeddings
        buffers: dict[str, torch.Tensor] = {}
        if rope_type == "ntk":
            inv_freq = _default_inv_freq(theta * self.factor ** (d / (d - 2)), d)
        elif rope_type == "dynamic":  # at or below the trained length dynamic NTK is plain RoPE
            inv_freq, self.attention_scaling = ROPE_INIT_FUNCTIONS["dynamic"](self._init_config(original), "cpu")
        elif rope_type in ("linear", "yarn"):
            inv_freq, self.attention_scaling = ROPE_INIT_FUNCTIONS[rope_type](self._init_config(), "cpu")
        elif rope_type == "longrope":
            init = ROPE_INIT_FUNCTIONS["longrope"]
            inv_freq, self.attention_scaling = init(self._init_config(), "cpu")  # short_factor
            buffers["long_inv_freq"], _ = init(self._init_config(), "cpu", seq_len=original + 1)  # long_factor
        else:  # default, gene, clex: plain RoPE; gene and clex scale it per call
            inv_freq = _default_inv_freq(theta, d)
        if rope_type == "gene":
            buffers["gene_exponent"] = self._gene_exponent(inv_freq)
        if rope_type == "clex":
            buffers["ntk_exponent"] = torch.arange(0, d, 2, dtype=torch.float32) / (d - 2)  # (F,) 2i/(d-2)
        buffers["inv_freq"] = inv_freq
        return buffers

    def _gene_exponent(self, inv_freq: torch.Tensor) -> torch.Tensor:
        """GeNE's per-frequency exponent w_i: inv_freq_i(r) = inv_freq_i / r^w_i.

        w_i = clip(i / beta, 0, 1) where beta is the first pair that turns fewer than `num_rotations` times over the
        trained length: the fastest pair is kept (w_0 = 0) and pairs too slow to have been seen wrapping are fully
        interpolated (w = 1), with a linear ramp of the exponent between them. With beta = F - 1 this is exactly
        static NTK scaling (w_i = 2i/(d-2)); GeNE's beta is smaller, so its ramp is NTK's cut off early.
        """
        num_rotations = self.rope_parameters.get("num_rotations", GENE_NUM_ROTATIONS)
        turns = inv_freq * self.original_max_position_embeddings / (2 * math.pi)  # (F,)
        slow = torch.nonzero(turns < num_rotations).flatten()
        beta = max(1, int(slow[0]) if len(slow) else len(inv_freq) - 1)
        return (torch.arange(len(inv_freq), dtype=torch.float32) / beta).clamp(0.0, 1.0)  # (F,)

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self.reset_buffers()
        return self

    # ---- scales ---------------------------------------------------------------------------------------------------

    def _gene_scale(self, seq_len: int) -> float:
        """GeNE's extension scale r. Eval: max(factor, seq_len / trained length).

        Training (the paper's distribution): r = k * r_min with r_min = ceil(seq_len / trained length) and
        k in 1..s, s = floor(factor / r_min); P(k = 1) = P(k = s) = 1/4 and the other 1/2 spread evenly over
        2..s-1 when s > 4, uniform otherwise. The top value is set to `factor` itself (the paper's s * r_min can
        fall short of it), so the scale used at inference is always one of the most likely training draws.
        """
        if not self.training:
            return max(self.factor, seq_len / self.original_max_position_embeddings)
        r_min = max(1, math.ceil(seq_len / self.original_max_position_embeddings))
        s = max(1, int(self.factor // r_min))
        scales = [float(k * r_min) for k in range(1, s)] + [max(self.factor, float(r_min))]
        if s > 4:
            probs = torch.tensor([0.25] + [0.5 / (s - 2)] * (s - 2) + [0.25])
        else:
            probs = torch.full((s,), 1.0 / s)
        return scales[int(torch.multinomial(probs, 1))]

    def _clex_scale(self, seq_len: int) -> float:
        """CLEX's scale t. Eval: max(1, seq_len / trained length), continuous and unclamped.

        Training: t ~ Uniform[t_min, max(factor, t_min)], t_min = max(1, seq_len / trained length). CLEX samples
        integers in 1..factor; a continuous draw covers the same range and trains the ODE at the fractional
        scales inference will ask for.
        """
        t_min = max(1.0, seq_len / self.original_max_position_embeddings)
        if not self.training:
            return t_min
        return t_min + (max(self.factor, t_min) - t_min) * float(torch.rand(()))

    def _clex_inv_freq(self, t: float) -> torch.Tensor:
        """Solve CLEX's ODE from scale 1 to t with fixed-step RK4; returns (F,) inverse frequencies at scale t.

        Writing z(t) = ntk(t) + u(t), with ntk(t) = log inv_freq - (2i/(d-2)) ln t known in closed form, only the
        learned part u is integrated: du/dt = g(ntk(t) + u), u(1) = 0. In training the loop runs at least once even
        at t = 1 (a zero step), so the parameters always take part in the graph (DistributedDataParallel needs it).
        """
        log_inv_freq, exponent = self.inv_freq.log(), self.ntk_exponent  # (F,) each

        def drift(s: float, u: torch.Tensor) -> torch.Tensor:
            return self.clex(log_inv_freq - exponent * math.log(s) + u)

        steps = max(1, math.ceil((t - 1.0) / self.rope_parameters.get("time_dt", CLEX_TIME_DT) - 1e-9))
        h = (t - 1.0) / steps
        u = torch.zeros_like(log_inv_freq)
        for step in range(steps):
            s = 1.0 + step * h
            k1 = drift(s, u)
            k2 = drift(s + h / 2, u + h / 2 * k1)
            k3 = drift(s + h / 2, u + h / 2 * k2)
            k4 = drift(s + h, u + h * k3)
            u = u + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return torch.exp(log_inv_freq - exponent * math.log(t) + u)

    def _inv_freq(self, positions: torch.Tensor, seq_len: int | None) -> torch.Tensor:
        """(F,) inverse frequencies for this call; attention_scaling is constant per rope_type."""
        if self.rope_type in ("default", "linear", "ntk", "yarn"):
            return self.inv_freq
        if seq_len is None:  # a host sync on GPU; pass seq_len to avoid it
            seq_len = int(positions.max()) + 1 if positions.numel() else 0
        seq_len = int(seq_len)
        original = self.original_max_position_embeddings
        if self.rope_type == "dynamic":  # recomputed for the current length, nothing cached across lengths
            if seq_len <= original:
                return self.inv_freq
            inv_freq, _ = ROPE_INIT_FUNCTIONS["dynamic"](self._init_config(original), self.inv_freq.device, seq_len)
            return inv_freq
        if self.rope_type == "longrope":
            return self.long_inv_freq if seq_len > original else self.inv_freq
        if self.rope_type == "gene":
            self.last_scale = self._gene_scale(seq_len)
            return self.inv_freq / self.last_scale**self.gene_exponent
        self.last_scale = self._clex_scale(seq_len)  # clex
        if self.last_scale == 1.0 and not self.training:
            return self.inv_freq
        return self._clex_inv_freq(self.last_scale)

    # ---- forward --------------------------------------------------------------------------------------------------

    def forward(self, positions: torch.LongTensor, seq_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """positions (B, L) or (L,) -> cos, sin (B, L, hd) or (1, L, hd), float32, times `attention_scaling`.

        `seq_len` is the current sequence length for the length-dependent types (dynamic, longrope, gene, clex);
        by default max(positions) + 1.
        """
        if positions.dim() == 1:
            positions = positions.unsqueeze(0)  # (1, L)
        if positions.dim() != 2:
            raise GeneFinderInputError(f"`positions` must have shape (B, L) or (L,), got {tuple(positions.shape)}")
        inv_freq = self._inv_freq(positions, seq_len).to(positions.device)  # (F,)
        inv_freq = F.pad(inv_freq, (0, self.head_dim // 2 - inv_freq.shape[0]))  # (hd/2,): zeros pass through
        device_type = positions.device.type if positions.device.type != "mps" else "cpu"
        with torch.autocast(device_type=device_type, enabled=False):  # angles in float32 even under autocast
            freqs = positions[..., None].float() * inv_freq.float()  # (B, L, hd/2)
            emb = torch.cat((freqs, freqs), dim=-1)  # (B, L, hd)
            # The YaRN temperature scales every channel, i.e. the whole attention logit as in the paper (transformers'
            # partial-rotary models scale only the rotated part).
            return emb.cos() * self.attention_scaling, emb.sin() * self.attention_scaling

    def extra_repr(self) -> str:
        return (
            f"rope_type={self.rope_type!r}, head_dim={self.head_dim}, rotary_dim={self.rotary_dim}, "
            f"factor={self.factor}"
        )


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) over the last dim's two halves (Llama / GPT-NeoX convention)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate q, k (B, nh, L, hd) by cos, sin (B or 1, L, hd); returns them in q's and k's dtypes."""
    if cos.shape[-1] != q.shape[-1] or sin.shape != cos.shape:
        raise GeneFinderInputError(
            f"cos/sin of shape {tuple(cos.shape)}/{tuple(sin.shape)} do not match head_dim {q.shape[-1]}"
        )
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)  # (B, 1, L, hd): broadcast over heads
    q_embed = q * cos.to(q.dtype) + rotate_half(q) * sin.to(q.dtype)
    k_embed = k * cos.to(k.dtype) + rotate_half(k) * sin.to(k.dtype)
    return q_embed, k_embed
