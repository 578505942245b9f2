"""Cut a genome into contigs, as a draft assembly's, with its reference genes cut to them: the test set for genes
that run off a record's end.

    .venv/bin/python benchmarks/draft_assembly.py --genome bsubtilis_best7003 --contig-length 10000 --out out/draft

writes `OUT/contigs.fna` (record `<seqid>_<start>-<end>`, 1-based inclusive, for each `--contig-length` nt of each
record) and `OUT/reference.gff3`: every reference coding gene (single CDS: bacteria) cut to each contig it
overlaps, in contig coordinates, a cut side marked partial, trimmed to the whole codons of its frame (as Prodigal
and ORF decoding report a partial gene) and kept when at least `--min-length` nt remain (ORF decoding's
`min_cds_length`: shorter pieces no decoder here can call). Then score tools on them with
`benchmarks/baselines.py --fasta OUT/contigs.fna --gff OUT/reference.gff3 ...` (the README gives the command);
with genes at the edges counted, a tool that calls no gene a contig's end cuts misses one or two per contig.
"""

from __future__ import annotations

import argparse
import io
import sys
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from validation_sweep import DATA

from genefinder.formats.atomic_output import atomic_path
from genefinder.formats.errors import GeneFinderInputError
from genefinder.formats.fasta import FastaFile
from genefinder.formats.features import CDSPart, Gene
from genefinder.formats.gff3 import read_gff3, write_gff3
from genefinder.formats.windows import GeneIndex, genes_in_window


def whole_codons(g: Gene) -> Gene | None:
    """`g` (one transcript, one CDS) with a CDS cut on its 5' side moved in to its first whole codon (phase 0)
    and its 3' end to its last whole codon; None if nothing is left."""
    t = g.transcripts[0]
    c = t.cds[0]
    length = c.end - c.start + 1 - c.phase
    length -= length % 3
    if length <= 0:
        return None
    lo, hi = (c.start + c.phase, c.start + c.phase + length - 1) if g.strand == "+" \
        else (c.end - c.phase - length + 1, c.end - c.phase)
    return replace(g, transcripts=(replace(t, exons=(), cds=(CDSPart(lo, hi, 0),)),))


def contigs(fasta: str, gff: str, contig_length: int, min_length: int) -> Iterator[tuple[str, str, list[Gene]]]:
    """(name, sequence, reference genes cut to it in its coordinates) of each contig, in genome order."""
    genome, (genes, _) = FastaFile(fasta), read_gff3(gff)
    coding = [g for g in genes if len(g.transcripts) == 1 and len(g.transcripts[0].cds) == 1]
    for seqid in genome.names:
        index = GeneIndex([g for g in coding if g.seqid == seqid])
        n = genome.length(seqid)
        for start in range(0, n, contig_length):
            length = min(contig_length, n - start)
            name = f"{seqid}_{start + 1}-{start + length}"
            pieces = [whole_codons(g) for g in genes_in_window(index, start, length)]
            yield name, genome.fetch(seqid, start, start + length), [
                replace(p, seqid=name) for p in pieces if p is not None and p.end - p.start + 1 >= min_length]


def cut_genome(fasta: str, gff: str, contig_length: int, min_length: int) -> tuple[str, list[Gene], dict[str, int]]:
    """(FASTA text of the contigs, reference genes cut to them, contig lengths)."""
    fasta_text, cut, lengths = io.StringIO(), [], {}
    for name, seq, genes in contigs(fasta, gff, contig_length, min_length):
        fasta_text.write(f">{name}\n" + "".join(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60)))
        lengths[name] = len(seq)
        cut += genes
    return fasta_text.getvalue(), cut, lengths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--genome", required=True, help="a folder of ../shared/data (genome.fna.gz + annotation.gff3.gz)")
    p.add_argument("--contig-length", type=int, default=10_000, help="nt per contig (default 10,000)")
    p.add_argument("--min-length", type=int, default=60, help="nt a cut reference gene keeps at least (default 60)")
    p.add_argument("--out", type=Path, required=True, help="folder for contigs.fna and reference.gff3")
    args = p.parse_args(argv)
    try:
        if args.contig_length < 1 or args.min_length < 0:
            raise GeneFinderInputError("--contig-length must be >= 1 and --min-length >= 0")
        folder = DATA / args.genome
        fasta_text, genes, lengths = cut_genome(str(folder / "genome.fna.gz"), str(folder / "annotation.gff3.gz"),
                                                args.contig_length, args.min_length)
    except GeneFinderInputError as err:
        print(f"draft_assembly.py: error: {err}", file=sys.stderr)
        return 2
    gff_text = io.StringIO()
    write_gff3(gff_text, genes, lengths, eukaryote=False, source="reference")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in (("contigs.fna", fasta_text), ("reference.gff3", gff_text.getvalue())):
        with atomic_path(args.out / name) as tmp:
            Path(tmp).write_text(text)
    partial = sum(g.transcripts[0].partial_left or g.transcripts[0].partial_right for g in genes)
    print(f"wrote {args.out}/contigs.fna ({len(lengths)} contigs) and {args.out}/reference.gff3 ({len(genes)} genes, "
          f"{partial} of them cut by a contig's end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
