"""`genefinder check-tokenizer`: decode(encode(genes)) == genes over every window of whole genomes.

Uses the dataset builder's own window iterator on whole records (both orientations), with all transcripts
kept (RNA genes and UTR exons included), so what it checks is a superset of what training data holds.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..tokenization_gff import GFFTokenizer
from .build_dataset import add_pair_arguments, iter_windows, load_genome, sources_from_args


def count_roundtrip(source, window: int, stride: int) -> dict:
    tokenizer = GFFTokenizer()
    fa, genes = load_genome(source, coding_only=False)
    counts = {"windows": 0, "genes": 0, "tokens": 0, "mismatches": 0}
    for name in fa.names:
        for _, w_len, _, _, w_genes in iter_windows(fa, genes, name, 0, fa.length(name), window, stride, True):
            ids = tokenizer.encode_genes(w_genes)
            counts["windows"] += 1
            counts["genes"] += len(w_genes)
            counts["tokens"] += len(ids)
            counts["mismatches"] += tokenizer.decode_genes(ids, window_length=w_len) != w_genes
    return counts


def add_arguments(parser) -> None:
    add_pair_arguments(parser, required=False)
    parser.add_argument("--data-dir", help="check every <dir>/*/genome.fna.gz + annotation.gff3.gz pair")
    parser.add_argument("--window", type=int, default=8192)
    parser.add_argument("--stride", type=int, default=4096)


def run(args) -> int:
    total = 0
    print(f"{'organism':<22}{'windows':>9}{'genes':>9}{'tokens':>11}{'mismatches':>12}{'seconds':>9}")
    if args.data_dir:
        pairs = sorted(p.parent for p in Path(args.data_dir).glob("*/genome.fna.gz"))
        args.fasta = [str(p / "genome.fna.gz") for p in pairs]
        args.gff = [str(p / "annotation.gff3.gz") for p in pairs]
    for src in sources_from_args(args):
        t0 = time.time()
        c = count_roundtrip(src, args.window, args.stride)
        total += c["mismatches"]
        print(f"{src.organism:<22}{c['windows']:>9}{c['genes']:>9}{c['tokens']:>11}{c['mismatches']:>12}"
              f"{time.time() - t0:>9.1f}")
    print(f"total mismatches: {total}")
    return 1 if total else 0
