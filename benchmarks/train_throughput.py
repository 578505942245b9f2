"""Training throughput of a config on this machine: nucleotides, encoder tokens and GFF tokens per second.

    .venv/bin/python benchmarks/train_throughput.py --config configs/small-cpu.yaml [--steps 10] [--warmup 2]
        [--field value ...]   # any train.py override, e.g. --cpu_threads 1 --micro_batch_size 8

Runs `warmup` optimizer steps untimed, then times `steps` full optimizer steps (forward, backward, clipping,
AdamW; no evaluation, no checkpoints) of train.py's own loop on the config's dataset, and prints the machine
(CPU model, cores, torch threads, load average before and after: other work on the machine slows every
number here), the model size and the rates; then it prepares the timed steps' micro-batches again alone
(tokenizing, labelling, masking: `Trainer._step_batches`, what `prefetch` overlaps with compute) and prints the
seconds per step that takes. Nothing is written outside a temporary run directory.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    args, overrides = parser.parse_known_args(argv)

    import torch

    from genefinder.evaluation.machine_info import cpu_model
    from genefinder.train import Trainer
    from genefinder.training.training_config import load_config, parse_overrides

    with tempfile.TemporaryDirectory() as tmp:
        ov = parse_overrides(overrides) | {"run_dir": tmp, "eval_every": 0, "progress_bar": False, "tensorboard": False}
        ov.setdefault("max_steps", max(args.steps + args.warmup + 1, 2))
        ov.setdefault("warmup_steps", 1)
        ov.setdefault("batch_size_start", None)  # time full-size steps, not the start of a batch ramp
        cfg = load_config(args.config, ov)
        load_before = os.getloadavg()
        trainer = Trainer(cfg)
        for _ in range(args.warmup):
            trainer.train_step()
        nt = gff = windows = 0
        encoder_tokens = 0
        start_consumed = trainer.consumed
        t0 = time.perf_counter()
        for _ in range(args.steps):
            rec = trainer.train_step()
            nt += rec["nucleotides"]
            gff += rec["target_tokens"]
            windows += rec["batch_size"]
        seconds = time.perf_counter() - t0
        load_after = os.getloadavg()
        t0, consumed = time.perf_counter(), start_consumed
        for step in range(args.warmup + 1, args.warmup + args.steps + 1):
            consumed += trainer._step_batches(step, consumed)[0]
        preparing = time.perf_counter() - t0
        # encoder positions of the timed windows (BPE tokens incl. [CLS]/[SEP], or nucleotides), counted afterwards
        for i in trainer.stream.take(start_consumed, windows):
            batch = trainer.train_rows.batch([i])
            encoder_tokens += int(batch["attention_mask"].sum())

    enc = trainer.model_config.encoder_config
    print(f"machine: {cpu_model()}, {os.cpu_count()} logical cores, torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads, device {trainer.accelerator.device}, "
          f"mixed precision {trainer.accelerator.mixed_precision}, python {platform.python_version()}")
    print(f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(f"config: {args.config} {' '.join(overrides)}".rstrip())
    print(f"model: {trainer.n_params:,} parameters; "
          f"encoder {enc.encoder_type} {enc.num_hidden_layers}x{enc.hidden_size}, "
          f"decoder {trainer.model_config.decoder_layers}x{trainer.model_config.d_model}")
    print(f"timed: {args.steps} steps, {windows} windows, {seconds:.1f} s ({seconds / args.steps:.2f} s/step)")
    print(f"throughput: {nt / seconds:,.0f} nucleotides/s, {encoder_tokens / seconds:,.0f} encoder tokens/s, "
          f"{gff / seconds:,.1f} GFF tokens/s, {windows / seconds:.2f} windows/s")
    print(f"batch preparation alone: {preparing / args.steps:.3f} s/step (in one thread; `prefetch` hides it behind "
          "the compute of the step before)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
