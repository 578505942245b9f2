"""GFF3 input and output for gene models (gene / mRNA and RNA transcripts / exon / CDS).

Reading builds `features.Gene` objects from the three hierarchies found in real files:
NCBI prokaryotes (gene -> CDS), Ensembl and NCBI eukaryotes (gene -> mRNA -> exon + CDS) and RNA genes
(gene -> tRNA/rRNA/ncRNA... -> exon). What is not a gene model is skipped and counted, never guessed at:
- pseudogenes (type `pseudogene`, `pseudogenic_*`, `pseudo=true`, a `*pseudogene` biotype) and their
  children: a gene finder should not be trained or scored on them;
- features derivable from exons and CDS (UTRs, introns, start/stop codons);
- everything else (region, chromosome, repeat_region, mobile_genetic_element, unknown types).
`GffReadReport.skipped` holds the counts. Malformed lines raise `GeneFinderInputError` naming file:line.

Writing emits GFF3 that `gt gff3validator` accepts: `##gff-version 3`, `##sequence-region` lines, unique
IDs, gene -> CDS for prokaryotes and gene -> mRNA -> exon + CDS for eukaryotes, NCBI-style partial flags.
"""

from __future__ import annotations

import io
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from .errors import GeneFinderInputError
from .fasta import open_text_or_gzip
from .features import TRANSCRIPT_KINDS, CDSPart, Gene, Transcript
from .windows import merge_intervals, normalise_transcript

GENE_TYPES = {"gene", "ncRNA_gene", "protein_coding_gene", "rRNA_gene", "tRNA_gene"}
PSEUDO_TYPES = {"pseudogene", "pseudogenic_transcript", "pseudogenic_tRNA", "pseudogenic_rRNA",
                "pseudogenic_exon", "transposable_element_gene"}
DERIVED_TYPES = {"five_prime_UTR", "three_prime_UTR", "UTR", "intron", "start_codon", "stop_codon",
                 "CDS_predicted"}


@dataclass
class GffReadReport:
    """What a read kept and what it skipped (type -> count), for the user to see."""

    genes: int = 0
    transcripts: int = 0
    skipped: Counter = field(default_factory=Counter)
    # (seqid, start, end) of each pseudogene left out (its gene-level row): where a gene finder's call is a
    # false positive the reference explains (`genefinder errors`)
    pseudogenes: list[tuple[str, int, int]] = field(default_factory=list)

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {t}" for t, n in self.skipped.most_common())
        return f"{self.genes} genes, {self.transcripts} transcripts" + (f"; skipped {skipped}" if skipped else "")


@dataclass
class _Row:
    line: int
    seqid: str
    type: str
    start: int
    end: int
    strand: str
    phase: str
    attrs: dict


def read_gff3(path: str | os.PathLike) -> tuple[list[Gene], GffReadReport]:
    """Gene models of a GFF3 file (plain or gzip), in file order, with genome coordinates."""
    path = str(path)
    rows = list(_parse_rows(path))
    report = GffReadReport()
    by_id = {r.attrs["ID"]: r for r in rows if "ID" in r.attrs}
    pseudo_ids = {i for i, r in by_id.items() if _is_pseudo(r)}

    def under_pseudo(row: _Row, depth: int = 0) -> bool:
        if row.attrs.get("ID") in pseudo_ids or _is_pseudo(row):
            return True
        return depth < 4 and any(p in by_id and under_pseudo(by_id[p], depth + 1) for p in _parents(row))

    genes: dict[str, dict] = {}  # gene key -> {"row":, "transcripts": {tkey: {...}}}
    order: list[str] = []
    transcript_gene: dict[str, str] = {}  # transcript ID -> gene key

    def gene_slot(key: str, row: _Row) -> dict:
        if key not in genes:
            genes[key] = {"row": row, "transcripts": {}}
            order.append(key)
        return genes[key]

    def transcript_slot(gene_key: str, tkey: str, kind: str, row: _Row) -> dict:
        slots = genes[gene_key]["transcripts"]
        if tkey not in slots:
            slots[tkey] = {"kind": kind, "row": row, "exons": [], "cds": []}
        return slots[tkey]

    for r in rows:  # genes and transcripts first, so children can find them in any file order
        if r.type in GENE_TYPES and under_pseudo(r):
            report.skipped["pseudogene"] += 1  # e.g. WormBase: type gene, biotype=pseudogene
            report.pseudogenes.append((r.seqid, r.start, r.end))
        elif r.type in GENE_TYPES:
            gene_slot(r.attrs.get("ID", f"line{r.line}"), r)
    for r in rows:
        if r.type not in TRANSCRIPT_KINDS or under_pseudo(r):
            continue
        tid = r.attrs.get("ID", f"line{r.line}")
        gene_key = _resolve_gene(r, by_id, genes, path)
        transcript_gene[tid] = gene_key or tid
        gene_slot(gene_key or tid, r)
        transcript_slot(gene_key or tid, tid, r.type, r)

    for r in rows:
        if r.type in GENE_TYPES or r.type in TRANSCRIPT_KINDS:
            continue
        if r.type in PSEUDO_TYPES or under_pseudo(r):
            report.skipped["pseudogene and children" if r.type != "pseudogene" else "pseudogene"] += 1
            if r.type == "pseudogene":
                report.pseudogenes.append((r.seqid, r.start, r.end))
            continue
        if r.type not in ("exon", "CDS"):
            report.skipped[r.type] += 1
            continue
        if not _parents(r):  # orphan segment (e.g. Prodigal's CDS rows): a one-segment gene of its own
            key = r.attrs.get("ID", f"line{r.line}")
            gene_slot(key, r)
            slot = transcript_slot(key, key, "mRNA", r)
            _add_segment(slot, r, path)
            continue
        for p in _parents(r):
            if p in transcript_gene:
                slot = genes[transcript_gene[p]]["transcripts"][p]
            elif p in genes:  # NCBI prokaryotes: CDS directly under gene -> an mRNA named after the CDS
                slot = transcript_slot(p, r.attrs.get("ID", p) + "#mRNA", "mRNA", r)
            elif p in by_id:  # parent of a type we skip (e.g. an unknown transcript type)
                report.skipped[f"{r.type} under skipped {by_id[p].type}"] += 1
                continue
            else:
                raise GeneFinderInputError(f"Parent {p!r} of this {r.type} is not defined in the file", path, r.line)
            _add_segment(slot, r, path)

    out: list[Gene] = []
    for key in order:
        g = genes[key]
        transcripts = []
        for tkey, t in g["transcripts"].items():
            exons = tuple(sorted(set(t["exons"])))
            if not exons and not t["cds"]:  # e.g. a miRNA given only as a span: one exon
                exons = ((t["row"].start, t["row"].end),)
            transcripts.append(normalise_transcript(
                Transcript(kind=t["kind"], exons=exons, cds=tuple(sorted(t["cds"])), id=tkey)))
        if not transcripts:
            report.skipped[f"{g['row'].type} without transcripts or CDS"] += 1
            continue
        strand = g["row"].strand
        if strand not in "+-":
            raise GeneFinderInputError(f"gene strand must be + or -, got {strand!r}", path, g["row"].line)
        out.append(Gene(strand=strand, transcripts=tuple(transcripts), seqid=g["row"].seqid, id=key,
                        line=g["row"].line))
        report.genes += 1
        report.transcripts += len(transcripts)
    return out, report


def _add_segment(slot: dict, row: _Row, path: str) -> None:
    if row.type == "exon":
        slot["exons"].append((row.start, row.end))
    else:
        slot["cds"].append(CDSPart(row.start, row.end, _phase(row, path)))


def _parse_rows(path: str):
    with open_text_or_gzip(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise GeneFinderInputError("not UTF-8 text (is this a GFF3 file?)", path, lineno) from None
            if line.startswith("##FASTA"):
                return
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != 9:
                raise GeneFinderInputError(f"expected 9 tab-separated columns, found {len(cols)}", path, lineno)
            seqid, _, ftype, start, end, _, strand, phase, attrs = cols
            try:
                start_i, end_i = int(start), int(end)
            except ValueError:
                raise GeneFinderInputError(f"start/end must be integers, got {start!r}/{end!r}", path, lineno) from None
            if start_i < 1 or end_i < start_i:
                raise GeneFinderInputError(f"need 1 <= start <= end, got {start_i}..{end_i}", path, lineno)
            if strand not in ("+", "-", ".", "?"):
                raise GeneFinderInputError(f"strand must be +, -, . or ?, got {strand!r}", path, lineno)
            yield _Row(lineno, unquote(seqid), ftype, start_i, end_i, strand, phase, _parse_attributes(attrs, path, lineno))


def _parse_attributes(text: str, path: str, lineno: int) -> dict:
    attrs = {}
    for part in text.strip().strip(";").split(";"):
        if not part.strip():
            continue
        if "=" not in part:
            raise GeneFinderInputError(f"attribute {part.strip()!r} is not key=value", path, lineno)
        key, value = part.split("=", 1)
        attrs[key.strip()] = value if key.strip() == "Parent" else unquote(value)
    return attrs


def _parents(row: _Row) -> list[str]:
    return [unquote(p) for p in row.attrs.get("Parent", "").split(",") if p]


def _is_pseudo(row: _Row) -> bool:
    biotype = row.attrs.get("biotype", "") + row.attrs.get("gene_biotype", "")
    return row.type in PSEUDO_TYPES or row.attrs.get("pseudo") == "true" or "pseudogene" in biotype


def _resolve_gene(row: _Row, by_id: dict, genes: dict, path: str) -> str | None:
    """The gene a transcript belongs to, following transcript -> transcript links (miRNA -> primary_transcript)."""
    for _ in range(4):
        parents = _parents(row)
        if not parents:
            return None
        p = parents[0]
        if p in genes:
            return p
        if p not in by_id:
            raise GeneFinderInputError(f"Parent {p!r} of this {row.type} is not defined in the file", path, row.line)
        row = by_id[p]
    return None


def _phase(row: _Row, path: str) -> int:
    if row.phase not in ("0", "1", "2"):
        raise GeneFinderInputError(f"CDS phase must be 0, 1 or 2, got {row.phase!r}", path, row.line)
    return int(row.phase)


# ---------------------------------------------------------------------------------------------- writing

def write_gff3(out: io.TextIOBase, genes: list[Gene], sequence_lengths: dict[str, int], *,
               eukaryote: bool, source: str = "genefinder", pragmas: tuple[str, ...] = ()) -> list[tuple[str, Gene]]:
    """Write genes (genome coordinates, `Gene.seqid` set) as GFF3; returns (gene ID, gene) in file order.
    `pragmas`: lines of provenance written as `#!line` after the directives (comments to a GFF3 reader, as NCBI's
    `#!processor` lines are)."""
    out.write("##gff-version 3\n")
    for name, length in sequence_lengths.items():
        out.write(f"##sequence-region {_esc(name)} 1 {length}\n")
    for line in pragmas:
        if "\n" in line:
            raise ValueError(f"a GFF3 pragma is one line, got {line!r}")
        out.write(f"#!{line}\n")
    counter: Counter = Counter()
    written = []
    by_seq: dict[str, list[Gene]] = defaultdict(list)
    for g in genes:
        by_seq[g.seqid].append(g)
    for seqid in sequence_lengths:
        for g in sorted(by_seq.get(seqid, []), key=lambda g: (g.start, g.end, g.strand)):
            counter[seqid] += 1
            gene_id = f"{seqid}_g{counter[seqid]}"
            _write_gene(out, g, gene_id, eukaryote, source)
            written.append((gene_id, g))
    return written


def _write_gene(out, g: Gene, gene_id: str, eukaryote: bool, source: str) -> None:
    def row(ftype, start, end, attrs, phase=".", score=None):
        score_s = "." if score is None else f"{score:.3g}"
        text = ";".join(f"{k}={_esc(v)}" for k, v in attrs.items())
        out.write(f"{_esc(g.seqid)}\t{source}\t{ftype}\t{start}\t{end}\t{score_s}\t{g.strand}\t{phase}\t{text}\n")

    coding = any(t.is_coding for t in g.transcripts)
    row("gene", g.start, g.end, {"ID": gene_id, "biotype": "protein_coding" if coding else "ncRNA"}, score=g.score)
    for n, t in enumerate(g.transcripts, start=1):
        partial = _partial_attrs(t)
        if t.is_coding and not eukaryote and len(g.transcripts) == 1 and not t.exons:
            parent = gene_id  # prokaryote convention: gene -> CDS
        else:
            parent = f"{gene_id}.t{n}"
            row(t.kind, t.start, t.end, {"ID": parent, "Parent": gene_id, **partial}, score=t.score)
            exons = t.exons or merge_intervals([(c.start, c.end) for c in t.cds])
            for i, (s, e) in enumerate(exons, start=1):
                row("exon", s, e, {"ID": f"{parent}.exon{i}", "Parent": parent})
        for c in t.cds:
            row("CDS", c.start, c.end, {"ID": f"{parent}.cds", "Parent": parent, **partial}, phase=str(c.phase),
                score=t.score)


def _partial_attrs(t: Transcript) -> dict:
    if not (t.partial_left or t.partial_right):
        return {}
    attrs = {"partial": "true"}
    if t.partial_left:
        attrs["start_range"] = f".,{t.start}"
    if t.partial_right:
        attrs["end_range"] = f"{t.end},."
    return attrs


def _esc(value) -> str:
    """Escape the characters GFF3 reserves in columns 1 and 9 (tab, newline, ; = & , %)."""
    return quote(str(value), safe=" :/|.-_#*!~()[]{}@^+'\"<>`$?")
