"""Held-out genomes from other phyla and from archaea, fetched from Debian packages that ship them as test data.

    .venv/bin/python benchmarks/debian_genomes.py                 # all of them, into out/NAME/
    .venv/bin/python benchmarks/debian_genomes.py lkirschneri_h1  # one

The genomes of ../shared/data hold two bacteria the model never saw (B. subtilis, M. genitalium), both
Firmicutes/Mollicutes, and no archaeon. Some Debian packages ship whole annotated genomes as GenBank test files
(`GENOMES`): a RefSeq draft of a spirochaete annotated by NCBI's Prokaryotic Genome Annotation Pipeline (2017;
GeneMarkS+ and protein homology), and complete genomes with their submitters' annotations of 1997-2006 (two
alphaproteobacteria and four archaea), all from before Prodigal (2010) or made without it. apt reaches Debian's
archive from any machine this project runs on, so anyone can rebuild the same files: this script downloads each
package once (`apt-get download`, no root needed), unpacks it (`dpkg -x`) and writes, per genome,
`out/NAME/genome.fna.gz` (every record of the GenBank file) and `out/NAME/annotation.gff3.gz` (gene -> CDS, the
layout `genefinder evaluate` reads, as NCBI's own prokaryote GFF3s are), then prints their sha256s.
Every CDS is kept; a pseudogene's (`/pseudo`) is written as a `pseudogene` row over its span instead, as NCBI's
GFF3s write them (the evaluation leaves pseudogenes out of the reference genes, and `genefinder errors` names a
call inside one); a CDS cut by a contig's end (`<` / `>` in its location) is written partial, and a CDS of
several parts (`join`: programmed frameshifts) keeps its parts, phased in transcription order from its
`/codon_start`. It prints what it wrote, with a census of the start codons of the whole one-part CDS (an
annotation may place starts by protein homology at codons such as ATT or CTG, which no ORF-based gene finder
reads as starts). GenBank is read with Biopython (the `baselines` extra).
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
from dataclasses import dataclass
from pathlib import Path

from genefinder.formats.atomic_output import atomic_path
from genefinder.formats.errors import GeneFinderInputError
from genefinder.formats.features import CDSPart, Gene, Transcript
from genefinder.formats.gff3 import write_gff3
from genefinder.formats.windows import reverse_complement

CCT = "usr/share/doc/cct/examples/sample_projects"


@dataclass(frozen=True)
class Source:
    """Where a genome's GenBank file lies: a Debian package and the path inside it; what it is."""

    package: str
    path: str
    organism: str


GENOMES = {
    "lkirschneri_h1": Source(
        "any2fasta-examples", "usr/share/doc/any2fasta/examples/test.gbk.gz",
        "Leptospira kirschneri str. H1 (spirochaete; RefSeq GCF_000243915.1, 75 contigs, PGAP 2017)"),
    "rdenitrificans_och114": Source("cct-examples", "usr/share/cct/lib/scripts/get_cds/test_input/R_denitrificans.gbk",
                                    "Roseobacter denitrificans OCh 114 (alphaproteobacterium; NC_008209, 2006)"),
    "bjaponicum_usda110": Source("cct-examples", f"{CCT}/sample_project_3/reference_genome/NC_004463.gbk.gz",
                                 "Bradyrhizobium japonicum USDA 110 (alphaproteobacterium; NC_004463, 2002)"),
    "mmaripaludis_s2": Source("cct-examples",
                              f"{CCT}/sample_project_2/comparison_genomes/Methanococcus_maripaludis.gbk.gz",
                              "Methanococcus maripaludis S2 (archaeon; NC_005791, 2004)"),
    "macetivorans_c2a": Source("cct-examples",
                               f"{CCT}/sample_project_2/comparison_genomes/Methanosarcina_acetivorans.gbk.gz",
                               "Methanosarcina acetivorans C2A (archaeon; NC_003552, 2002)"),
    "tkodakaraensis_kod1": Source("cct-examples",
                                  f"{CCT}/sample_project_2/comparison_genomes/Thermococcus_kodakaraensis.gbk.gz",
                                  "Thermococcus kodakaraensis KOD1 (archaeon; NC_006624, 2005)"),
    "mthermautotrophicus_deltah": Source(
        "cct-examples", f"{CCT}/sample_project_2/reference_genome/Methanobacterium_thermoautotrophicum.gbk.gz",
        "Methanothermobacter thermautotrophicus Delta H (archaeon; NC_000916, 1997)"),
}


def unpack(package: str, workdir: Path) -> Path:
    """The folder Debian package `package` is unpacked into, downloaded under `workdir`."""
    try:
        subprocess.run(["apt-get", "download", package], cwd=workdir, check=True, capture_output=True, text=True)
        deb = next(workdir.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(workdir / package)], check=True, capture_output=True, text=True)
    except FileNotFoundError as err:
        raise GeneFinderInputError(f"needs Debian's apt-get and dpkg ({err.filename} not found)") from None
    except subprocess.CalledProcessError as err:
        raise GeneFinderInputError(f"{' '.join(err.cmd[:2])} {package} failed: "
                                   f"{err.stderr.strip().splitlines()[-1:]}") from None
    return workdir / package


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


def convert(genbank: Path, out: Path, source: Source) -> dict[str, int]:
    """genome.fna.gz and annotation.gff3.gz in `out` from the GenBank file; returns counts for the summary."""
    from Bio import SeqIO

    lengths, genes, pseudogenes, starts = {}, [], [], Counter()
    counts = {"records": 0, "CDS": 0, "multi-part CDS": 0}
    fasta = io.StringIO()
    with (gzip.open(genbank, "rt") if genbank.suffix == ".gz" else open(genbank)) as fh:
        for record in SeqIO.parse(fh, "genbank"):
            seqid = record.id
            lengths[seqid] = len(record.seq)
            fasta.write(f">{seqid} {record.description}\n")
            seq = str(record.seq)
            fasta.write("".join(seq[i:i + 80] + "\n" for i in range(0, len(seq), 80)))
            counts["records"] += 1
            decayed = set()  # a pseudogene's span, from its gene feature, its CDS feature or both
            for f in record.features:
                if f.type in ("gene", "CDS") and ("pseudo" in f.qualifiers or "pseudogene" in f.qualifiers):
                    strand = "+" if f.location.strand == 1 else "-"
                    decayed.add((int(f.location.start) + 1, int(f.location.end), strand))
                elif f.type == "CDS":
                    counts["CDS"] += 1
                    counts["multi-part CDS"] += len(f.location.parts) > 1
                    genes.append(cds_gene(f, seqid))
                    starts.update(start_codon(genes[-1], seq))
            for start, end, strand in sorted(decayed):
                pseudogenes.append(f"{seqid}\tRefSeq\tpseudogene\t{start}\t{end}\t.\t{strand}\t.\t"
                                   f"ID={seqid}_pseudo{len(pseudogenes) + 1}\n")
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "genome.fna.gz") as tmp:
        with gzip.GzipFile(tmp, "wb", mtime=0) as gz:
            gz.write(fasta.getvalue().encode())
    gff = io.StringIO()
    write_gff3(gff, genes, lengths, eukaryote=False, source="RefSeq",
               pragmas=(f"converted by benchmarks/debian_genomes.py from Debian {source.package}: {source.path}",))
    gff.write("".join(pseudogenes))
    with atomic_path(out / "annotation.gff3.gz") as tmp:
        with gzip.GzipFile(tmp, "wb", mtime=0) as gz:
            gz.write(gff.getvalue().encode())
    counts["pseudogenes"] = len(pseudogenes)
    counts["whole one-part CDS"] = sum(starts.values())
    counts["of which start at ATG/GTG/TTG"] = sum(starts[c] for c in ("ATG", "GTG", "TTG"))
    counts["at another codon"] = ", ".join(f"{c} {n}" for c, n in starts.most_common()
                                           if c not in ("ATG", "GTG", "TTG"))
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
    ap.add_argument("names", nargs="*", metavar="NAME", help=f"genomes to write (default: all): {', '.join(GENOMES)}")
    ap.add_argument("--out-dir", type=Path, default=Path("out"), help="each genome goes to OUT_DIR/NAME/")
    args = ap.parse_args(argv)
    names = args.names or list(GENOMES)
    if set(names) - set(GENOMES):
        ap.error(f"unknown genome(s) {', '.join(sorted(set(names) - set(GENOMES)))}; known: {', '.join(GENOMES)}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            unpacked = {}
            for name in names:
                source = GENOMES[name]
                if source.package not in unpacked:
                    unpacked[source.package] = unpack(source.package, Path(tmp))
                out = args.out_dir / name
                counts = convert(unpacked[source.package] / source.path, out, source)
                print(f"{name}: {source.organism}")
                print("  " + "; ".join(f"{k}: {v:,}" if isinstance(v, int) else f"{k}: {v}" for k, v in counts.items()))
                for file in ("genome.fna.gz", "annotation.gff3.gz"):
                    with gzip.open(out / file, "rb") as fh:
                        digest = hashlib.sha256(fh.read()).hexdigest()
                    print(f"  {out / file}: sha256 of the uncompressed file {digest}")
    except GeneFinderInputError as err:
        print(f"debian_genomes.py: error: {err}", file=sys.stderr)
        return 2
    except ImportError:
        print("debian_genomes.py: error: needs Biopython: pip install -e '.[baselines]'", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
