"""DNA tokenizers: single nucleotides with AIDO.DNA's ids, and DNABERT-2's byte-pair encoding (BPE).

Both read DNA through one policy, `normalize_dna`, so a genome gives the same tokens whatever its case:

- lowercase bases are upper-cased: soft-masking marks repeats, it is not a different base;
- the IUPAC ambiguity codes R Y K M S W B D H V (either case) become N: neither vocabulary has them, and
  a model can learn one "unknown base" but not ten rare ones;
- U stays U for the character tokenizer (AIDO.DNA's vocabulary has U, id 9) and becomes T for BPE
  (DNABERT-2's alphabet is A C G T);
- anything else (gaps, digits, whitespace, `*`) raises a ValueError naming the character and its
  0-based position: a FASTA file with such bytes is broken, and silently tokenizing it would hide that.

The policy is length-preserving, so positions in the normalized string are positions in the genome and
BPE offsets can be used as genome coordinates.

What the published DNABERT-2 tokenizer (zhihan1996/DNABERT-2-117M, tokenizer.json) does by itself, and
why we wrap it rather than call it on raw text:

- no normalizer: lowercase `acgt` is [UNK], one per base;
- BPE model with `unk_token="[UNK]"`, `fuse_unk=false` and alphabet A C G T: every N (or any other
  character) is its own [UNK] (id 0) of width 1, and no merge crosses it;
- a `Whitespace` pre-tokenizer (`\\w+|[^\\w\\s]+`): whitespace is dropped silently and punctuation starts
  a new word, so offsets would no longer tile the input (normalize_dna rejects both first);
- truncation to 636 tokens and batch padding (pad id 3) are baked into the file: a 5 kb sequence comes
  back cut to its first ~3 kb with no warning. `load_dnabert2_tokenizer` switches both off;
- no decoder: `decode` joins tokens with spaces ("A CGTA GCA"), so decode does not invert encode;
- loading the published folder with `AutoTokenizer` (transformers 5.23) picks `BertTokenizer` from config.json
  (`model_type: bert`, no tokenizer_config.json) and turns every sequence into one [UNK];
  `load_dnabert2_tokenizer` builds the tokenizer from tokenizer.json instead.

So genome code encodes through `encode_bpe(tokenizer, seq)`: normalize_dna (U -> T), then the unchanged
BPE model; N reaches it as N and comes out as [UNK].

`DNAKmerTokenizer` (k = 3) reads non-overlapping codons, for codon-level encoders (`GeneFinderEncoderConfig(
kmer=3)`): token i covers nucleotides 3i..3i+2 of the sequence as given (the caller chooses the frame). A codon
holding an N (or an IUPAC code) is [UNK]; a trailing 1-2 nt remainder is one [UNK] as well, so every nucleotide
lies in exactly one token and no input is silently shortened. U reads as T (RNA codons are the same codons).

This file is Hub remote code: it imports only the standard library, torch, transformers and tokenizers.
"""

from __future__ import annotations

import json
import os

import torch
from tokenizers import Tokenizer
from transformers import BatchEncoding, PreTrainedTokenizer, PreTrainedTokenizerFast

from .genetic_code import BASES as CODON_BASES
from .genetic_code import CODONS

IUPAC_AMBIGUITY_CODES = "RYKMSWBDHV"

# AIDO.DNA's vocabulary, in id order: [PAD]=0 [MASK]=1 [CLS]=2 [SEP]=3 [UNK]=4 A=5 G=6 C=7 T=8 U=9 N=10.
AIDO_DNA_VOCAB = ("[PAD]", "[MASK]", "[CLS]", "[SEP]", "[UNK]", "A", "G", "C", "T", "U", "N")

# DNABERT-2's special tokens (ids 0..4 in its tokenizer.json); its bases are A=5 C=6 G=7 T=8.
DNABERT2_SPECIAL_TOKENS = {
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "mask_token": "[MASK]",
}

_INVALID = 0  # byte that marks a rejected character after translation; a NUL in the input is rejected too


def _normalization_table(u_becomes: str) -> bytes:
    """256-byte table for bytes.translate: every accepted byte to its normalized base, the rest to _INVALID."""
    table = bytearray([_INVALID]) * 256
    for base in "ACGTN":
        table[ord(base)] = table[ord(base.lower())] = ord(base)
    for code in IUPAC_AMBIGUITY_CODES:
        table[ord(code)] = table[ord(code.lower())] = ord("N")
    table[ord("U")] = table[ord("u")] = ord(u_becomes)
    return bytes(table)


_KEEP_U = _normalization_table("U")
_U_TO_T = _normalization_table("T")


def normalize_dna(seq: str, keep_u: bool = True) -> str:
    """Upper-case `seq`, turn IUPAC ambiguity codes into N and, unless `keep_u`, U into T.

    One C-level `bytes.translate` pass, so a megabase costs about a millisecond. Raises ValueError naming the
    first character that is not a base, and its 0-based position.
    """
    try:
        raw = seq.encode("ascii")
    except UnicodeEncodeError as err:
        raise _bad_character(seq, err.start) from None
    out = raw.translate(_KEEP_U if keep_u else _U_TO_T)
    bad = out.find(_INVALID)
    if bad >= 0:
        raise _bad_character(seq, bad)
    return out.decode("ascii")


def _bad_character(seq: str, position: int) -> ValueError:
    return ValueError(
        f"invalid character {seq[position]!r} at position {position} of the DNA sequence "
        f"(allowed: A C G T U N and IUPAC codes {' '.join(IUPAC_AMBIGUITY_CODES)}, either case)"
    )


class DNACharTokenizer(PreTrainedTokenizer):
    """One token per nucleotide, with AIDO.DNA's ids; wraps each sequence as [CLS] ... [SEP] by default.

    `add_cls_sep=False` makes the tokenizer add nothing, for models trained on bare windows; it is saved in
    tokenizer_config.json so a reloaded tokenizer encodes as the model was trained. For whole chromosomes use
    `encode_dna`, which gives the same ids without building a Python string per base.
    """

    vocab_files_names = {"vocab_file": "vocab.txt"}
    model_input_names = ["input_ids", "attention_mask"]
    default_vocab = AIDO_DNA_VOCAB

    def __init__(self, vocab_file: str | None = None, add_cls_sep: bool = True, **kwargs):
        if vocab_file is None:
            tokens = list(self.default_vocab)
        else:
            with open(vocab_file, encoding="utf-8") as fh:
                tokens = fh.read().splitlines()
        self._id_to_token = tokens
        self._token_to_id = {token: i for i, token in enumerate(tokens)}
        self.add_cls_sep = add_cls_sep
        for name in ("pad", "mask", "cls", "sep", "unk"):
            kwargs.setdefault(f"{name}_token", f"[{name.upper()}]")
        unk_id = self._token_to_id[str(kwargs["unk_token"])]
        # Normalized base -> id as one byte, for encode_dna; ids of this vocabulary all fit in a byte.
        table = bytearray(256)
        for base in "ACGTUN":
            table[ord(base)] = self._token_to_id.get(base, unk_id)
        self._id_table = bytes(table)
        kwargs["special_tokens_pattern"] = "cls_sep" if add_cls_sep else "none"
        # tokenizer_config.json names this class for AutoTokenizer(trust_remote_code=True)
        kwargs.setdefault("auto_map", {"AutoTokenizer": [f"tokenization_dna.{type(self).__name__}", None]})
        super().__init__(add_cls_sep=add_cls_sep, **kwargs)

    @property
    def vocab_size(self) -> int:
        return len(self._id_to_token)

    def get_vocab(self) -> dict[str, int]:
        return {**self._token_to_id, **self.added_tokens_encoder}

    def _tokenize(self, text: str, **kwargs) -> list[str]:
        # `text` is a stretch between special tokens, so an error's position counts from that stretch.
        return list(normalize_dna(text))

    def _convert_token_to_id(self, token: str) -> int:
        return self._token_to_id.get(token, self.unk_token_id)

    def _convert_id_to_token(self, index: int) -> str:
        return self._id_to_token[index] if 0 <= index < len(self._id_to_token) else self.unk_token

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return "".join(tokens)

    def encode_dna(self, seq: str, add_special_tokens: bool = True) -> torch.Tensor:
        """Ids of `seq` as a 1-D int64 tensor: the same ids as `self(seq)["input_ids"]`, at C speed.

        Genome-scale annotation encodes millions of bases; two `bytes.translate` passes do that in
        milliseconds where the per-token path takes seconds.
        """
        ids = normalize_dna(seq).encode("ascii").translate(self._id_table)
        if add_special_tokens and self.add_cls_sep:
            ids = bytes([self.cls_token_id]) + ids + bytes([self.sep_token_id])
        if not ids:
            return torch.zeros(0, dtype=torch.long)
        return torch.frombuffer(bytearray(ids), dtype=torch.uint8).long()

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str]:
        name = (f"{filename_prefix}-" if filename_prefix else "") + self.vocab_files_names["vocab_file"]
        path = os.path.join(save_directory, name)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(self._id_to_token) + "\n")
        return (path,)


# The codon vocabulary: AIDO's five special tokens (same ids), then the 64 codons in NCBI's TCAG order.
KMER_VOCAB = AIDO_DNA_VOCAB[:5] + CODONS
_CODON_BASE_CODE = bytes(CODON_BASES.index(chr(b)) if chr(b) in CODON_BASES else 4 for b in range(256))


class DNAKmerTokenizer(DNACharTokenizer):
    """Non-overlapping k-mers (k = 3: codons) with the ids of `KMER_VOCAB`; adds no [CLS]/[SEP] by default.

    Inherits the vocabulary file handling and special tokens of `DNACharTokenizer`; only the cutting differs.
    """

    default_vocab = KMER_VOCAB

    def __init__(self, vocab_file: str | None = None, add_cls_sep: bool = False, k: int = 3, **kwargs):
        if k != 3:
            raise ValueError(f"`k` must be 3 (codons), got k={k!r}")
        self.k = k
        super().__init__(vocab_file, add_cls_sep=add_cls_sep, k=k, **kwargs)

    def _tokenize(self, text: str, **kwargs) -> list[str]:
        dna = normalize_dna(text, keep_u=False)
        return [dna[i:i + self.k] for i in range(0, len(dna), self.k)]  # N-codons and a short tail become [UNK]

    def encode_dna(self, seq: str, add_special_tokens: bool = True) -> torch.Tensor:
        """Ids of `seq` as a 1-D int64 tensor, vectorised: base codes T C A G = 0..3 (else 4), then 16a + 4b + c."""
        codes = torch.frombuffer(bytearray(normalize_dna(seq, keep_u=False).encode("ascii").translate(
            _CODON_BASE_CODE)), dtype=torch.uint8).long() if seq else torch.zeros(0, dtype=torch.long)
        whole = codes.numel() // self.k * self.k
        triples = codes[:whole].view(-1, self.k)  # (n codons, 3)
        ids = 5 + triples[:, 0] * 16 + triples[:, 1] * 4 + triples[:, 2]
        ids = ids.masked_fill((triples == 4).any(-1), self.unk_token_id)
        if whole < codes.numel():
            ids = torch.cat([ids, ids.new_tensor([self.unk_token_id])])
        if add_special_tokens and self.add_cls_sep:
            ids = torch.cat([ids.new_tensor([self.cls_token_id]), ids, ids.new_tensor([self.sep_token_id])])
        return ids


def load_dnabert2_tokenizer(path: str | os.PathLike) -> PreTrainedTokenizerFast:
    """The DNABERT-2 BPE tokenizer from a tokenizer.json file, or a folder holding one.

    Special tokens come from special_tokens_map.json beside the file when there is one, else DNABERT-2's.
    The BPE model, pre-tokenizer and post-processor are used as published ([CLS] ... [SEP] by default);
    the baked-in truncation to 636 tokens and padding are switched off, because genome windows are longer
    and silently dropping sequence is never what annotation wants (pass `truncation=True, max_length=...`
    to get it back). Raw text reaches the BPE model unnormalized: encode genomes with `encode_bpe`.
    """
    path = os.fspath(path)
    file = os.path.join(path, "tokenizer.json") if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise ValueError(f"`path`: no tokenizer.json at {path}")
    special_tokens = dict(DNABERT2_SPECIAL_TOKENS)
    special_map = os.path.join(os.path.dirname(file), "special_tokens_map.json")
    if os.path.isfile(special_map):
        with open(special_map, encoding="utf-8") as fh:
            for key, value in json.load(fh).items():
                special_tokens[key] = value["content"] if isinstance(value, dict) else value
    backend = Tokenizer.from_file(file)
    backend.no_truncation()
    backend.no_padding()
    return PreTrainedTokenizerFast(tokenizer_object=backend, **special_tokens)


def encode_bpe(tokenizer: PreTrainedTokenizerFast, seq: str, add_special_tokens: bool = False) -> BatchEncoding:
    """BPE-encode a DNA sequence after `normalize_dna` (U -> T), with each token's nucleotide span.

    `offset_mapping` holds 0-based half-open [start, end) spans into `seq` that tile it (an N is one [UNK]
    of width 1); `char_to_token(i)` gives the token covering base i. Special tokens, when added, have
    the empty span (0, 0).
    """
    return tokenizer(
        normalize_dna(seq, keep_u=False),
        add_special_tokens=add_special_tokens,
        return_offsets_mapping=True,
        return_attention_mask=False,
    )
