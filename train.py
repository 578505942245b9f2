"""Train GeneFinderForConditionalGeneration on a `genefinder build-dataset` folder, one process or many.

    accelerate launch train.py --config configs/tiny-cpu.yaml [--key value ...] [--resume]
    accelerate launch --num_processes 2 --cpu train.py --config configs/tiny-cpu.yaml      # data-parallel
    python train.py --config configs/tiny-cpu.yaml --stage decoder-lm --run_dir runs/lm      # plain python works too
    genefinder train configs/tiny-cpu.yaml --max_steps 50                                    # same thing

Why a hand-written Accelerate loop rather than `Seq2SeqTrainer`: the loop is ~200 lines we can read, and it
gives three things the Trainer makes awkward. (1) Exact resume: the learning rate, batch size and windows
of step s are pure functions of s (training_recipe.py), so a resumed run recomputes them instead of
trusting a sampler's hidden state, and a test checks the next loss to 1e-6. (2) A batch-size ramp:
gradient accumulation varies per step, which the Trainer's fixed `gradient_accumulation_steps` cannot
express. (3) Token-weighted loss: each step's loss is the mean over all GFF tokens of the global batch
(summed over micro-batches and processes, divided by the global token count), so 1 process x 4
micro-batches and 2 processes x 2 give the same gradient. Accelerate still does all device placement,
mixed precision, DDP/FSDP/DeepSpeed wrapping and checkpoint I/O (`save_state`/`load_state`): no home-made
distributed layer.

The recipe (AdamW 0.9/0.95, warm-up + cosine to 10%, decay on matrices only, clipping 1.0, batch ramp) is in
training_recipe.py; the config and its validation in training_config.py; logging and plots in
training_monitor.py; Hub export in hub_export.py. What differs per stage (model class, rows -> micro-batch, loss
units, eval metrics) is one task object in training_tasks.py. Reverse-complement augmentation of gene-finding
data happens when the dataset is built (`build-dataset --rc-augment`); the encoder-only stages flip sequences
on the fly (`rc_augment`), drawn from per-row generators so resume stays exact.

Run directory:
    RUN_DIR/train_config.yaml            the resolved config (what --resume checks against)
    RUN_DIR/metrics.jsonl, tensorboard/  scalars (training_monitor.py)
    RUN_DIR/checkpoint-N/                model.safetensors + config.json (save_pretrained: loadable by
                                         from_pretrained and `genefinder export`), optimizer.bin,
                                         random_states_*.pkl (accelerate save_state), trainer_state.json
                                         (step, windows consumed, timings, last metrics), dna_tokenizer/ (BPE)

Stage `decoder-lm` pre-trains the decoder alone as a GFF language model on `target_ids`. The pointer head
needs one key per nucleotide, so the decoder is fed an all-N window of the row's length: pointer keys exist
(coordinate tokens are still predicted and embedded) but carry no sequence information, so the decoder
can learn the annotation grammar (gene/transcript/CDS structure, strand patterns, when a coordinate comes,
how many genes a window holds) but not where genes are. The encoder is frozen in this stage and its output
for an all-N window is computed once per window length and cached: the DNA encoder is not trained on
meaningless input, and a step costs only the decoder. `--init-from RUN_DIR/checkpoint-N` then starts the
seq2seq stage from those decoder weights (`init_from_part: decoder`, every weight not under `encoder.`).

Stages `mlm` and `classification` train the encoder alone (modeling_genefinder_encoder.py; `model` is then a
GeneFinderEncoderConfig section): masked-LM pre-training on any dataset with a `dna` column (loss = mean over the
masked tokens of the global batch, counted after masking and summed over processes), and sequence
classification on a `genefinder build-classification-dataset` folder (loss = mean over sequences; eval logs
accuracy and MCC; `class_weighted_sampling` for unbalanced classes). `init_from_part: encoder` moves an encoder
between them and into the gene finder (`bert.*` <-> `encoder.dna.*`).

A config with `task: gene_structure` (configs/gene-structure-*.yaml) trains the eukaryotic per-nucleotide
gene-structure network instead, with its own loop (training/gene_structure_training.py), on one process.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    # `accelerate launch train.py` / `python train.py` run this file as a script; the modules it builds on
    # import each other relatively, so run the installed package's copy of this same file instead.
    import importlib

    sys.exit(importlib.import_module("genefinder.train").main())

import argparse
import contextlib
import json
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from .formats.errors import GeneFinderInputError
from .training.gene_structure_training import RUN_SETTINGS_FILE
from .training.gene_structure_training import main as gene_structure_main
from .training.training_config import (RESUME_SAFE_FIELDS, TrainConfig, describe_fields, dump_yaml, load_config,
                                       parse_overrides, read_yaml, to_dict)
from .training.training_monitor import MetricsLog
from .training.training_recipe import batch_size_at, build_optimizer, lr_at
from .training.training_tasks import TASKS

logger = logging.getLogger(__name__)
CONFIG_FILE = "train_config.yaml"
STATE_FILE = "trainer_state.json"
CHECKPOINT_PREFIX = "checkpoint-"

# A callable `(model, eval_rows, accelerator) -> {"gene_f1": ..., ...}` that `train(gene_level_eval=...)`
# runs after each evaluation and merges into the eval record; `eval_gene_level: true` plugs in
# training_gene_eval.make_gene_level_eval (constrained generation scored by evaluation.py).
GeneLevelEval = Callable[..., dict]


# ------------------------------------------------------------------------------------------------ checkpoints

def checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints (those with trainer_state.json, written last) in step order."""
    found = []
    for p in Path(run_dir).glob(f"{CHECKPOINT_PREFIX}*"):
        suffix = p.name[len(CHECKPOINT_PREFIX):]
        if suffix.isdigit() and (p / STATE_FILE).is_file():
            found.append((int(suffix), p))
    return [p for _, p in sorted(found)]


def prune_checkpoints(run_dir: str | Path, keep_last: int) -> None:
    for old in checkpoints(run_dir)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ the loop

class Trainer:
    """One run: build everything from a TrainConfig, then `fit()`. Construct it in every process."""

    def __init__(self, cfg: TrainConfig, resume: bool = False, gene_level_eval: GeneLevelEval | None = None):
        import datasets
        from accelerate import Accelerator
        from accelerate.utils import DistributedType, set_seed

        self.cfg, self.gene_level_eval = cfg, gene_level_eval
        # `prefetch`: one thread prepares the next step's micro-batches (tokenizing, labelling) while a step computes
        self._prefetcher, self._ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batches"), None
        self.run_dir = Path(cfg.run_dir)
        mp = cfg.mixed_precision
        if mp == "auto":
            mp = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
        # Several processes without a GPU (`accelerate launch --multi_gpu` or `torchrun` on a CPU machine): ask for
        # gloo DDP on CPU explicitly, else Accelerate would start independent single-process runs in one run_dir.
        # (`accelerate launch --cpu --num_processes 2` starts ONE process unless MPI is set up: see docs/training.md.)
        launched = int(os.environ.get("WORLD_SIZE", "1"))
        self.accelerator = acc = Accelerator(mixed_precision=mp, cpu=launched > 1 and not torch.cuda.is_available())
        if cfg.cpu_threads and acc.device.type == "cpu":
            torch.set_num_threads(cfg.cpu_threads)  # tiny models on a busy CPU run faster on fewer threads
        self.world = acc.num_processes
        if self.world != launched:
            raise GeneFinderInputError(f"launched {launched} processes but Accelerate set up {self.world}; "
                                       "check the accelerate config (distributed_type)")
        unit = cfg.micro_batch_size * self.world
        if cfg.batch_size % unit:
            raise GeneFinderInputError(f"`batch_size` ({cfg.batch_size}) must be a multiple of `micro_batch_size` x "
                                       f"processes ({cfg.micro_batch_size} x {self.world} = {unit})")
        if acc.distributed_type == DistributedType.DEEPSPEED and cfg.batch_size != unit:
            raise GeneFinderInputError("with DeepSpeed, set `batch_size` = `micro_batch_size` x processes (no gradient "
                                       "accumulation, no ramp): DeepSpeed's engine fixes accumulation at launch")
        self.resume_from = self._find_resume() if resume else None
        if not resume and checkpoints(self.run_dir):
            raise GeneFinderInputError("run_dir already holds checkpoints: add --resume to continue that run, or "
                                       "choose another run_dir", str(self.run_dir))
        set_seed(cfg.seed)

        # data
        path = Path(cfg.dataset)
        if not path.is_dir():
            raise GeneFinderInputError("dataset folder not found (write one with `genefinder build-dataset`)",
                                       str(path))
        try:
            data = datasets.load_from_disk(str(path))
        except (FileNotFoundError, ValueError) as err:
            raise GeneFinderInputError(f"not a dataset written by `genefinder build-dataset`: {err}",
                                       str(path)) from None
        if not isinstance(data, datasets.DatasetDict) or "train" not in data:
            raise GeneFinderInputError("expected a DatasetDict with a `train` split", str(path))
        self.task = task = TASKS[cfg.stage](cfg)  # what the stage builds, batches and measures (training_tasks.py)
        missing = set(task.required_columns) - set(data["train"].column_names)
        if missing:
            raise GeneFinderInputError(f"dataset lacks column(s) {sorted(missing)} needed by stage {cfg.stage!r}",
                                       str(path))

        # model
        self.bpe = None
        if task.encoder_config.encoder_type == "dnabert2":
            from .tokenization.tokenization_dna import load_dnabert2_tokenizer

            try:
                self.bpe = load_dnabert2_tokenizer(cfg.dna_tokenizer)
            except ValueError as err:
                raise GeneFinderInputError(f"`dna_tokenizer`: {err}", cfg.dna_tokenizer) from None
        task.set_tokenizer(self.bpe)
        if cfg.eval_gene_level and self.gene_level_eval is None and cfg.stage == "seq2seq":
            from .training.training_gene_eval import make_gene_level_eval

            self.gene_level_eval = make_gene_level_eval(task.processor)
        model = task.build_model(data)
        self.model_config = task.model_config
        if cfg.init_from:
            load_init_weights(model, cfg.init_from, cfg.init_from_part, task.encoder_prefix)
        if cfg.trainable:
            freeze_all_but(model, cfg.trainable)
        if cfg.gradient_checkpointing:
            enable_activation_checkpointing(model)
        self.n_params = sum(p.numel() for p in model.parameters())
        self.n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        optimizer = build_optimizer(model, cfg)
        self.model, self.optimizer = acc.prepare(model, optimizer)
        self.unwrapped = acc.unwrap_model(self.model)
        acc.register_save_state_pre_hook(self._save_model_hook)
        acc.register_load_state_pre_hook(self._load_model_hook)

        self.train_rows = task.rows(data["train"])
        self.stream = task.sampler(self.train_rows)
        self.eval_rows, self.eval_indices = None, []
        if cfg.eval_every:
            if "validation" not in data or len(data["validation"]) == 0:
                raise GeneFinderInputError("`eval_every` > 0 needs a non-empty validation split (or set eval_every: 0)",
                                           str(path))
            self.eval_rows = task.rows(data["validation"])
            n = len(self.eval_rows)
            self.eval_indices = sorted(random.Random(cfg.seed).sample(range(n), min(cfg.eval_windows, n)))

        # progress (restored on resume)
        self.step, self.consumed, self.nucleotides_seen = 0, 0, 0
        self.train_seconds, self.eval_seconds, self.last_eval = 0.0, 0.0, {}

    # -- checkpoint I/O -----------------------------------------------------------------------------------
    def _find_resume(self) -> Path | None:
        found = checkpoints(self.run_dir)
        if not found:
            logger.warning("--resume: no checkpoint in %s; starting from step 0", self.run_dir)
            return None
        saved = self.run_dir / CONFIG_FILE
        if saved.is_file():
            old, new = read_yaml(saved), to_dict(self.cfg)
            defaults = to_dict(TrainConfig())  # a field added since the run started reads as its default
            changed = [k for k in new if k not in RESUME_SAFE_FIELDS and old.get(k, defaults[k]) != new[k]]
            if changed:
                raise GeneFinderInputError(
                    f"--resume: field(s) {', '.join('`' + k + '`' for k in changed)} differ from this run's "
                    f"{CONFIG_FILE}; an exact resume needs the same settings (start a new run_dir to change them)",
                    str(self.run_dir))
        return found[-1]

    def _save_model_hook(self, models, weights, output_dir):
        weights.clear()  # the model is written by save_pretrained in save_checkpoint, not as accelerate's copy

    def _load_model_hook(self, models, input_dir):
        from safetensors.torch import load_file

        if models:  # plain / DDP: load our save_pretrained file; FSDP and DeepSpeed load their own shards
            state = load_file(os.path.join(input_dir, "model.safetensors"))
            result = self.unwrapped.load_state_dict(state, strict=False)
            tied = set(self.unwrapped._tied_weights_keys or {})  # saved once, under the tensor they share
            if set(result.missing_keys) - tied or result.unexpected_keys:
                raise GeneFinderInputError(f"checkpoint does not match the model: missing {result.missing_keys}, "
                                           f"unexpected {result.unexpected_keys}", input_dir)
            models.clear()

    def save_checkpoint(self) -> Path:
        acc = self.accelerator
        final = self.run_dir / f"{CHECKPOINT_PREFIX}{self.step}"
        tmp = self.run_dir / f".{final.name}.partial"
        if acc.is_main_process and tmp.exists():
            shutil.rmtree(tmp)
        acc.wait_for_everyone()
        acc.save_state(str(tmp))  # optimizer, RNG of every process (and FSDP/DeepSpeed shards)
        state_dict = acc.get_state_dict(self.model)  # every process takes part (FSDP gathers)
        if acc.is_main_process:
            self.unwrapped.save_pretrained(tmp, state_dict=state_dict, safe_serialization=True)
            if self.bpe is not None:
                self.bpe.save_pretrained(tmp / "dna_tokenizer")
            (tmp / STATE_FILE).write_text(json.dumps(self._state(), indent=1))
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            prune_checkpoints(self.run_dir, self.cfg.keep_last)
        acc.wait_for_everyone()
        return final

    def _state(self) -> dict:
        return {"step": self.step, "consumed_windows": self.consumed, "nucleotides_seen": self.nucleotides_seen,
                "train_seconds": self.train_seconds, "eval_seconds": self.eval_seconds, "last_eval": self.last_eval,
                "stage": self.cfg.stage, "max_steps": self.cfg.max_steps, "processes": self.world,
                "device": device_name(self.accelerator.device), "mixed_precision": self.accelerator.mixed_precision,
                "parameters": self.n_params, "trainable_parameters": self.n_trainable,
                "dataset": str(self.cfg.dataset)}

    def _restore(self, ckpt: Path) -> None:
        self.accelerator.load_state(str(ckpt))
        state = json.loads((ckpt / STATE_FILE).read_text())
        self.step, self.consumed = state["step"], state["consumed_windows"]
        self.nucleotides_seen = state["nucleotides_seen"]
        self.train_seconds, self.eval_seconds = state["train_seconds"], state["eval_seconds"]
        self.last_eval = state.get("last_eval", {})

    # -- evaluation ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict:
        """The task's metrics on the fixed validation subset, all processes: loss and token accuracy (argmax under
        teacher forcing, or of masked tokens), or loss, accuracy and MCC for classification."""
        acc, mb = self.accelerator, self.cfg.micro_batch_size
        self.model.eval()
        # every process runs the same number of forwards (collectives in DDP/FSDP); padding rows weigh nothing
        mine = self.eval_indices[acc.process_index::self.world]
        per = math.ceil(len(self.eval_indices) / self.world)
        totals = None
        for i in range(0, per, mb):
            chunk = mine[i:i + mb]
            if not chunk:
                chunk, weight = self.eval_indices[:1], 0.0
            else:
                weight = 1.0
            batch = self.task.batch(self.eval_rows, chunk, 0, chunk)  # step 0: the same draws at every evaluation
            loss_sum, stats = self.task.forward(self.model, batch, acc.device)
            part = torch.cat([loss_sum.double().reshape(1), stats])
            totals = part * weight if totals is None else totals + weight * part
        totals = acc.reduce(totals, reduction="sum")
        self.model.train()
        metrics = self.task.eval_metrics(totals, len(self.eval_indices))
        if self.gene_level_eval is not None:
            rows = [self.eval_rows.rows[i] for i in self.eval_indices]
            metrics.update(self.gene_level_eval(self.unwrapped, rows, acc))
        return metrics

    # -- training ------------------------------------------------------------------------------------------
    def _step_batches(self, step: int, consumed: int) -> tuple[int, list[int], list[dict]]:
        """(global batch size, the global batch's rows, this process's micro-batches) of `step`, which starts after
        `consumed` windows: a pure function of the two, so it can be prepared ahead (`prefetch`)."""
        cfg = self.cfg
        size = batch_size_at(step, cfg, cfg.micro_batch_size * self.world)
        window = self.stream.take(consumed, size)
        per = size // self.world
        first = self.accelerator.process_index * per  # position of this process's first row in the global batch
        mine, mb = window[first:first + per], cfg.micro_batch_size
        micro = [self.task.batch(self.train_rows, mine[i:i + mb], step, list(range(first + i, first + i + mb)))
                 for i in range(0, per, mb)]
        return size, window, micro

    def train_step(self) -> dict:
        cfg, acc = self.cfg, self.accelerator
        step = self.step + 1
        ahead, self._ahead = self._ahead, None
        size, window, micro = ahead.result() if ahead is not None else self._step_batches(step, self.consumed)
        if cfg.prefetch and step < (cfg.stop_at_step or cfg.max_steps):  # the next step's batches, while this computes
            self._ahead = self._prefetcher.submit(self._step_batches, step + 1, self.consumed + size)
        lr = lr_at(step, cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        # loss units (GFF tokens, masked tokens, sequences) of the whole global batch: MLM knows them only now
        units = torch.tensor(sum(b["units"] for b in micro), device=acc.device, dtype=torch.long)
        global_tokens = int(acc.reduce(units, reduction="sum").item())
        loss_sum = torch.zeros((), device=acc.device, dtype=torch.float64)
        for j, batch in enumerate(micro):
            sync = j == len(micro) - 1
            with contextlib.nullcontext() if sync else acc.no_sync(self.model):
                chunk_loss, _ = self.task.forward(self.model, batch, acc.device)
                # mean over the global batch's units; x world because DDP averages gradients over processes
                acc.backward(chunk_loss * self.world / max(global_tokens, 1))
            loss_sum += chunk_loss.detach().double()
        grad_norm = acc.clip_grad_norm_(self.model.parameters(), cfg.grad_clip if cfg.grad_clip > 0 else float("inf"))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        loss = (acc.reduce(loss_sum, reduction="sum") / max(global_tokens, 1)).item()
        self.step, self.consumed = step, self.consumed + size
        nucleotides = sum(self.train_rows.lengths[i] for i in window)
        self.nucleotides_seen += nucleotides
        return {"loss": loss, "lr": lr, "grad_norm": float(grad_norm) if grad_norm is not None else float("nan"),
                "batch_size": size, "nucleotides": nucleotides, "target_tokens": global_tokens}

    def fit(self) -> dict:
        from tqdm.auto import tqdm

        cfg, acc = self.cfg, self.accelerator
        if self.resume_from is not None:
            self._restore(self.resume_from)
            logger.info("resumed from %s at step %d", self.resume_from, self.step)
        log = None
        if acc.is_main_process:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / CONFIG_FILE).write_text(dump_yaml(cfg))
            log = MetricsLog(self.run_dir, cfg.tensorboard, resume_step=self.step if self.resume_from else None)
        bar = tqdm(total=cfg.max_steps, initial=self.step, unit="step", dynamic_ncols=True, file=sys.stderr,
                   disable=not (acc.is_main_process and cfg.progress_bar), desc=f"{cfg.stage} {self.run_dir.name}")
        last_stop = cfg.stop_at_step or cfg.max_steps
        interval = _new_interval()
        saved_at = None
        run_start = time.perf_counter() - self.train_seconds - self.eval_seconds
        self.model.train()
        while self.step < last_stop:
            t0 = time.perf_counter()
            rec = self.train_step()
            dt = time.perf_counter() - t0
            self.train_seconds += dt
            for k in ("nucleotides", "target_tokens"):
                interval[k] += rec[k]
            interval["loss"] += rec["loss"]
            interval["steps"] += 1
            interval["seconds"] += dt
            nt_s = interval["nucleotides"] / max(interval["seconds"], 1e-9)
            bar.update(1)
            bar.set_postfix({"loss": f"{rec['loss']:.3f}", "lr": f"{rec['lr']:.2e}", "nt/s": f"{nt_s:,.0f}"},
                            refresh=False)
            if self.step % cfg.log_every == 0 or self.step == last_stop:
                scalars = {"loss": interval["loss"] / interval["steps"], "lr": rec["lr"], "grad_norm": rec["grad_norm"],
                           "batch_size": rec["batch_size"], "nucleotides_per_step": rec["nucleotides"],
                           "nt_per_s": nt_s,
                           "target_tokens_per_s": interval["target_tokens"] / max(interval["seconds"], 1e-9),
                           "nucleotides_seen": self.nucleotides_seen, "epoch": self.consumed / len(self.train_rows),
                           "elapsed_s": time.perf_counter() - run_start}
                if log:
                    log.log("train", self.step, scalars)
                interval = _new_interval()
            if cfg.eval_every and (self.step % cfg.eval_every == 0 or self.step == cfg.max_steps):
                t0 = time.perf_counter()
                metrics = self.evaluate()
                self.eval_seconds += time.perf_counter() - t0
                metrics["eval_time_fraction"] = self.eval_seconds / max(time.perf_counter() - run_start, 1e-9)
                self.last_eval = metrics | {"step": self.step}
                if log:
                    log.log("eval", self.step, metrics)
                if acc.is_main_process and cfg.progress_bar:
                    shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
                    bar.write(f"step {self.step}: eval {shown}")
            if self.step % cfg.checkpoint_every == 0 or self.step == last_stop:
                saved_at = self.save_checkpoint()
        bar.close()
        if log:
            log.close()
        return {"step": self.step, "checkpoint": str(saved_at) if saved_at else None, "last_eval": self.last_eval,
                "train_seconds": self.train_seconds, "eval_seconds": self.eval_seconds,
                "nucleotides_seen": self.nucleotides_seen}


def _new_interval() -> dict:
    """Sums over the steps since the last train record."""
    return {"loss": 0.0, "steps": 0, "nucleotides": 0, "target_tokens": 0, "seconds": 0.0}


def load_init_weights(model, checkpoint: str | Path, part: str, encoder_prefix: str = "encoder.dna.") -> None:
    """Copy weights from a checkpoint folder: `decoder` = every tensor not under `encoder.`, `all`, or `encoder` =
    the DNA encoder alone, from a gene finder (`encoder.dna.*`) or an encoder-only model (`bert.*`), renamed to
    this model's `encoder_prefix` (so an MLM-pre-trained encoder starts a classifier or a gene finder)."""
    from safetensors.torch import load_file

    path = Path(checkpoint) / "model.safetensors"
    if not path.is_file():
        raise GeneFinderInputError("`init_from`: no model.safetensors here (give a RUN_DIR/checkpoint-N folder)",
                                   str(checkpoint))
    state = load_file(str(path))
    if part == "decoder":
        state = {k: v for k, v in state.items() if not k.startswith("encoder.")}
    elif part == "encoder":
        state = {encoder_prefix + k[len(prefix):]: v for k, v in state.items()
                 for prefix in ("encoder.dna.", "bert.") if k.startswith(prefix)}
    own = model.state_dict()
    wrong = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items()
             if k in own and own[k].shape != v.shape]
    missing = [k for k in state if k not in own]
    if wrong or missing:
        raise GeneFinderInputError(f"`init_from`: checkpoint does not fit this model's config ("
                                   f"{'shape ' + wrong[0] if wrong else 'unknown tensor ' + missing[0]}); "
                                   "use the same decoder sizes", str(checkpoint))
    model.load_state_dict(state, strict=False)
    logger.info("init_from %s: loaded %d tensors (%s)", checkpoint, len(state), part)


def enable_activation_checkpointing(model) -> None:
    """Recompute layer activations in backward (`gradient_checkpointing` in the config), non-reentrant: it works
    under DDP's no_sync and with frozen parameters. transformers renamed the switch (`activation_checkpointing_enable`,
    the old name deprecated) within the versions this project supports, so either is called."""
    enable = getattr(model, "activation_checkpointing_enable", None)
    if enable is not None:
        enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def freeze_all_but(model, prefixes: list[str]) -> None:
    """Train only the parameters whose names start with one of `prefixes` (`trainable`); one line if none does."""
    names = [n for n, _ in model.named_parameters()]
    unmatched = [p for p in prefixes if not any(n.startswith(p) for n in names)]
    if unmatched:
        raise GeneFinderInputError(f"`trainable`: no parameter of this model starts with {unmatched[0]!r} "
                                   f"(top-level parts: {', '.join(sorted({n.split('.')[0] for n in names}))})")
    for name, param in model.named_parameters():
        param.requires_grad_(any(name.startswith(p) for p in prefixes))


def device_name(device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def train(cfg: TrainConfig, resume: bool = False, gene_level_eval: GeneLevelEval | None = None) -> dict:
    """Run (or resume) training; returns the final step, checkpoint, last eval metrics and timings."""
    return Trainer(cfg, resume=resume, gene_level_eval=gene_level_eval).fit()


# ---------------------------------------------------------------------------------------------------- CLI

def parse_args(argv: list[str]) -> tuple[TrainConfig, bool]:
    """`--config FILE`, `--resume`, and `--key value` overrides for any TrainConfig field (dotted when nested)."""
    argv = list(argv)
    config_path, resume = None, False
    rest = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            print(__doc__)
            print("Fields (--name default, reason); nested model fields as --model.<name>:\n" + describe_fields())
            raise SystemExit(0)
        if a == "--config" or a.startswith("--config="):
            if "=" in a:
                config_path = a.split("=", 1)[1]
            elif i + 1 < len(argv):
                config_path, i = argv[i + 1], i + 1
            else:
                raise GeneFinderInputError("--config needs a file")
        elif a == "--resume":
            resume = True
        else:
            rest.append(a)
        i += 1
    overrides = parse_overrides(rest)
    if config_path is None and resume and "run_dir" in overrides:
        saved = Path(overrides["run_dir"]) / CONFIG_FILE
        if saved.is_file():  # `--resume --run_dir R` alone continues with R's own config
            config_path = str(saved)
    if config_path is None and not overrides.get("dataset"):
        raise GeneFinderInputError("give --config configs/<name>.yaml (or --resume --run_dir RUN_DIR)")
    return load_config(config_path, overrides), resume


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="configs/<name>.yaml")
    parser.add_argument("overrides", nargs=argparse.REMAINDER,
                        help="[--resume] [--field value ...], e.g. --lr 1e-3 --model.d_model 128")


def run(args) -> None:
    argv = ["--config", args.config, *args.overrides]
    if config_task(argv) == "gene_structure":
        if gene_structure_main(argv):
            raise GeneFinderInputError("gene-structure training stopped on the error above")
        return
    cfg, resume = parse_args(argv)
    result = train(cfg, resume=resume)
    print(json.dumps(result, indent=1))


def config_task(argv: list[str]) -> str:
    """The `task:` of the settings `argv` names: `--config F`, else `--resume --run_dir R`'s saved R/config.json."""
    overrides = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in argv if a.startswith("--") and "=" in a}
    pairs = {a: b for a, b in zip(argv, argv[1:]) if a.startswith("--")}
    path = overrides.get("--config") or pairs.get("--config")
    run_dir = overrides.get("--run_dir") or pairs.get("--run_dir")
    if path is None and "--resume" in argv and run_dir:
        path = next((p for p in (Path(run_dir) / CONFIG_FILE, Path(run_dir) / RUN_SETTINGS_FILE) if p.is_file()), None)
    if path is None or not Path(path).is_file():
        return "encoder"  # parse_args names the missing file
    return str(read_yaml(path).get("task", "encoder"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if config_task(argv) == "gene_structure":  # the per-nucleotide eukaryotic network has its own loop
        return gene_structure_main(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    logging.getLogger(__package__ or "genefinder").setLevel(logging.INFO)
    try:
        cfg, resume = parse_args(argv)
        result = train(cfg, resume=resume)
    except GeneFinderInputError as err:
        print(f"train.py: error: {err}", file=sys.stderr)
        return 2
    if result["checkpoint"] and int(os.environ.get("RANK", "0")) == 0:
        logger.info("done at step %d; last checkpoint %s", result["step"], result["checkpoint"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
