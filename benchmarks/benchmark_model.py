"""Model benchmarks: forward throughput and peak memory against window length, and generation speed.

Measures, for both encoders (DNABERT-2 BPE/ALiBi and AIDO-style single-nucleotide/rotary) at one small,
realistic size (`SIZES`):

- forward throughput (nt/s) and peak memory of the encoder alone (DNA encoder + nucleotide pointer keys, what
  `generate` runs once per window) and of encoder + decoder (one teacher-forced forward over `--target-tokens`
  GFF tokens), at window lengths 1k, 4k, 16k and 64k nt, batch 1;
- for DNABERT-2, the same encoder run as one query block (the previous code: a whole (1, H, L, L) ALiBi bias),
  to show what blocking saves;
- generation speed (new tokens/s) with and without the KV cache: `model.generate(..., use_cache=True/False)`
  on a batch of 8 windows of 4 kb, 64 new tokens each (EOS suppressed, so every run makes all 64).

CPU runs in fp32; CUDA (when available, or `--device cuda`) in bf16. Windows are slices of the E. coli K-12
genome from ../shared/data (real DNA, so BPE compresses as it does in use: ~4.7 nt per token), or seeded random
DNA when that file is missing. Weights are random: speed and memory do not depend on training.

Peak memory is measured honestly. CPU: each measurement runs in a fresh subprocess; the kernel's peak-RSS mark
(VmHWM) is reset just before the timed forwards (`/proc/self/clear_refs`) and read after them; the table shows
that peak minus the RSS before the forward, i.e. what the forward itself needed (activations, attention
workspace), not weights, inputs or the Python runtime. (tracemalloc would not see torch's allocations.)
CUDA: `torch.cuda.max_memory_allocated()` minus the allocation before the forward.

    .venv/bin/python benchmarks/benchmark_model.py                  # CPU (and CUDA if present); ~7 min on 2 idle cores
    .venv/bin/python benchmarks/benchmark_model.py --device cuda    # GPU section only (keeps the CPU section)

Writes docs/results/benchmarks_model.md, replacing only the section of the device it ran on.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import platform
import random
import re
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "docs" / "results" / "benchmarks_model.md"


def _shared(*parts: str) -> Path:
    """A file of the shared folder: $GENEFINDER_SHARED_DATA/.. , ../shared beside the repository, or ./shared."""
    roots = [Path(os.environ["GENEFINDER_SHARED_DATA"]).parent] if os.environ.get("GENEFINDER_SHARED_DATA") else []
    roots += [REPO.parent / "shared", REPO / "shared"]
    for root in roots:
        if (root.joinpath(*parts)).exists():
            return root.joinpath(*parts)
    return roots[-1].joinpath(*parts)


GENOME = _shared("data", "ecoli_k12_mg1655", "genome.fna.gz")
DNABERT2_TOKENIZER = _shared("reference", "dnabert2")

# The default model size of the gene finder: encoder and decoder both hidden 256, 4 layers, 4 heads of 64, MLP 1024.
SIZES = dict(hidden=256, layers=4, heads=4, intermediate=1024, decoder_layers=4, decoder_heads=4, decoder_ffn=1024)
LENGTHS = (1024, 4096, 16384, 65536)
CPU_REPEATS = {1024: 5, 4096: 3, 16384: 2, 65536: 1}  # fewer at 64k: one AIDO forward there takes minutes on CPU
CUDA_REPEATS = 10
RESULT_PREFIX = "BENCHMARK_RESULT "


# ----------------------------------------------------------------------------------------------------------------
# One measurement (runs in a worker process on CPU)
# ----------------------------------------------------------------------------------------------------------------
def windows(n: int, length: int) -> list[str]:
    """`n` windows of `length` nt: consecutive slices of E. coli K-12, or seeded random DNA without the data."""
    if GENOME.is_file():
        chunks, total = [], 0
        with gzip.open(GENOME, "rt") as handle:
            next(handle)
            for line in handle:
                if line.startswith(">"):
                    break
                chunks.append(line.strip().upper())
                total += len(chunks[-1])
                if total >= n * length:
                    break
        genome = "".join(chunks)
        if len(genome) >= n * length:
            return [genome[i * length : (i + 1) * length] for i in range(n)]
    rng = random.Random(0)
    return ["".join(rng.choice("ACGT") for _ in range(length)) for _ in range(n)]


def build_model(encoder_type: str):
    import torch

    from genefinder.configuration_genefinder import GeneFinderConfig
    from genefinder.modeling_genefinder import GeneFinderForConditionalGeneration

    encoder_config = dict(encoder_type=encoder_type, hidden_size=SIZES["hidden"],
                          num_hidden_layers=SIZES["layers"], num_attention_heads=SIZES["heads"],
                          intermediate_size=SIZES["intermediate"])
    if encoder_type == "dnabert2":
        encoder_config["vocab_size"] = 4096
    torch.manual_seed(0)
    config = GeneFinderConfig(encoder_config=encoder_config, d_model=SIZES["hidden"],
                              decoder_layers=SIZES["decoder_layers"], decoder_attention_heads=SIZES["decoder_heads"],
                              decoder_ffn_dim=SIZES["decoder_ffn"])
    return GeneFinderForConditionalGeneration(config).eval()


def make_inputs(encoder_type: str, dnas: list[str], device, target_tokens: int = 0):
    import torch

    from genefinder.processing_genefinder import GeneFinderInputs

    tokenizer = None
    if encoder_type == "dnabert2":
        from genefinder.tokenization.tokenization_dna import load_dnabert2_tokenizer

        if not (DNABERT2_TOKENIZER / "tokenizer.json").is_file():
            raise SystemExit(f"{DNABERT2_TOKENIZER}/tokenizer.json not found: DNABERT-2's published tokenizer is "
                             "needed (copy ../shared/reference/dnabert2 there, or run with --encoders aido)")

        tokenizer = load_dnabert2_tokenizer(DNABERT2_TOKENIZER)
    batch = GeneFinderInputs(encoder_type, tokenizer)(dnas)
    if target_tokens:
        from genefinder.tokenization_gff import WORDS

        g = torch.Generator().manual_seed(1)  # words and pointers alike: ids in [3, n_words + N)
        batch["decoder_input_ids"] = torch.randint(3, len(WORDS) + len(dnas[0]), (len(dnas), target_tokens),
                                                   generator=g)
        batch["decoder_input_ids"][:, 0] = 1  # decoder start
    return {key: value.to(device) for key, value in batch.items()}


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets VmHWM, the peak RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def _peak_rss_mib(reset_worked: bool) -> float:
    if reset_worked:
        with open("/proc/self/status") as handle:
            return int(re.search(r"VmHWM:\s+(\d+) kB", handle.read()).group(1)) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # since process start: an upper bound


def measure_forward(spec: dict) -> dict:
    """Time `spec["repeats"]` teacher-forced forwards of one window; the encoder's share is read at its end.

    A forward hook on the encoder records the time and the peak memory so far when the encoder returns (the
    peak counter is reset just before the first timed forward), so one forward gives both rows: "encoder"
    (everything up to the encoder's output) and "encoder + decoder" (the whole forward).
    """
    import torch

    device, cuda = torch.device(spec["device"]), spec["device"].startswith("cuda")
    dtype = torch.bfloat16 if cuda else torch.float32
    model = build_model(spec["encoder"]).to(device=device, dtype=dtype)
    if spec.get("query_block") == "whole":  # as before blocking: one block, a whole (B, H, L, L) ALiBi bias
        model.encoder.dna.query_block = 1 << 62
    inputs = make_inputs(spec["encoder"], windows(1, spec["length"]), device, spec["targets"])
    # Warm-up (kernels, thread pools) on a short window, not on these shapes: the allocator would keep what a
    # same-sized warm-up freed, and the measured peak would miss it. Best-of-n absorbs the first run's set-up.
    warmup = make_inputs(spec["encoder"], windows(1, 512), device, spec["targets"])

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def peak_mib() -> float:
        return torch.cuda.max_memory_allocated() / 2**20 if cuda else _peak_rss_mib(reset)

    marks = []

    def encoder_done(module, args, output):
        sync()
        marks.append((time.perf_counter(), time.process_time(), peak_mib()))

    reset = False
    with torch.inference_mode():
        model(**warmup, use_cache=False)
        sync()
        hook = model.encoder.register_forward_hook(encoder_done)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated() / 2**20
        else:
            before, reset = _rss_mib(), _reset_peak_rss()
        runs = []
        for _ in range(spec["repeats"]):
            start, cpu_start = time.perf_counter(), time.process_time()
            logits = model(**inputs, use_cache=False).logits
            sync()
            end, cpu_end = time.perf_counter(), time.process_time()
            mark_wall, mark_cpu, mark_peak = marks[-1]
            runs.append({"encoder": (mark_wall - start, mark_cpu - cpu_start),
                         "encoder+decoder": (end - start, cpu_end - cpu_start)})
            del logits
        hook.remove()
        peaks = {"encoder": marks[0][2], "encoder+decoder": peak_mib()}  # first run: nothing earlier in the mark
    tokens = int(inputs["input_ids"].size(1))
    results = []
    for part in ("encoder", "encoder+decoder"):
        wall, cpu = min((run[part] for run in runs), key=lambda pair: pair[0])
        results.append({**spec, "part": part, "tokens": tokens, "repeats": len(runs), "seconds": wall,
                        "cpu_seconds": None if cuda else cpu, "peak_mib": peaks[part] - before,
                        "nt_per_s": spec["length"] / wall, "reset_peak": cuda or reset})
    return {"forwards": results}


def measure_generation(spec: dict) -> dict:
    """New tokens/s of `generate` on a batch of windows, with and without the KV cache."""
    import torch

    device, cuda = torch.device(spec["device"]), spec["device"].startswith("cuda")
    model = build_model(spec["encoder"]).to(device=device, dtype=torch.bfloat16 if cuda else torch.float32)
    inputs = make_inputs(spec["encoder"], windows(spec["batch"], spec["length"]), device)
    new = spec["new_tokens"]

    def sync():
        if cuda:
            torch.cuda.synchronize()

    results = {}
    with torch.inference_mode():
        for use_cache in (True, False):  # warm-up on these very shapes, 2 steps each
            model.generate(**inputs, max_new_tokens=2, min_new_tokens=2, do_sample=False, num_beams=1,
                           use_cache=use_cache)
        sync()
        start = time.perf_counter()
        model.get_encoder()(**inputs)
        sync()
        encoder_seconds = time.perf_counter() - start
        for use_cache in (True, False):
            runs = []
            for _ in range(spec["repeats"]):
                start, cpu_start = time.perf_counter(), time.process_time()
                out = model.generate(**inputs, max_new_tokens=new, min_new_tokens=new, do_sample=False, num_beams=1,
                                     use_cache=use_cache)
                sync()
                runs.append((time.perf_counter() - start, time.process_time() - cpu_start))
            made = int(out.size(0) * (out.size(1) - 1))  # minus the decoder start token
            wall, cpu = min(runs)
            results["cached" if use_cache else "uncached"] = {"seconds": wall, "cpu_seconds": None if cuda else cpu,
                                                              "new_tokens": made, "tokens_per_s": made / wall}
    return {**spec, "tokens": int(inputs["input_ids"].size(1)), "encoder_seconds": encoder_seconds, **results}


def _importable() -> None:
    """`genefinder` is the repository folder itself: installed editable normally; else link it under that name."""
    try:
        import genefinder  # noqa: F401
    except ImportError:
        import tempfile

        link_dir = Path(tempfile.mkdtemp(prefix="genefinder-benchmark-"))
        (link_dir / "genefinder").symlink_to(REPO, target_is_directory=True)
        sys.path.insert(0, str(link_dir))


def worker(spec: dict) -> dict:
    _importable()
    import torch

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    return measure_generation(spec) if spec["kind"] == "generate" else measure_forward(spec)


def run_spec(spec: dict, in_process: bool) -> dict:
    """CPU: a fresh interpreter per measurement, so one measurement's peak RSS is its own."""
    label = " ".join(f"{k}={v}" for k, v in spec.items() if k in ("kind", "encoder", "length", "query_block"))
    print(f"[benchmark] {label} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    if in_process:
        result = worker(spec)
    else:
        proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True,
                              text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
        if proc.returncode != 0 or not lines:
            sys.stderr.write(proc.stderr[-3000:])
            raise SystemExit(f"benchmark worker failed: {label}")
        result = json.loads(lines[-1][len(RESULT_PREFIX):])
    print(f"[benchmark]   done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return result


# ----------------------------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------------------------
def machine_description(device: str) -> str:
    import torch
    import transformers

    from genefinder.evaluation.machine_info import cpu_model

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    parts = [f"CPU {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
             f"transformers {transformers.__version__}, Python {platform.python_version()}, "
             f"{datetime.date.today().isoformat()}, load average at start {load}"]
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        parts.insert(0, f"GPU {props.name} ({props.total_memory / 2**30:.0f} GiB), CUDA {torch.version.cuda}")
    return "; ".join(parts)


def fmt_nt(n: int) -> str:
    return f"{n // 1024}k" if n % 1024 == 0 else str(n)


def device_section(device: str, forwards: list[dict], whole: list[dict], generation: list[dict], command: str,
                   machine: str, wall: float) -> str:
    cuda = device.startswith("cuda")
    title = "GPU, bf16" if cuda else "CPU, fp32"
    if cuda:
        memory = "`torch.cuda.max_memory_allocated()` minus `memory_allocated()` before the forward"
    else:
        memory = ("peak RSS (VmHWM, reset just before) minus the RSS before the forward, in a fresh process per "
                  "window length; the encoder's peak is read when the encoder returns")
    lines = [f"## {title}", "", f"Machine: {machine}.", "", f"Command (ran {wall / 60:.1f} min):", "",
             "```bash", command, "```", "",
             f"Forward passes, batch 1, best of n repeats. Memory: {memory}."]
    if not cuda:
        lines += ["CPU s is the process's CPU time for the same run (all threads): with T threads and nothing else "
                  "running it is about T x time; less means the machine was shared and the times are inflated."]
    cpu_col = "" if cuda else " CPU s |"
    lines += ["", f"| encoder | part | window (nt) | DNA tokens | repeats | time (s) |{cpu_col} nt/s | "
              "peak memory (MiB) | KiB per nt |",
              "|---|---|---:|---:|---:|---:|" + ("" if cuda else "---:|") + "---:|---:|---:|"]
    for r in forwards:
        part = "encoder" if r["part"] == "encoder" else f"encoder + decoder ({r['targets']} tokens)"
        cpu = "" if cuda else f" {r['cpu_seconds']:.2f} |"
        lines.append(f"| {r['encoder']} | {part} | {fmt_nt(r['length'])} | {r['tokens']:,} | {r['repeats']} | "
                     f"{r['seconds']:.3f} |{cpu} {r['nt_per_s']:,.0f} | {r['peak_mib']:,.0f} | "
                     f"{r['peak_mib'] * 1024 / r['length']:.2f} |")
    lines += ["", "Peak memory against window length. Linear memory gives x4 (or less, with a fixed part) for each x4 "
              "in length and a flat cost per extra nt; quadratic memory would give x16 and a cost per extra nt that "
              "grows x4 at each step:", ""]
    for encoder in sorted({r["encoder"] for r in forwards}):
        for part in ("encoder", "encoder+decoder"):
            rows = sorted((r for r in forwards if r["encoder"] == encoder and r["part"] == part),
                          key=lambda r: r["length"])
            pairs = list(zip(rows, rows[1:]))
            ratios = ", ".join(f"{fmt_nt(b['length'])}/{fmt_nt(a['length'])} x{b['peak_mib'] / a['peak_mib']:.1f}"
                               for a, b in pairs if a["peak_mib"] > 0)
            extra = ", ".join(f"{fmt_nt(a['length'])}->{fmt_nt(b['length'])} "
                              f"{(b['peak_mib'] - a['peak_mib']) * 1024 / (b['length'] - a['length']):.1f}"
                              for a, b in pairs)
            if pairs:
                lines.append(f"- {encoder}, {part.replace('+', ' + ')}: {ratios}; KiB per extra nt {extra}")
    if whole:
        blocked = {r["length"]: r for r in forwards if r["encoder"] == "dnabert2" and r["part"] == "encoder"}
        lines += ["", "DNABERT-2 encoder forced to one query block, i.e. what the code did before blocking (the whole "
                  "(1, H, L, L) ALiBi bias, built once per forward), next to the blocked run above:", "",
                  "| window (nt) | DNA tokens | one block: time (s) | one block: peak (MiB) | blocked: time (s) | "
                  "blocked: peak (MiB) |", "|---:|---:|---:|---:|---:|---:|"]
        for r in whole:
            b = blocked.get(r["length"])
            if b:
                lines.append(f"| {fmt_nt(r['length'])} | {r['tokens']:,} | {r['seconds']:.2f} | {r['peak_mib']:,.0f} "
                             f"| {b['seconds']:.2f} | {b['peak_mib']:,.0f} |")
    if generation:
        g0 = generation[0]
        lines += ["", f"Generation: a batch of {g0['batch']} windows of {fmt_nt(g0['length'])} nt, {g0['new_tokens']} "
                  f"new tokens each (greedy, EOS suppressed), best of {g0['repeats']}; the times include one encoder "
                  "pass over the batch, shown on its own in the third column.", "",
                  "| encoder | DNA tokens per window | encoder pass (s) | KV cache | time (s) |"
                  f"{cpu_col} new tokens/s |",
                  "|---|---:|---:|---|---:|" + ("" if cuda else "---:|") + "---:|"]
        for r in generation:
            for mode in ("cached", "uncached"):
                m = r[mode]
                cpu = "" if cuda else f" {m['cpu_seconds']:.2f} |"
                lines.append(f"| {r['encoder']} | {r['tokens']:,} | {r['encoder_seconds']:.2f} | "
                             f"{'yes' if mode == 'cached' else 'no'} | {m['seconds']:.2f} |{cpu} "
                             f"{m['tokens_per_s']:,.0f} |")
    return "\n".join(lines) + "\n"


HEADER = """# Model benchmarks

Produced by `benchmarks/benchmark_model.py` (see its docstring for what is measured and how); each device section
is rewritten only by a run on that device. Model size (both encoders): hidden {hidden}, {layers} layers, {heads}
heads, MLP {intermediate}; decoder d_model {hidden}, {decoder_layers} layers, {decoder_heads} heads, FFN
{decoder_ffn}. Random weights, windows cut from E. coli K-12. "Encoder" is the DNA encoder plus the per-nucleotide
pointer keys (what `generate` runs once per window); "encoder + decoder" adds one teacher-forced decoder pass.

Attention memory is linear in the window: DNABERT-2's ALiBi bias (and any padding mask) is materialised for one
block of queries at a time once a whole (B, H, L, L) bias would pass 2^24 elements (`modeling_encoders.attend`);
AIDO without padding uses SDPA with no mask at all. The rest of the memory (activations, MLP) is linear anyway.
The development machine is shared by several engineers: the CPU s column shows how much CPU the run really got.
""".format(**SIZES)


def write_report(out: Path, device: str, section: str) -> None:
    key = "cuda" if device.startswith("cuda") else "cpu"
    sections = {}
    if out.is_file():
        text = out.read_text()
        for other in ("cpu", "cuda"):
            found = re.search(rf"<!-- benchmark:{other}:begin -->\n(.*?)<!-- benchmark:{other}:end -->", text, re.S)
            if found:
                sections[other] = found.group(1)
    sections[key] = section
    body = [HEADER]
    for name in ("cpu", "cuda"):
        if name in sections:
            body.append(f"<!-- benchmark:{name}:begin -->\n{sections[name]}<!-- benchmark:{name}:end -->\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(body))


def run_device(device: str, args) -> None:
    in_process = device.startswith("cuda")  # CUDA's peak counter resets; CPU's RSS needs a fresh process
    started = time.perf_counter()
    base = {"device": device, "threads": args.threads, "kind": "forward", "targets": args.target_tokens}
    forwards, whole, generation = [], [], []
    for encoder in args.encoders:
        for length in args.lengths:
            repeats = CUDA_REPEATS if in_process else CPU_REPEATS.get(length, 1)
            forwards += run_spec({**base, "encoder": encoder, "length": length, "repeats": repeats},
                                 in_process)["forwards"]
    if "dnabert2" in args.encoders and not args.skip_whole:
        for length in [n for n in args.lengths if n >= 16384]:  # shorter ones fit the budget: one block anyway
            result = run_spec({**base, "encoder": "dnabert2", "length": length, "repeats": 1, "query_block": "whole"},
                              in_process)
            whole.append(result["forwards"][0])
    for encoder in args.encoders:
        generation.append(run_spec({**base, "kind": "generate", "encoder": encoder, "length": args.gen_window,
                                    "batch": args.gen_batch, "new_tokens": args.gen_tokens,
                                    "repeats": 3 if in_process else 2}, in_process))
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", "benchmarks/benchmark_model.py", *sys.argv[1:]])
    section = device_section(device, forwards, whole, generation, command, machine_description(device),
                             time.perf_counter() - started)
    write_report(args.out, device, section)
    print(section)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: CPU, then CUDA as well when available")
    parser.add_argument("--encoders", nargs="+", choices=("dnabert2", "aido"), default=["dnabert2", "aido"])
    parser.add_argument("--lengths", nargs="+", type=int, default=list(LENGTHS), help="window lengths in nt")
    parser.add_argument("--target-tokens", type=int, default=64, help="decoder tokens of the teacher-forced pass")
    parser.add_argument("--gen-window", type=int, default=4096)
    parser.add_argument("--gen-batch", type=int, default=8)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--skip-whole", action="store_true", help="skip the one-block (quadratic) DNABERT-2 rows")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(RESULT_PREFIX + json.dumps(worker(json.loads(args.worker))), flush=True)
        return
    import torch

    devices = {"auto": ["cpu"] + (["cuda"] if torch.cuda.is_available() else []), "cpu": ["cpu"],
               "cuda": ["cuda"]}[args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    for device in devices:
        run_device(device, args)


if __name__ == "__main__":
    main()
