"""Tests for modeling_rope: each rope_type against its formula, the rotation's properties, and config validation."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from genefinder.models.modeling_rope import (
    GeneFinderRotaryEmbedding,
    apply_rotary_pos_emb,
    validate_rope_parameters,
)

HD = 32  # head_dim of the tiny configs
THETA = 10_000.0
ORIG = 256  # original (trained) max positions
I = torch.arange(HD // 2, dtype=torch.float64)  # pair index i
DEFAULT_INV = THETA ** (-2 * I / HD)  # reference inv_freq in float64


def rope(rope_parameters: dict, head_dim: int = HD, max_pos: int = 16 * ORIG) -> GeneFinderRotaryEmbedding:
    return GeneFinderRotaryEmbedding(head_dim, rope_parameters, max_pos)


def inv_freq_of(module: GeneFinderRotaryEmbedding, seq_len: int) -> torch.Tensor:
    """The (F,) inverse frequencies a call of this length uses, in float64."""
    return module._inv_freq(torch.arange(2), seq_len).detach().double()


def tables(inv_freq: torch.Tensor, positions: torch.Tensor, scaling: float = 1.0):
    """Reference cos, sin (L, hd) for float64 inv_freq and (possibly fractional) positions."""
    freqs = positions.double()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos() * scaling, emb.sin() * scaling


def assert_tables(module, positions, inv_freq, scaling=1.0, seq_len=None, atol=2e-5):
    cos, sin = module(positions, seq_len=seq_len)
    ref_cos, ref_sin = tables(inv_freq, positions.float(), scaling)
    torch.testing.assert_close(cos[0].double(), ref_cos, atol=atol, rtol=0)
    torch.testing.assert_close(sin[0].double(), ref_sin, atol=atol, rtol=0)


def perturb_clex(module: GeneFinderRotaryEmbedding, seed: int = 0) -> None:
    """Stand-in for a trained CLEX network: random weights instead of the zero-drift start."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        module.clex.up_proj.copy_(torch.randn(module.clex.up_proj.shape, generator=generator))
        module.clex.down_proj.copy_(0.01 * torch.randn(module.clex.down_proj.shape, generator=generator))


GENE = {"rope_type": "gene", "factor": 16.0, "original_max_position_embeddings": ORIG}
CLEX = {"rope_type": "clex", "factor": 16.0, "original_max_position_embeddings": ORIG}
POS = torch.arange(0, 200, 7)


# ---- shapes and state ------------------------------------------------------------------------------------------------


def test_shapes_for_batched_and_flat_positions():
    module = rope({"rope_type": "default"})
    cos, sin = module(torch.arange(10).repeat(3, 1))
    assert cos.shape == sin.shape == (3, 10, HD) and cos.dtype == torch.float32
    cos, sin = module(torch.arange(10))
    assert cos.shape == (1, 10, HD)


@pytest.mark.parametrize(
    "rope_parameters",
    [
        {"rope_type": "default"},
        {"rope_type": "linear", "factor": 4.0},
        {"rope_type": "ntk", "factor": 4.0},
        {"rope_type": "dynamic", "factor": 4.0},
        {"rope_type": "yarn", "factor": 16.0, "original_max_position_embeddings": ORIG},
        {"rope_type": "longrope", "short_factor": [1.0] * 16, "long_factor": [2.0] * 16,
         "original_max_position_embeddings": ORIG},
        GENE,
    ],
)
def test_only_clex_has_parameters_and_state(rope_parameters):
    module = rope(rope_parameters)
    assert list(module.parameters()) == [] and module.state_dict() == {}
    clex = rope(CLEX)
    assert sorted(clex.state_dict()) == ["clex.down_proj", "clex.up_proj"]
    assert all(p.requires_grad for p in clex.parameters())


def test_buffers_stay_float32_when_the_model_is_cast():
    module = rope({"rope_type": "yarn", "factor": 16.0, "original_max_position_embeddings": ORIG})
    reference = module.inv_freq.clone()
    module.to(torch.bfloat16)
    assert module.inv_freq.dtype == torch.float32
    torch.testing.assert_close(module.inv_freq, reference, rtol=0, atol=0)
    with torch.device("meta"):  # how transformers builds a model before loading its weights
        module = rope({"rope_type": "yarn", "factor": 16.0, "original_max_position_embeddings": ORIG})
    assert module.inv_freq.is_meta
    module.to_empty(device="cpu")
    torch.testing.assert_close(module.inv_freq, reference, rtol=0, atol=0)
    module.inv_freq.fill_(0.0)  # loading leaves non-persistent buffers uninitialised; _init_weights resets them
    module.reset_buffers()
    torch.testing.assert_close(module.inv_freq, reference, rtol=0, atol=0)


def test_caller_dict_is_not_modified():
    rope_parameters = {"rope_type": "yarn", "factor": 16.0, "original_max_position_embeddings": ORIG}
    before = dict(rope_parameters)
    rope(rope_parameters)
    assert rope_parameters == before


# ---- each rope_type against its formula ------------------------------------------------------------------------------


def test_default_inv_freq_is_theta_power():
    module = rope({"rope_type": "default", "rope_theta": THETA})
    torch.testing.assert_close(module.inv_freq.double(), DEFAULT_INV, rtol=1e-6, atol=0)
    assert module.attention_scaling == 1.0
    assert_tables(module, POS, DEFAULT_INV)


def test_linear_at_p_equals_default_at_p_over_factor():
    factor = 4.0
    linear, default = rope({"rope_type": "linear", "factor": factor}), rope({"rope_type": "default"})
    cos, sin = linear(POS)  # positions / factor ...
    ref_cos, ref_sin = tables(DEFAULT_INV, POS.double() / factor)
    torch.testing.assert_close(cos[0].double(), ref_cos, atol=2e-5, rtol=0)
    torch.testing.assert_close(sin[0].double(), ref_sin, atol=2e-5, rtol=0)
    # ... and exactly default's table at integer positions p / factor
    torch.testing.assert_close(linear(POS * 4)[0], default(POS)[0], atol=1e-5, rtol=0)


def test_ntk_raises_the_base_by_factor_to_d_over_d_minus_2():
    factor = 8.0
    module = rope({"rope_type": "ntk", "factor": factor})
    base = THETA * factor ** (HD / (HD - 2))
    torch.testing.assert_close(module.inv_freq.double(), base ** (-2 * I / HD), rtol=1e-5, atol=0)
    # the fastest pair is kept, the slowest is interpolated exactly as linear scaling would
    assert module.inv_freq[0] == 1.0
    torch.testing.assert_close(module.inv_freq[-1].double(), DEFAULT_INV[-1] / factor, rtol=1e-5, atol=0)


def test_dynamic_is_default_up_to_the_trained_length_then_ntk_for_the_current_length():
    factor = 4.0
    module = rope({"rope_type": "dynamic", "factor": factor, "original_max_position_embeddings": ORIG})
    torch.testing.assert_close(inv_freq_of(module, ORIG), DEFAULT_INV, rtol=1e-5, atol=1e-7)
    for seq_len in (3 * ORIG, 5 * ORIG + 17):  # transformers' _compute_dynamic_ntk_parameters
        base = THETA * (factor * seq_len / ORIG - (factor - 1)) ** (HD / (HD - 2))
        assert_tables(module, POS, base ** (-2 * I / HD), seq_len=seq_len)
    # seq_len defaults to max(position) + 1, and a short call after a long one is plain RoPE again
    long_positions = torch.arange(0, 3 * ORIG)
    base = THETA * (factor * 3 - (factor - 1)) ** (HD / (HD - 2))
    torch.testing.assert_close(module(long_positions)[1][0, 1].double(),
                               tables(base ** (-2 * I / HD), torch.tensor([1]))[1][0], atol=1e-6, rtol=0)
    assert_tables(module, POS, DEFAULT_INV, seq_len=ORIG // 2)


def test_dynamic_defaults_original_length_to_max_position_embeddings():
    module = GeneFinderRotaryEmbedding(HD, {"rope_type": "dynamic", "factor": 2.0}, 512)
    assert module.original_max_position_embeddings == 512
    torch.testing.assert_close(inv_freq_of(module, 512), DEFAULT_INV, rtol=1e-5, atol=1e-7)


def test_yarn_temperature_and_ntk_by_parts():
    s = 16.0
    module = rope({"rope_type": "yarn", "factor": s, "original_max_position_embeddings": ORIG})
    assert module.attention_scaling == pytest.approx(0.1 * math.log(s) + 1)
    cos, _ = module(torch.tensor([0]))
    torch.testing.assert_close(cos, torch.full_like(cos, 0.1 * math.log(s) + 1))
    turns = DEFAULT_INV * ORIG / (2 * math.pi)  # rotations over the trained length
    fast, slow = turns > 32, turns < 1  # beta_fast = 32, beta_slow = 1
    assert fast.any() and slow.any() and not (fast | slow).all()
    inv = module.inv_freq.double()
    torch.testing.assert_close(inv[fast], DEFAULT_INV[fast], rtol=1e-6, atol=0)  # high frequencies unchanged
    torch.testing.assert_close(inv[slow], DEFAULT_INV[slow] / s, rtol=1e-6, atol=0)  # low ones interpolated by s
    middle = ~(fast | slow)
    assert ((inv[middle] <= DEFAULT_INV[middle]) & (inv[middle] >= DEFAULT_INV[middle] / s)).all()


def test_yarn_attention_options():
    common = {"rope_type": "yarn", "factor": 16.0, "original_max_position_embeddings": ORIG}
    module = rope({**common, "mscale": 1.0, "mscale_all_dim": 0.5})
    expected = (0.1 * math.log(16) + 1) / (0.1 * 0.5 * math.log(16) + 1)
    assert module.attention_scaling == pytest.approx(expected)
    assert rope({**common, "attention_factor": 1.5}).attention_scaling == 1.5


def test_longrope_short_factors_below_and_long_factors_above_the_trained_length():
    short = [1.0 + 0.1 * i for i in range(HD // 2)]
    long = [2.0 + 0.5 * i for i in range(HD // 2)]
    module = rope({"rope_type": "longrope", "short_factor": short, "long_factor": long, "factor": 8.0,
                   "original_max_position_embeddings": ORIG})
    scaling = math.sqrt(1 + math.log(8.0) / math.log(ORIG))
    assert module.attention_scaling == pytest.approx(scaling)
    assert_tables(module, POS, DEFAULT_INV / torch.tensor(short, dtype=torch.float64), scaling, seq_len=ORIG)
    assert_tables(module, POS, DEFAULT_INV / torch.tensor(long, dtype=torch.float64), scaling, seq_len=ORIG + 1)
    cos_long, _ = module(torch.arange(2 * ORIG))  # seq_len from positions
    ref_cos, _ = tables(DEFAULT_INV / torch.tensor(long, dtype=torch.float64), torch.arange(2 * ORIG), scaling)
    torch.testing.assert_close(cos_long[0].double(), ref_cos, atol=1e-4, rtol=0)


def test_longrope_factor_lists_must_match_the_rotary_dim():
    with pytest.raises(ValueError, match=r"short_factor.*16 entries, got 3"):
        rope({"rope_type": "longrope", "short_factor": [1.0] * 3, "long_factor": [1.0] * 16,
              "original_max_position_embeddings": ORIG})


# ---- GeNE --------------------------------------------------------------------------------------------------------------


def gene_inv_freq(scale: float, num_rotations: float = 3.0) -> torch.Tensor:
    """GeNE's formula: inv_freq_i / scale^w_i, w ramping from 0 to 1 at the first pair below num_rotations turns."""
    turns = DEFAULT_INV * ORIG / (2 * math.pi)
    beta = int(torch.nonzero(turns < num_rotations)[0])
    return DEFAULT_INV / scale ** (I / beta).clamp(0, 1)


def test_gene_training_draws_differ_across_batches_and_follow_the_seed():
    module = rope(GENE).train()

    def draws(seed: int) -> tuple[list[float], list[torch.Tensor]]:
        torch.manual_seed(seed)
        scales, sines = [], []
        for _ in range(12):  # one call per batch
            sines.append(module(POS)[1])
            scales.append(module.last_scale)
        return scales, sines

    scales_a, sines_a = draws(0)
    scales_b, sines_b = draws(0)
    assert scales_a == scales_b and all(torch.equal(a, b) for a, b in zip(sines_a, sines_b))
    assert len(set(scales_a)) > 1
    assert set(scales_a) <= {float(k) for k in range(1, 17)}
    for sine, scale in zip(sines_a, scales_a):  # each draw applies GeNE's formula at its scale
        torch.testing.assert_close(sine[0].double(), tables(gene_inv_freq(scale), POS)[1], atol=2e-5, rtol=0)


def test_gene_training_distribution_weights_the_endpoints():
    module = rope(GENE).train()
    torch.manual_seed(0)
    counts: dict[float, int] = {}
    for _ in range(2000):
        scale = module._gene_scale(ORIG)
        counts[scale] = counts.get(scale, 0) + 1
    assert counts[1.0] / 2000 == pytest.approx(0.25, abs=0.04)
    assert counts[16.0] / 2000 == pytest.approx(0.25, abs=0.04)
    assert sorted(counts) == [float(k) for k in range(1, 17)]
    # sequences longer than the trained length: multiples of ceil(seq_len / ORIG), capped by factor
    assert {module._gene_scale(3 * ORIG) for _ in range(200)} == {3.0, 6.0, 9.0, 12.0, 16.0}


def test_gene_eval_is_deterministic_with_scale_factor_and_draws_nothing():
    module = rope(GENE).eval()
    state = torch.get_rng_state()
    first = module(POS)
    second = module(torch.arange(4 * ORIG))
    assert module.last_scale == 16.0
    assert torch.equal(torch.get_rng_state(), state)  # no random draw in eval
    torch.testing.assert_close(module(POS)[0], first[0], rtol=0, atol=0)
    assert_tables(module, POS, gene_inv_freq(16.0))
    assert second[0].isfinite().all()
    # the fastest pair is untouched, pairs slower than 3 turns per trained length are interpolated by the factor
    inv = inv_freq_of(module, ORIG)
    assert inv[0] == pytest.approx(1.0)
    slow = DEFAULT_INV * ORIG / (2 * math.pi) < 3
    torch.testing.assert_close(inv[slow], DEFAULT_INV[slow] / 16, rtol=1e-4, atol=1e-8)
    # past factor * ORIG the scale follows the length
    module(torch.arange(2), seq_len=20 * ORIG)
    assert module.last_scale == 20.0


# ---- CLEX --------------------------------------------------------------------------------------------------------------


def test_clex_at_scale_one_is_default_rope():
    module = rope(CLEX).eval()
    perturb_clex(module)  # even with a trained network, t = 1 is the pretrained RoPE
    assert_tables(module, POS, DEFAULT_INV, seq_len=ORIG)
    assert module.last_scale == 1.0


def test_clex_starts_as_ntk_scaling_at_the_current_scale():
    module = rope(CLEX).eval()
    t = 5.5
    ntk = (THETA * t ** (HD / (HD - 2))) ** (-2 * I / HD)
    assert_tables(module, POS, ntk, seq_len=int(t * ORIG))
    assert module.last_scale == t


def test_clex_gradients_flow_into_the_ode_network():
    module = rope(CLEX).train()
    torch.manual_seed(0)
    cos, sin = module(torch.arange(ORIG))
    (cos.sum() + sin.sum()).backward()
    assert module.clex.down_proj.grad.abs().sum() > 0  # up_proj's gradient is zero while down_proj is zero
    module.zero_grad()
    perturb_clex(module)
    cos, sin = module(torch.arange(ORIG))
    (cos.square().sum() + sin.sum()).backward()
    assert all(p.grad.abs().sum() > 0 and p.grad.isfinite().all() for p in module.clex.parameters())


def test_clex_output_is_finite_at_16x_the_trained_length():
    module = rope(CLEX).eval()
    perturb_clex(module)
    cos, sin = module(torch.arange(16 * ORIG))
    assert module.last_scale == 16.0
    assert cos.isfinite().all() and sin.isfinite().all()
    inv = inv_freq_of(module, 16 * ORIG)
    assert (inv > 0).all() and not torch.allclose(inv, (THETA * 16 ** (HD / (HD - 2))) ** (-2 * I / HD))


def test_clex_rk4_step_size_has_converged():
    coarse, fine = rope(CLEX).eval(), rope({**CLEX, "time_dt": 0.01}).eval()
    perturb_clex(coarse)
    fine.load_state_dict(coarse.state_dict())
    for t in (2.5, 16.0):
        torch.testing.assert_close(coarse._clex_inv_freq(t), fine._clex_inv_freq(t), rtol=1e-5, atol=0)


def test_clex_training_scale_is_random_in_range_and_follows_the_seed():
    module = rope(CLEX).train()
    torch.manual_seed(3)
    a = [module._clex_scale(ORIG) for _ in range(50)]
    torch.manual_seed(3)
    b = [module._clex_scale(ORIG) for _ in range(50)]
    assert a == b and len(set(a)) == 50 and all(1.0 <= t <= 16.0 for t in a)
    assert all(2.0 <= module._clex_scale(2 * ORIG) <= 16.0 for _ in range(50))


# ---- apply_rotary_pos_emb ----------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 3), heads=st.integers(1, 3), length=st.integers(1, 40),
    rope_type=st.sampled_from(["default", "ntk", "linear"]), seed=st.integers(0, 2**16),
)
def test_rotation_preserves_norms(batch, heads, length, rope_type, seed):
    module = rope({"rope_type": rope_type} if rope_type == "default" else {"rope_type": rope_type, "factor": 4.0})
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, length, HD, generator=generator)
    k = torch.randn(batch, heads, length, HD, generator=generator)
    positions = torch.randint(0, 10 * ORIG, (batch, length), generator=generator)
    cos, sin = module(positions)
    q_rot, k_rot = apply_rotary_pos_emb(q, k, cos, sin)
    torch.testing.assert_close(q_rot.norm(dim=-1), q.norm(dim=-1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(k_rot.norm(dim=-1), k.norm(dim=-1), rtol=1e-5, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(offset=st.integers(0, 2000), seed=st.integers(0, 2**16))
def test_scores_depend_only_on_relative_position(offset, seed):
    module = rope({"rope_type": "default"})
    generator = torch.Generator().manual_seed(seed)
    q = torch.nn.functional.normalize(torch.randn(HD, generator=generator), dim=0).expand(1, 1, 24, HD)
    k = torch.nn.functional.normalize(torch.randn(HD, generator=generator), dim=0).expand(1, 1, 24, HD)

    def scores(positions):
        q_rot, k_rot = apply_rotary_pos_emb(q, k, *module(positions))
        return (q_rot @ k_rot.transpose(-1, -2))[0, 0]  # (L, L): q_m . k_n

    base = scores(torch.arange(24))
    torch.testing.assert_close(scores(torch.arange(24) + offset), base, atol=2e-3, rtol=0)
    # along each diagonal m - n = c the score is constant
    for c in (-5, 0, 3):
        diagonal = torch.diagonal(base, offset=c)
        torch.testing.assert_close(diagonal, diagonal[:1].expand_as(diagonal), atol=1e-4, rtol=0)


def test_yarn_scales_norms_by_the_attention_factor_and_keeps_dtype():
    module = rope({"rope_type": "yarn", "factor": 16.0, "original_max_position_embeddings": ORIG})
    q = torch.randn(2, 2, 10, HD)
    q_rot, _ = apply_rotary_pos_emb(q, q, *module(torch.arange(10)))
    torch.testing.assert_close(q_rot.norm(dim=-1), q.norm(dim=-1) * module.attention_scaling)
    q_bf16, k_bf16 = apply_rotary_pos_emb(q.bfloat16(), q.bfloat16(), *module(torch.arange(10)))
    assert q_bf16.dtype == k_bf16.dtype == torch.bfloat16


def test_partial_rotary_passes_the_other_channels_through():
    module = rope({"rope_type": "default", "partial_rotary_factor": 0.5})
    assert module.rotary_dim == HD // 2
    cos, sin = module(torch.arange(30))
    assert cos.shape == (1, 30, HD)
    q = torch.randn(1, 2, 30, HD)
    q_rot, _ = apply_rotary_pos_emb(q, q, cos, sin)
    passthrough = torch.cat([torch.arange(HD // 4, HD // 2), torch.arange(3 * HD // 4, HD)])
    torch.testing.assert_close(q_rot[..., passthrough], q[..., passthrough], rtol=0, atol=0)
    rotated = torch.arange(HD // 4)
    inv = (THETA ** (-2 * torch.arange(HD // 4, dtype=torch.float64) / (HD // 2)))  # d = rotary dim
    torch.testing.assert_close(torch.acos(cos[0, 1, rotated].double().clamp(-1, 1)), inv, atol=1e-3, rtol=0)


# ---- validation ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rope_parameters", "field", "value"),
    [
        ({"rope_type": "rotary-ish"}, "rope_type", "'rotary-ish'"),
        ({"rope_type": "linear", "factor": 0.5}, "factor", "0.5"),
        ({"rope_type": "ntk", "factor": True}, "factor", "True"),
        ({"rope_type": "linear"}, "factor", "required"),
        ({"rope_type": "yarn", "factor": 4.0}, "original_max_position_embeddings", "required"),
        ({"rope_type": "longrope", "short_factor": [1.0], "original_max_position_embeddings": 8}, "long_factor",
         "required"),
        ({"rope_type": "gene", "factor": 16.0}, "original_max_position_embeddings", "required"),
        ({"rope_type": "clex", "original_max_position_embeddings": 8}, "factor", "required"),
        ({"rope_type": "clex", "factor": 4.0, "original_max_position_embeddings": 8, "act": "relu"}, "act", "'relu'"),
        ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1.5}, "original_max_position_embeddings",
         "1.5"),
        ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 8, "beta_fast": 0.5}, "beta_fast",
         "0.5"),
        ({"rope_type": "default", "rope_theta": -1.0}, "rope_theta", "-1.0"),
        ({"rope_type": "default", "partial_rotary_factor": 1.5}, "partial_rotary_factor", "1.5"),
        ({"rope_type": "default", "factor": 4.0}, "factor", "not a field"),
        ({"rope_type": "linear", "factor": 4.0, "orignal_max_position_embeddings": 8},
         "orignal_max_position_embeddings", "not a field"),
        ({"rope_type": "longrope", "short_factor": [1.0, -2.0], "long_factor": [1.0, 1.0],
          "original_max_position_embeddings": 8}, "short_factor", "-2.0"),
    ],
)
def test_validation_errors_are_one_line_and_name_the_field(rope_parameters, field, value):
    with pytest.raises(ValueError) as error:
        validate_rope_parameters(rope_parameters)
    message = str(error.value)
    assert f"['{field}']" in message and value in message and "\n" not in message
    with pytest.raises(ValueError):
        GeneFinderRotaryEmbedding(HD, rope_parameters, 64)


@pytest.mark.parametrize(
    "rope_parameters",
    [
        {},
        {"rope_type": "default", "rope_theta": 500000.0},
        {"type": "linear", "factor": 2},
        {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 8, "beta_fast": None,
         "attention_factor": None, "truncate": False},
        {"rope_type": "clex", "factor": 4, "original_max_position_embeddings": 8, "param_factor": 2, "act": "silu",
         "time_dt": 0.25},
    ],
)
def test_valid_parameters_pass(rope_parameters):
    validate_rope_parameters(rope_parameters)
    cos, _ = GeneFinderRotaryEmbedding(HD, rope_parameters, 64)(torch.arange(100))
    assert cos.isfinite().all()


def test_non_dict_and_odd_rotary_dims_are_rejected():
    with pytest.raises(ValueError, match="`rope_parameters` must be a dict"):
        validate_rope_parameters([("rope_type", "default")])
    with pytest.raises(ValueError, match=r"partial_rotary_factor.*rotary dim 2"):
        GeneFinderRotaryEmbedding(8, {"rope_type": "ntk", "factor": 2.0, "partial_rotary_factor": 0.25}, 64)
    with pytest.raises(ValueError, match="`head_dim` must be an even integer"):
        GeneFinderRotaryEmbedding(7, {"rope_type": "default"}, 64)
