"""`genefinder slice-genome`: one region of a genome with the genes lying wholly inside it, as a small test set.

Writes `PREFIX.fna.gz` (the region as its own record, named `<seqid>_<start>-<end>`) and `PREFIX.gff3.gz` (the
reference genes wholly inside, shifted so the region's first base is position 1; genes cut by the region's
edges are left out, because a partial reference gene can be neither found nor missed fairly). The bundled
example genome (examples/) was made this way, from a genome held out of training, so that the README's
main job scores the default model on DNA it has never seen.

Both files are written atomically (temporary name, then rename) and gzip's header carries no time stamp,
so the same command writes byte-identical files.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
from dataclasses import replace
from pathlib import Path

from ..formats.errors import GeneFinderInputError
from ..formats.fasta import FastaFile
from ..formats.gff3 import read_gff3, write_gff3
from ..formats.windows import shift_genes


def slice_genome(fasta: str, gff: str, seqid: str, start: int, end: int, prefix: str) -> tuple[Path, Path, int]:
    """Write the region [start, end] (1-based, inclusive) and its whole genes; returns the two paths and the gene count."""
    genome = FastaFile(fasta)
    if seqid not in genome:
        raise GeneFinderInputError(f"sequence {seqid!r} not in the FASTA", fasta)
    length = genome.length(seqid)
    if not 1 <= start <= end <= length:
        raise GeneFinderInputError(f"region {start}-{end} must satisfy 1 <= start <= end <= {length} "
                                   f"(length of {seqid})", fasta)
    seq = genome.fetch(seqid, start - 1, end)  # 0-based half-open
    genes, _ = read_gff3(gff)
    name = f"{seqid}_{start}-{end}"
    inside = [g for g in genes if g.seqid == seqid and start <= g.start and g.end <= end]
    shifted = [replace(g, seqid=name) for g in shift_genes(inside, 1 - start)]
    fasta_text = f">{name} {seqid}:{start}-{end} of {Path(fasta).name}\n" + "".join(
        seq[i:i + 60] + "\n" for i in range(0, len(seq), 60))
    gff_text = io.StringIO()
    write_gff3(gff_text, shifted, {name: len(seq)}, eukaryote=False, source="reference")
    out_fa, out_gff = Path(f"{prefix}.fna.gz"), Path(f"{prefix}.gff3.gz")
    for path, text in ((out_fa, fasta_text), (out_gff, gff_text.getvalue())):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as fh:
            fh.write(text.encode())
        os.replace(tmp, path)
    return out_fa, out_gff, len(shifted)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fasta", required=True, help="genome FASTA (plain or .gz)")
    p.add_argument("--gff", required=True, help="its GFF3 annotation")
    p.add_argument("--region", required=True, help="SEQID:START-END, 1-based inclusive (e.g. Chromosome:1-200000)")
    p.add_argument("--out-prefix", required=True, help="writes PREFIX.fna.gz and PREFIX.gff3.gz")


def parse_region(text: str) -> tuple[str, int, int]:
    seqid, sep, span = text.rpartition(":")
    start, dash, end = span.replace(",", "").partition("-")
    if not (sep and dash and start.isdigit() and end.isdigit()):
        raise GeneFinderInputError(f"--region must look like SEQID:START-END, got {text!r}")
    return seqid, int(start), int(end)


def run(args) -> int:
    seqid, start, end = parse_region(args.region)
    out_fa, out_gff, n = slice_genome(args.fasta, args.gff, seqid, start, end, args.out_prefix)
    print(f"wrote {out_fa} ({end - start + 1:,} nt) and {out_gff} ({n} genes wholly inside)")
    return 0
