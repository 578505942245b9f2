"""Gene models as plain data: the one representation shared by GFF3 I/O, windows, tokenizers and output.

Coordinates are 1-based and inclusive everywhere a `Gene` is visible, as in GFF3. A gene read from a
genome carries genome coordinates; a gene cut to a window carries window coordinates (position 1 is the
window's first nucleotide) and `partial_left` / `partial_right` flags on each transcript that the window
edge cut. Conversion to Python's 0-based half-open slices happens in one place: `to_slice`.

Only what a gene finder predicts takes part in equality (strand, transcript kinds, exon and CDS
intervals, phases, partial flags); identifiers and the seqid ride along with `compare=False`.

This module is stdlib-only: it is copied beside the Hub files as remote code.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

STRANDS = ("+", "-")

# Transcript-level Sequence Ontology types the tokenizer can name. mRNA is the coding kind; the others are
# the RNA genes found in RefSeq, Ensembl and WormBase annotations. Order fixes token ids: append only.
TRANSCRIPT_KINDS = (
    "mRNA", "transcript", "tRNA", "rRNA", "ncRNA", "snRNA", "snoRNA", "lnc_RNA", "miRNA", "piRNA",
    "antisense_RNA", "primary_transcript", "pre_miRNA", "nc_primary_transcript", "circular_ncRNA",
    "scRNA", "SRP_RNA", "RNase_P_RNA", "RNase_MRP_RNA", "tmRNA", "misc_RNA", "guide_RNA", "Y_RNA",
    "vault_RNA", "telomerase_RNA",
)


@dataclass(frozen=True, order=True)
class CDSPart:
    """One CDS segment; `phase` = bases to skip from its 5' end to reach the next codon (GFF3 column 8)."""

    start: int
    end: int
    phase: int = 0


@dataclass(frozen=True)
class Transcript:
    kind: str  # a TRANSCRIPT_KINDS entry
    exons: tuple[tuple[int, int], ...] = ()  # sorted by start; empty when the source gave none
    cds: tuple[CDSPart, ...] = ()  # sorted by start
    partial_left: bool = False  # cut by the left edge of its window (lower coordinates)
    partial_right: bool = False  # cut by the right edge of its window
    id: str = field(default="", compare=False)
    score: float | None = field(default=None, compare=False)

    @property
    def start(self) -> int:
        return min(p[0] for p in (*self.exons, *((c.start, c.end) for c in self.cds)))

    @property
    def end(self) -> int:
        return max(p[1] for p in (*self.exons, *((c.start, c.end) for c in self.cds)))

    @property
    def is_coding(self) -> bool:
        return bool(self.cds)


@dataclass(frozen=True)
class Gene:
    strand: str  # "+" or "-"
    transcripts: tuple[Transcript, ...]
    seqid: str = field(default="", compare=False)
    id: str = field(default="", compare=False)
    score: float | None = field(default=None, compare=False)
    line: int = field(default=0, compare=False)  # GFF3 line it was read from, for error messages

    @property
    def start(self) -> int:
        return min(t.start for t in self.transcripts)

    @property
    def end(self) -> int:
        return max(t.end for t in self.transcripts)

    def sort_key(self) -> tuple:
        """Canonical order of genes in a window: by position, then by everything the tokens say."""
        return (self.start, self.end, self.strand, tuple(_transcript_key(t) for t in self.transcripts))


def _transcript_key(t: Transcript) -> tuple:
    return (t.start, t.end, t.kind, t.exons, t.cds, t.partial_left, t.partial_right)


def canonical(genes: list[Gene] | tuple[Gene, ...]) -> list[Gene]:
    """Genes in the order the tokenizer writes them: transcripts sorted inside each gene, genes by position."""
    out = [replace(g, transcripts=tuple(sorted(g.transcripts, key=_transcript_key))) for g in genes]
    return sorted(out, key=Gene.sort_key)


def to_slice(start: int, end: int) -> slice:
    """1-based inclusive [start, end] -> Python's 0-based half-open slice."""
    return slice(start - 1, end)


def phase_after(length: int, phase: int) -> int:
    """Phase of the next CDS segment (5'->3') after one of `length` nt that had `phase`."""
    return (3 - (length - phase) % 3) % 3


def genes_to_rows(genes: list[Gene]) -> list[dict]:
    """Genes as plain lists and dicts (the dataset's `features` column, resume files); inverse: genes_from_rows."""
    return [{"strand": g.strand, "score": g.score, "transcripts": [
        {"kind": t.kind, "exons": [list(e) for e in t.exons],
         "cds": [{"start": c.start, "end": c.end, "phase": c.phase} for c in t.cds],
         "partial_left": t.partial_left, "partial_right": t.partial_right} for t in g.transcripts]} for g in genes]


def genes_from_rows(rows: list[dict]) -> list[Gene]:
    return [Gene(strand=r["strand"], score=r.get("score"), transcripts=tuple(
        Transcript(kind=t["kind"], exons=tuple(tuple(e) for e in t["exons"]),
                   cds=tuple(CDSPart(c["start"], c["end"], c["phase"]) for c in t["cds"]),
                   partial_left=t["partial_left"], partial_right=t["partial_right"]) for t in r["transcripts"]))
        for r in rows]
