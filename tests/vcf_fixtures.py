"""A VCF of synthetic variants at real positions of a real genome slice (E. coli K-12, first 20 kb).

Every REF is the genome's base at that position; ALTs cycle through the other bases. Besides the SNVs the file
holds what real VCFs hold and scoring must skip: a multi-allelic record mixing an SNV with an indel, an
MNP, a symbolic ALT, a spanning deletion `*`, a monomorphic site, and meta/header lines.
"""

from __future__ import annotations

import gzip
import random

from real_data import write_slice

SEQID, SLICE = "NC_000913.3", 20_000
HEADER = ("##fileformat=VCFv4.2\n##contig=<ID=NC_000913.3,length=4641652>\n"
          '##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">\n'
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")


def ecoli_slice(tmp_path):
    """(FASTA path of E. coli's first 20 kb, that sequence)."""
    fa, _ = write_slice(tmp_path, "ecoli_k12_mg1655", SEQID, SLICE)
    seq = "".join(line.strip() for line in fa.read_text().splitlines()[1:])
    return fa, seq


def snv_positions(n: int, seed: int = 0, length: int = SLICE) -> list[int]:
    """n distinct sorted 1-based positions, including both ends of the slice (windows cut at contig ends)."""
    rng = random.Random(seed)
    return sorted({1, length, *rng.sample(range(2, length), n - 2)})


def write_vcf(path, seq: str, positions: list[int], gz: bool = False, extras: bool = True) -> list[tuple]:
    """Write the VCF; return the expected SNV rows (pos, ref, alt) in file order."""
    rows, expected = [], []
    for k, pos in enumerate(positions):
        ref = seq[pos - 1].upper()
        alt = [b for b in "ACGT" if b != ref][k % 3]
        rows.append(f"{SEQID}\t{pos}\tsnv{k}\t{ref}\t{alt}\t50\tPASS\tDP={10 + k}")
        expected.append((pos, ref, alt))
    if extras:
        p = positions[len(positions) // 2] + 1
        ref = seq[p - 1].upper()
        alts = [b for b in "ACGT" if b != ref]
        rows += [
            f"{SEQID}\t{p}\tmulti\t{ref}\t{alts[0]},{ref}TT,{alts[1]}\t50\tPASS\t.",  # 2 SNVs + 1 indel
            f"{SEQID}\t{p + 1}\tmnp\t{seq[p:p + 2].upper()}\tNN\t50\tPASS\t.",
            f"{SEQID}\t{p + 2}\tsv\t{seq[p + 1].upper()}\t<DEL>\t50\tPASS\tSVTYPE=DEL",
            f"{SEQID}\t{p + 3}\tstar\t{seq[p + 2].upper()}\t*\t50\tPASS\t.",
            f"{SEQID}\t{p + 4}\tmono\t{seq[p + 3].upper()}\t.\t50\tPASS\t.",
        ]
        expected += [(p, ref, alts[0]), (p, ref, alts[1])]
    text = HEADER + "\n".join(rows) + "\n"
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return expected
