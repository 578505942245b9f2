"""Train a DNA byte-pair-encoding tokenizer the way DNABERT-2 trained its own (`genefinder train-bpe`).

DNABERT-2's recipe, kept so that its tokenizer and ours load, encode and offset the same way: a `tokenizers`
BPE model with `unk_token="[UNK]"`, a `BpeTrainer` with min_frequency 2 and the special tokens
[UNK] [CLS] [SEP] [PAD] [MASK] at ids 0..4, the alphabet A C G T next (ids 5..8), a `Whitespace`
pre-tokenizer (a no-op on normalized DNA) and a template post-processor writing [CLS] $A [SEP]. The corpus
is the genome cut into chunks, each chunk one "word" to the trainer; no other pre-tokenization, so tokens
may be any stretch of DNA.

Sequences pass through `normalize_dna` with U -> T; runs of N are cut out rather than learned, so the
vocabulary is A C G T and their merges, and an N is [UNK] at encoding time as in DNABERT-2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from ..formats.fasta import FastaFile
from ..tokenization.tokenization_dna import DNABERT2_SPECIAL_TOKENS, load_dnabert2_tokenizer, normalize_dna

logger = logging.getLogger(__name__)

ALPHABET = ("A", "C", "G", "T")
_N_RUN = re.compile("N+")


def train_dna_bpe(
    sequences: Iterable[str],
    out_dir: str | os.PathLike,
    *,
    vocab_size: int = 4096,  # DNABERT-2's size
    min_frequency: int = 2,  # DNABERT-2's: a merge must occur at least twice
    chunk_length: int = 2_000,  # pairs lost at chunk edges < 0.1%; longer chunks train slower
    show_progress: bool = False,
) -> PreTrainedTokenizerFast:
    """Learn a BPE vocabulary of `vocab_size` tokens from DNA strings and save it into `out_dir`.

    Writes tokenizer.json, special_tokens_map.json and tokenizer_config.json (tokenizer_class
    PreTrainedTokenizerFast, as DNABERT-2 did), so both `load_dnabert2_tokenizer(out_dir)` and
    `AutoTokenizer.from_pretrained(out_dir)` load it; returns the former. A corpus too small or repetitive
    to support `vocab_size` merges of `min_frequency` gives a smaller vocabulary and a logged warning.
    """
    n_fixed = len(DNABERT2_SPECIAL_TOKENS) + len(ALPHABET)
    if vocab_size < n_fixed:
        raise ValueError(f"`vocab_size` must be at least {n_fixed} (5 special tokens + A C G T), got {vocab_size}")
    if min_frequency < 1:
        raise ValueError(f"`min_frequency` must be at least 1, got {min_frequency}")
    if chunk_length < 2:
        raise ValueError(f"`chunk_length` must be at least 2 bases, got {chunk_length}")

    special_tokens = list(DNABERT2_SPECIAL_TOKENS.values())
    backend = Tokenizer(models.BPE(unk_token=DNABERT2_SPECIAL_TOKENS["unk_token"]))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=special_tokens,
        initial_alphabet=list(ALPHABET),  # A C G T keep ids 5..8 even if a corpus lacks a base
        show_progress=show_progress,
    )
    backend.train_from_iterator(_chunks(sequences, chunk_length), trainer)
    cls, sep = DNABERT2_SPECIAL_TOKENS["cls_token"], DNABERT2_SPECIAL_TOKENS["sep_token"]
    backend.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=f"{cls} $A {sep} $B:1 {sep}:1",
        special_tokens=[(cls, backend.token_to_id(cls)), (sep, backend.token_to_id(sep))],
    )
    if backend.get_vocab_size() < vocab_size:
        logger.warning(
            "the corpus supports only %d tokens of the %d requested (min_frequency=%d)",
            backend.get_vocab_size(), vocab_size, min_frequency,
        )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    backend.save(str(out / "tokenizer.json"))
    (out / "special_tokens_map.json").write_text(json.dumps(DNABERT2_SPECIAL_TOKENS, indent=2) + "\n")
    config = {"tokenizer_class": "PreTrainedTokenizerFast", **DNABERT2_SPECIAL_TOKENS}
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    return load_dnabert2_tokenizer(out)


def _chunks(sequences: Iterable[str], chunk_length: int) -> Iterator[str]:
    """Normalized N-free pieces of at most `chunk_length` bases: the trainer's words."""
    for seq in sequences:
        for run in _N_RUN.split(normalize_dna(seq, keep_u=False)):
            for start in range(0, len(run), chunk_length):
                yield run[start : start + chunk_length]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `genefinder train-bpe`."""
    parser.add_argument("--fasta", required=True, action="append", metavar="FASTA",
                        help="genome FASTA (plain or gzipped); repeat for several genomes")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write the tokenizer into")
    parser.add_argument("--vocab-size", type=int, default=4096, help="tokens in the vocabulary (default 4096)")
    parser.add_argument("--min-frequency", type=int, default=2,
                        help="fewest occurrences for a merge to be learned (default 2)")
    parser.add_argument("--chunk-length", type=int, default=2_000,
                        help="bases per training chunk; merges never cross a chunk edge (default 2000)")


def run(args: argparse.Namespace) -> None:
    """Train on every record of every `--fasta` and save the tokenizer into `--out`."""
    tokenizer = train_dna_bpe(
        _fasta_sequences(args.fasta),
        args.out,
        vocab_size=args.vocab_size,
        min_frequency=args.min_frequency,
        chunk_length=args.chunk_length,
        show_progress=True,
    )
    logger.info("wrote a %d-token BPE tokenizer to %s", len(tokenizer), args.out)


def _fasta_sequences(paths: Iterable[str]) -> Iterator[str]:
    """Each record of each FASTA file, whole, case as in the file; one record in memory at a time."""
    for path in paths:
        fasta = FastaFile(path)
        try:
            for name in fasta.names:
                yield fasta.fetch(name, 0, fasta.length(name))
        finally:
            fasta.close()
