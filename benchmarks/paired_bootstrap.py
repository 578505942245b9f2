"""Is one prediction's gene or stop F1 really above another's on the same genome? A paired block bootstrap.

    .venv/bin/python benchmarks/paired_bootstrap.py REF.gff3 A.gff3 B.gff3 --names genefinder Prodigal

Two gene finders 0.002 apart in F1 over 4,000 genes may differ by chance alone: which genes a genome happens to
hold decides part of each score. The bootstrap asks how far the difference would move over other genomes like
this one. Genes are not independent (operons, islands, an rRNA cluster), so the genome is cut into blocks of
`--block` nt and each sample draws as many blocks as there are, with replacement; every gene, reference or
predicted, goes with the block its first base (lowest coordinate) lies in. Both predictions are scored on the
same draw (paired), so the genes they share move together and cancel in the difference. Scores are counted as
`genefinder evaluate` counts them (`evaluation.matched`): gene = start and stop exact, stop = 3' end exact.
Reported: each prediction's F1, the difference A - B, its 2.5-97.5 percentile interval over the samples and the
share of samples in which A scores at least as high as B.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genefinder.evaluation.evaluation import LevelScore, coding_genes, matched, read_pair
from genefinder.formats.atomic_output import atomic_path
from genefinder.formats.errors import GeneFinderInputError
from genefinder.formats.features import Gene

LEVELS = ("gene", "stop")


@dataclass(frozen=True)
class Difference:
    """One level's F1 of A and of B on the genome as it is, and their difference over the bootstrap samples."""

    level: str
    f1_a: float
    f1_b: float
    low: float  # 2.5th percentile of F1(A) - F1(B) over the samples
    high: float  # 97.5th
    a_at_least_b: float  # share of samples with F1(A) >= F1(B)

    @property
    def difference(self) -> float:
        return self.f1_a - self.f1_b


def paired_bootstrap(ref: list[Gene], a: list[Gene], b: list[Gene], block: int = 50_000, samples: int = 2000,
                     seed: int = 0) -> list[Difference]:
    """`Difference` at each of LEVELS for predictions `a` and `b` of the genome annotated by `ref`."""
    if block < 1 or samples < 1:
        raise ValueError("block and samples must be >= 1")
    r, pa, pb = coding_genes(ref), coding_genes(a), coding_genes(b)
    keys = sorted({(g.seqid, g.start // block) for g in (*r, *pa, *pb)})
    index = {k: i for i, k in enumerate(keys)}

    def per_block(genes, weights=None) -> np.ndarray:
        at = np.array([index[(g.seqid, g.start // block)] for g in genes], dtype=np.int64)
        return np.bincount(at, weights=weights, minlength=len(keys)) if len(at) else np.zeros(len(keys))

    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(keys), np.full(len(keys), 1 / len(keys)), size=samples).astype(float)
    draws = np.vstack([np.ones(len(keys)), draws])  # row 0: the genome as it is, every block once
    n_ref, n_a, n_b = per_block(r), per_block(pa), per_block(pb)
    out = []
    for level in LEVELS:
        ref_by_a, right_a = matched(pa, r, level)
        ref_by_b, right_b = matched(pb, r, level)
        # per block, in LevelScore's order: n_ref, n_pred, tp_ref, tp_pred of A, then of B
        sums = np.stack([n_ref, n_a, per_block(r, ref_by_a), per_block(pa, right_a),
                         n_ref, n_b, per_block(r, ref_by_b), per_block(pb, right_b)], axis=1)
        f1_a, f1_b = (np.array([LevelScore(*row[j:j + 4]).f1 or 0.0 for row in draws @ sums]) for j in (0, 4))
        diff = f1_a[1:] - f1_b[1:]
        out.append(Difference(level, float(f1_a[0]), float(f1_b[0]), float(np.percentile(diff, 2.5)),
                              float(np.percentile(diff, 97.5)), float(np.mean(diff >= 0))))
    return out


def report(rows: list[Difference], names: tuple[str, str], command: str, block: int, samples: int) -> str:
    a, b = names
    lines = [f"# {a} vs {b}: a paired block bootstrap", "",
             f"Written by `{command}` (the script's docstring says what it does); blocks of {block:,} nt, "
             f"{samples:,} samples.", "",
             f"| level | {a} F1 | {b} F1 | {a} - {b} | 95% interval | samples with {a} >= {b} |",
             "|---|---:|---:|---:|---:|---:|"]
    for d in rows:
        lines.append(f"| {d.level} | {d.f1_a:.4f} | {d.f1_b:.4f} | {d.difference:+.4f} | "
                     f"{d.low:+.4f} .. {d.high:+.4f} | {d.a_at_least_b:.1%} |")
    return "\n".join(lines) + "\n"


def parse_with_bootstrap_options(ap: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """`ap`'s arguments with the options every bootstrap report takes (--names, --block, --samples, --seed,
    --out-md), checked."""
    ap.add_argument("--names", nargs=2, default=("A", "B"), metavar=("A", "B"))
    ap.add_argument("--block", type=int, default=50_000, help="nt per resampled block (default 50,000)")
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-md", type=Path, help="also write the table here")
    args = ap.parse_args(argv)
    if args.block < 1 or args.samples < 1:
        ap.error("--block and --samples must be >= 1")
    return args


def read_predictions(ref_path: str, a_path: str, b_path: str, names: tuple[str, str], prog: str
                     ) -> tuple[list[Gene], list[Gene], list[Gene]]:
    """(reference, A, B), each prediction read with the reference as `genefinder evaluate` reads them; what it
    would warn of is printed as `PROG: warning: NAME: ...`; a file nothing can be scored in, or a reference
    without coding genes (no block to resample), raises `GeneFinderInputError` (one line)."""
    (a, ref, _, warn_a), (b, _, _, warn_b) = (read_pair(path, ref_path) for path in (a_path, b_path))
    if not coding_genes(ref):
        raise GeneFinderInputError("the reference has no coding genes to score against", ref_path)
    for name, warnings in zip(names, (warn_a, warn_b)):
        for w in warnings:
            print(f"{prog}: warning: {name}: {w}", file=sys.stderr)
    return ref, a, b


def publish(text: str, out_md: Path | None) -> None:
    """Print a report, and write it to `out_md` (atomically) when given."""
    print(text, end="")
    if out_md:
        with atomic_path(out_md) as tmp:
            Path(tmp).write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ref", help="reference annotation (GFF3, plain or gzip)")
    ap.add_argument("a", help="prediction A (GFF3)")
    ap.add_argument("b", help="prediction B (GFF3)")
    args = parse_with_bootstrap_options(ap, argv)
    try:
        ref, a, b = read_predictions(args.ref, args.a, args.b, args.names, "paired_bootstrap.py")
    except GeneFinderInputError as err:
        print(f"paired_bootstrap.py: error: {err}", file=sys.stderr)
        return 2
    command = " ".join(["benchmarks/paired_bootstrap.py", *(argv if argv is not None else sys.argv[1:])])
    publish(report(paired_bootstrap(ref, a, b, args.block, args.samples, args.seed), tuple(args.names), command,
                   args.block, args.samples), args.out_md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
