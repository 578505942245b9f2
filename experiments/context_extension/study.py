"""The context-extension study: an `aido` encoder pre-trained with masked LM at length L, run at L..16L
under every RoPE scaling method, without and with a short fine-tune at 16L; one command, resumable.

    .venv/bin/python experiments/context_extension/study.py            # all stages; re-running skips what is done

Stages (each writes under --work and is skipped when its output exists):
1. data      `genefinder build-dataset` windows of L (pre-training) and 16L (fine-tuning) nt from the training
             bacteria (E. coli, C. crescentus, S. aureus), split by region: the test blocks (the last 10% of each
             genome) are never trained on and are what the study scores (--heldout test-split, the default).
             --heldout bsubtilis_best7003 scores a genome never seen instead; this small model is then near the
             4-letter entropy (ln 4 = 1.386 nats) at every length, so there is little context use to lose.
2. base      `train.py --stage mlm` with --config (default configs/context-mlm-cpu.yaml), checkpointed, resumable.
3. search    LongRoPE's long factors: a small grid (methods.LONGROPE_SHAPES) scored at 16L on the held-in
             validation windows (never on the held-out genome).
4. zero-shot every method at L, 2L, 4L, 8L, 16L on the held-out DNA (heldout_mlm.py: same targets at every L);
             first, the base alone at contexts L/64..L (`CONTEXT_DIVISORS`, same targets): how much context the
             encoder reads, which is all a method can lose beyond L (docs/results/context_extension_context_use.md).
5. finetune  per method, `train.py --stage mlm --init_from base --model.rope_parameters <method>` at 16L for
             --finetune-steps steps (the same budget for every method), then scored like stage 4.
6. downstream a gene finder (`train.py` seq2seq, --genefinder-config: the base encoder + a small decoder, window
             W = L) annotates a test-block region (--downstream-region) with windows W..16W under every method,
             zero-shot; gene-level and stop-exact F1 by `evaluation.evaluate` (downstream.py). Then the same
             gene finder by ORF decoding: its coding-frame head read over windows W..16W, with a start scorer
             fitted to it (`genefinder fit-starts` on the training genomes' train blocks), and the head's own
             per-nucleotide accuracy on the region.
7. report    docs/results/context_extension.md (tables, the 5% target, the commands) and docs/results/context_extension*.png.

Every method is only a `rope_parameters` dict (methods.py), the same config option users set for training.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from downstream import network_free_reference, score_windows, score_windows_orf  # noqa: E402
from heldout_mlm import HeldoutSet, draw_heldout_set, masked, score  # noqa: E402
from methods import LONGROPE_SHAPES, METHODS, rope_parameters  # noqa: E402
from report import write_report  # noqa: E402

from genefinder.annotation.region_annotation import GenomeRegion  # noqa: E402
from genefinder.models.configuration_encoders import GeneFinderEncoderConfig  # noqa: E402
from genefinder.models.modeling_genefinder_encoder import GeneFinderForMaskedLM  # noqa: E402
from genefinder.tokenization.processing_encoder import EncoderInputs  # noqa: E402
from genefinder.training.training_config import load_config  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
TRAIN_GENOMES = ("ecoli_k12_mg1655", "ccrescentus_cb15", "saureus_502a")
CONTEXT_DIVISORS = (64, 16, 4, 2, 1)  # stage 4's context-use check: the base at L/64 .. L
# the CLI as this interpreter runs it: the same in .venv and under a python that has no .venv (a GPU machine's)
GENEFINDER = [sys.executable, "-m", "genefinder.cli"]
# held-out scoring runs where training did: a GPU when there is one (the scores are computed in float32 either way)
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def sh(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def build_windows(out: Path, window: int) -> None:
    if out.is_dir():
        return
    cmd = [*GENEFINDER, "build-dataset", "--window", str(window), "--stride", str(window),
           "--out", str(out)]
    for name in TRAIN_GENOMES:
        cmd += ["--fasta", str(DATA / name / "genome.fna.gz"), "--gff", str(DATA / name / "annotation.gff3.gz")]
    sh(cmd)


def last_checkpoint(run_dir: Path) -> Path | None:
    found = sorted(run_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    return found[-1] if found else None


def train(args, run_dir: Path, dataset: Path, extra: list[str], steps: int, config: Path | None = None,
          stage: str = "mlm") -> Path:
    """train.py (--config, default the study's MLM config) into run_dir, resumed if it has checkpoints; returns
    the final checkpoint."""
    done = last_checkpoint(run_dir)
    if done is not None and int(done.name.split("-")[1]) >= steps:
        return done
    cmd = [sys.executable, "train.py", "--config", str(config or args.config), "--stage", stage,
           "--dataset", str(dataset), "--run_dir", str(run_dir), "--max_steps", str(steps), "--progress_bar", "false",
           "--cpu_threads", str(args.threads), *extra]
    sh(cmd + (["--resume"] if done is not None else []))
    return last_checkpoint(run_dir)


def fit_starts(checkpoint: Path, out: Path) -> Path:
    """`genefinder fit-starts` of `checkpoint` on the training genomes (their train blocks) into `out`, unless there."""
    if not out.is_dir():
        cmd = [*GENEFINDER, "fit-starts", str(checkpoint), "--out", str(out)]
        for name in TRAIN_GENOMES:
            cmd += ["--fasta", str(DATA / name / "genome.fna.gz"), "--gff", str(DATA / name / "annotation.gff3.gz")]
        sh(cmd)
    return out


def load_mlm(checkpoint: Path, rope: dict) -> GeneFinderForMaskedLM:
    """The checkpoint with `rope_parameters` replaced: exactly what `from_pretrained(..., rope_parameters=...)` does."""
    model = GeneFinderForMaskedLM.from_pretrained(checkpoint, rope_parameters=rope)
    return model.to(DEVICE).eval()


def split_windows(dataset: Path, split: str, n: int, seed: int) -> HeldoutSet:
    """`n` ACGT-only 16L windows of one split of the training genomes (region splits: never trained on), with
    15% of positions masked (seeded)."""
    import datasets

    rows = datasets.load_from_disk(str(dataset))[split]
    dna = [d for d in (d.upper() for d in rows.shuffle(seed=seed)["dna"]) if set(d) <= set("ACGT")][:n]
    return masked(dna, 0.15, seed)


def score_lengths(model, processor, heldout: HeldoutSet, lengths: list[int]) -> dict:
    return {str(n): score(model, processor, heldout, n) for n in lengths}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", type=Path, default=ROOT / "configs" / "context-mlm-cpu.yaml")
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "context-extension")
    p.add_argument("--docs", type=Path, default=ROOT / "docs" / "results")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--multiples", nargs="+", type=int, default=[1, 2, 4, 8, 16], help="lengths, in units of L")
    p.add_argument("--heldout", default="test-split",
                   help="'test-split': the test blocks of the training genomes (default); or a genome folder of "
                        "../shared/data never trained on, e.g. bsubtilis_best7003")
    p.add_argument("--regions", type=int, default=4, help="held-out regions of 16L nt (targets: 15%% of them)")
    p.add_argument("--finetune-steps", type=int, default=10, help="0 skips fine-tuning")
    p.add_argument("--finetune-batch", type=int, default=1, help="16L windows per fine-tuning step")
    p.add_argument("--finetune-lr", type=float, default=2e-4, help="peak learning rate of every fine-tune")
    p.add_argument("--genefinder-config", type=Path, default=ROOT / "configs" / "context-genefinder-cpu.yaml",
                   help="the downstream gene finder (seq2seq at window W = L on the study's encoder)")
    p.add_argument("--downstream-region", default="ecoli_k12_mg1655:NC_000913.3:4200001-4250000",
                   help="GENOME:SEQID:START-END the gene finder annotates (default: in E. coli's test block); "
                        "'none' skips the downstream view")
    p.add_argument("--base-steps", type=int, default=None,
                   help="the base model's max_steps instead of --config's (a GPU lease sets it from measured speed)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    enc = GeneFinderEncoderConfig(**cfg.model)
    trained = enc.max_position_embeddings
    factor = max(args.multiples)
    lengths = [m * trained for m in args.multiples]
    theta = float(enc.rope_parameters.get("rope_theta", 10_000.0))
    n_freq = enc.hidden_size // enc.num_attention_heads // 2
    args.work.mkdir(parents=True, exist_ok=True)
    results_path = args.work / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}

    def save():
        tmp = results_path.with_suffix(".partial")
        tmp.write_text(json.dumps(results, indent=1))
        os.replace(tmp, results_path)

    # 1-2: data and the base model
    short, long = args.work / f"data-{trained}", args.work / f"data-{lengths[-1]}"
    build_windows(short, trained)
    build_windows(long, lengths[-1])
    t0 = time.perf_counter()
    base = train(args, args.work / "base", short, [], args.base_steps or cfg.max_steps)
    meta = {"config": os.path.relpath(args.config, ROOT), "trained_length": trained, "factor": factor,
            "base_checkpoint": os.path.relpath(base, ROOT),
            "base_state": json.loads((base / "trainer_state.json").read_text()),
            "heldout": args.heldout, "regions": args.regions, "threads": args.threads}
    if args.finetune_steps:  # a report-only call (--finetune-steps 0) keeps the settings the fine-tunes ran with
        meta |= {"finetune_steps": args.finetune_steps, "finetune_batch": args.finetune_batch,
                 "finetune_lr": args.finetune_lr}
    results["meta"] = results.get("meta", {}) | meta
    processor = EncoderInputs(enc)
    if args.heldout == "test-split":
        heldout = split_windows(long, "test", args.regions, args.seed)
    else:
        heldout = draw_heldout_set(str(DATA / args.heldout / "genome.fna.gz"), args.regions, lengths[-1], 0.15,
                                   args.seed)

    # 3: LongRoPE's factors, searched on held-in validation windows at 16L
    if "longrope" in args.methods and "longrope_search" not in results:
        held_in = split_windows(long, "validation", args.regions, args.seed + 1)
        search = {}
        for shape in LONGROPE_SHAPES:
            model = load_mlm(base, rope_parameters("longrope", factor, trained, theta, n_freq, shape))
            search[str(shape)] = score(model, processor, held_in, lengths[-1])["loss"]
            print(f"longrope shape {shape}: held-in loss at {lengths[-1]} = {search[str(shape)]:.4f}", flush=True)
        results["longrope_search"] = {"losses": search, "best": min(search, key=search.get)}
        save()
    best_shape = float(results.get("longrope_search", {}).get("best", 1.0))

    # 4: first the context the base reads (unscaled, shorter chunks, same targets), then every method zero-shot
    if "context_use" not in results:
        model = load_mlm(base, rope_parameters("none", factor, trained, theta, n_freq))
        results["context_use"] = {str(trained // d): score(model, processor, heldout, trained // d,
                                                           batch_size=d) for d in CONTEXT_DIVISORS}
        print("context use", {k: round(v["loss"], 4) for k, v in results["context_use"].items()}, flush=True)
        save()
    zero = results.setdefault("zero_shot", {})
    for method in args.methods:
        if method in zero:
            continue
        rope = rope_parameters(method, factor, trained, theta, n_freq, best_shape)
        zero[method] = score_lengths(load_mlm(base, rope), processor, heldout, lengths)
        print(method, {k: round(v["loss"], 4) for k, v in zero[method].items()}, flush=True)
        save()

    # 5: the same small fine-tune at 16L for every method
    tuned = results.setdefault("finetuned", {})
    for method in args.methods if args.finetune_steps else []:
        if method in tuned:
            continue
        rope = rope_parameters(method, factor, trained, theta, n_freq, best_shape)
        extra = ["--init_from", str(base), "--init_from_part", "all", "--model.rope_parameters", json.dumps(rope),
                 "--lr", str(args.finetune_lr), "--batch_size", str(args.finetune_batch), "--micro_batch_size", "1", "--batch_size_start", "null",
                 "--batch_ramp_steps", "0", "--warmup_steps", str(max(1, args.finetune_steps // 10)), "--eval_every", "0",
                 "--checkpoint_every", str(args.finetune_steps), "--keep_last", "1"]
        ckpt = train(args, args.work / f"finetune-{method}", long, extra, args.finetune_steps)
        tuned[method] = score_lengths(load_mlm(ckpt, rope), processor, heldout, lengths)
        print(method, "fine-tuned", {k: round(v["loss"], 4) for k, v in tuned[method].items()}, flush=True)
        save()

    # 6: the downstream view: a gene finder trained at W = L annotating with windows W..16W under every method
    if args.downstream_region != "none":
        heldout_region = GenomeRegion.in_shared_data(DATA, args.downstream_region)
        gf_cfg = load_config(args.genefinder_config)
        finder = train(args, args.work / "genefinder", short, [], gf_cfg.max_steps, args.genefinder_config, "seq2seq")
        results["downstream_meta"] = {
            "config": os.path.relpath(args.genefinder_config, ROOT), "checkpoint": os.path.relpath(finder, ROOT),
            "state": json.loads((finder / "trainer_state.json").read_text()), "region": args.downstream_region}
        with_starts = fit_starts(finder, args.work / "genefinder-starts")
        results["downstream_orf_meta"] = {"checkpoint": os.path.relpath(with_starts, ROOT)}
        results["downstream_orf_reference"] = network_free_reference(with_starts, heldout_region)
        for key, scorer, checkpoint in (("downstream", score_windows, finder),
                                        ("downstream_orf", score_windows_orf, with_starts)):
            down = results.setdefault(key, {})
            for method in args.methods:
                if method in down:
                    continue
                rope = rope_parameters(method, factor, trained, theta, n_freq, best_shape)
                down[method] = scorer(checkpoint, rope, heldout_region, trained, args.multiples)
                print(method, key, {k: (round(v["gene_f1"], 3), round(v.get("frame_accuracy", 0.0), 3))
                                    for k, v in down[method].items()}, flush=True)
                save()

    results["meta"]["study_seconds_this_call"] = round(time.perf_counter() - t0, 1)
    save()
    write_report(results, args.docs, command=" ".join(["python experiments/context_extension/study.py",
                                                        *(argv if argv is not None else sys.argv[1:])]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
