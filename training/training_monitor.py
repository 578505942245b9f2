"""Watching a run: metrics.jsonl + TensorBoard scalars while it trains, PNG curves afterwards.

`MetricsLog` appends one JSON object per record to `RUN_DIR/metrics.jsonl` (`{"kind": "train" | "eval",
"step": ..., <scalars>}`) and mirrors the scalars to TensorBoard event files in `RUN_DIR/tensorboard`
(`tensorboard --logdir RUN_DIR/tensorboard`). JSONL is the record of truth: readable without TensorBoard,
and what `genefinder plot-training RUN_DIR` turns into PNGs (matplotlib, Agg backend, no display needed).

On `--resume`, records after the resumed step (written by the interrupted process after its last
checkpoint) are dropped from the JSONL and TensorBoard is told to purge them, so curves never double back.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

from ..formats.errors import GeneFinderInputError

logger = logging.getLogger(__name__)
METRICS_FILE = "metrics.jsonl"

# PNG name -> (title, [(kind, key, label)], log-scale y)
PLOTS = {
    "loss.png": ("loss (cross-entropy per GFF token)",
                 [("train", "loss", "train"), ("eval", "loss", "validation")], True),
    "lr.png": ("learning rate", [("train", "lr", "lr")], False),
    "grad_norm.png": ("gradient norm (before clipping)", [("train", "grad_norm", "grad norm")], True),
    "eval.png": ("validation accuracy (teacher forcing)", [("eval", "token_accuracy", "GFF token accuracy"),
                                                          ("eval", "coding_accuracy", "coding-frame accuracy (per nt)")],
                 False),
    "throughput.png": ("throughput", [("train", "nt_per_s", "nucleotides / s")], False),
    "batch_size.png": ("batch size", [("train", "batch_size", "windows per step")], False),
}


class MetricsLog:
    """Append-only JSONL + optional TensorBoard. Create it on the main process only."""

    def __init__(self, run_dir: str | Path, tensorboard: bool = True, resume_step: int | None = None):
        self.path = Path(run_dir) / METRICS_FILE
        if resume_step is not None and self.path.exists():
            kept = [line for line in self.path.read_text().splitlines()
                    if line and json.loads(line)["step"] <= resume_step]
            self.path.write_text("".join(line + "\n" for line in kept))
        elif resume_step is None and self.path.exists():
            self.path.unlink()  # a fresh run in a reused run_dir starts a fresh log
        self._fh = open(self.path, "a", encoding="utf-8")
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # the tensorboard package is a declared dependency; say so if it is missing
                logger.warning("tensorboard is not installed; writing metrics.jsonl only")
            else:
                self.writer = SummaryWriter(str(Path(run_dir) / "tensorboard"),
                                            purge_step=None if resume_step is None else resume_step + 1)

    def log(self, kind: str, step: int, scalars: dict[str, float]) -> None:
        record = {"kind": kind, "step": step, **{k: _plain(v) for k, v in scalars.items()}}
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()
        if self.writer is not None:
            for key, value in scalars.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    self.writer.add_scalar(f"{kind}/{key}", value, step)

    def close(self) -> None:
        self._fh.close()
        if self.writer is not None:
            self.writer.close()


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def read_metrics(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise GeneFinderInputError(f"no {METRICS_FILE} here; is this a train.py run directory?", str(run_dir))
    records = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise GeneFinderInputError(f"not JSON: {err.msg}", str(path), n) from None
    return records


def plot_training(run_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Write one PNG per curve in PLOTS that has data; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(run_dir)
    out = Path(out_dir) if out_dir else Path(run_dir) / "plots"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (title, series, log_y) in PLOTS.items():
        curves = []
        for kind, key, label in series:
            pts = [(r["step"], r[key]) for r in records
                   if r.get("kind") == kind and isinstance(r.get(key), (int, float))]
            if pts:
                curves.append((label, pts))
        if not curves:
            continue
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        for label, pts in curves:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=label)
        if log_y and all(y > 0 for _, pts in curves for _, y in pts):
            ax.set_yscale("log")
        ax.set_xlabel("optimizer step")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if len(curves) > 1:
            ax.legend()
        fig.tight_layout()
        path = out / name
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


# ---------------------------------------------------------------------------------------------------- CLI

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a train.py run directory (holds metrics.jsonl)")
    parser.add_argument("--out", help="where to write the PNGs (default RUN_DIR/plots)")


def run(args) -> None:
    for path in plot_training(args.run_dir, args.out):
        print(path)
