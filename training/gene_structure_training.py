"""Training loop of the gene-structure network (models/modeling_gene_structure.py) on cached per-nt arrays.

    python -m genefinder.training.gene_structure_training --config configs/gene-structure-lstm.yaml \
        [--run_dir DIR] [--max_minutes 5] [--model.hidden_size 96]
    python -m genefinder.training.gene_structure_training --resume --run_dir DIR [--threads 1]

The recipe is the project's (training_recipe.py): AdamW (0.9, 0.95), weight decay 0.1 on matrices, linear
warm-up then cosine to 10% of the peak, gradient clipping at 1.0. Class-weighted cross-entropy over trusted
nucleotides (gene_structure_labels.py's mask); class weights default to (frequency / top frequency) ^ -power
over the weighted source mixture, written into the model config so they travel with the checkpoint.

The cached arrays (gene_structure_data.build_cache) are built on first use. `--resume` continues a run directory
holding a `checkpoint/` after the checkpointed step with the same weights, AdamW moments, torch RNG and data
position (a batch is a pure function of the step, gene_structure_data.WindowSampler), so a resumed run equals an
uninterrupted one; `--resume --run_dir DIR` alone reads the run's own settings (DIR/config.json). Settings that
steer the run (all but `RUN_CONTROL`) must equal the checkpointed run's; a run directory with a checkpoint is
never restarted from scratch without `--resume`. Checkpoints are written every
`checkpoint_minutes` and at the end, atomically (written aside, then renamed): `checkpoint/model/` is a
`save_pretrained` folder (config.json + model.safetensors) that `GeneStructureForTokenClassification.from_pretrained`
loads (the Hub export adds the remote code); `best/model/` is the model of the best validation CDS-nucleotide F1.
Progress goes to stderr; metrics to `metrics.jsonl` and TensorBoard (`tensorboard/`).

Validation: `eval_windows` fixed windows of the A. thaliana validation range (chr1 22,000,001..25,000,000):
weighted loss, per-class F1, and the strand-exact CDS-nucleotide F1 (a nucleotide counts as found when it is
predicted coding on the strand of its annotated CDS), all over trusted nucleotides; then, unless
`gene_eval_stretches` is 0, base/exon/gene F1 of genes decoded from long stretches (gene_structure_eval.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import transformers

from ..formats.errors import GeneFinderInputError, require_file
from ..models.configuration_gene_structure import GeneStructureConfig
from ..models.modeling_gene_structure import GeneStructureForTokenClassification
from .gene_structure_eval import GeneLevelValidation
from .gene_structure_data import (VALIDATION_SOURCE, WindowSampler, build_cache, class_counts, load_arrays,
                                  validation_windows)
from .gene_structure_labels import GENE_STRUCTURE_CLASSES, REVERSE_COMPLEMENT_CLASS
from .training_config import merge, parse_overrides, read_yaml
from .training_monitor import MetricsLog
from .training_recipe import build_optimizer, lr_at

logger = logging.getLogger(__name__)
RUN_SETTINGS_FILE = "config.json"  # the run's GeneStructureTrainConfig, in its run_dir
TASK = "gene_structure"  # the `task:` key by which train.py hands a config to this loop
# settings that say how a process runs, not what it computes: free to change when resuming
RUN_CONTROL = frozenset({"run_dir", "cache_dir", "threads", "log_every", "checkpoint_minutes", "max_minutes"})


@dataclass
class GeneStructureTrainConfig:
    run_dir: str = "/work/runs/gene_structure"  # checkpoint/, best/, metrics.jsonl, tensorboard/, config.json
    cache_dir: str = "/work/runs/gene_structure_cache"  # gene_structure_data.build_cache output
    sources: dict = field(default_factory=lambda: {"athaliana_train": 1.0})  # cached source -> sampling weight
    model: dict = field(default_factory=dict)  # GeneStructureConfig kwargs
    window: int = 9999  # nt per training window (Tiberius trains on 9,999 nt)
    batch_size: int = 8  # windows per optimizer step
    unmask_probability: float = 0.5  # windows shown with soft-masking removed, so unmasked input works
    lr: float = 2e-3  # peak learning rate; small recurrent/conv nets take a larger one than transformers
    min_lr_ratio: float = 0.1  # cosine floor as a fraction of the peak (Chinchilla)
    warmup_steps: int = 200  # linear warm-up steps
    max_steps: int = 10000  # the cosine ends here
    weight_decay: float = 0.1  # on weight matrices only
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    adam_eps: float = 1e-8
    grad_clip: float = 1.0  # max global gradient norm
    class_weight_power: float = 0.5  # class weight = (frequency / top frequency) ^ -power; 0 = unweighted
    seed: int = 0  # data order, augmentation and initialisation
    threads: int = 2  # torch intra-op threads
    log_every: int = 10  # steps between training log lines
    eval_every: int = 250  # steps between validations
    eval_windows: int = 60  # fixed validation windows
    eval_window: int = 9999  # nt per validation window
    gene_eval_stretches: int = 5  # long validation stretches decoded into genes and scored per exon/gene; 0 = off
    gene_eval_length: int = 100_000  # nt per gene-level stretch: long, so few genes are cut by its ends
    checkpoint_minutes: float = 5.0  # wall-clock minutes between checkpoints
    max_minutes: float | None = None  # stop, with a checkpoint, after this many minutes; None = no limit
    init_from: str | None = None  # a save_pretrained folder whose weights (and model settings) start the run

    def validate(self, origin: str) -> None:
        for name in ("window", "batch_size", "max_steps", "log_every", "eval_every", "eval_windows", "eval_window",
                     "threads"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise GeneFinderInputError(f"`{name}` must be an integer >= 1, got {value!r}", origin)
        if not (isinstance(self.gene_eval_stretches, int) and self.gene_eval_stretches >= 0):
            raise GeneFinderInputError(f"`gene_eval_stretches` must be an integer >= 0, got {self.gene_eval_stretches!r}",
                                       origin)
        if not self.sources or any(not (isinstance(w, (int, float)) and w > 0) for w in self.sources.values()):
            raise GeneFinderInputError(f"`sources` must map cached sources to positive weights, got {self.sources!r}",
                                       origin)
        if VALIDATION_SOURCE in self.sources:
            raise GeneFinderInputError(f"`sources` must not contain the validation source {VALIDATION_SOURCE}", origin)


def load_config(path: str | None, overrides: list[str]) -> GeneStructureTrainConfig:
    """YAML file plus `--key value` / `--model.key value` overrides (values read as YAML, as train.py reads them)."""
    values = merge(read_yaml(path) if path else {}, parse_overrides(overrides))
    values.pop("task", None)  # train.py's dispatch key
    names = {f.name for f in dataclasses.fields(GeneStructureTrainConfig)}
    unknown = set(values) - names
    if unknown:
        raise GeneFinderInputError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(names)}", path)
    cfg = GeneStructureTrainConfig(**values)
    cfg.validate(path or "command line")
    return cfg


def automatic_class_weights(cfg: GeneStructureTrainConfig) -> list[float]:
    """(frequency_k / max frequency) ^ -power, frequencies over the sources mixed by their sampling weights and
    averaged over both strands (training windows are reverse-complemented half the time)."""
    mix = np.zeros(len(GENE_STRUCTURE_CLASSES))
    total = sum(cfg.sources.values())
    for name, weight in cfg.sources.items():
        counts = class_counts(cfg.cache_dir, [name]).astype(np.float64)
        counts = (counts + counts[REVERSE_COMPLEMENT_CLASS]) / 2
        mix += weight / total * counts / counts.sum()
    mix = np.maximum(mix, 1e-6)
    return [round(float(w), 4) for w in (mix / mix.max()) ** -cfg.class_weight_power]


# ------------------------------------------------------------------------------------------------- metrics

def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, k: int = 9) -> np.ndarray:
    """(k, k) int64 counts [true, predicted]."""
    return np.bincount(labels.astype(np.int64) * k + predicted, minlength=k * k).reshape(k, k)


def f1(tp: float, predicted: float, true: float) -> float:
    return 2 * tp / (predicted + true) if predicted + true else 0.0


def structure_metrics(confusion: np.ndarray) -> dict[str, float]:
    """Per-class F1, accuracy and strand-exact CDS-nucleotide F1 (classes 1-3 = '+' CDS, 4-6 = '-' CDS)."""
    out = {f"f1/{name}": f1(confusion[i, i], confusion[:, i].sum(), confusion[i].sum())
           for i, name in enumerate(GENE_STRUCTURE_CLASSES)}
    out["accuracy"] = float(np.trace(confusion) / max(confusion.sum(), 1))
    plus, minus = slice(1, 4), slice(4, 7)
    tp = confusion[plus, plus].sum() + confusion[minus, minus].sum()
    predicted = confusion[:, 1:7].sum()
    true = confusion[1:7].sum()
    out["cds_nt_f1"], out["cds_nt_precision"], out["cds_nt_recall"] = (
        f1(tp, predicted, true), tp / max(predicted, 1), tp / max(true, 1))
    return out


@torch.no_grad()
def evaluate(model: GeneStructureForTokenClassification, ids: np.ndarray, labels: np.ndarray, mask: np.ndarray,
             batch_size: int) -> dict[str, float]:
    """Weighted loss and structure_metrics over trusted nucleotides of (N, W) validation windows."""
    model.eval()
    confusion = np.zeros((9, 9), dtype=np.int64)
    loss_sum, weight_sum, class_weights = 0.0, 0.0, model.class_weights()
    for b in range(0, len(ids), batch_size):
        x = torch.from_numpy(ids[b:b + batch_size])
        y = torch.from_numpy(np.where(mask[b:b + batch_size] > 0, labels[b:b + batch_size], -100))
        out = model(x, labels=y)
        w = class_weights[y.clamp(min=0)] * (y >= 0)
        loss_sum += float(out.loss) * float(w.sum())
        weight_sum += float(w.sum())
        keep = (y >= 0).numpy()
        confusion += confusion_matrix(out.logits.argmax(-1).numpy()[keep], y.numpy()[keep])
    model.train()
    return {"loss": loss_sum / max(weight_sum, 1e-9), **structure_metrics(confusion)}


# ------------------------------------------------------------------------------------------------ checkpoints

def save_checkpoint(folder: Path, model, optimizer, step: int, extra: dict) -> None:
    """Write `folder` atomically: model/ (save_pretrained) + training_state.pt."""
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp / "model")
    if optimizer is not None:
        torch.save({"step": step, "optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state(),
                    **extra}, tmp / "training_state.pt")
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    if old.exists():
        shutil.rmtree(old)


def build_model(cfg: GeneStructureTrainConfig) -> GeneStructureForTokenClassification:
    """A new model of cfg.model's settings, or `init_from`'s weights and settings (a further run with its own
    schedule and data order: more training of a finished run)."""
    if cfg.init_from is not None:
        require_file(Path(cfg.init_from) / "model.safetensors", "init_from weights")
        return GeneStructureForTokenClassification.from_pretrained(cfg.init_from)
    kwargs = dict(cfg.model)
    if kwargs.get("class_weights") is None:
        kwargs["class_weights"] = automatic_class_weights(cfg)
    torch.manual_seed(cfg.seed)
    return GeneStructureForTokenClassification(GeneStructureConfig(**kwargs))


# --------------------------------------------------------------------------------------------------- the loop

def check_resumable(cfg: GeneStructureTrainConfig, resume: bool) -> bool:
    """Whether cfg.run_dir holds a checkpoint to continue; refuses to start over one, or to resume with other
    settings than the checkpointed run's (RUN_CONTROL settings excepted)."""
    run_dir = Path(cfg.run_dir)
    found = (run_dir / "checkpoint" / "training_state.pt").exists()
    if found and not resume:
        raise GeneFinderInputError(f"{run_dir} already holds a checkpoint: add --resume to continue that run, "
                                   "or choose another --run_dir")
    if resume and not found:
        logger.warning("--resume: no checkpoint in %s; starting from step 0", run_dir)
    saved = run_dir / RUN_SETTINGS_FILE
    if found and saved.is_file():
        old, new = json.loads(saved.read_text()), dataclasses.asdict(cfg)
        changed = sorted(k for k in new if k not in RUN_CONTROL and k in old and old[k] != new[k])
        if changed:
            raise GeneFinderInputError(f"--resume: setting(s) {', '.join(changed)} differ from the checkpointed "
                                       "run's; a resumed run must compute what the original would have", saved)
    return found


def train(cfg: GeneStructureTrainConfig, resume: bool = False) -> dict:
    """Train in cfg.run_dir, or continue its checkpoint with `resume`; returns the last validation metrics."""
    started = time.time()
    torch.set_num_threads(cfg.threads)
    run_dir = Path(cfg.run_dir)
    resume = check_resumable(cfg, resume)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = run_dir / "checkpoint"
    build_cache(cfg.cache_dir, [*cfg.sources, VALIDATION_SOURCE])  # a no-op for sources already cached
    if resume:
        model = GeneStructureForTokenClassification.from_pretrained(checkpoint / "model")
        state = torch.load(checkpoint / "training_state.pt", weights_only=False)
        optimizer = build_optimizer(model, cfg)
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        step, best = state["step"], state["best_cds_nt_f1"]
        logger.info("resuming %s after step %d", run_dir, step)
    else:
        model = build_model(cfg)
        optimizer = build_optimizer(model, cfg)
        step, best = 0, -1.0
    (run_dir / RUN_SETTINGS_FILE).write_text(json.dumps({"task": TASK, **dataclasses.asdict(cfg)}, indent=1))
    logger.info("class weights %s; %d parameters", model.config.class_weights,
                sum(p.numel() for p in model.parameters()))
    sampler = WindowSampler([load_arrays(cfg.cache_dir, n) for n in cfg.sources], list(cfg.sources.values()),
                            cfg.window, cfg.batch_size, cfg.seed, cfg.unmask_probability)
    val = load_arrays(cfg.cache_dir, VALIDATION_SOURCE)
    spans = validation_windows(val, cfg.eval_windows, cfg.eval_window)
    val_ids, val_labels, val_mask = (np.stack([np.asarray(a[s:e], dtype=np.int64) for s, e in spans])
                                     for a in (val.ids, val.labels, val.mask))
    gene_level = (GeneLevelValidation(val, cfg.gene_eval_stretches, cfg.gene_eval_length)
                  if cfg.gene_eval_stretches else None)
    metrics_log = MetricsLog(run_dir, resume_step=step if resume else None)
    last_checkpoint, last_eval, window_nt, window_time = time.time(), {}, 0, 0.0
    model.train()

    def checkpoint_now() -> None:
        save_checkpoint(checkpoint, model, optimizer, step, {"best_cds_nt_f1": best})
        logger.info("checkpoint at step %d", step)

    while step < cfg.max_steps:
        step += 1
        t0 = time.time()
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        ids, labels, mask = sampler.batch(step)
        y = torch.from_numpy(np.where(mask > 0, labels, -100))
        loss = model(torch.from_numpy(ids), labels=y).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        loss_value = loss.item()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
        optimizer.step()
        window_nt += ids.size
        window_time += time.time() - t0
        if step % cfg.log_every == 0:
            nt_per_s = window_nt / window_time
            metrics_log.log("train", step, {"loss": loss_value, "lr": lr, "grad_norm": grad_norm,
                                            "nt_per_s": nt_per_s, "elapsed_min": (time.time() - started) / 60})
            logger.info("step %d/%d loss %.4f lr %.2e grad %.2f %.0f nt/s", step, cfg.max_steps, loss_value, lr,
                        grad_norm, nt_per_s)
            window_nt, window_time = 0, 0.0
        if not math.isfinite(loss_value):
            raise RuntimeError(f"loss is {loss_value} at step {step}")
        out_of_time = cfg.max_minutes is not None and time.time() - started > cfg.max_minutes * 60
        if step % cfg.eval_every == 0 or step == cfg.max_steps or out_of_time:
            last_eval = evaluate(model, val_ids, val_labels, val_mask, cfg.batch_size)
            if gene_level is not None:
                last_eval.update({f"decoded/{k}": v for k, v in gene_level(model).items()})
                logger.info("eval step %d decoded: exon F1 %.4f gene F1 %.4f base F1 %.4f (%d genes, reference %d)",
                            step, last_eval["decoded/exon_f1"], last_eval["decoded/gene_f1"],
                            last_eval["decoded/base_f1"], last_eval["decoded/predicted_genes"],
                            last_eval["decoded/reference_genes"])
            metrics_log.log("eval", step, last_eval)
            logger.info("eval step %d: loss %.4f CDS-nt F1 %.4f (P %.4f R %.4f) intron F1 +%.3f -%.3f", step,
                        last_eval["loss"], last_eval["cds_nt_f1"], last_eval["cds_nt_precision"],
                        last_eval["cds_nt_recall"], last_eval["f1/+intron"], last_eval["f1/-intron"])
            if last_eval["cds_nt_f1"] > best:
                best = last_eval["cds_nt_f1"]
                save_checkpoint(run_dir / "best", model, None, step, {})
        if time.time() - last_checkpoint > cfg.checkpoint_minutes * 60 or step == cfg.max_steps or out_of_time:
            checkpoint_now()
            last_checkpoint = time.time()
        if out_of_time:
            logger.info("stopping after %.1f minutes (max_minutes)", (time.time() - started) / 60)
            break
    metrics_log.close()
    return last_eval


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the gene-structure network; any other `--key value` "
                                     "overrides a GeneStructureTrainConfig setting (`--model.key value` a model one).")
    parser.add_argument("--config", help="YAML file of GeneStructureTrainConfig settings")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run directory's checkpoint (without --config: with its own settings)")
    args, overrides = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    transformers.utils.logging.disable_progress_bar()
    try:
        config = args.config
        if config is None and args.resume:
            run_dir = parse_overrides(overrides).get("run_dir")
            if run_dir is None:
                raise GeneFinderInputError("--resume without --config needs --run_dir RUN_DIR")
            config = str(Path(run_dir) / RUN_SETTINGS_FILE)
            require_file(config, "run settings")
        train(load_config(config, overrides), resume=args.resume)
    except GeneFinderInputError as err:
        print(f"gene_structure_training: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
