"""Where a gene finder's errors are, for prokaryote-style single-segment genes: `genefinder errors PRED REF`.

`genefinder evaluate` says how many genes are right; this says what the wrong ones are, in the terms gene-finder
papers use (Hyatt et al. 2010 for Prodigal):

Reference genes, each in exactly one class:
- `found`: start and stop right;
- `wrong start`: stop right (so frame right), start wrong; split into predicted start upstream (longer gene)
  and downstream (shorter gene);
- `missed`: no predicted gene ends at its stop. Split by length (< 300 nt, 300-899, >= 900), since short
  genes are the classic weak spot.
Predicted genes, each in exactly one class:
- `true` (start and stop right), `wrong start` (stop right);
- false positives, by what they overlap on the reference: `in a reference pseudogene` (at least half of it lies
  in one: an ORF of a decayed gene, which the reference left out of its genes and no ORF-level evidence tells
  from a live one), `same strand, other frame` (overlaps a reference gene on its strand by >= 60 nt),
  `opposite strand` (a "shadow" ORF: overlaps a reference gene only on the other strand), `intergenic`
  (overlaps no reference coding gene by >= 60 nt).
Lengths are CDS lengths (stop codon included). Multi-segment (spliced) genes are counted by their first chain.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict

from .evaluation import coding_genes, read_annotation
from ..formats.errors import GeneFinderInputError

MIN_OVERLAP = 60  # nt: shorter overlaps are routine between neighbouring bacterial genes
LENGTH_BINS = ((0, 300, "< 300 nt"), (300, 900, "300-899 nt"), (900, 10**12, ">= 900 nt"))


def _ends(g):
    return next(iter(sorted(g.ends())))  # (5' end, 3' end) of its first chain


def _length(g) -> int:
    return sum(e - s + 1 for s, e in g.chains[0])


def _bin(n: int) -> str:
    return next(name for lo, hi, name in LENGTH_BINS if lo <= n < hi)


def _half_inside(g, start: int, end: int) -> bool:
    """Whether at least half of gene `g`'s span lies in [start, end]."""
    return 2 * (min(g.end, end) - max(g.start, start) + 1) >= g.end - g.start + 1


def analyse(pred_genes, ref_genes, pseudogenes: list[tuple[str, int, int]] = ()) -> dict[str, Counter]:
    """Counters `reference` and `predicted` of the classes in the module docstring; `pseudogenes`, the
    reference's (seqid, start, end) spans (`GffReadReport.pseudogenes`)."""
    pred, ref = coding_genes(pred_genes), coding_genes(ref_genes)
    pred_stop = {(g.seqid, g.strand, _ends(g)[1]): _ends(g)[0] for g in pred}
    ref_stop = {(g.seqid, g.strand, _ends(g)[1]): _ends(g)[0] for g in ref}
    out = {"reference": Counter(), "predicted": Counter()}
    for g in ref:
        five, three = _ends(g)
        got = pred_stop.get((g.seqid, g.strand, three))
        if got is None:
            out["reference"][f"missed, {_bin(_length(g))}"] += 1
        elif got == five:
            out["reference"]["found"] += 1
        else:
            upstream = got < five if g.strand == "+" else got > five
            out["reference"]["wrong start, predicted " + ("upstream" if upstream else "downstream")] += 1
    by_seq, decayed = defaultdict(list), defaultdict(list)
    for g in ref:
        by_seq[g.seqid].append(g)
    for seqid, start, end in pseudogenes:
        decayed[seqid].append((start, end))
    for g in pred:
        five, three = _ends(g)
        known = ref_stop.get((g.seqid, g.strand, three))
        if known is not None:
            out["predicted"]["true" if known == five else "wrong start"] += 1
            continue
        if any(_half_inside(g, start, end) for start, end in decayed[g.seqid]):
            out["predicted"]["false: in a reference pseudogene"] += 1
            continue
        strands = {r.strand for r in by_seq[g.seqid]
                   if min(g.end, r.end) - max(g.start, r.start) + 1 >= MIN_OVERLAP}
        if g.strand in strands:
            out["predicted"]["false: same strand, other frame"] += 1
        elif strands:
            out["predicted"]["false: opposite strand"] += 1
        else:
            out["predicted"][f"false: intergenic, {_bin(_length(g))}"] += 1
    return out


def render(name: str, result: dict[str, Counter]) -> str:
    lines = [f"### {name}", "", "| reference genes | n | share |", "|---|---:|---:|"]
    total = sum(result["reference"].values()) or 1
    lines += [f"| {k} | {v:,} | {v / total:.1%} |" for k, v in sorted(result["reference"].items())]
    lines += ["", "| predicted genes | n | share |", "|---|---:|---:|"]
    total = sum(result["predicted"].values()) or 1
    lines += [f"| {k} | {v:,} | {v / total:.1%} |" for k, v in sorted(result["predicted"].items())]
    return "\n".join(lines) + "\n"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("prediction", metavar="PRED.gff3")
    p.add_argument("reference", metavar="REF.gff3")
    p.add_argument("--name", default="prediction", help="heading of the markdown tables")
    p.add_argument("--eukaryote", action="store_true",
                   help="spliced genes: missed/false exons, wrong donors/acceptors/starts/stops, merged/split genes "
                        "(evaluation/eukaryote_errors.py)")
    p.add_argument("--region", metavar="SEQID:START-END",
                   help="with --eukaryote: count only genes wholly inside this region, as `evaluate --region`")


def run(args) -> int:
    if args.eukaryote:
        from .eukaryote_errors import run as run_eukaryote

        return run_eukaryote(args)
    if args.region:
        raise GeneFinderInputError("--region needs --eukaryote")
    pred, _ = read_annotation(args.prediction, "prediction")
    ref, report = read_annotation(args.reference, "reference")
    print(render(args.name, analyse(pred, ref, report.pseudogenes)))
    return 0
