"""`genefinder build-classification-dataset`: labelled sequences -> a `datasets.DatasetDict` (dna, label) on disk.

Three sources, one per run, for train.py's `classification` stage:

- `--csv FILE`: a header naming `sequence` and `label` columns, one sequence per row;
- `--fasta FILE:LABEL` (repeatable): every record of the file is one sequence of that class;
- `--genome FASTA:LABEL` (repeatable) with `--fragment N`: non-overlapping N-nt fragments of a whole genome, the
  real task of docs/results/encoder_uses_classification.md (which organism does a 500-nt fragment come from?). Each record is cut into
  contiguous train / validation / test blocks first (build_dataset.split_regions), so no two splits share a
  genome position; fragments with an N are dropped; `--max-per-class` caps the train split (validation and
  test get the same share of it as their fractions), drawn with a seeded RNG.

CSV and FASTA rows have no genome position, so they are split at random (seeded). `label` is a `ClassLabel`
whose names are the labels sorted, which train.py copies into the model's `id2label`. Sequences are checked
with the DNA policy of tokenization_dna.normalize_dna; a bad one is a one-line error naming file and line.
The output directory is built aside and renamed at the end, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from ..formats.errors import GeneFinderInputError, require_file
from ..formats.fasta import FastaFile
from ..tokenization.tokenization_dna import normalize_dna
from .build_dataset import SPLITS, split_regions


def _file_and_label(spec: str, flag: str) -> tuple[str, str]:
    path, sep, label = spec.rpartition(":")
    if not sep or not path or not label:
        raise GeneFinderInputError(f"{flag} wants FILE:LABEL, got {spec!r}")
    return path, label


def read_csv(path: str) -> list[tuple[str, str]]:
    """(sequence, label) rows of a CSV with `sequence` and `label` columns."""
    require_file(path, "CSV")
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"sequence", "label"} <= set(reader.fieldnames):
            raise GeneFinderInputError(f"the header must name `sequence` and `label` columns, got {reader.fieldnames}",
                                       path, 1)
        for row in reader:
            seq, label = (row.get("sequence") or "").strip(), (row.get("label") or "").strip()
            if not seq or not label:
                raise GeneFinderInputError("empty `sequence` or `label`", path, reader.line_num)
            try:
                normalize_dna(seq)
            except ValueError as err:
                raise GeneFinderInputError(f"`sequence`: {err}", path, reader.line_num) from None
            rows.append((seq, label))
    return rows


def read_fasta_records(specs: list[str]) -> list[tuple[str, str]]:
    rows = []
    for spec in specs:
        path, label = _file_and_label(spec, "--fasta")
        fa = FastaFile(path)
        rows += [(fa.fetch(name, 0, fa.length(name)), label) for name in fa.names]
    return rows


def random_splits(rows: list[tuple[str, str]], val_fraction: float, test_fraction: float, seed: int) -> dict:
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_val, n_test = round(len(rows) * val_fraction), round(len(rows) * test_fraction)
    cuts = {"validation": order[:n_val], "test": order[n_val:n_val + n_test], "train": order[n_val + n_test:]}
    return {split: [rows[i] for i in sorted(cuts[split])] for split in SPLITS}


def genome_fragments(specs: list[str], fragment: int, max_per_class: int | None, val_fraction: float,
                     test_fraction: float, seed: int) -> dict:
    """{split: [(fragment, label), ...]}: tiled fragments per split block of each genome, capped per class."""
    share = {"train": 1.0, "validation": val_fraction, "test": test_fraction}
    train_fraction = 1 - val_fraction - test_fraction
    out = {split: [] for split in SPLITS}
    for spec in specs:
        path, label = _file_and_label(spec, "--genome")
        fa = FastaFile(path)
        found = {split: [] for split in SPLITS}
        for split, seqid, start, end in split_regions(fa, "region", val_fraction, test_fraction):
            for a in range(start, end - fragment + 1, fragment):
                found[split].append((seqid, a))
        rng = random.Random(f"{seed}:{label}")
        for split in SPLITS:
            picks = found[split]
            if max_per_class is not None:
                cap = round(max_per_class * share[split] / (train_fraction if split != "train" else 1.0))
                picks = sorted(rng.sample(picks, min(cap, len(picks))))
            for seqid, a in picks:
                dna = fa.fetch(seqid, a, a + fragment)
                if "N" not in normalize_dna(dna):
                    out[split].append((dna, label))
    return out


def write_dataset(splits: dict, out_dir: str) -> dict:
    """Save {split: [(dna, label)]} as a DatasetDict with a ClassLabel `label`; return counts per split and class."""
    import datasets

    out = Path(out_dir)
    if out.exists():
        raise GeneFinderInputError("output directory already exists; remove it or choose another --out", str(out))
    names = sorted({label for rows in splits.values() for _, label in rows})
    if len(names) < 2:
        raise GeneFinderInputError(f"a classifier needs at least two labels, got {names}")
    features = datasets.Features({"dna": datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        dd = datasets.DatasetDict({split: datasets.Dataset.from_dict(
            {"dna": [d for d, _ in rows], "label": [names.index(lab) for _, lab in rows]}, features=features)
            for split, rows in splits.items() if rows})
        dd.save_to_disk(str(tmp / "dataset"))
        os.replace(tmp / "dataset", out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {split: dict(sorted(Counter(lab for _, lab in rows).items())) for split, rows in splits.items()}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", help="CSV with `sequence` and `label` columns")
    source.add_argument("--fasta", action="append", metavar="FILE:LABEL", help="records of one class; repeatable")
    source.add_argument("--genome", action="append", metavar="FASTA:LABEL",
                        help="a genome cut into --fragment-nt pieces of one class; repeatable")
    parser.add_argument("--fragment", type=int, default=500, help="fragment length for --genome (default 500)")
    parser.add_argument("--max-per-class", type=int, help="--genome: at most this many train fragments per class")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="output directory (must not exist)")


def run(args) -> None:
    if not (0 <= args.val_fraction < 1 and 0 <= args.test_fraction < 1 and args.val_fraction + args.test_fraction < 1):
        raise GeneFinderInputError("--val-fraction and --test-fraction must be in [0, 1) and sum below 1")
    if args.genome:
        if args.fragment < 1:
            raise GeneFinderInputError(f"--fragment must be positive, got {args.fragment}")
        splits = genome_fragments(args.genome, args.fragment, args.max_per_class, args.val_fraction,
                                  args.test_fraction, args.seed)
    else:
        rows = read_csv(args.csv) if args.csv else read_fasta_records(args.fasta)
        splits = random_splits(rows, args.val_fraction, args.test_fraction, args.seed)
    for split, counts in write_dataset(splits, args.out).items():
        print(f"{split:<12}" + "  ".join(f"{label}: {n}" for label, n in counts.items()))
    print(f"wrote {args.out}")
