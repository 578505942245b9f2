"""`genefinder build-dataset`: FASTA + GFF3 pairs -> a windowed `datasets.DatasetDict` on disk.

Each row is one window of one record in one orientation: the DNA as it reads on that strand, the genes cut
to the window (structured, window coordinates, see windows.genes_in_window) and their GFF tokens.

Splits never share a nucleotide. `--split-by seqid` sends whole records to train, validation or test;
`--split-by region` cuts every record into three contiguous blocks (train first, then validation, then
test, by the given fractions) and windows each block separately, so a window never crosses a split.
Bacteria have one chromosome, hence region splits; hold out a whole genome by building it separately.

The output directory appears only when everything is written (built in a temporary sibling, then renamed),
so a failed run never leaves a partial dataset behind.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..formats.errors import GeneFinderInputError
from ..formats.fasta import FastaFile
from ..formats.features import Gene, genes_to_rows
from ..formats.gff3 import read_gff3
from ..formats.windows import GeneIndex, genes_in_window, reverse_complement, reverse_complement_genes, window_starts
from ..tokenization_gff import GFFTokenizer

logger = logging.getLogger(__name__)
SPLITS = ("train", "validation", "test")


@dataclass
class GenomeSource:
    """One FASTA + GFF3 pair and how to read it."""

    fasta: str
    gff: str
    organism: str
    genetic_code: int = 11


def load_genome(src: GenomeSource, coding_only: bool) -> tuple[FastaFile, dict[str, list[Gene]]]:
    """Open the FASTA, read the GFF3, and check every gene against the sequences (file:line on failure)."""
    fa = FastaFile(src.fasta)
    genes, report = read_gff3(src.gff)
    logger.info("%s: %s", src.gff, report.summary())
    by_seq: dict[str, list[Gene]] = defaultdict(list)
    for g in genes:
        if g.seqid not in fa:
            raise GeneFinderInputError(f"sequence {g.seqid!r} is not in {src.fasta}", src.gff, g.line)
        if g.end > fa.length(g.seqid):
            raise GeneFinderInputError(
                f"feature ends at {g.end}, beyond the end of {g.seqid!r} ({fa.length(g.seqid)} nt)", src.gff, g.line)
        if coding_only:
            coding = tuple(t for t in g.transcripts if t.is_coding)
            if not coding:
                continue
            g = Gene(g.strand, coding, seqid=g.seqid, id=g.id, line=g.line)
        by_seq[g.seqid].append(g)
    return fa, by_seq


def split_regions(fa: FastaFile, split_by: str, val_fraction: float, test_fraction: float) -> list[tuple[str, str, int, int]]:
    """(split, seqid, start, end) blocks, 0-based half-open, covering every record once."""
    if split_by == "region":
        blocks = []
        for name in fa.names:
            n = fa.length(name)
            cut1 = round(n * (1 - val_fraction - test_fraction))
            cut2 = round(n * (1 - test_fraction))
            blocks += [(s, name, a, b) for s, a, b in zip(SPLITS, (0, cut1, cut2), (cut1, cut2, n)) if b > a]
        return blocks
    # seqid: longest records first, each to the split furthest below its target share
    total = sum(fa.length(n) for n in fa.names)
    target = dict(zip(SPLITS, (1 - val_fraction - test_fraction, val_fraction, test_fraction)))
    got = dict.fromkeys(SPLITS, 0)
    blocks = []
    for name in sorted(fa.names, key=lambda n: (-fa.length(n), n)):
        split = max(SPLITS, key=lambda s: target[s] - got[s] / total if target[s] > 0 else -1)
        got[split] += fa.length(name)
        blocks.append((split, name, 0, fa.length(name)))
    return blocks


def iter_windows(fa: FastaFile, genes_by_seq: dict[str, list[Gene]], seqid: str, start: int, end: int,
                 window: int, stride: int, rc_augment: bool):
    """(window start, length, orientation, dna, genes) for the windows of [start, end) of one record."""
    index = GeneIndex(genes_by_seq.get(seqid, []))
    for offset in window_starts(end - start, window, stride):
        w_start, w_len = start + offset, min(window, end - start - offset)
        dna = fa.fetch(seqid, w_start, w_start + w_len)
        genes = genes_in_window(index, w_start, w_len)
        # Genes cut by a split boundary are cut like at any window edge: partial, never leaking across.
        yield w_start, w_len, "+", dna, genes
        if rc_augment:
            yield w_start, w_len, "-", reverse_complement(dna), reverse_complement_genes(genes, w_len)


def dataset_features():
    from datasets import Features, List, Value

    cds = List({"start": Value("int32"), "end": Value("int32"), "phase": Value("int8")})
    transcript = {"kind": Value("string"), "exons": List(List(Value("int32"))), "cds": cds,
                  "partial_left": Value("bool"), "partial_right": Value("bool")}
    return Features({
        "organism": Value("string"), "seqid": Value("string"), "start": Value("int64"), "length": Value("int32"),
        "orientation": Value("string"), "genetic_code": Value("int8"), "dna": Value("string"),
        "features": List({"strand": Value("string"), "score": Value("float32"), "transcripts": List(transcript)}),
        "target_ids": List(Value("int32")),
    })


def build_dataset(sources: list[GenomeSource], out_dir: str, window: int, stride: int, rc_augment: bool = False,
                  split_by: str = "region", val_fraction: float = 0.1, test_fraction: float = 0.1,
                  coding_only: bool = True) -> dict:
    """Write the DatasetDict to `out_dir` and return its statistics (also what the CLI prints)."""
    import datasets

    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise GeneFinderInputError(f"--val-fraction ({val_fraction}) and --test-fraction ({test_fraction}) must be "
                                   "in [0, 1) and sum to less than 1")
    tokenizer = GFFTokenizer()
    genomes = [(src, *load_genome(src, coding_only)) for src in sources]
    blocks = {s: [] for s in SPLITS}
    for src, fa, genes in genomes:
        for split, seqid, a, b in split_regions(fa, split_by, val_fraction, test_fraction):
            blocks[split].append((src, fa, genes, seqid, a, b))

    def rows(split_blocks):
        for src, fa, genes, seqid, a, b in split_blocks:
            for w_start, w_len, orient, dna, w_genes in iter_windows(fa, genes, seqid, a, b, window, stride, rc_augment):
                yield {"organism": src.organism, "seqid": seqid, "start": w_start, "length": w_len,
                       "orientation": orient, "genetic_code": src.genetic_code, "dna": dna,
                       "features": genes_to_rows(w_genes), "target_ids": tokenizer.encode_genes(w_genes)}

    out = Path(out_dir)
    if out.exists():
        raise GeneFinderInputError("output directory already exists; remove it or choose another --out", str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        parts = {}
        for split in SPLITS:
            if blocks[split]:
                parts[split] = datasets.Dataset.from_generator(
                    rows, gen_kwargs={"split_blocks": blocks[split]}, features=dataset_features(),
                    cache_dir=str(tmp / "cache"), keep_in_memory=False)
        dd = datasets.DatasetDict(parts)
        dd.save_to_disk(str(tmp / "dataset"))
        stats = {split: split_statistics(ds) for split, ds in dd.items()}
        del dd, parts
        os.replace(tmp / "dataset", out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return stats


def split_statistics(ds) -> dict:
    lengths = sorted(len(x) for x in ds["target_ids"])
    n_genes = n_cds = coding_nt = total_nt = 0
    for row in ds.select_columns(["length", "features"]):
        total_nt += row["length"]
        covered = set()
        for g in row["features"]:
            n_genes += 1
            for t in g["transcripts"]:
                n_cds += bool(t["cds"])
                for c in t["cds"]:
                    covered.update(range(c["start"], c["end"] + 1))
        coding_nt += len(covered)
    p95 = lengths[min(len(lengths) - 1, int(0.95 * len(lengths)))] if lengths else 0
    return {"windows": len(ds), "genes": n_genes, "cds": n_cds, "coding_fraction": coding_nt / max(total_nt, 1),
            "target_median": statistics.median(lengths) if lengths else 0, "target_p95": p95,
            "target_max": lengths[-1] if lengths else 0}


def format_statistics(stats: dict) -> str:
    head = "split        windows   genes*     CDS*  coding  target tokens median/p95/max"
    lines = [head] + [
        f"{split:<12}{s['windows']:>8}{s['genes']:>8}{s['cds']:>8}  {s['coding_fraction']:>6.1%}"
        f"  {s['target_median']:.0f}/{s['target_p95']}/{s['target_max']}" for split, s in stats.items()]
    return "\n".join(lines + ["* counted per window: a gene in two overlapping windows counts twice"])


# ---------------------------------------------------------------------------------------------------- CLI

def add_pair_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--fasta", action="append", required=required, help="genome FASTA (plain or .gz); repeatable")
    parser.add_argument("--gff", action="append", required=required, help="its GFF3 annotation; one per --fasta")
    parser.add_argument("--organism", action="append", help="name per pair (default: the FASTA's folder name)")
    parser.add_argument("--genetic-code", action="append", type=int,
                        help="NCBI translation table per pair (default 11; 4 for Mycoplasma, 1 for eukaryotes)")


def sources_from_args(args) -> list[GenomeSource]:
    if not args.fasta:
        raise GeneFinderInputError("give at least one --fasta/--gff pair")
    n = len(args.fasta)
    for flag, values in (("--gff", args.gff), ("--organism", args.organism), ("--genetic-code", args.genetic_code)):
        if values is not None and len(values) != n:
            raise GeneFinderInputError(f"{flag} is given {len(values)} times but --fasta {n} times; give one per genome")
    organisms = args.organism or [Path(f).resolve().parent.name for f in args.fasta]
    codes = args.genetic_code or [11] * n
    return [GenomeSource(f, g, o, c) for f, g, o, c in zip(args.fasta, args.gff, organisms, codes)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_pair_arguments(parser)
    parser.add_argument("--window", type=int, default=8192, help="window length in nt (default 8192)")
    parser.add_argument("--stride", type=int, default=4096, help="step between windows in nt (default 4096)")
    parser.add_argument("--out", required=True, help="output directory (must not exist)")
    parser.add_argument("--rc-augment", action="store_true", help="also add each window reverse-complemented")
    parser.add_argument("--split-by", choices=("region", "seqid"), default="region")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument("--all-transcripts", action="store_true",
                        help="keep RNA genes and UTR exons in the targets (default: coding genes only)")


def run(args) -> None:
    t0 = time.time()
    stats = build_dataset(sources_from_args(args), args.out, args.window, args.stride, args.rc_augment,
                          args.split_by, args.val_fraction, args.test_fraction, not args.all_transcripts)
    print(format_statistics(stats))
    print(f"wrote {args.out} in {time.time() - t0:.1f} s")
