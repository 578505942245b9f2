"""The position-scaling methods of the study, each as the `rope_parameters` a user puts in an encoder config.

Every method is reached through `GeneFinderEncoderConfig(rope_parameters=...)`, the same option train.py and
`from_pretrained` read: the study has no code path of its own inside the model.

All static methods are set for the target extension (`factor` = target length / trained length = 16), the way a
user would configure a model to run at 16x, and are then evaluated at every length from L to 16L, so the table
also shows what a method costs at short contexts. Dynamic NTK rescales by itself with the current length.

LongRoPE's per-frequency factors normally come from an evolutionary search (Ding et al. 2024). Here a small
search stands in for it: factors lambda_i = factor ** ((i / (F - 1)) ** p) (high frequencies kept, low ones
interpolated by the full factor, the curve's shape p searched over a grid) chosen by held-in validation loss at
the target length, never by the test genome. The search and its candidates are reported with the results.
"""

from __future__ import annotations

METHODS = ("none", "linear", "ntk", "dynamic", "yarn", "longrope", "gene", "clex")
LABELS = {"none": "no scaling", "linear": "linear / PI", "ntk": "NTK-aware", "dynamic": "dynamic NTK",
          "yarn": "YaRN", "longrope": "LongRoPE (grid-searched)", "gene": "GeNE", "clex": "CLEX"}
LONGROPE_SHAPES = (0.25, 0.5, 1.0, 2.0, 4.0)  # the grid of p searched for LongRoPE's long factors


def longrope_factors(factor: float, n_freq: int, shape: float) -> list[float]:
    """lambda_i for i = 0 (highest frequency) .. F-1 (lowest): 1 -> factor along (i/(F-1))**shape."""
    return [float(factor ** ((i / max(n_freq - 1, 1)) ** shape)) for i in range(n_freq)]


def rope_parameters(method: str, factor: float, trained_length: int, theta: float, n_freq: int,
                    longrope_shape: float = 1.0) -> dict:
    """The `rope_parameters` dict of one method (transformers 5.x format, validated by modeling_rope)."""
    base = {"rope_theta": theta}
    if method == "none":
        return {"rope_type": "default", **base}
    if method in ("linear", "ntk", "dynamic", "yarn", "gene", "clex"):
        return {"rope_type": method, "factor": factor, "original_max_position_embeddings": trained_length, **base}
    if method == "longrope":
        return {"rope_type": "longrope", "factor": factor, "original_max_position_embeddings": trained_length,
                "short_factor": [1.0] * n_freq, "long_factor": longrope_factors(factor, n_freq, longrope_shape),
                **base}
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
