"""NCBI translation tables ("genetic codes") as data: the one place codons, starts and stops are defined.

Each table is the pair of 64-character strings NCBI publishes in `gc.prt`
(https://ftp.ncbi.nih.gov/entrez/misc/data/gc.prt; web page "The Genetic Codes", last updated
25 April 2024), with codons in TCAG order (TTT, TTC, TTA, TTG, TCT, ... GGG):

- `ncbieaa`: the amino acid of each codon, `*` for a stop;
- `sncbieaa`: `M` where the codon may start translation, `*` where it may stop it, `-` otherwise.

The two disagree only in the context-dependent codes 27, 28 and 31, where a codon reads as an amino acid
inside a gene yet may also end one (27: TGA = Trp or stop; 28: TAA, TAG = Gln and TGA = Trp, each also a
stop; 31: TAA, TAG = Glu or stop). `GeneticCode.stops` holds every codon that may end a coding sequence;
`GeneticCode.ambiguous_stops` the ones among them that may also sit inside one. Codes 7, 8 and 17-20 were
retired by NCBI and are not here.

This module is stdlib-only: it is copied beside the Hub files as remote code.

>>> GeneticCode(11).translate("ATGAAACGCATTAGCACCACCATTACCACCACCATCACCATTACCACAGGTAACGGTGCGGGCTGA")
'MKRISTTITTTITITTGNGAG*'
"""

from __future__ import annotations

BASES = "TCAG"  # NCBI order of the 64 codons
CODONS = tuple(a + b + c for a in BASES for b in BASES for c in BASES)
_CODON_INDEX = {c: i for i, c in enumerate(CODONS)}

# id: (name, ncbieaa, sncbieaa), verbatim from NCBI gc.prt.
_TABLES: dict[int, tuple[str, str, str]] = {
    1: ("Standard",
        "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        "---M------**--*----M---------------M----------------------------"),
    2: ("Vertebrate Mitochondrial",
        "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNKKSS**VVVVAAAADDEEGGGG",
        "----------**--------------------MMMM----------**---M------------"),
    3: ("Yeast Mitochondrial",
        "FFLLSSSSYY**CCWWTTTTPPPPHHQQRRRRIIMMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        "----------**----------------------MM---------------M------------"),
    4: ("Mold Mitochondrial; Protozoan Mitochondrial; Coelenterate Mitochondrial; Mycoplasma; Spiroplasma",
        "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        "--MM------**-------M------------MMMM---------------M------------"),
    5: ("Invertebrate Mitochondrial",
        "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNKKSSSSVVVVAAAADDEEGGGG",
        "---M------**--------------------MMMM---------------M------------"),
    6: ("Ciliate Nuclear; Dasycladacean Nuclear; Hexamita Nuclear",
        "FFLLSSSSYYQQCC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        "--------------*--------------------M----------------------------"),
    9: ("Echinoderm Mitochondrial; Flatworm Mitochondrial",
        "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIIMTTTTNNNKSSSSVVVVAAAADDEEGGGG",
        "----------**-----------------------M---------------M------------"),
    10: ("Euplotid Nuclear",
         "FFLLSSSSYY**CCCWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
         "----------**-----------------------M----------------------------"),
    11: ("Bacterial, Archaeal and Plant Plastid",
         "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
         "---M------**--*----M------------MMMM---------------M------------"),
    12: ("Alternative Yeast Nuclear",
         "FFLLSSSSYY**CC*WLLLSPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
         "----------**--*----M---------------M----------------------------"),
    13: ("Ascidian Mitochondrial",
         "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNKKSSGGVVVVAAAADDEEGGGG",
         "---M------**----------------------MM---------------M------------"),
    14: ("Alternative Flatworm Mitochondrial",
         "FFLLSSSSYYY*CCWWLLLLPPPPHHQQRRRRIIIMTTTTNNNKSSSSVVVVAAAADDEEGGGG",
         "-----------*-----------------------M----------------------------"),
    15: ("Blepharisma Macronuclear",
         "FFLLSSSSYY*QCC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
         "----------*---*--------------------M----------------------------"),
    16: ("Chlorophycean Mitochondrial",
         "FFLLSSSSYY*LCC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
         "----------*---*--------------------M----------------------------"),
    21: ("Trematode Mitochondrial",
         "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNNKSSSSVVVVAAAADDEEGGGG",
         "----------**-----------------------M---------------M------------"),
    22: ("Scenedesmus obliquus Mitochondrial",
         "FFLLSS*SYY*LCC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
         "------*---*---*--------------------M----------------------------"),
    23: ("Thraustochytrium Mitochondrial",
         "FF*LSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
         "--*-------**--*-----------------M--M---------------M------------"),
    24: ("Rhabdopleuridae Mitochondrial",
         "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSSKVVVVAAAADDEEGGGG",
         "---M------**-------M---------------M---------------M------------"),
    25: ("Candidate Division SR1 and Gracilibacteria",
         "FFLLSSSSYY**CCGWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
         "---M------**-----------------------M---------------M------------"),
    26: ("Pachysolen tannophilus Nuclear",
         "FFLLSSSSYY**CC*WLLLAPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
         "----------**--*----M---------------M----------------------------"),
    27: ("Karyorelict Nuclear",
         "FFLLSSSSYYQQCCWWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
         "--------------*--------------------M----------------------------"),
    28: ("Condylostoma Nuclear",
         "FFLLSSSSYYQQCCWWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
         "----------**--*--------------------M----------------------------"),
    29: ("Mesodinium Nuclear",
         "FFLLSSSSYYYYCC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
         "--------------*--------------------M----------------------------"),
    30: ("Peritrich Nuclear",
         "FFLLSSSSYYEECC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
         "--------------*--------------------M----------------------------"),
    31: ("Blastocrithidia Nuclear",
         "FFLLSSSSYYEECCWWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
         "----------**-----------------------M----------------------------"),
    32: ("Balanophoraceae Plastid",
         "FFLLSSSSYY*WCC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
         "---M------*---*----M------------MMMM---------------M------------"),
    33: ("Cephalodiscidae Mitochondrial",
         "FFLLSSSSYYY*CCWWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSSKVVVVAAAADDEEGGGG",
         "---M-------*-------M---------------M---------------M------------"),
}

TABLES = tuple(sorted(_TABLES))  # the table ids this module knows


def codon_index(codon: str) -> int:
    """Index of `codon` in TCAG order (0-63), or 64 for anything else (N, IUPAC codes, wrong length)."""
    return _CODON_INDEX.get(codon.upper().replace("U", "T"), 64)


class GeneticCode:
    """One NCBI translation table: start and stop codons, and translation.

    >>> code = GeneticCode(4)
    >>> sorted(code.stops), code.translate("TGA")
    (['TAA', 'TAG'], 'W')
    """

    def __init__(self, table: int = 11):
        if isinstance(table, bool) or not isinstance(table, int) or table not in _TABLES:
            raise ValueError(f"genetic code table {table!r} is not an NCBI translation table known here "
                             f"(known: {', '.join(map(str, TABLES))})")
        self.table = table
        self.name, self.amino_acids, starts_line = _TABLES[table]
        self.starts = frozenset(c for c, s in zip(CODONS, starts_line) if s == "M")
        self.stops = frozenset(c for c, a, s in zip(CODONS, self.amino_acids, starts_line) if "*" in (a, s))
        # stops that the table also reads as an amino acid: allowed inside a coding sequence
        self.ambiguous_stops = frozenset(c for c, a in zip(CODONS, self.amino_acids) if c in self.stops and a != "*")

    def __repr__(self) -> str:
        return f"GeneticCode({self.table})  # {self.name}"

    def is_start(self, codon: str) -> bool:
        return codon.upper().replace("U", "T") in self.starts

    def is_stop(self, codon: str) -> bool:
        return codon.upper().replace("U", "T") in self.stops

    def translate(self, cds: str) -> str:
        """Protein of `cds` read from its first base in steps of 3 (a trailing 1-2 nt are ignored).

        `*` marks a stop, `X` a codon with N or another IUPAC code; case and U/T do not matter. The first
        codon is translated like any other (GTG gives V, not M); an ambiguous stop reads as its amino acid.
        """
        aa = self.amino_acids
        return "".join(aa[i] if i < 64 else "X" for i in (codon_index(cds[j:j + 3]) for j in range(0, len(cds) - 2, 3)))

    # Lookup rows over codon_index (0-64; 64 = not a plain codon) for vectorised scans of a sequence.
    def start_lookup(self) -> list[bool]:
        return [c in self.starts for c in CODONS] + [False]

    def stop_lookup(self) -> list[bool]:
        """Codons that may end a CDS."""
        return [c in self.stops for c in CODONS] + [False]

    def internal_stop_lookup(self) -> list[bool]:
        """Codons that may not occur in frame inside a CDS (stops that are not also amino acids)."""
        return [c in self.stops and c not in self.ambiguous_stops for c in CODONS] + [False]
