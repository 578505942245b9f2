"""`genefinder fit-coding-library MODEL_DIR --fasta G.fa --gff G.gff3 ...`: count the pre-trained coding statistics
that inputs too short to self-train on read (coding_library.py) and write them into the model folder.

Each genome's counts come from the train blocks alone (`build-dataset --split-by region`'s split, as
`genefinder fit-starts` fits the start scorer), so its validation and test blocks stay unseen: the reference genes
wholly inside a train block, single-CDS and complete, and every hexamer of both of the block's strands. Every
genome must use the model's genetic code: the statistics weigh stop-free ORFs of that code.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterator

from ..annotation.annotation import AnnotationSettings
from ..datasets_scripts.build_dataset import add_pair_arguments, load_genome, sources_from_args, split_regions
from ..decoding.genetic_code import GeneticCode
from ..decoding.strands import Strand, record_strands
from ..formats.errors import GeneFinderInputError
from ..formats.features import Gene
from ..formats.windows import shift_genes
from ..models.network_free_model import read_config
from .coding_library import LIBRARY_FILE, CodingLibrary


def train_block_records(source, code: GeneticCode,
                        min_length: int) -> Iterator[tuple[tuple[Strand, Strand], list[Gene]]]:
    """(strands of a train block, its complete single-CDS reference genes in block coordinates) per train block."""
    fa, genes_by_seq = load_genome(source, coding_only=True)
    for split, seqid, lo, hi in split_regions(fa, "region", 0.1, 0.1):
        if split != "train":
            continue
        genes = [g for g in genes_by_seq.get(seqid, []) if lo < g.start and g.end <= hi
                 and len(g.transcripts[0].cds) == 1
                 and not (g.transcripts[0].partial_left or g.transcripts[0].partial_right)]
        yield record_strands(fa.fetch(seqid, lo, hi), code, min_length), shift_genes(genes, -lo)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model folder (config.json + model.safetensors); the library is written into it")
    add_pair_arguments(parser)
    parser.add_argument("--overwrite", action="store_true", help=f"replace the folder's {LIBRARY_FILE}")


def run(args) -> None:
    folder = Path(args.model)
    if not (folder / "config.json").is_file():
        raise GeneFinderInputError("not a model folder (no config.json)", str(folder))
    if (folder / LIBRARY_FILE).exists() and not args.overwrite:
        raise GeneFinderInputError(f"{LIBRARY_FILE} exists; pass --overwrite to replace it", str(folder))
    table = int(read_config(str(folder)).get("genetic_code", 11))
    sources = sources_from_args(args)
    for src in sources:
        if src.genetic_code != table:
            raise GeneFinderInputError(f"genetic code {src.genetic_code} differs from the model's {table}", src.fasta)
    code, min_length = GeneticCode(table), AnnotationSettings.min_cds_length
    library = CodingLibrary.count(((src.organism, train_block_records(src, code, min_length)) for src in sources),
                                  table)
    for src, genes in zip(sources, library.coding.sum(1)):
        if not genes:  # an annotation without coding genes there would teach that nothing is coding
            raise GeneFinderInputError("no complete single-CDS reference gene lies in the train blocks (the first "
                                       "80% of each record): nothing to count coding hexamers on", src.gff)
    for name, gc, genes in zip(library.names, library.gc, library.coding.sum(1)):
        print(f"{name:<28} GC {gc:.3f}  coding hexamers {genes:>10,}")
    print(f"wrote {library.save(str(folder))}")
