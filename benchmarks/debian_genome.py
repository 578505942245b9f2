"""A held-out bacterial genome from another phylum, fetched from Debian: Leptospira kirschneri str. H1.

    .venv/bin/python benchmarks/debian_genome.py --out out/lkirschneri_h1

The genomes of ../shared/data hold two bacteria the model never saw (B. subtilis, M. genitalium), both
Firmicutes/Mollicutes. Debian's `any2fasta-examples` package ships, as its GenBank test file, the RefSeq record of
a whole draft genome of a spirochaete: *Leptospira kirschneri* str. H1 (GCF_000243915.1, 75 contigs, 4.59 Mb,
GC ~36%), annotated by NCBI's Prokaryotic Genome Annotation Pipeline (2017; GeneMarkS+ with protein homology, so
not Prodigal's calls). apt reaches Debian's archive from any machine this project runs on, so anyone can rebuild
the same files: this script downloads the package (`apt-get download`, no root needed), unpacks it (`dpkg -x`) and
writes `genome.fna.gz` (every record, as in the GenBank file) and `annotation.gff3.gz` (gene -> CDS, the layout
`genefinder evaluate` reads, as NCBI's own prokaryote GFF3s are) into `--out`, then prints their sha256s.
Every CDS is kept; a pseudogene's (`/pseudo`) is written as a `pseudogene` row over its span instead, as NCBI's
GFF3s write them (the evaluation leaves pseudogenes out of the reference genes, and `genefinder errors` names a
call inside one); a CDS cut by a contig's end (`<` / `>` in its location) is written partial, and a CDS of several parts (`join`: programmed frameshifts)
keeps its parts, phased in transcription order from its `/codon_start`. It prints what it wrote, with a census of
the start codons of the whole one-part CDS (PGAP places some starts by protein homology at codons such as ATT
or CTG, which no ORF-based gene finder reads as starts), and the files' sha256s. GenBank is read with Biopython
(the `baselines` extra).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from genefinder.atomic_output import atomic_path
from genefinder.errors import GeneFinderInputError
from genefinder.features import CDSPart, Gene, Transcript
from genefinder.gff3 import write_gff3
from genefinder.windows import reverse_complement

PACKAGE = "any2fasta-examples"
GENBANK = "usr/share/doc/any2fasta/examples/test.gbk.gz"


def fetch_genbank(workdir: Path) -> Path:
    """The package's GenBank file, downloaded and unpacked under `workdir`."""
    try:
        subprocess.run(["apt-get", "download", PACKAGE], cwd=workdir, check=True, capture_output=True, text=True)
        deb = next(workdir.glob(f"{PACKAGE}_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(workdir / "x")], check=True, capture_output=True, text=True)
    except FileNotFoundError as err:
        raise GeneFinderInputError(f"needs Debian's apt-get and dpkg ({err.filename} not found)") from None
    except subprocess.CalledProcessError as err:
        raise GeneFinderInputError(f"{' '.join(err.cmd[:2])} failed: {err.stderr.strip().splitlines()[-1:]}") from None
    return workdir / "x" / GENBANK


def cds_model(parts: list[tuple[int, int]], strand: str, codon_start: int, seqid: str,
              cut_left: bool = False, cut_right: bool = False) -> Gene:
    """A CDS of 1-based inclusive `parts` in transcription order (GenBank's `join` order) as a bacterial gene ->
    CDS model: each part phased by the nt of codons read before it, the first by `codon_start` (1-3)."""
    phased, read = [], 1 - codon_start  # nt of whole codons read before each part
    for start, end in parts:
        phased.append(CDSPart(start, end, codon_start - 1 if not phased else -read % 3))
        read += end - start + 1
    mrna = Transcript("mRNA", cds=tuple(sorted(phased)), partial_left=cut_left, partial_right=cut_right)
    return Gene(strand, (mrna,), seqid=seqid)


def cds_gene(feature, seqid: str) -> Gene:
    """A GenBank CDS feature (Biopython `SeqFeature`) as `cds_model`: `<` / `>` in its location cut it."""
    from Bio.SeqFeature import AfterPosition, BeforePosition

    loc = feature.location
    return cds_model([(int(p.start) + 1, int(p.end)) for p in loc.parts], "+" if loc.strand == 1 else "-",
                     int(feature.qualifiers.get("codon_start", ["1"])[0]), seqid,
                     isinstance(loc.start, BeforePosition), isinstance(loc.end, AfterPosition))


def convert(genbank: Path, out: Path) -> dict[str, int]:
    """genome.fna.gz and annotation.gff3.gz in `out` from the GenBank file; returns counts for the summary."""
    from Bio import SeqIO

    lengths, genes, pseudogenes, starts = {}, [], [], Counter()
    counts = {"records": 0, "CDS": 0, "pseudogenes": 0, "multi-part CDS": 0}
    fasta = io.StringIO()
    with gzip.open(genbank, "rt") as fh:
        for record in SeqIO.parse(fh, "genbank"):
            seqid = record.id
            lengths[seqid] = len(record.seq)
            fasta.write(f">{seqid} {record.description}\n")
            seq = str(record.seq)
            fasta.write("".join(seq[i:i + 80] + "\n" for i in range(0, len(seq), 80)))
            counts["records"] += 1
            for f in record.features:
                if f.type != "CDS":
                    continue
                if "pseudo" in f.qualifiers or "pseudogene" in f.qualifiers:
                    counts["pseudogenes"] += 1
                    strand = "+" if f.location.strand == 1 else "-"
                    pseudogenes.append(f"{seqid}\tRefSeq\tpseudogene\t{int(f.location.start) + 1}\t"
                                       f"{int(f.location.end)}\t.\t{strand}\t.\tID={seqid}_pseudo{len(pseudogenes) + 1}\n")
                    continue
                counts["CDS"] += 1
                counts["multi-part CDS"] += len(f.location.parts) > 1
                genes.append(cds_gene(f, seqid))
                starts.update(start_codon(genes[-1], seq))
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "genome.fna.gz") as tmp:
        with gzip.GzipFile(tmp, "wb", mtime=0) as gz:
            gz.write(fasta.getvalue().encode())
    gff = io.StringIO()
    write_gff3(gff, genes, lengths, eukaryote=False, source="RefSeq",
               pragmas=(f"converted by benchmarks/debian_genome.py from Debian {PACKAGE}: {GENBANK}",))
    gff.write("".join(pseudogenes))
    with atomic_path(out / "annotation.gff3.gz") as tmp:
        with gzip.GzipFile(tmp, "wb", mtime=0) as gz:
            gz.write(gff.getvalue().encode())
    counts["whole one-part CDS"] = sum(starts.values())
    counts["of which start at ATG/GTG/TTG"] = sum(starts[c] for c in ("ATG", "GTG", "TTG"))
    counts["at another codon"] = ", ".join(f"{c} {n}" for c, n in starts.most_common() if c not in ("ATG", "GTG", "TTG"))
    return counts


def start_codon(gene: Gene, seq: str) -> list[str]:
    """[the start codon] of a one-part CDS cut by no contig end, [] otherwise: the census says how many reference
    starts lie at codons ORF-based gene finders do not consider (ATG, GTG and TTG are what they read)."""
    t = gene.transcripts[0]
    if len(t.cds) > 1 or t.partial_left or t.partial_right:
        return []
    cds = seq[gene.start - 1:gene.end].upper()
    return [(cds if gene.strand == "+" else reverse_complement(cds))[:3]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("out/lkirschneri_h1"))
    args = ap.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            counts = convert(fetch_genbank(Path(tmp)), args.out)
    except GeneFinderInputError as err:
        print(f"debian_genome.py: error: {err}", file=sys.stderr)
        return 2
    except ImportError:
        print("debian_genome.py: error: needs Biopython: pip install -e '.[baselines]'", file=sys.stderr)
        return 2
    print("; ".join(f"{k}: {v:,}" if isinstance(v, int) else f"{k}: {v}" for k, v in counts.items()))
    for name in ("genome.fna.gz", "annotation.gff3.gz"):
        with gzip.open(args.out / name, "rb") as fh:
            print(f"{args.out / name}: sha256 of the uncompressed file {hashlib.sha256(fh.read()).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
