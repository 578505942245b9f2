"""VCF input for variant scoring: the single-nucleotide variants of a VCF, and the same VCF annotated with scores.

Only what scoring needs from VCF 4.x (Danecek et al. 2011; samtools/hts-specs VCFv4.3): CHROM, POS (1-based),
ID, REF and ALT of each record. Plain or gzipped/BGZF input (detected by content, as for FASTA). A record
with several ALT alleles gives one `SNV` per single-base ALT; every other allele is skipped and counted by
kind, so the caller can warn once instead of failing on real-world files that mix SNVs with indels:

- `indel`: REF and ALT of different lengths (`AT -> A`);
- `mnp`: several bases changed at once, same length (`AT -> GC`);
- `symbolic`: `<DEL>`, `<NON_REF>`, breakends (`G]17:198982]`), the spanning deletion `*`;
- `no_alt`: ALT `.` (a monomorphic site);
- `ambiguous`: REF or ALT is a base other than A, C, G, T (N or an IUPAC code).

Malformed lines (too few columns, a bad POS, a record before the `#CHROM` line) raise `GeneFinderInputError`
naming `file:line`. Scores go back into the VCF as an INFO field with `Number=A` (one value per ALT, `.` for
the alleles that were not scored; a field of the same name from an earlier run is replaced), written by a second streaming pass so a large VCF is never held whole.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .errors import GeneFinderInputError, require_file
from .fasta import open_text_or_gzip

SKIP_KINDS = ("indel", "mnp", "symbolic", "no_alt", "ambiguous")
_BASES = set("ACGT")


@dataclass(frozen=True)
class SNV:
    """One single-base ALT allele of a VCF record; `pos` is 1-based, `line` the record's line in the VCF."""

    chrom: str
    pos: int
    ref: str
    alt: str
    id: str
    line: int
    allele: int  # index of this ALT among the record's ALT alleles (the INFO Number=A slot)


def _allele_kind(ref: str, alt: str) -> str:
    """'snv' or one of SKIP_KINDS."""
    if alt == ".":
        return "no_alt"
    if alt == "*" or alt.startswith("<") or "[" in alt or "]" in alt:
        return "symbolic"
    if len(ref) != len(alt):
        return "indel"
    if len(ref) > 1:
        return "mnp"
    return "snv" if ref in _BASES and alt in _BASES else "ambiguous"


def _records(path: str) -> Iterator[tuple[int, str, list[str] | None]]:
    """(line number, raw line without newline, columns or None for header lines) for every line of the VCF."""
    seen_header = False
    with io.TextIOWrapper(open_text_or_gzip(path), encoding="utf-8", errors="replace", newline=None) as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\n")
            if line.startswith("##"):
                yield lineno, line, None
                continue
            if line.startswith("#CHROM"):
                seen_header = True
                yield lineno, line, None
                continue
            if not line.strip():
                continue
            if not seen_header:
                raise GeneFinderInputError("record before the '#CHROM' header line (is this a VCF file?)", path, lineno)
            cols = line.split("\t")
            if len(cols) < 8:
                raise GeneFinderInputError(f"a VCF record needs 8 tab-separated columns, found {len(cols)}",
                                           path, lineno)
            if not cols[1].isdigit() or int(cols[1]) < 1:
                raise GeneFinderInputError(f"POS must be a positive integer, got {cols[1]!r}", path, lineno)
            yield lineno, line, cols
    if not seen_header:
        raise GeneFinderInputError("no '#CHROM' header line (is this a VCF file?)", path)


def read_snvs(path: str | os.PathLike) -> tuple[list[SNV], Counter]:
    """The SNVs of a VCF, one per single-base ALT allele, and the count of skipped alleles by kind."""
    path = os.fspath(path)
    require_file(path, "VCF")
    snvs, skipped = [], Counter()
    for lineno, _, cols in _records(path):
        if cols is None:
            continue
        ref = cols[3].upper()
        for allele, alt in enumerate(cols[4].split(",")):
            kind = _allele_kind(ref, alt.upper())
            if kind == "snv":
                snvs.append(SNV(cols[0], int(cols[1]), ref, alt.upper(), cols[2], lineno, allele))
            else:
                skipped[kind] += 1
    return snvs, skipped


def write_annotated_vcf(src: str | os.PathLike, out, scores: Mapping[tuple[int, int], float], key: str,
                        description: str) -> None:
    """Copy the VCF `src` to the text handle `out`, adding INFO `key` (Number=A) to every record.

    `scores` maps (VCF line, ALT allele index) to a value; alleles without one get `.`, and a record with no
    scored allele at all is copied unchanged. The `##INFO` line goes just before `#CHROM`.
    """
    src = os.fspath(src)
    for lineno, line, cols in _records(src):
        if cols is None:
            if line.startswith(f"##INFO=<ID={key},"):
                continue  # an earlier run's field: replaced below
            if line.startswith("#CHROM"):
                out.write(f'##INFO=<ID={key},Number=A,Type=Float,Description="{description}">\n')
            out.write(line + "\n")
            continue
        info = [f for f in cols[7].split(";") if f not in (".", "") and not f.startswith(f"{key}=")]
        values = [scores.get((lineno, i)) for i in range(len(cols[4].split(",")))]
        if any(v is not None for v in values):
            info.append(f"{key}=" + ",".join("." if v is None else f"{v:.6g}" for v in values))
        cols[7] = ";".join(info) or "."
        out.write("\t".join(cols) + "\n")
