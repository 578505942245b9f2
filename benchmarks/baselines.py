"""Baseline gene finders on one genome with a reference annotation, scored in the same run: docs/results/baselines.md.

Runs, one after another on the same decompressed FASTA, and times each end to end (wall clock and CPU):
- Prodigal (Debian `prodigal`, single-genome mode, `-g` translation table, GFF output) - bacteria only;
- pyrodigal (PyPI, the same algorithm as a library; `pip install -e ".[baselines]"`) - bacteria only;
- Augustus (Debian `augustus --species=... --gff3=on`);
- genefinder, when `--genefinder-cmd` gives the command that runs a trained model; without it the table
  says plainly that genefinder was not run (there is no trained model yet), rather than inventing a row.
Each prediction is scored with `genefinder.evaluation.evaluation.evaluate_files` (base, exon, gene, stop, start;
definitions in evaluation.py) and one markdown section per genome is written into `--out-md`, replacing
that genome's previous section and keeping the others, with the machine, the date and the exact command.

    .venv/bin/python benchmarks/baselines.py --fasta ../shared/data/ecoli_k12_mg1655/genome.fna.gz \\
        --gff ../shared/data/ecoli_k12_mg1655/annotation.gff3.gz --organism-type bacteria \\
        --augustus-species E_coli_K12 --genetic-code 11 --out-md docs/results/baselines.md

Prodigal writes flat GFF (CDS rows with an ID and no Parent, no gene rows); `prodigal_to_gff3` adds the
gene -> CDS hierarchy so every GFF3 reader (ours included) sees one gene per CDS. Augustus' `--gff3=on`
output (gene -> transcript -> CDS, plus start/stop codon rows the reader skips) is read as it is.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import importlib.metadata
import os
import platform
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from genefinder.evaluation.error_analysis import analyse, render
from genefinder.evaluation.eukaryote_errors import analyse as analyse_eukaryote
from genefinder.evaluation.eukaryote_errors import render as render_eukaryote
from genefinder.evaluation.evaluation import LEVELS, EvaluationReport, evaluate_files, read_annotation
from genefinder.evaluation.machine_info import cpu_model
from genefinder.formats.errors import GeneFinderInputError, require_file

HEADER = """# Baselines: Prodigal and Augustus on the shared genomes

Written by `benchmarks/baselines.py` (one section per genome, each with the command that reproduces it);
do not edit by hand. Every tool runs on the same decompressed FASTA in the same run, one after another, and
is timed end to end (model training inside Prodigal counts): wall clock and CPU seconds (user + system);
nt/s = genome length / wall time.
Scores come from `genefinder evaluate` (evaluation/evaluation.py), each cell **sensitivity / precision / F1**:
`base` = CDS nucleotides per strand; `exon` = CDS segments with both ends exact; `gene` = a gene whose whole
CDS chain (all segments) is exact in one transcript; `stop` = the gene's 3' end (stop codon, hence frame)
right; `start` = the 5' end right among the stop-matched genes (start-site accuracy as the Prodigal and
Glimmer3 papers report it). Reference pseudogenes and non-coding genes are left out. A reference gene with
several annotated CDS (alternative starts) counts once, found when any of them is predicted; counting each
reference CDS separately gives a slightly lower gene-level sensitivity. Timings are taken on a shared
machine: the load average at the start is recorded, and a load above the core count inflates them.
Install the tools with `apt-get install -y prodigal augustus` and `pip install -e ".[baselines]"` (pyrodigal).
"""


TOOLS = ("prodigal", "pyrodigal", "augustus", "genefinder")


@dataclass
class Genome:
    path: Path  # plain FASTA
    length: int
    records: int


@dataclass
class ToolRun:
    tool: str
    version: str = ""
    command: str = ""
    seconds: float | None = None  # wall clock
    cpu_seconds: float | None = None  # user + system, less sensitive to other load on the machine
    report: EvaluationReport | None = None
    errors: str = ""  # bacteria: where the errors are (genefinder errors), as markdown tables
    note: str = ""
    notes: list[str] = field(default_factory=list)


def decompress_fasta(src: Path, dst: Path) -> Genome:
    """Plain copy of a (possibly gzipped) FASTA for the external tools, with its length in nt."""
    require_file(src, "FASTA")
    with open(src, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    length = records = 0
    with (gzip.open(src, "rb") if gz else open(src, "rb")) as fin, open(dst, "wb") as fout:
        for line in fin:
            fout.write(line)
            if line.startswith(b">"):
                records += 1
            else:
                length += len(line.strip())
    if not records:
        raise GeneFinderInputError("no FASTA record ('>' header) found", str(src))
    return Genome(dst, length, records)


def prodigal_to_gff3(src: Path, dst: Path) -> None:
    """Prodigal / pyrodigal GFF -> GFF3 with a gene row per CDS (`ID=x` becomes gene `x.gene` -> CDS `x`)."""
    with open(src) as fin, open(dst, "w") as fout:
        for line in fin:
            cols = line.rstrip("\n").split("\t")
            if line.startswith("#") or len(cols) != 9 or cols[2] != "CDS" or "Parent=" in cols[8]:
                fout.write(line if line.strip() != "##gff-version  3" else "##gff-version 3\n")
                continue
            m = re.search(r"(?:^|;)ID=([^;]+)", cols[8])
            if not m:
                raise GeneFinderInputError("Prodigal CDS row without ID=", str(src))
            gene_id = f"{m.group(1)}.gene"
            fout.write("\t".join([*cols[:2], "gene", *cols[3:5], ".", cols[6], ".", f"ID={gene_id}"]) + "\n")
            fout.write("\t".join([*cols[:8], f"Parent={gene_id};{cols[8]}"]) + "\n")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(run: ToolRun, cmd: list[str], stdout_path: Path | None = None) -> subprocess.CompletedProcess:
    """Run `cmd`, recording its wall and CPU seconds on `run`."""
    t0, c0 = time.perf_counter(), _children_cpu()
    if stdout_path is None:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    else:
        with open(stdout_path, "w") as out:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, text=True)
    run.seconds, run.cpu_seconds = time.perf_counter() - t0, _children_cpu() - c0
    return proc


def _failed(run: ToolRun, proc: subprocess.CompletedProcess) -> bool:
    if proc.returncode == 0:
        return False
    tail = (proc.stderr or "").strip().splitlines()[-1:] or ["(no message)"]
    run.note = f"failed with exit status {proc.returncode}: {tail[0][:200]}"
    return True


def _version(cmd: list[str], pattern: str) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except OSError:
        return "?"
    m = re.search(pattern, proc.stdout + proc.stderr)
    return m.group(1) if m else "?"


def run_prodigal(genome: Genome, code: int, work: Path) -> ToolRun:
    run = ToolRun("Prodigal")
    if not shutil.which("prodigal"):
        run.note = "not installed (apt-get install -y prodigal)"
        return run
    run.version = _version(["prodigal", "-v"], r"Prodigal (V[\d.]+)")
    raw = work / "prodigal.gff"
    cmd = ["prodigal", "-i", str(genome.path), "-p", "single", "-g", str(code), "-f", "gff", "-o", str(raw), "-q"]
    run.command = shlex.join(["prodigal", "-i", "genome.fa", *cmd[3:-3], "-o", "prodigal.gff", "-q"])
    proc = _timed(run, cmd)
    if not _failed(run, proc):
        prodigal_to_gff3(raw, work / "prodigal.gff3")
    return run


def run_pyrodigal(genome: Genome, code: int, work: Path) -> ToolRun:
    run = ToolRun("pyrodigal")
    try:
        import pyrodigal
    except ImportError:
        run.note = 'not installed (pip install -e ".[baselines]")'
        return run
    run.version = pyrodigal.__version__
    run.command = f"GeneFinder(meta=False).train(*records, translation_table={code}); find_genes per record"
    raw = work / "pyrodigal.gff"
    t0, c0 = time.perf_counter(), time.process_time()
    records = _read_plain_fasta(genome.path)
    finder = pyrodigal.GeneFinder(meta=False)
    finder.train(*records.values(), translation_table=code)
    with open(raw, "w") as out:
        for name, seq in records.items():
            finder.find_genes(seq).write_gff(out, sequence_id=name)
    run.seconds, run.cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    prodigal_to_gff3(raw, work / "pyrodigal.gff3")
    return run


def _read_plain_fasta(path: Path) -> dict[str, str]:
    records: dict[str, list[str]] = {}
    name = None
    with open(path) as fh:
        for line in fh:
            if line.startswith(">"):
                name = line[1:].split()[0]
                records[name] = []
            elif name is not None:
                records[name].append(line.strip())
    return {k: "".join(v) for k, v in records.items()}


def run_augustus(genome: Genome, species: str, code: int, work: Path, extra: tuple[str, ...] = ()) -> ToolRun:
    run = ToolRun("Augustus")
    if not shutil.which("augustus"):
        run.note = "not installed (apt-get install -y augustus)"
        return run
    run.version = _version(["augustus", "--version"], r"AUGUSTUS \(([\d.]+)\)")
    cmd = ["augustus", f"--species={species}", "--gff3=on", f"--translation_table={code}", *extra, str(genome.path)]
    run.command = shlex.join([*cmd[:-1], "genome.fa"]) + " > augustus.gff3"
    proc = _timed(run, cmd, work / "augustus.gff3")
    _failed(run, proc)
    return run


def run_genefinder(template: str | None, genome: Genome, code: int, organism_type: str, work: Path,
                   tool: str = "genefinder") -> ToolRun:
    run = ToolRun(tool)
    if not template:
        run.note = ("not run: no trained genefinder model exists yet; once one does, pass e.g. --genefinder-cmd "
                    "'genefinder annotate {fasta} -o {out} --model MODEL --genetic-code {genetic_code}'")
        return run
    run.version = importlib.metadata.version("genefinder")
    out = work / f"{tool.lower()}.gff3"
    fields = {"fasta": str(genome.path), "out": str(out), "genetic_code": code, "organism_type": organism_type}
    cmd = shlex.split(template.format(**fields))
    run.command = template
    proc = _timed(run, cmd)
    if not _failed(run, proc) and not out.is_file():
        run.note = "failed: the command wrote no {out} file"
    return run


def _cell(report: EvaluationReport, level: str) -> str:
    s = report.scores[level]
    return " / ".join("–" if x is None else f"{x:.3f}" for x in (s.sensitivity, s.precision, s.f1))


def render_section(name: str, args, genome: Genome, runs: list[ToolRun], command: str, started: str,
                   load: str) -> str:
    ref = next((r.report for r in runs if r.report), None)
    lines = [f"<!-- baselines:{name} -->", f"## {name}", ""]
    lines.append(f"- genome: `{args.fasta}`, {genome.length:,} nt in {genome.records} sequence(s); "
                 f"{args.organism_type}, translation table {args.genetic_code}")
    if ref:
        r = ref.scores
        lines.append(f"- reference: `{args.gff}`: {ref.ref_coding_genes:,} coding genes "
                     f"({ref.ref_noncoding_genes:,} non-coding genes ignored; {ref.ref_pseudogenes:,} "
                     f"`pseudogene` rows and {ref.ref_pseudogene_children:,} rows under pseudogenes left out); "
                     f"n_ref: base "
                     f"{r['base'].n_ref:,} nt, exon {r['exon'].n_ref:,} CDS segments, gene and stop "
                     f"{r['gene'].n_ref:,} genes, start = the stop-matched reference genes (per tool below)")
    lines.append(f"- machine: {cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
                 f"load average at start {load}")
    lines.append(f"- date: {started}")
    lines.append(f"- command: `{command}`")
    lines.append("")
    head = ["tool", "version", *(f"{lv} Sn / Pr / F1" for lv in LEVELS), "genes predicted",
            "stop-matched ref genes", "wall s", "CPU s", "nt/s", "note"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 3) + ["---"]) + "|")
    for run in runs:
        if run.report is None:
            cells = [run.tool, run.version or "–", *["–"] * (len(head) - 3), run.note]
        else:
            rep = run.report
            cells = [run.tool, run.version, *(_cell(rep, lv) for lv in LEVELS), f"{rep.pred_coding_genes:,}",
                     f"{rep.scores['start'].n_ref:,}", f"{run.seconds:.1f}", f"{run.cpu_seconds:.1f}",
                     f"{genome.length / run.seconds:,.0f}", "; ".join([run.note, *run.notes]).strip("; ")]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for run in runs:
        if run.command:
            lines.append(f"- {run.tool}: `{run.command}`")
    if any(run.errors for run in runs):
        what = ("missed reference genes by length, wrong starts, false positives by what they overlap"
                if args.organism_type == "bacteria" else "CDS segments with a wrong donor, acceptor, start or stop, "
                "missed and false segments, merged and split genes")
        flag = "" if args.organism_type == "bacteria" else " --eukaryote"
        lines += ["", f"Where the errors are (`genefinder errors{flag} PRED REF`: {what}):", ""]
        lines += [run.errors for run in runs if run.errors]
    lines.append(f"<!-- /baselines:{name} -->")
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, name: str, section: str) -> None:
    """Replace (or append) this genome's section, keep the others, and rewrite the header."""
    sections: list[tuple[str, str]] = []
    if path.exists():
        text = path.read_text()
        for m in re.finditer(r"<!-- baselines:(\S+) -->.*?<!-- /baselines:\1 -->\n", text, flags=re.S):
            sections.append((m.group(1), m.group(0)))
    if any(n == name for n, _ in sections):
        sections = [(n, section if n == name else s) for n, s in sections]
    else:
        sections.append((name, section))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(HEADER + "".join("\n" + s for _, s in sections))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fasta", required=True, type=Path, help="genome FASTA (plain or gzip)")
    p.add_argument("--gff", required=True, type=Path, help="reference annotation GFF3 (plain or gzip)")
    p.add_argument("--organism-type", required=True, choices=("bacteria", "eukaryote"))
    p.add_argument("--augustus-species", required=True, help="Augustus --species (e.g. E_coli_K12, caenorhabditis)")
    p.add_argument("--augustus-args", default="", help="more Augustus options, one string, e.g. '--softmasking=0' "
                   "(Augustus reads lowercase as repeats by default)")
    p.add_argument("--genetic-code", type=int, help="NCBI translation table (default 11 bacteria, 1 eukaryote)")
    p.add_argument("--out-md", type=Path, default=Path("docs/results/baselines.md"))
    p.add_argument("--name", help="section name (default: the FASTA's folder name)")
    p.add_argument("--genefinder-cmd", help="command template running a trained genefinder: {fasta} {out} "
                                            "{genetic_code} {organism_type} are filled in")
    p.add_argument("--genefinder-variant", action="append", default=[], metavar="NAME=TEMPLATE",
                   help="another genefinder row, e.g. an ablation: genefinder-no-head='.venv/bin/genefinder annotate "
                        "{fasta} -o {out} --set head_weight=0'; repeatable; NAME of letters, digits, ., - and _")
    p.add_argument("--keep", type=Path, help="also copy every tool's GFF3 into this folder")
    p.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS),
                   help="run only these (default: all; Prodigal and pyrodigal run on bacteria only)")
    args = p.parse_args(argv)
    if args.genetic_code is None:
        args.genetic_code = 11 if args.organism_type == "bacteria" else 1
    name = args.name or args.fasta.resolve().parent.name
    python = os.path.relpath(sys.executable)  # `.venv/bin/python` when run from the repository root
    python = python if not python.startswith("..") else "python"
    command = shlex.join([python, *sys.argv]) if argv is None else shlex.join([python, __file__, *argv])
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        require_file(args.gff, "reference GFF3")
        variants = [spec.partition("=")[::2] for spec in args.genefinder_variant]  # checked before any tool runs
        for spec, (label, template) in zip(args.genefinder_variant, variants):
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", label) or not template:
                raise GeneFinderInputError(f"--genefinder-variant wants NAME=TEMPLATE, got {spec!r}")
        with tempfile.TemporaryDirectory(prefix="baselines-") as tmp:
            work = Path(tmp)
            genome = decompress_fasta(args.fasta, work / "genome.fa")
            bacteria, code, runs = args.organism_type == "bacteria", args.genetic_code, []
            if "prodigal" in args.tools and bacteria:
                runs.append(run_prodigal(genome, code, work))
            if "pyrodigal" in args.tools and bacteria:
                runs.append(run_pyrodigal(genome, code, work))
            if "augustus" in args.tools:
                runs.append(run_augustus(genome, args.augustus_species, code, work, tuple(shlex.split(args.augustus_args))))
            if "genefinder" in args.tools:
                runs.append(run_genefinder(args.genefinder_cmd, genome, code, args.organism_type, work))
            for label, template in variants:
                runs.append(run_genefinder(template, genome, code, args.organism_type, work, tool=label))
            ref_genes, ref_report = read_annotation(args.gff, "reference")  # once, for every tool's errors table
            for run in runs:
                gff = work / f"{run.tool.lower()}.gff3"
                if run.seconds is not None and not run.note and gff.is_file():
                    run.report = evaluate_files(gff, args.gff)
                    run.notes = run.report.warnings
                    errors = (analyse, render) if bacteria else (analyse_eukaryote, render_eukaryote)
                    run.errors = errors[1](run.tool, errors[0](read_annotation(gff, "prediction")[0], ref_genes,
                                                               ref_report.pseudogenes))
                    if args.keep:
                        args.keep.mkdir(parents=True, exist_ok=True)
                        shutil.copy(gff, args.keep / gff.name)
                print(f"{run.tool}: " + (f"{run.seconds:.1f} s, gene F1 {run.report.scores['gene'].f1:.3f}"
                                         if run.report else run.note), file=sys.stderr)
            section = render_section(name, args, genome, runs, command, started, load)
    except GeneFinderInputError as err:
        print(f"baselines: error: {err}", file=sys.stderr)
        return 2
    write_markdown(args.out_md, name, section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
