"""Where a eukaryotic gene finder's errors are, at the CDS level: `genefinder errors --eukaryote PRED REF`.

`genefinder evaluate` says how many exons and genes are right; this says what the wrong ones are. Both files are
read as `evaluate` reads them (`read_pair`): only coding transcripts, each reduced to its chain of CDS segments
(UTRs ignored), reference pseudogenes and non-coding genes left out. Everything is per seqid and strand, and
"overlap" means sharing at least one CDS base on the same strand (introns never overlap anything).

CDS segments (distinct (seqid, strand, start, end) of all coding transcripts, as `evaluate`'s exon level counts
them), each in exactly one class, for the reference and, the same way, for the prediction:
- `correct`: the other side has the same segment;
- `missed` (reference) / `false` (prediction): no segment of the other side overlaps it;
- otherwise it overlaps segments of the other side and names the end that none of them shares. Ends are taken
  on the gene's strand: the 5' end is the `acceptor`, or the `start` codon on the first CDS piece; the 3' end is
  the `donor`, or the `stop` codon on the last CDS piece (so on '-' the donor is the segment's lower
  coordinate). One end wrong gives `wrong acceptor`, `wrong start`, `wrong donor` or `wrong stop`; no end shared
  gives `both ends wrong`; each end shared by a different segment (an intron added inside it, or two
  transcripts each wrong at one end) gives `each end right, in different segments`. A segment in several
  transcripts takes its end names from the first transcript of its gene that has it.

Genes (`coding_genes`: a gene with several transcripts counts once), each in exactly one class, tested in this
order. Reference genes:
- `correct`: one of its transcripts has exactly the CDS chain of a predicted transcript (`evaluate`'s gene level);
- `missed`: no predicted gene overlaps its CDS;
- `merged`: a predicted gene that overlaps it overlaps the CDS of another reference gene too;
- `split`: two or more predicted genes overlap its CDS;
- `structure wrong`: one predicted gene overlaps it and it alone, with another CDS chain.
Predicted genes:
- `correct`, as above;
- `merges reference genes`: it overlaps the CDS of two or more reference genes;
- `piece of a split gene`: the one reference gene it overlaps is overlapped by other predicted genes too;
- `structure wrong`: it and one reference gene overlap only each other, with different CDS chains;
- false, when it overlaps no reference CDS on its strand (an opposite-strand call is a false gene, as for
  `genefinder evaluate`), by what it does overlap: `false: in a reference pseudogene` (its CDS overlaps the span
  of a pseudogene the reader left out), `false: opposite strand` (reference CDS on the other strand only),
  `false: intergenic`.

`region` keeps, on each side, the segments and the genes (by the span of their CDS) lying wholly inside it, as
`evaluate --region` does.
"""

from __future__ import annotations

import sys
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict

from .evaluation import Region, coding_genes, matched, parse_region, read_pair

SEGMENT_CLASSES = ("correct", "wrong start", "wrong acceptor", "wrong donor", "wrong stop", "both ends wrong",
                   "each end right, in different segments")
REFERENCE_GENE_CLASSES = ("correct", "merged", "split", "structure wrong", "missed")
PREDICTED_GENE_CLASSES = ("correct", "merges reference genes", "piece of a split gene", "structure wrong",
                          "false: in a reference pseudogene", "false: opposite strand", "false: intergenic")
TABLES = {  # table heading -> its classes, in report order
    "reference CDS segments": SEGMENT_CLASSES + ("missed",),
    "predicted CDS segments": SEGMENT_CLASSES + ("false",),
    "reference genes": REFERENCE_GENE_CLASSES,
    "predicted genes": PREDICTED_GENE_CLASSES,
}


class _IntervalIndex:
    """Closed intervals with a payload each; `overlapping(start, end)` lists the payloads of those it touches."""

    def __init__(self, items: list[tuple[int, int, object]]):
        self._items = sorted(items, key=lambda item: item[0])
        self._starts = [start for start, _, _ in self._items]
        self._longest = max((end - start for start, end, _ in self._items), default=0)

    def overlapping(self, start: int, end: int) -> list:
        lo = bisect_left(self._starts, start - self._longest)
        hi = bisect_right(self._starts, end)
        return [payload for s, e, payload in self._items[lo:hi] if e >= start]


# ------------------------------------------------------------------------------------------- segments

def _segment_ends(genes, region: Region | None) -> dict[tuple, tuple[str, str]]:
    """(seqid, strand, start, end) of each distinct CDS segment -> the names of its (5' end, 3' end)."""
    out: dict[tuple, tuple[str, str]] = {}
    for g in genes:
        for chain in g.chains:  # sorted by start: on '-' the first CDS piece is the last one here
            first, last = (0, len(chain) - 1) if g.strand == "+" else (len(chain) - 1, 0)
            for i, (s, e) in enumerate(chain):
                if region is None or region.contains(g.seqid, s, e):
                    out.setdefault((g.seqid, g.strand, s, e),
                                   ("start" if i == first else "acceptor", "stop" if i == last else "donor"))
    return out


def _five_three(strand: str, start: int, end: int) -> tuple[int, int]:
    return (start, end) if strand == "+" else (end, start)


def _segment_classes(segments: dict[tuple, tuple[str, str]], other: dict[tuple, tuple[str, str]],
                     no_overlap: str) -> Counter:
    """Each segment of `segments` classed against the segments of the other side (module docstring)."""
    by_strand = defaultdict(list)
    for seqid, strand, s, e in other:
        by_strand[(seqid, strand)].append((s, e, _five_three(strand, s, e)))
    index = {key: _IntervalIndex(items) for key, items in by_strand.items()}
    out = Counter()
    for (seqid, strand, s, e), (five_name, three_name) in segments.items():
        hits = index[(seqid, strand)].overlapping(s, e) if (seqid, strand) in index else []
        five, three = _five_three(strand, s, e)
        five_ok, three_ok = any(h[0] == five for h in hits), any(h[1] == three for h in hits)
        if not hits:
            out[no_overlap] += 1
        elif (five, three) in hits:
            out["correct"] += 1
        elif five_ok and three_ok:
            out["each end right, in different segments"] += 1
        elif five_ok or three_ok:
            out[f"wrong {three_name if five_ok else five_name}"] += 1
        else:
            out["both ends wrong"] += 1
    return out


# ---------------------------------------------------------------------------------------------- genes

def _cds_index(genes) -> dict[tuple[str, str], _IntervalIndex]:
    """Per (seqid, strand), every CDS segment of every gene, with the gene's position in `genes` as payload."""
    by_strand = defaultdict(list)
    for i, g in enumerate(genes):
        for s, e in {seg for chain in g.chains for seg in chain}:
            by_strand[(g.seqid, g.strand)].append((s, e, i))
    return {key: _IntervalIndex(items) for key, items in by_strand.items()}


def _overlapped(g, index: dict[tuple[str, str], _IntervalIndex], strand: str | None = None) -> set[int]:
    """Positions of the indexed genes whose CDS overlaps `g`'s CDS on `strand` (default: `g`'s own)."""
    found = index.get((g.seqid, strand or g.strand))
    if found is None:
        return set()
    return {i for chain in g.chains for s, e in chain for i in found.overlapping(s, e)}


def _false_class(g, ref_index, pseudogenes: dict[str, _IntervalIndex]) -> str:
    if g.seqid in pseudogenes and any(pseudogenes[g.seqid].overlapping(s, e) for chain in g.chains for s, e in chain):
        return "false: in a reference pseudogene"
    if _overlapped(g, ref_index, "-" if g.strand == "+" else "+"):
        return "false: opposite strand"
    return "false: intergenic"


def _gene_classes(pred, ref, pseudogenes: dict[str, _IntervalIndex]) -> tuple[Counter, Counter]:
    ref_found, pred_found = matched(pred, ref, "gene")
    pred_index, ref_index = _cds_index(pred), _cds_index(ref)
    preds_of = [_overlapped(g, pred_index) for g in ref]  # predicted genes on each reference gene
    refs_of = [_overlapped(g, ref_index) for g in pred]  # reference genes under each predicted gene
    reference = Counter()
    for found, preds in zip(ref_found, preds_of):
        if found:
            reference["correct"] += 1
        elif not preds:
            reference["missed"] += 1
        elif any(len(refs_of[p]) >= 2 for p in preds):
            reference["merged"] += 1
        elif len(preds) >= 2:
            reference["split"] += 1
        else:
            reference["structure wrong"] += 1
    predicted = Counter()
    for g, found, refs in zip(pred, pred_found, refs_of):
        if found:
            predicted["correct"] += 1
        elif not refs:
            predicted[_false_class(g, ref_index, pseudogenes)] += 1
        elif len(refs) >= 2:
            predicted["merges reference genes"] += 1
        elif len(preds_of[next(iter(refs))]) >= 2:
            predicted["piece of a split gene"] += 1
        else:
            predicted["structure wrong"] += 1
    return reference, predicted


# ------------------------------------------------------------------------------------------- analysis

def analyse(pred_genes, ref_genes, pseudogenes: list[tuple[str, int, int]] = (),
            region: Region | None = None) -> dict[str, Counter]:
    """A Counter of classes per `TABLES` heading (module docstring); `pseudogenes`, the reference's (seqid, start,
    end) spans (`GffReadReport.pseudogenes`)."""
    pred, ref = coding_genes(pred_genes), coding_genes(ref_genes)
    pred_segments, ref_segments = _segment_ends(pred, region), _segment_ends(ref, region)
    if region is not None:
        pred = [g for g in pred if region.contains(g.seqid, g.start, g.end)]
        ref = [g for g in ref if region.contains(g.seqid, g.start, g.end)]
    decayed = defaultdict(list)
    for seqid, start, end in pseudogenes:
        decayed[seqid].append((start, end, None))
    reference_genes, predicted_genes = _gene_classes(
        pred, ref, {seqid: _IntervalIndex(spans) for seqid, spans in decayed.items()})
    return {"reference CDS segments": _segment_classes(ref_segments, pred_segments, "missed"),
            "predicted CDS segments": _segment_classes(pred_segments, ref_segments, "false"),
            "reference genes": reference_genes, "predicted genes": predicted_genes}


def render(name: str, result: dict[str, Counter]) -> str:
    """Markdown: one table per `TABLES` heading, every class with its count and share of the table."""
    lines = [f"### {name}"]
    for heading, classes in TABLES.items():
        counts = result[heading]
        total = sum(counts.values())
        lines += ["", f"| {heading} | n | share |", "|---|---:|---:|"]
        lines += [f"| {k} | {counts[k]:,} | {counts[k] / (total or 1):.1%} |" for k in classes]
        lines.append(f"| all | {total:,} | |")
    return "\n".join(lines) + "\n"


def run(args) -> int:
    """`genefinder errors --eukaryote`: `args.prediction`, `args.reference`, `args.name`, `args.region`."""
    region = parse_region(args.region) if args.region else None
    pred, ref, report, warnings = read_pair(args.prediction, args.reference, region)
    for w in warnings:
        print(f"genefinder: warning: {w}", file=sys.stderr)
    print(render(args.name, analyse(pred, ref, report.pseudogenes, region)))
    return 0
