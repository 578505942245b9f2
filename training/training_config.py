"""TrainConfig: every setting of a training run in one dataclass, read from YAML plus `--key value` overrides.

A run is `configs/<name>.yaml` (see configs/) with command-line overrides on top, dotted for nested keys:

    accelerate launch train.py --config configs/tiny-cpu.yaml --lr 1e-3 --model.d_model 128

Each field's default carries a one-line reason. `validate` checks every field once, up front, and raises
`GeneFinderInputError` naming the file, the field and the rule (no bare asserts), including the model
section, which is checked against `GeneFinderConfig` / `GeneFinderEncoderConfig` so a typo in a nested
model key is an error rather than a silently ignored kwarg.

YAML note: PyYAML (YAML 1.1) reads `3e-4` as a string; `yaml_loader()` adds YAML 1.2's float rule so
`lr: 3e-4` is a float in files and on the command line alike.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..formats.errors import GeneFinderInputError, require_file

STAGES = ("seq2seq", "decoder-lm", "mlm", "classification")  # training_tasks.TASKS has one task per stage
ENCODER_STAGES = ("mlm", "classification")  # their `model` section is GeneFinderEncoderConfig kwargs
MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
INIT_PARTS = ("decoder", "all", "encoder")


@dataclass
class TrainConfig:
    # -- data and model -----------------------------------------------------------------------------------
    dataset: str = ""  # required: a `genefinder build-dataset` folder (train split; validation for eval)
    run_dir: str = "runs/default"  # checkpoints, metrics.jsonl, tensorboard/ and the resolved config go here
    model: dict = field(default_factory=dict)  # GeneFinderConfig kwargs; GeneFinderEncoderConfig kwargs for mlm/classification
    dna_tokenizer: str | None = None  # tokenizer.json of the BPE vocabulary; required when encoder_type is dnabert2
    stage: str = "seq2seq"  # seq2seq (DNA -> GFF), decoder-lm (GFF LM), mlm (encoder pre-training), classification
    init_from: str | None = None  # a checkpoint folder to start from (e.g. a decoder-lm run's checkpoint-N)
    init_from_part: str = "decoder"  # what init_from loads: "decoder" (all but encoder.*), "all", or "encoder" only
    constrained_loss: bool = False  # seq2seq: cross-entropy over only the tokens annotate's grammar allows at each step
    trainable: list | None = None  # parameter-name prefixes to train (e.g. [coding_head, coding_convs]); the rest is
    #   frozen. None trains everything. A frozen part's loss still shows in the logs but moves nothing.
    # -- encoder-only stages (mlm, classification) ----------------------------------------------------------
    mlm_probability: float = 0.15  # fraction of tokens MLM predicts (BERT's; 80% [MASK], 10% random, 10% kept)
    rc_augment: bool = False  # mlm/classification: reverse-complement each sequence with probability 1/2 per draw
    class_weighted_sampling: bool = False  # classification: draw rows with P ∝ 1/class frequency (unbalanced data)
    # -- batch ----------------------------------------------------------------------------------------------
    batch_size: int = 32  # windows per optimizer step over all processes, once the ramp is done
    micro_batch_size: int = 8  # windows per forward pass per process; gradient accumulation makes up the rest
    batch_size_start: int | None = None  # windows per step at step 1 of the ramp; None = no ramp
    batch_ramp_steps: int = 0  # steps over which the batch grows linearly from batch_size_start to batch_size
    # -- optimisation (AdamW, warm-up + cosine) ------------------------------------------------------------
    max_steps: int = 2000  # optimizer steps; the cosine schedule ends here
    lr: float = 3e-4  # peak learning rate, reached at the end of warm-up
    warmup_steps: int = 100  # linear warm-up from lr/warmup_steps to lr
    min_lr_ratio: float = 0.1  # cosine decays to this fraction of the peak, not to zero
    weight_decay: float = 0.1  # on matrices only: norms, biases and embeddings are not decayed
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95  # 0.95 rather than 0.999: steadier with large batches and loss spikes
    adam_eps: float = 1e-8
    grad_clip: float = 1.0  # global gradient-norm clipping; 0 switches it off
    mixed_precision: str = "auto"  # auto = bf16 autocast on a CUDA GPU that has it, fp32 otherwise
    gradient_checkpointing: bool = False  # recompute decoder activations in backward: less memory, ~30% slower
    seed: int = 0  # model init, data order (one permutation per epoch) and eval subset all follow from it
    cpu_threads: int | None = None  # torch threads per process on CPU; None = torch's default (one per core)
    # -- evaluation, checkpoints, logs ---------------------------------------------------------------------
    eval_every: int = 200  # steps between evaluations; 0 = never (evaluating too often starved training before)
    eval_windows: int = 64  # fixed validation subset; with eval_every 200 this costs well under 10% of wall time
    eval_gene_level: bool = False  # also generate on that subset and log gene/exon/stop/start F1 (costs generation)
    checkpoint_every: int = 500  # steps between checkpoints (and always at the last step)
    keep_last: int = 3  # checkpoints kept; older ones are deleted
    log_every: int = 10  # steps between metrics.jsonl / TensorBoard records (loss is averaged over them)
    tensorboard: bool = True  # also write TensorBoard event files under run_dir/tensorboard
    progress_bar: bool = True  # tqdm bar on stderr (main process only)
    prefetch: bool = True  # prepare the next step's batches in a thread while one computes (a GPU outpaces them)
    stop_at_step: int | None = None  # checkpoint and end the process here, schedule unchanged (preemptible jobs)


# Fields that may differ between a run and its `--resume` without changing what is computed.
RESUME_SAFE_FIELDS = ("stop_at_step", "progress_bar", "prefetch", "tensorboard", "log_every", "checkpoint_every", "keep_last",
                      "cpu_threads")

_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
_TYPES = {
    "int": ("batch_size", "micro_batch_size", "batch_ramp_steps", "max_steps", "warmup_steps", "seed", "eval_every",
            "eval_windows", "checkpoint_every", "keep_last", "log_every"),
    "optional_int": ("batch_size_start", "stop_at_step", "cpu_threads"),
    "float": ("mlm_probability", "lr", "min_lr_ratio", "weight_decay", "adam_beta1", "adam_beta2", "adam_eps", "grad_clip"),
    "bool": ("constrained_loss", "gradient_checkpointing", "tensorboard", "progress_bar", "eval_gene_level", "rc_augment",
             "class_weighted_sampling", "prefetch"),
    "str": ("dataset", "run_dir", "stage", "init_from_part", "mixed_precision"),
    "optional_str": ("dna_tokenizer", "init_from"),
    "dict": ("model",),
    "optional_str_list": ("trainable",),
}


def yaml_loader() -> type[yaml.SafeLoader]:
    """SafeLoader that also reads `3e-4` / `1E5` as floats (YAML 1.2), as people write learning rates."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"""^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"""),
        list("-+0123456789"))
    return Loader


def parse_value(text: str) -> Any:
    """A command-line value as YAML would read it: numbers, true/false, null, lists and dicts (`{a: 1}`)."""
    try:
        return yaml.load(text, Loader=yaml_loader())
    except yaml.YAMLError:
        return text


def parse_overrides(argv: list[str]) -> dict[str, Any]:
    """`["--lr", "1e-3", "--model.d_model=128", "--gradient-checkpointing"]` -> nested dict of overrides.

    Dashes in names become underscores (`--init-from` = `--init_from`); a flag without a value means true.
    """
    out: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--") or len(arg) == 2:
            raise GeneFinderInputError(f"expected --key value, got {arg!r}")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                value, i = argv[i + 1], i + 1
            else:
                value = "true"
        i += 1
        parts = [p.replace("-", "_") for p in key.split(".")]
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise GeneFinderInputError(f"--{key}: {p!r} is given both as a value and as a section")
        node[parts[-1]] = parse_value(value)
    return out


def merge(base: dict, overrides: dict) -> dict:
    """Recursive dict update: nested sections are merged key by key, everything else replaced."""
    out = dict(base)
    for k, v in overrides.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    require_file(path, "config")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml_loader()) or {}
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        raise GeneFinderInputError(f"not valid YAML: {getattr(err, 'problem', err)}", str(path),
                                   None if line is None else line + 1) from None
    if not isinstance(data, dict):
        raise GeneFinderInputError("a config file must be a YAML mapping of field: value", str(path))
    return data


def load_config(path: str | Path | None, overrides: dict | None = None) -> TrainConfig:
    """YAML file (optional) + overrides -> validated TrainConfig. Errors name `path` and the field."""
    data = read_yaml(path) if path is not None else {}
    return from_dict(merge(data, overrides or {}), source=str(path) if path else "command line")


def from_dict(data: dict, source: str = "config") -> TrainConfig:
    unknown = [k for k in data if k not in _FIELDS]
    if unknown:
        k = unknown[0]
        close = difflib.get_close_matches(k, _FIELDS, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else f"; known fields: {', '.join(_FIELDS)}"
        raise GeneFinderInputError(f"unknown field `{k}`{hint}", source)
    values = {}
    for name, value in data.items():
        values[name] = _coerce(name, value, source)
    cfg = TrainConfig(**values)
    validate(cfg, source)
    return cfg


def to_dict(cfg: TrainConfig) -> dict:
    return dataclasses.asdict(cfg)


def _coerce(name: str, value: Any, source: str) -> Any:
    kind = next(k for k, names in _TYPES.items() if name in names)
    bad = GeneFinderInputError
    if kind.startswith("optional_"):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
    if kind in ("int", "optional_int"):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise bad(f"`{name}` must be an integer, got {value!r}", source)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad(f"`{name}` must be a number, got {value!r}", source)
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad(f"`{name}` must be true or false, got {value!r}", source)
        return value
    if kind == "optional_str_list":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise bad(f"`{name}` must be a non-empty list of parameter-name prefixes, got {value!r}", source)
        return value
    if kind == "dict":
        if not isinstance(value, dict):
            raise bad(f"`{name}` must be a mapping, got {value!r}", source)
        return value
    if not isinstance(value, str):
        raise bad(f"`{name}` must be a string, got {value!r}", source)
    return value


def validate(cfg: TrainConfig, source: str = "config") -> None:
    """Every rule of every field, each raising one line that names the field and the value."""

    def fail(msg: str):
        raise GeneFinderInputError(msg, source)

    if not cfg.dataset:
        fail("`dataset` is required: a folder written by `genefinder build-dataset`")
    if not cfg.run_dir:
        fail("`run_dir` must not be empty")
    if cfg.stage not in STAGES:
        fail(f"`stage` must be one of {', '.join(STAGES)}, got {cfg.stage!r}")
    if cfg.init_from_part not in INIT_PARTS:
        fail(f"`init_from_part` must be one of {', '.join(INIT_PARTS)}, got {cfg.init_from_part!r}")
    if cfg.stage in ENCODER_STAGES and cfg.init_from and cfg.init_from_part == "decoder":
        fail(f"`init_from_part` 'decoder' makes no sense for stage {cfg.stage!r} (no decoder): use 'encoder' or 'all'")
    if not 0 < cfg.mlm_probability < 1:
        fail(f"`mlm_probability` must be in (0, 1), got {cfg.mlm_probability}")
    if cfg.mixed_precision not in MIXED_PRECISION:
        fail(f"`mixed_precision` must be one of {', '.join(MIXED_PRECISION)}, got {cfg.mixed_precision!r}")
    for name in ("batch_size", "micro_batch_size", "max_steps", "eval_windows", "checkpoint_every", "keep_last",
                 "log_every"):
        if getattr(cfg, name) < 1:
            fail(f"`{name}` must be at least 1, got {getattr(cfg, name)}")
    for name in ("warmup_steps", "batch_ramp_steps", "eval_every"):
        if getattr(cfg, name) < 0:
            fail(f"`{name}` must be 0 or more, got {getattr(cfg, name)}")
    if cfg.batch_size % cfg.micro_batch_size:
        fail(f"`batch_size` ({cfg.batch_size}) must be a multiple of `micro_batch_size` ({cfg.micro_batch_size})")
    if cfg.batch_size_start is not None:
        if not 1 <= cfg.batch_size_start <= cfg.batch_size:
            fail(f"`batch_size_start` must be between 1 and `batch_size` ({cfg.batch_size}), "
                 f"got {cfg.batch_size_start}")
        if cfg.batch_ramp_steps < 1:
            fail("`batch_ramp_steps` must be at least 1 when `batch_size_start` is set")
    if cfg.warmup_steps >= cfg.max_steps:
        fail(f"`warmup_steps` ({cfg.warmup_steps}) must be less than `max_steps` ({cfg.max_steps})")
    if not cfg.lr > 0:
        fail(f"`lr` must be positive, got {cfg.lr}")
    if not 0 <= cfg.min_lr_ratio <= 1:
        fail(f"`min_lr_ratio` must be in [0, 1], got {cfg.min_lr_ratio}")
    if cfg.weight_decay < 0:
        fail(f"`weight_decay` must be 0 or more, got {cfg.weight_decay}")
    for name in ("adam_beta1", "adam_beta2"):
        if not 0 <= getattr(cfg, name) < 1:
            fail(f"`{name}` must be in [0, 1), got {getattr(cfg, name)}")
    if not cfg.adam_eps > 0:
        fail(f"`adam_eps` must be positive, got {cfg.adam_eps}")
    if cfg.grad_clip < 0:
        fail(f"`grad_clip` must be 0 (off) or positive, got {cfg.grad_clip}")
    if cfg.cpu_threads is not None and cfg.cpu_threads < 1:
        fail(f"`cpu_threads` must be at least 1 (or null for torch's default), got {cfg.cpu_threads}")
    if cfg.stop_at_step is not None and not 1 <= cfg.stop_at_step <= cfg.max_steps:
        fail(f"`stop_at_step` must be between 1 and `max_steps` ({cfg.max_steps}), got {cfg.stop_at_step}")
    _validate_model(cfg, fail)


def _validate_model(cfg: TrainConfig, fail) -> None:
    """Build the model config once, so a bad model section fails here and not after the data is loaded."""
    from ..models.configuration_encoders import GeneFinderEncoderConfig
    from ..configuration_genefinder import GeneFinderConfig

    if cfg.stage in ENCODER_STAGES:
        allowed = set(inspect.signature(GeneFinderEncoderConfig.__init__).parameters) - {"self", "kwargs"}
        for key in cfg.model:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                fail(f"unknown field `model.{key}` for stage {cfg.stage!r} (an encoder config)"
                     + (f" (did you mean `model.{close[0]}`?)" if close else ""))
        try:
            encoder_type = GeneFinderEncoderConfig(**cfg.model).encoder_type
        except (ValueError, TypeError) as err:
            fail(f"model: {err}")
        if encoder_type == "dnabert2" and not cfg.dna_tokenizer:
            fail("`dna_tokenizer` is required for encoder_type 'dnabert2' "
                 "(e.g. ../shared/reference/dnabert2/tokenizer.json)")
        return

    allowed = set(inspect.signature(GeneFinderConfig.__init__).parameters) - {"self", "kwargs"}
    for key in cfg.model:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            fail(f"unknown field `model.{key}`" + (f" (did you mean `model.{close[0]}`?)" if close else ""))
    enc = cfg.model.get("encoder_config", {})
    if enc is not None and not isinstance(enc, dict):
        fail(f"`model.encoder_config` must be a mapping, got {enc!r}")
    enc_allowed = set(inspect.signature(GeneFinderEncoderConfig.__init__).parameters) - {"self", "kwargs"}
    for key in enc or {}:
        if key not in enc_allowed:
            close = difflib.get_close_matches(key, enc_allowed, n=1)
            fail(f"unknown field `model.encoder_config.{key}`"
                 + (f" (did you mean `model.encoder_config.{close[0]}`?)" if close else ""))
    try:
        model_config = GeneFinderConfig(**cfg.model)
    except (ValueError, TypeError) as err:
        fail(f"model: {err}")
    if model_config.encoder_config.encoder_type == "dnabert2" and not cfg.dna_tokenizer:
        fail("`dna_tokenizer` is required for encoder_type 'dnabert2' "
             "(e.g. ../shared/reference/dnabert2/tokenizer.json)")


def describe_fields() -> str:
    """Every field as `name: default  # reason`, from TrainConfig's own source (what `train.py --help` prints)."""
    lines = []
    for line in inspect.getsource(TrainConfig).splitlines():
        line = line.strip()
        if line.startswith("# --"):
            lines.append(line.strip("# -"))
        elif re.match(r"^\w+: ", line):
            name = line.split(":", 1)[0]
            reason = line.split("#", 1)[1].strip() if "#" in line else ""
            default = getattr(TrainConfig(), name)
            lines.append(f"  --{name} {json.dumps(default)}" + (f"  ({reason})" if reason else ""))
    return "\n".join(lines)


def dump_yaml(cfg: TrainConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
