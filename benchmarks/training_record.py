"""The record of a training run made of one or more phases: OUT.md (a table) + OUT-phaseN/*.png (curves).

    .venv/bin/python benchmarks/training_record.py runs/bacteria-cpu:200 runs/bacteria-cpu-constrained \\
        runs/bacteria-cpu-frames --title "The default model's training run" --out docs/results/default_model_training

Each argument is a train.py run directory, optionally `:STEP` for the checkpoint a later phase started from
(default: the run's last checkpoint). Everything comes from the run's files (train_config.yaml,
checkpoint-N/trainer_state.json, metrics.jsonl): the config, steps, windows, nucleotides, GFF tokens, wall time,
hardware and the last evaluation of each phase, and the curves of `genefinder plot-training`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import yaml

from genefinder.evaluation.machine_info import cpu_model
from genefinder.train import checkpoints
from genefinder.training.training_monitor import plot_training


def phase_row(spec: str) -> dict:
    run_dir, _, step = spec.partition(":")
    run = Path(run_dir)
    found = checkpoints(run)
    ckpt = run / f"checkpoint-{step}" if step else (found[-1] if found else None)
    if ckpt is None or not (ckpt / "trainer_state.json").is_file():
        raise SystemExit(f"training_record: no checkpoint {'-' + step if step else ''} with trainer_state.json in {run}")
    state = json.loads((ckpt / "trainer_state.json").read_text())
    cfg = yaml.safe_load((run / "train_config.yaml").read_text())
    seconds = state["train_seconds"] + state["eval_seconds"]
    ev = state.get("last_eval") or {}
    return {"run": run_dir, "checkpoint": ckpt.name, "config": cfg, "state": state, "seconds": seconds, "eval": ev}


def render(title: str, phases: list[dict], plots: dict[str, list[Path]], command: str) -> str:
    lines = [f"# {title}", "", f"Written by `{command}`; do not edit by hand.", "",
             "| phase | run | checkpoint | loss | init from | steps | windows | nucleotides | wall time | hardware | "
             "last validation loss / token accuracy |", "|---|---|---|---|---|---:|---:|---:|---:|---|---|"]
    for i, p in enumerate(phases, start=1):
        s, c, ev = p["state"], p["config"], p["eval"]
        loss = "grammar-constrained" if c.get("constrained_loss") else "full vocabulary"
        coef = c.get("model", {}).get("coding_frame_loss_coef", 0)
        loss += f" + {coef} x coding-frame" if coef else ""
        loss += f" (training only {', '.join(c['trainable'])})" if c.get("trainable") else ""
        evs = f"{ev['loss']:.4f} / {ev['token_accuracy']:.3f} (step {ev['step']})" if ev else "–"
        evs += f"; coding-frame accuracy {ev['coding_accuracy']:.3f}" if "coding_accuracy" in ev else ""
        lines.append(f"| {i} | `{p['run']}` | {p['checkpoint']} | {loss} | {c.get('init_from') or 'random'} | "
                     f"{s['step']:,} of {s['max_steps']:,} | {s['consumed_windows']:,} | {s['nucleotides_seen']:,} | "
                     f"{p['seconds'] / 3600:.2f} h | {s['processes']} x {s['device']} ({cpu_model()}), "
                     f"{s['mixed_precision']} | {evs} |")
    total = sum(p["seconds"] for p in phases)
    lines += ["", f"Total: {sum(p['state']['step'] for p in phases):,} steps, "
              f"{sum(p['state']['nucleotides_seen'] for p in phases) / 1e6:.1f} M nucleotides, {total / 3600:.2f} h.",
              "", "Validation loss is not comparable across phases with different losses: the constrained loss "
              "scores each token among the grammar's choices only; the validation loss never includes the coding-frame "
              "term (train loss does); and each run's seed draws its own validation subset.", ""]
    for i, p in enumerate(phases, start=1):
        c = p["config"]
        lines += [f"## Phase {i}: `{p['run']}`", "", "```yaml", yaml.safe_dump(c, sort_keys=False).strip(), "```", ""]
        lines += [f"![{png.stem}]({png.parent.name}/{png.name})" for png in plots[p["run"]]]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("phases", nargs="+", help="RUN_DIR[:STEP], in training order")
    ap.add_argument("--title", required=True)
    ap.add_argument("--out", type=Path, required=True, help="writes OUT.md and OUT-<phase>/*.png")
    args = ap.parse_args(argv)
    phases = [phase_row(spec) for spec in args.phases]
    plots = {}
    for i, p in enumerate(phases, start=1):
        folder = args.out.with_name(f"{args.out.name}-phase{i}")
        plots[p["run"]] = plot_training(p["run"], folder)
    command = "python benchmarks/training_record.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(render(args.title, phases, plots, command))
    print(args.out.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
