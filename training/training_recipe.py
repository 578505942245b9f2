"""The training recipe as pure functions: parameter groups, AdamW, learning-rate schedule, batch ramp, data order.

Everything here is a function of the step number (and the seed), never of hidden mutable state, which is
what makes `--resume` exact: the learning rate, the batch size and the windows of step s are recomputed
from s, not restored from a scheduler object.

- AdamW with betas (0.9, 0.95), eps 1e-8, weight decay only on weight matrices (Linear, Conv); biases,
  norm weights and embedding tables are not decayed (GPT-2/3, nanoGPT's `configure_optimizers`).
- Learning rate: linear warm-up to the peak, then cosine decay to `min_lr_ratio` x peak (Chinchilla keeps
  10%; Hoffmann et al. 2022).
- Batch-size ramp: the global batch (windows per step) grows linearly from a start value to the final one
  over N steps (GPT-3, Brown et al. 2020, App. B). Windows of one dataset share a length, so tokens per
  step = windows x window length; the ramp is written in windows so it is always a whole number of
  micro-batches per process.
- Data order: one seeded permutation of the training windows per epoch, epochs concatenated into one
  stream; step s takes the next `batch_size_at(s)` windows of it. The position in the stream is the only
  data state a checkpoint needs. `WeightedSampleStream` (classification with unbalanced classes) keeps that
  interface but draws each epoch's n rows with replacement, with probability proportional to 1 / the
  frequency of the row's class, so every class is drawn equally often on average.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def decay_split(model: nn.Module) -> tuple[list[str], list[str]]:
    """(names to decay, names not to decay) over trainable parameters: only matrices of non-embedding modules decay."""
    decay, no_decay, seen = [], [], set()
    for module_name, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue  # a tied weight (MLM decoder = word embeddings) counts once, as its first module's
            seen.add(id(param))
            full = f"{module_name}.{name}" if module_name else name
            if param.ndim >= 2 and not isinstance(module, nn.Embedding):
                decay.append(full)
            else:
                no_decay.append(full)  # biases, LayerNorm/RMSNorm weights, embedding tables, scalars
    return decay, no_decay


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = decay_split(model)
    params = dict(model.named_parameters())
    return [{"params": [params[n] for n in decay], "weight_decay": weight_decay},
            {"params": [params[n] for n in no_decay], "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, cfg) -> torch.optim.AdamW:
    return torch.optim.AdamW(parameter_groups(model, cfg.weight_decay), lr=lr_at(1, cfg),
                             betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_eps)


def lr_at(step: int, cfg) -> float:
    """Learning rate of optimizer step `step` (1-based): warm-up to the peak at `warmup_steps`, cosine to
    `min_lr_ratio` x peak at `max_steps`."""
    peak, floor = cfg.lr, cfg.lr * cfg.min_lr_ratio
    if cfg.warmup_steps and step <= cfg.warmup_steps:
        return peak * step / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def batch_size_at(step: int, cfg, multiple: int = 1) -> int:
    """Global windows of step `step` (1-based): linear from `batch_size_start` (step 1) to `batch_size`
    (step `batch_ramp_steps` and after), rounded down to a multiple of `multiple` (micro-batch x processes)."""
    if cfg.batch_size_start is None or step >= cfg.batch_ramp_steps:
        size = cfg.batch_size
    else:
        frac = (step - 1) / max(1, cfg.batch_ramp_steps - 1)
        size = cfg.batch_size_start + frac * (cfg.batch_size - cfg.batch_size_start)
    return max(multiple, int(size) // multiple * multiple)


class SampleStream:
    """Window indices in training order: epoch e is `randperm(n)` seeded by (seed, e); epochs follow each other."""

    def __init__(self, n: int, seed: int):
        if n < 1:
            raise ValueError("the training split has no windows")
        self.n, self.seed = n, seed
        self._epoch, self._perm = -1, None

    def _permutation(self, epoch: int) -> list[int]:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(self.n, generator=g).tolist()
        return self._perm

    def take(self, start: int, count: int) -> list[int]:
        """Indices at stream positions [start, start + count)."""
        out = []
        for pos in range(start, start + count):
            out.append(self._permutation(pos // self.n)[pos % self.n])
        return out


class WeightedSampleStream(SampleStream):
    """Like SampleStream, but epoch e is n draws with replacement, P(row) ∝ 1 / count(row's class), seeded by (seed, e)."""

    def __init__(self, labels: list, seed: int):
        super().__init__(len(labels), seed)
        counts: dict = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        self.weights = torch.tensor([1.0 / counts[label] for label in labels], dtype=torch.float64)

    def _permutation(self, epoch: int) -> list[int]:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._perm = epoch, torch.multinomial(self.weights, self.n, True, generator=g).tolist()
        return self._perm
