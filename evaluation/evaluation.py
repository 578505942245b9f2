"""Score a predicted annotation against a reference, the way gene-finder papers count: `genefinder evaluate`.

Only coding sequence is scored: every coding transcript is reduced to its chain of CDS segments (genome
coordinates, 1-based inclusive, stop codon included as in RefSeq, Ensembl, Prodigal and Augustus output).
Non-coding genes are ignored; pseudogenes never reach here (`gff3.read_gff3` skips them and counts them in
`GffReadReport.skipped`, which the report repeats). Phases and partial flags are not compared: coordinates
decide. Everything is per seqid and strand, as gffcompare builds its loci per strand.

Five levels, each with sensitivity = TP_ref / n_ref, precision = TP_pred / n_pred, F1 their harmonic mean.
TP is counted on each side separately, as gffcompare does (`locusTP` / `locusQTP`, `exonTP` / `exonQTP`),
so duplicated predictions neither raise sensitivity nor are punished twice:

- `base`: nucleotides. Per seqid and strand, the union of the CDS segments of all coding transcripts;
  n_ref / n_pred = bases in the reference / predicted union, TP = bases in both (gffcompare's base level on
  merged exons, here on merged CDS).
- `exon`: CDS segments. Distinct (seqid, strand, start, end) segments of all coding transcripts; a segment is
  found when the other side has one with both ends exact. gffcompare's exon level counts distinct exons
  the same way but lets the free outer ends of terminal exons differ by up to 100 nt (`-e`), because
  transcript ends (UTRs) are uncertain; CDS ends are start and stop codons, so here both ends are exact.
- `gene`: genes. A gene is found when one of its coding transcripts has exactly the CDS chain (every
  segment, both ends) of some coding transcript on the other side; n_ref / n_pred count coding genes.
  This is gffcompare's locus level with its transcript match made exact on CDS (gffcompare matches single-
  exon transcripts by 80% overlap), counted per annotated gene rather than per cluster of overlapping
  transcripts. For single-segment prokaryotic genes it is "5' and 3' both right".
- `stop`: genes whose 3' end is right: some coding transcript ends at the same stop-codon position on the
  same strand (the 3' end of the CDS: the end of the last segment on +, the start of the first on -).
  Same stop position and strand implies the same reading frame. Glimmer3's "matches" and Prodigal's
  "3' ends" (Delcher et al. 2007, Bioinformatics 23:673; Hyatt et al. 2010, BMC Bioinformatics 11:119).
- `start`: start-site accuracy among stop-matched genes, as the Prodigal and Glimmer3 papers report it
  ("correct starts" among matches): n_ref = stop-matched reference genes, TP_ref = those of them whose
  5' end and 3' end both match one predicted transcript; n_pred and TP_pred likewise for predicted genes.
  It therefore measures start calling alone; genes found start-to-stop are the `gene` level.

`--region SEQID:START-END` keeps, on each side, the units lying wholly inside the region (CDS segments for
`exon`; genes, by the span of their CDS, for `gene`, `stop` and `start`) and, for `base`, the CDS bases
inside it (segments crossing the edge are clipped).

Predictions on seqids the reference does not have still count (as false positives, as in gffcompare
without `-Q`); `evaluate_files` warns with counts when seqids differ and stops when none is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ..formats.errors import GeneFinderInputError, require_file
from ..formats.features import Gene
from ..formats.gff3 import GffReadReport, read_gff3
from ..formats.windows import merge_intervals

LEVELS = ("base", "exon", "gene", "stop", "start")
LEVEL_UNITS = {"base": "nt", "exon": "CDS segments", "gene": "genes", "stop": "genes",
               "start": "stop-matched genes"}


@dataclass(frozen=True)
class Region:
    """A closed interval `start..end` (1-based) on one sequence."""

    seqid: str
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.seqid}:{self.start}-{self.end}"

    def contains(self, seqid: str, start: int, end: int) -> bool:
        return seqid == self.seqid and self.start <= start and end <= self.end


def parse_region(text: str) -> Region:
    """`SEQID:START-END` (commas in numbers allowed; the seqid may itself contain ':')."""
    m = re.fullmatch(r"(.+):([\d,]+)-([\d,]+)", text.strip())
    if not m:
        raise GeneFinderInputError(f"--region must look like SEQID:START-END (e.g. chrI:1-50000), got {text!r}")
    start, end = int(m.group(2).replace(",", "")), int(m.group(3).replace(",", ""))
    if not 1 <= start <= end:
        raise GeneFinderInputError(f"--region needs 1 <= START <= END, got {start}..{end}")
    return Region(m.group(1), start, end)


@dataclass(frozen=True)
class LevelScore:
    """Counts at one level; the rates are None where their denominator is 0."""

    n_ref: int
    n_pred: int
    tp_ref: int  # reference units found by the prediction
    tp_pred: int  # predicted units that are in the reference

    @property
    def sensitivity(self) -> float | None:
        return self.tp_ref / self.n_ref if self.n_ref else None

    @property
    def precision(self) -> float | None:
        return self.tp_pred / self.n_pred if self.n_pred else None

    @property
    def f1(self) -> float | None:
        sn, pr = self.sensitivity, self.precision
        if sn is None and pr is None:
            return None
        if not sn or not pr:  # one side empty or nothing found: nothing right
            return 0.0
        return 2 * sn * pr / (sn + pr)

    def as_dict(self) -> dict:
        return {"sensitivity": self.sensitivity, "precision": self.precision, "f1": self.f1,
                "n_ref": self.n_ref, "n_pred": self.n_pred, "tp_ref": self.tp_ref, "tp_pred": self.tp_pred}


# ------------------------------------------------------------------------------------------ coding genes

Chain = tuple[tuple[int, int], ...]  # CDS segments (start, end), sorted by start


@dataclass(frozen=True)
class _CodingGene:
    seqid: str
    strand: str
    chains: tuple[Chain, ...]  # one per coding transcript

    @property
    def start(self) -> int:
        return min(c[0][0] for c in self.chains)

    @property
    def end(self) -> int:
        return max(c[-1][1] for c in self.chains)

    def ends(self) -> set[tuple[int, int]]:
        """(5' end, 3' end) of each chain, in genome coordinates."""
        if self.strand == "+":
            return {(c[0][0], c[-1][1]) for c in self.chains}
        return {(c[-1][1], c[0][0]) for c in self.chains}


def coding_genes(genes: Iterable[Gene]) -> list[_CodingGene]:
    """The coding part of each gene that has at least one coding transcript."""
    out = []
    for g in genes:
        chains = tuple(dict.fromkeys(tuple(sorted((c.start, c.end) for c in t.cds))
                                     for t in g.transcripts if t.cds))
        if chains:
            out.append(_CodingGene(g.seqid, g.strand, chains))
    return out


# --------------------------------------------------------------------------------------------- levels

def _size(intervals: list[tuple[int, int]]) -> int:
    return sum(e - s + 1 for s, e in intervals)


def _overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    """Bases shared by two sorted lists of disjoint intervals (gffcompare's two-pointer walk)."""
    i = j = total = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            total += hi - lo + 1
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _covered(genes: list[_CodingGene], region: Region | None) -> dict[tuple[str, str], list[tuple[int, int]]]:
    by_strand: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for g in genes:
        for chain in g.chains:
            for s, e in chain:
                if region is not None:
                    if g.seqid != region.seqid:
                        continue
                    s, e = max(s, region.start), min(e, region.end)
                    if s > e:
                        continue
                by_strand[(g.seqid, g.strand)].append((s, e))
    return {k: merge_intervals(v) for k, v in by_strand.items()}


def _base_level(pred: list[_CodingGene], ref: list[_CodingGene], region: Region | None) -> LevelScore:
    p, r = _covered(pred, region), _covered(ref, region)
    tp = sum(_overlap(p[k], r[k]) for k in p.keys() & r.keys())
    return LevelScore(sum(map(_size, r.values())), sum(map(_size, p.values())), tp, tp)


def _segments(genes: list[_CodingGene], region: Region | None) -> set[tuple]:
    return {(g.seqid, g.strand, s, e) for g in genes for chain in g.chains for s, e in chain
            if region is None or region.contains(g.seqid, s, e)}


def _exon_level(pred: list[_CodingGene], ref: list[_CodingGene], region: Region | None) -> LevelScore:
    p, r = _segments(pred, region), _segments(ref, region)
    tp = len(p & r)
    return LevelScore(len(r), len(p), tp, tp)


def _chain_keys(g: _CodingGene) -> list[tuple]:
    return [(g.seqid, g.strand, c) for c in g.chains]


def _stop_keys(g: _CodingGene) -> list[tuple]:
    return [(g.seqid, g.strand, three) for _, three in g.ends()]


def _ends_keys(g: _CodingGene) -> list[tuple]:
    return [(g.seqid, g.strand, five, three) for five, three in g.ends()]


def _matched(pred: list[_CodingGene], ref: list[_CodingGene], keys) -> tuple[list[bool], list[bool]]:
    """For each reference gene, then each predicted gene: does one of its keys occur on the other side?"""
    p_keys = {k for g in pred for k in keys(g)}
    r_keys = {k for g in ref for k in keys(g)}
    return [any(k in p_keys for k in keys(g)) for g in ref], [any(k in r_keys for k in keys(g)) for g in pred]


def matched(pred: list[_CodingGene], ref: list[_CodingGene], level: str) -> tuple[list[bool], list[bool]]:
    """For each reference gene, then each predicted gene (`coding_genes` of each): is it found at `level`, "gene"
    (a whole CDS chain) or "stop" (its 3' end), as `evaluate` counts it? What a resampling of genes reads."""
    return _matched(pred, ref, {"gene": _chain_keys, "stop": _stop_keys}[level])


def _gene_levels(pred: list[_CodingGene], ref: list[_CodingGene]) -> dict[str, LevelScore]:
    r_gene, p_gene = matched(pred, ref, "gene")
    r_stop, p_stop = matched(pred, ref, "stop")
    r_ends, p_ends = _matched(pred, ref, _ends_keys)
    r_start = [hit for hit, stop in zip(r_ends, r_stop) if stop]  # start accuracy among stop-matched genes
    p_start = [hit for hit, stop in zip(p_ends, p_stop) if stop]
    return {"gene": LevelScore(len(ref), len(pred), sum(r_gene), sum(p_gene)),
            "stop": LevelScore(len(ref), len(pred), sum(r_stop), sum(p_stop)),
            "start": LevelScore(len(r_start), len(p_start), sum(r_start), sum(p_start))}


def evaluate(pred: Sequence[Gene], ref: Sequence[Gene], region: Region | None = None) -> dict[str, LevelScore]:
    """Scores of `pred` against `ref` at every level of `LEVELS` (see the module docstring)."""
    p, r = coding_genes(pred), coding_genes(ref)
    scores = {"base": _base_level(p, r, region), "exon": _exon_level(p, r, region)}
    if region is not None:
        p = [g for g in p if region.contains(g.seqid, g.start, g.end)]
        r = [g for g in r if region.contains(g.seqid, g.start, g.end)]
    scores.update(_gene_levels(p, r))
    return {level: scores[level] for level in LEVELS}


# ------------------------------------------------------------------------------------------- files

@dataclass
class EvaluationReport:
    """Scores plus what the user should know about the inputs."""

    pred_path: str
    ref_path: str
    scores: dict[str, LevelScore]
    ref_coding_genes: int
    pred_coding_genes: int
    ref_noncoding_genes: int
    ref_pseudogenes: int  # rows of type `pseudogene` the reader left out of the reference
    ref_pseudogene_children: int  # rows under pseudogenes (pseudogenic transcripts, their exons / CDS), left out
    region: Region | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """One object keyed by level, plus `inputs` with the counts behind them."""
        out: dict = {level: self.scores[level].as_dict() for level in LEVELS}
        out["inputs"] = {
            "pred": self.pred_path, "ref": self.ref_path, "region": str(self.region) if self.region else None,
            "ref_coding_genes": self.ref_coding_genes, "pred_coding_genes": self.pred_coding_genes,
            "ref_noncoding_genes_ignored": self.ref_noncoding_genes,
            "ref_pseudogene_rows_skipped": self.ref_pseudogenes,
            "ref_rows_under_pseudogenes_skipped": self.ref_pseudogene_children,
            "warnings": self.warnings,
        }
        return out

    def format_table(self) -> str:
        def num(x):
            return "n/a" if x is None else f"{x:.4f}"

        lines = [f"{'level':<6} {'sensitivity':>11} {'precision':>10} {'F1':>7} {'n_ref':>10} {'n_pred':>10}  unit"]
        for level in LEVELS:
            s = self.scores[level]
            lines.append(f"{level:<6} {num(s.sensitivity):>11} {num(s.precision):>10} {num(s.f1):>7} "
                         f"{s.n_ref:>10,} {s.n_pred:>10,}  {LEVEL_UNITS[level]}")
        where = f" in {self.region}" if self.region else ""
        lines.append(f"reference{where}: {self.ref_coding_genes:,} coding genes in the file "
                     f"({self.ref_noncoding_genes:,} non-coding genes ignored); left out {self.ref_pseudogenes:,} "
                     f"pseudogene rows + {self.ref_pseudogene_children:,} rows under pseudogenes")
        lines.append(f"prediction: {self.pred_coding_genes:,} coding genes in the file")
        return "\n".join(lines)


def read_annotation(path: str, role: str) -> tuple[list[Gene], GffReadReport]:
    require_file(path, f"{role} GFF3")
    return read_gff3(path)


def _seqid_warnings(pred: list[_CodingGene], ref: list[_CodingGene], pred_path: str, ref_path: str,
                    region: Region | None) -> list[str]:
    p_ids = defaultdict(int)
    r_ids = defaultdict(int)
    for g in pred:
        p_ids[g.seqid] += 1
    for g in ref:
        r_ids[g.seqid] += 1
    if region is not None:
        if region.seqid not in p_ids and region.seqid not in r_ids:
            raise GeneFinderInputError(f"--region seqid {region.seqid!r} has no coding gene in either file "
                                       f"(reference seqids: {_examples(r_ids)})")
        return []
    if p_ids and r_ids and not p_ids.keys() & r_ids.keys():
        raise GeneFinderInputError(
            f"no seqid in common: the prediction has {_examples(p_ids)}, the reference {_examples(r_ids)} "
            "(were they made from different FASTA headers?)", pred_path)
    warnings = []
    extra = {s: n for s, n in p_ids.items() if s not in r_ids}
    missing = {s: n for s, n in r_ids.items() if s not in p_ids}
    if extra:
        warnings.append(f"{sum(extra.values()):,} predicted genes lie on {len(extra)} seqids the reference has no "
                        f"coding genes on ({_examples(extra)}); they count as false positives")
    if missing:
        warnings.append(f"{sum(missing.values()):,} reference genes lie on {len(missing)} seqids with no "
                        f"prediction ({_examples(missing)}); they count as missed")
    return warnings


def _examples(counts: dict[str, int], k: int = 3) -> str:
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{s!r}: {n}" for s, n in items[:k])
    return text + (f", ... {len(items) - k} more" if len(items) > k else "")


def read_pair(pred_path: str, ref_path: str,
              region: Region | None = None) -> tuple[list[Gene], list[Gene], GffReadReport, list[str]]:
    """Both GFF3 files (plain or gzip) read for scoring: prediction, reference, the reference's read report, and
    what the user should know (seqids apart, CDS rows not read, no coding gene); one-line errors where nothing
    could be scored (no seqid in common)."""
    pred, pred_report = read_annotation(pred_path, "prediction")
    ref, ref_report = read_annotation(ref_path, "reference")
    p, r = coding_genes(pred), coding_genes(ref)
    warnings = _seqid_warnings(p, r, pred_path, ref_path, region)
    for role, report in (("prediction", pred_report), ("reference", ref_report)):
        lost = {k: n for k, n in report.skipped.items() if k.startswith("CDS ")}
        if lost:  # CDS rows the reader could not attach to a transcript are not scored: say so
            warnings.append(f"{sum(lost.values()):,} CDS rows of the {role} were not read as gene models "
                            f"({', '.join(f'{n:,} {k}' for k, n in lost.items())}) and are not scored")
    if not p:
        warnings.append("the prediction has no coding genes")
    return pred, ref, ref_report, warnings


def evaluate_files(pred_path: str | os.PathLike, ref_path: str | os.PathLike,
                   region: Region | None = None) -> EvaluationReport:
    """Read both GFF3 files (plain or gzip) and score the first against the second."""
    pred_path, ref_path = str(pred_path), str(ref_path)
    pred, ref, ref_report, warnings = read_pair(pred_path, ref_path, region)
    p, r = coding_genes(pred), coding_genes(ref)
    return EvaluationReport(
        pred_path, ref_path, evaluate(pred, ref, region), len(r), len(p), len(ref) - len(r),
        ref_report.skipped.get("pseudogene", 0), ref_report.skipped.get("pseudogene and children", 0),
        region, warnings)


# ------------------------------------------------------------------------------------------------ CLI

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pred", metavar="PRED.gff3", help="predicted annotation (GFF3, plain or gzip)")
    parser.add_argument("ref", metavar="REF.gff3", help="reference annotation (GFF3, plain or gzip)")
    parser.add_argument("--json", action="store_true", help="print one JSON object keyed by level")
    parser.add_argument("--region", metavar="SEQID:START-END",
                        help="score only features wholly inside this region (and, at base level, bases inside it)")


def run(args) -> int:
    region = parse_region(args.region) if args.region else None
    report = evaluate_files(args.pred, args.ref, region)
    for w in report.warnings:
        print(f"genefinder: warning: {w}", file=sys.stderr)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.format_table())
    return 0
